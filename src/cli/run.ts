/**
 * How every command runs: open the registry from the global flags, call the library,
 * print text or JSON, close, and turn errors into one line and an exit code.
 */
import type { Command } from 'commander';
import { errorMessage, NatalError } from '../errors.js';
import { Registry } from '../registry.js';
import { colourFor, paintRefusal, paintStates } from './colour.js';
import { progressAllowed, working } from './progress.js';

export interface GlobalOptions {
  db?: string;
  dataDir?: string;
  schema?: string;
  json?: boolean;
  as?: string;
  quiet?: boolean;
  verbose?: boolean;
  /** --wait: true (until free) or the seconds given. */
  wait?: boolean | string;
}

/** A command's answer: its JSON form, its text form and its exit code. */
export interface Outcome {
  json: unknown;
  text: string;
  exitCode?: 0 | 1;
}

/** A dry run's outcome: the same, marked (`dry_run: true`; a first line saying nothing changed). */
function asDryRun(o: Outcome): Outcome {
  const json =
    o.json !== null && typeof o.json === 'object' && !Array.isArray(o.json)
      ? { dry_run: true, ...o.json }
      : { dry_run: true, would: o.json };
  return { ...o, json, text: `dry run: nothing was changed; this is what the command would do:\n${o.text}` };
}

/**
 * --wait as the library takes it: how long (ms; Infinity without SECONDS) and a line on
 * stderr when it starts waiting (unless --quiet or --json).
 */
export function waitOptions(g: GlobalOptions): { wait?: number; onWait?: (why: string) => void } {
  if (g.wait === undefined) return {};
  const given = g.wait === true ? undefined : String(g.wait);
  const seconds = given === undefined ? Number.POSITIVE_INFINITY : Number(given);
  if (given !== undefined && !/^\d+(\.\d+)?$/.test(given)) {
    throw new NatalError(
      'USAGE',
      `--wait takes a number of seconds (or nothing: until free), not '${String(g.wait)}'`,
    );
  }
  const say = !g.quiet && !g.json;
  return {
    wait: seconds * 1000,
    onWait: (why) => {
      if (say)
        process.stderr.write(
          `natal: ${why}; waiting${Number.isFinite(seconds) ? ` up to ${seconds} s` : ''} (--wait)\n`,
        );
    },
  };
}

/** `census`, `collection set`: the command as the user typed it. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function reportError(err: unknown, json: boolean): number {
  const natal = err instanceof NatalError ? err : undefined;
  const code = natal?.code ?? 'QUERY_FAILED';
  const first = (errorMessage(err).split('\n')[0] ?? '').trim() || 'unknown error';
  const message = natal ? first : `${first} (${code})`;
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
  process.stderr.write(`${paintRefusal(`natal: ${message}`, colourFor(process.stderr))}\n`);
  if (process.env.NATAL_DEBUG && err instanceof Error && err.stack) {
    process.stderr.write(`${err.stack}\n`);
  }
  return natal?.exitCode ?? 1;
}

/**
 * The global flags that contradict each other or are empty, as usage errors (exit 2),
 * before the library sees them (it refuses the same with INVALID_ARGUMENT).
 */
export function checkGlobals(g: GlobalOptions, dataDir: string | undefined): void {
  if (g.db !== undefined && dataDir !== undefined) {
    throw new NatalError('USAGE', 'give either --db or --data-dir, not both');
  }
  if (g.as !== undefined && g.as.trim() === '') throw new NatalError('USAGE', '--as needs a name');
}

/** Opens the registry, runs `body`, prints its outcome and sets the exit code. */
export async function runWithRegistry(
  cmd: Command,
  body: (registry: Registry) => Promise<Outcome>,
  options: {
    requireReady?: boolean;
    /** Embedded: make the database when the data directory holds none (init, demo). */
    create?: boolean;
    dataDir?: string | undefined;
    schema?: string | undefined;
    /** false: the command draws its own progress (apply). */
    progress?: boolean;
    /** Its --dry-run is the command's own code, rolled back (see runChange). */
    rolledBackDryRun?: boolean;
  } = {},
): Promise<void> {
  const g = globalOptions(cmd);
  let registry: Registry | undefined;
  try {
    const dataDir = options.dataDir ?? g.dataDir;
    checkGlobals(g, dataDir);
    registry = await Registry.open({
      db: g.db,
      dataDir,
      schema: options.schema ?? g.schema,
      as: g.as,
      env: process.env,
      create: options.create === true,
      ...waitOptions(g),
    });
    if (options.requireReady !== false) await registry.assertReady();
    // A spinner after a second, on a terminal (the apply draws its own bar).
    const progress = working(`natal ${commandPath(cmd)}`, options.progress !== false && progressAllowed(g));
    let outcome: Outcome;
    try {
      // --dry-run (on the commands that change the catalog): the same code, rolled back.
      outcome =
        options.rolledBackDryRun && (cmd.opts() as { dryRun?: boolean }).dryRun
          ? asDryRun(await registry.dryRun(body))
          : await body(registry);
    } finally {
      progress.stop();
    }
    if (g.json) process.stdout.write(`${JSON.stringify(outcome.json, null, 2)}\n`);
    else if (outcome.text && !g.quiet)
      process.stdout.write(`${paintStates(outcome.text, colourFor(process.stdout))}\n`);
    process.exitCode = outcome.exitCode ?? 0;
  } catch (err) {
    process.exitCode = reportError(err, g.json === true);
  } finally {
    await registry?.close().catch(() => undefined);
  }
}

/**
 * runWithRegistry for a command that changes the catalog and takes --dry-run: then the
 * command's own code runs in a transaction that is rolled back, and says what it would do.
 */
export function runChange(cmd: Command, body: (registry: Registry) => Promise<Outcome>): Promise<void> {
  return runWithRegistry(cmd, body, { rolledBackDryRun: true });
}
