/** `natal create`: birth-first creation. */
import type { Command } from 'commander';
import { NatalError } from '../../errors.js';
import { runWithRegistry } from '../run.js';

type WithGlobals = (c: Command) => Command;

function parseData(text: string): unknown {
  let data: unknown;
  try {
    data = JSON.parse(text) as unknown;
  } catch (err) {
    throw new NatalError(
      'USAGE',
      `--data is not valid JSON (${err instanceof Error ? err.message : String(err)}); give an object such as '{"name":"x"}'`,
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new NatalError('USAGE', `--data must be a JSON object of column values, such as '{"name":"x"}'`);
  }
  return data;
}

export function registerCreateCommand(program: Command, withGlobals: WithGlobals): void {
  withGlobals(
    program
      .command('create <table>')
      .description('birth-first creation: the birth, then the entity carrying its code')
      .requiredOption('--data <json>', "the entity's column values as a JSON object")
      .option('--origin <name>', 'dot_origin: the tool creating it (default natal:create)'),
  ).action((tableName: string, opts: { data: string; origin?: string }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const data = parseData(opts.data);
      const birth = await registry.create(tableName, data, opts.origin);
      return { json: birth, text: birth.entity_code };
    }),
  );
}
