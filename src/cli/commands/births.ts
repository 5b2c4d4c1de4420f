/** Wiring, the trigger inventory, birth-first creation and inspection. */
import type { Command } from 'commander';
import { NatalError } from '../../errors.js';
import { inspectionTotals } from '../../inspect/inspect.js';
import { table, yesNo } from '../format.js';
import { runWithRegistry } from '../run.js';

type WithGlobals = (c: Command) => Command;

function parseData(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new NatalError(
      'USAGE',
      `--data is not valid JSON (${err instanceof Error ? err.message : String(err)}); give an object such as '{"name":"x"}'`,
    );
  }
}

export function registerBirthCommands(program: Command, withGlobals: WithGlobals): void {
  withGlobals(
    program
      .command('wire [tables...]')
      .description('install auto-birth triggers on governed collections')
      .option('--all', 'every governed collection that can be wired; list the others'),
  ).action((tables: string[], opts: { all?: boolean }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      if (opts.all && tables.length > 0) throw new NatalError('USAGE', 'give tables or --all, not both');
      if (!opts.all && tables.length === 0)
        throw new NatalError('USAGE', 'name the tables to wire, or give --all');
      if (opts.all) {
        const result = await registry.wireAll();
        const lines = [
          ...result.wired.map((w) => `wired      ${w.collection_name} (${w.kind} trigger)`),
          ...result.not_wired.map((n) => `not wired  ${n.collection_name}: ${n.reason}`),
        ];
        return { json: result, text: lines.join('\n') || 'no governed collections' };
      }
      const wired = await registry.wire(tables);
      return {
        json: { wired, not_wired: [] },
        text: wired.map((w) => `wired ${w.collection_name} (${w.kind} trigger)`).join('\n'),
      };
    }),
  );
  withGlobals(
    program.command('unwire <table>').description("remove a collection's auto-birth trigger"),
  ).action((tableName: string, _o, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const r = await registry.unwire(tableName);
      return {
        json: r,
        text: r.was_wired
          ? `unwired ${r.collection_name}`
          : `${r.collection_name} was not wired; nothing changed`,
      };
    }),
  );
  withGlobals(
    program.command('triggers').description('the trigger inventory: is every collection wired and working'),
  ).action((_o, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const list = await registry.triggers();
      return {
        json: list,
        text: table(
          ['collection', 'role', 'table', 'present', 'enabled', 'functional', 'kind', 'problem'],
          list.map((t) => [
            t.collection_name,
            t.governance_role,
            yesNo(t.has_table),
            yesNo(t.present),
            yesNo(t.enabled),
            yesNo(t.functional),
            t.kind,
            t.problem,
          ]),
        ),
      };
    }),
  );
  withGlobals(
    program
      .command('create <table>')
      .description('birth-first creation (QT-002): the birth, then the entity carrying its code')
      .requiredOption('--data <json>', "the entity's column values as a JSON object")
      .option('--origin <name>', 'dot_origin: the tool creating it (default natal:create)'),
  ).action((tableName: string, opts: { data: string; origin?: string }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const data = parseData(opts.data);
      const birth = await registry.create(tableName, data, opts.origin);
      return { json: birth, text: birth.entity_code };
    }),
  );
  withGlobals(
    program
      .command('inspect [tables...]')
      .description('inspect birth records (the inspect pen): mark passing ones, list failures')
      .option('--recheck', 'also re-inspect records that passed before'),
  ).action((tables: string[], opts: { recheck?: boolean }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const results = await registry.inspect(tables, { recheck: opts.recheck });
      const failures = results.flatMap((r) =>
        r.failures.map((f) => `  ${r.collection_name}  ${f.entity_code}: ${f.reason}`),
      );
      const totals = inspectionTotals(results);
      const text = [
        table(
          ['collection', 'checked', 'passed', 'failed'],
          results.map((r) => [r.collection_name, r.checked, r.passed, r.failed]),
        ),
        `inspected ${totals.checked}: ${totals.passed} passed, ${totals.failed} failed`,
        ...(failures.length ? ['failures:', ...failures] : []),
      ].join('\n');
      return {
        json: { collections: results, ...totals },
        text,
        exitCode: totals.failed > 0 ? 1 : 0,
      };
    }),
  );
}
