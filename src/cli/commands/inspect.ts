/** `natal inspect`: inspecting birth records. */
import type { Command } from 'commander';
import { inspectionTotals } from '../../inspect/inspect.js';
import { count, table } from '../format.js';
import { runWithRegistry } from '../run.js';

type WithGlobals = (c: Command) => Command;

export function registerInspectCommand(program: Command, withGlobals: WithGlobals): void {
  withGlobals(
    program
      .command('inspect [tables...]')
      .description(
        'inspect the birth records made since the last inspection: mark passing ones, list failures',
      )
      .option('--recheck', 'judge every birth record again, those that passed or failed before included'),
  ).action((tables: string[], opts: { recheck?: boolean }, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const results = await registry.inspect(tables, { recheck: opts.recheck });
      const failures = results.flatMap((r) =>
        r.failures.map((f) => `  ${r.collection_name}  ${f.entity_code}: ${f.reason}`),
      );
      const totals = inspectionTotals(results);
      const text = [
        table(
          ['collection', 'checked', 'passed', 'failed', 'known failures'],
          results.map((r) => [r.collection_name, r.checked, r.passed, r.failed, r.known_failures]),
        ),
        totals.checked === 0
          ? 'nothing new to inspect: every birth was judged when it was written or by an earlier inspection (natal inspect --recheck judges them all again)'
          : `inspected ${count(totals.checked)}: ${count(totals.passed)} passed, ${count(totals.failed)} failed`,
        ...(failures.length ? ['failures:', ...failures] : []),
        ...(totals.known_failures > 0
          ? [
              `known failures: ${count(totals.known_failures)} birth(s) failed an earlier inspection and were not judged again; natal inspect --recheck judges them again (their reasons are in birth_registry.inspection_note)`,
            ]
          : []),
      ].join('\n');
      return {
        json: { collections: results, ...totals },
        text,
        // a known failure still fails: the registry is not clean until it is put right
        exitCode: totals.failed + totals.known_failures > 0 ? 1 : 0,
      };
    }),
  );
}
