/** `natal demo`: the seed's QT-001 on a sample platform, on a bare machine. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import wrapAnsi from 'wrap-ansi';
import { DEFAULT_BIRTHS, DEMO_SCHEMA, type DemoSummary, FULL_BIRTHS, runDemo } from '../../demo/demo.js';
import { assertBirths } from '../../demo/platform.js';
import { NatalError } from '../../errors.js';
import { Registry } from '../../registry.js';
import { count, table, wrapped } from '../format.js';
import { globalOptions, runWithRegistry } from '../run.js';

function parseBirths(v: string): number {
  const x = Number(v.replaceAll(/[_,]/g, ''));
  if (!Number.isInteger(x) || x < 1) throw new InvalidArgumentError('it takes a whole number');
  return x;
}

/** The seed's "Key numbers" table, as the demo reproduced them. */
export function demoKeyNumbers(s: DemoSummary): string {
  const r = s.resolvable;
  const resolvable = r.synthetic_id + r.column + r.legacy + r.composite;
  const rows: [string, string | number][] = [
    ['BIRTH_REQUIRED', s.birth_required],
    [
      'Identity resolvable (after classify)',
      `${resolvable} (${r.synthetic_id} synthetic_id + ${r.column} column + ${r.legacy} legacy${r.composite ? ` + ${r.composite} composite` : ''})`,
    ],
    [
      'Identity unclassified remaining',
      `${s.unclassified} (${Object.entries(s.unclassified_collections)
        .map(([t, why]) => `${t}: ${why}`)
        .join(', ')})`,
    ],
    [
      'No-table REQUIRED',
      `${s.no_table} (${Object.entries(s.unclassified_collections)
        .filter(([, why]) => why === 'no-table')
        .map(([t]) => t)
        .join(', ')})`,
    ],
    ['Staging (not governed, never born)', Object.keys(s.staging).join(', ')],
    ['Dry-run eligible collections', s.eligible],
    ['Collections with non-zero gap', `${s.nonzero_gap} (duplicate risk ${s.duplicate_risk})`],
    ['Total expected new births', count(s.expected)],
    [
      'Rehearsal',
      `${count(s.born)} born, rerun delta ${s.rerun_delta}, net births ${s.net_births_rehearsal}`,
    ],
    ['Real backfill committed', `${count(s.after.born)} (run ${s.run_id}), gap after ${s.after.gap}`],
    ['birth_registry', `${count(s.registry_births)} before QT-001, ${count(s.after.registry_births)} after`],
    ['State', s.state],
  ];
  // Fits 100 columns: a long value wraps onto rows of its own under it.
  const itemWidth = Math.max(...rows.map(([item]) => item.length));
  return table(
    ['Item', 'Value'],
    rows.flatMap(([item, value]) =>
      wrapAnsi(String(value), 100 - itemWidth - 2)
        .split('\n')
        .map((line, i) => [i === 0 ? item : '', line]),
    ),
  );
}

/**
 * Why the demo ends where it does, and where what it made stays: the state after the backfill
 * is the seed's (the collections still waiting for their owners block it, on purpose), and
 * the database is the user's to explore or remove.
 */
function endNotes(
  summary: DemoSummary,
  schema: string,
  dataDir: string | undefined,
  url: string | undefined,
): string[] {
  const waiting = Object.entries(summary.unclassified_collections);
  const notes: string[] = [];
  if (waiting.length) {
    notes.push(
      `It ends ${summary.after.state} on purpose, as the seed did: the backfill is ${summary.after.confirmed ? 'VERIFIED' : 'not confirmed'}, and ${waiting.length} collections still wait for their owners (${waiting
        .map(([t, why]) => `${t}: ${why}`)
        .join(', ')}).`,
    );
  }
  const target = dataDir ? `--data-dir ${dataDir}` : '--db URL';
  notes.push(
    dataDir
      ? `Its database stays in ${dataDir}, to explore (natal status ${target} --schema ${schema}); remove it with: rm -rf ${dataDir}`
      : `Its schemas ${schema} and ${schema}_app stay on ${url ? 'the server' : 'the database'}, to explore (natal status ${target} --schema ${schema}); the next natal demo drops and remakes them.`,
  );
  return notes;
}

export function registerDemoCommand(program: Command, withGlobals: (c: Command) => Command): void {
  withGlobals(
    program
      .command('demo')
      .description(
        "walk the seed's backfill (QT-001 in its story) on a sample platform (a temporary embedded database unless --data-dir or --db; schema natal_demo)",
      )
      .option(
        '--full',
        `the seed's full registry: ${count(FULL_BIRTHS)} births (default ${count(DEFAULT_BIRTHS)})`,
      )
      .option('--births <n>', "the registry's size before the backfill", parseBirths),
  ).action((opts: { full?: boolean; births?: number }, cmd: Command) => {
    const started = Date.now();
    const g = globalOptions(cmd);
    // Usage first: nothing is made for a run that cannot start.
    if (opts.full && opts.births !== undefined)
      throw new NatalError('USAGE', 'give --full or --births, not both');
    const births = assertBirths(opts.full ? FULL_BIRTHS : (opts.births ?? DEFAULT_BIRTHS));
    const env = g.db ?? process.env.NATAL_DATABASE_URL;
    // Embedded by default, in a fresh temporary directory, so the demo never meets old state.
    const dataDir = env ? undefined : (g.dataDir ?? mkdtempSync(join(tmpdir(), 'natal-demo-')));
    const schema = g.schema ?? DEMO_SCHEMA;
    return runWithRegistry(
      cmd,
      async (registry) => {
        const steps: string[] = [];
        const log = (line: string) => {
          steps.push(line);
          if (!g.json && !g.quiet) process.stdout.write(`${wrapped(`• ${line}`)}\n`);
        };
        log(`database: ${registry.db.location}`);
        const summary = await runDemo(registry, {
          births,
          openAs: (as) => Registry.open({ db: g.db, env: process.env, schema, as }),
          reportDir: dataDir ?? mkdtempSync(join(tmpdir(), 'natal-demo-report-')),
          onStep: log,
        });
        const seconds = Math.round((Date.now() - started) / 100) / 10;
        return {
          json: { ...summary, location: registry.db.location, schema: registry.schema, seconds, steps },
          text: [
            '',
            demoKeyNumbers(summary),
            '',
            ...[
              `The ${summary.nonzero_gap} backfill targets: ${Object.entries(summary.gaps)
                .map(([t, gap]) => `${t} ${gap}`)
                .join(' · ')} = ${count(summary.expected)}.`,
              `Report: ${summary.report.path}`,
              ...endNotes(summary, registry.schema, dataDir, g.db ?? process.env.NATAL_DATABASE_URL),
              `Demo done in ${seconds.toFixed(1)} s.`,
            ].map((line) => wrapped(line)),
          ].join('\n'),
        };
      },
      { requireReady: false, create: true, dataDir, schema },
    );
  });
}
