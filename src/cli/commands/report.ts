/** `natal report`: the governance report of a plan, a run or every plan since a date. */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { errorMessage, NatalError } from '../../errors.js';
import { parseSince, renderMarkdown } from '../../report/report.js';
import { parseId } from '../parse.js';
import { runWithRegistry } from '../run.js';

type WithGlobals = (c: Command) => Command;

function since(v: string): string {
  try {
    parseSince(v);
  } catch (err) {
    throw new InvalidArgumentError(errorMessage(err));
  }
  return v;
}

/** Writes the whole file or nothing: a sibling temporary file, then a rename over the target. */
function writeWhole(path: string, text: string): string {
  const target = resolve(path);
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    if (statSync(target, { throwIfNoEntry: false })?.isDirectory()) {
      throw new Error('it is a directory');
    }
    writeFileSync(tmp, text, { flag: 'wx' });
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    const why = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
    throw new NatalError('WRITE_FAILED', `cannot write the report to ${path} (${why}); nothing was written`, {
      cause: err,
    });
  }
  return target;
}

export function registerReportCommand(program: Command, withGlobals: WithGlobals): void {
  withGlobals(
    program
      .command('report')
      .description(
        'the report of an operation, from the ledger: mode, live mutation, numbers, steps, rollback',
      )
      .option('--plan <plan>', 'the report of this plan (default: the latest plan)', parseId('plan id'))
      .option('--run <run>', "the report of this run (with its plan's steps)", parseId('run id'))
      .option('--since <date>', 'one report of every plan made since this ISO date', since)
      .addOption(new Option('--format <format>', 'md or json').choices(['md', 'json']).default('md'))
      .option('--out <file>', 'write the report to this file and print its path'),
  ).action(
    (
      opts: { plan?: number; run?: number; since?: string; format: 'md' | 'json'; out?: string },
      cmd: Command,
    ) =>
      runWithRegistry(cmd, async (registry) => {
        if ([opts.plan, opts.run, opts.since].filter((x) => x !== undefined).length > 1) {
          throw new NatalError('USAGE', 'give one of --plan, --run or --since');
        }
        const report = await registry.report({ plan: opts.plan, run: opts.run, since: opts.since });
        const text =
          opts.format === 'json' ? JSON.stringify(report, null, 2) : renderMarkdown(report).trimEnd();
        if (opts.out === undefined) return { json: report, text };
        const path = writeWhole(opts.out, `${text}\n`);
        return { json: { path, format: opts.format, title: report.title }, text: path };
      }),
  );
}
