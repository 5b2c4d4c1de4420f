/** `natal inspect`: inspecting birth records. */
import type { Command } from 'commander';
import { inspectionTotals } from '../../inspect/inspect.js';
import { table } from '../format.js';
import { runWithRegistry } from '../run.js';

type WithGlobals = (c: Command) => Command;

export function registerInspectCommand(program: Command, withGlobals: WithGlobals): void {
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
