/** `natal preflight`: the checks before a backfill. */
import type { Command } from 'commander';
import { runWithRegistry } from '../run.js';

type WithGlobals = (c: Command) => Command;

export function registerPreflightCommand(program: Command, withGlobals: WithGlobals): void {
  withGlobals(
    program.command('preflight [tables...]').description('the checks before a backfill: READY or what to do'),
  ).action((tables: string[], _o, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const results = await registry.preflight(tables);
      const lines = results.flatMap((r) =>
        r.result === 'READY'
          ? [`READY      ${r.collection}`]
          : [`NOT READY  ${r.collection}`, ...r.failed.map((f) => `    ✗ ${f.check}: ${f.fix}`)],
      );
      // Like doctor: exit 0 only when every collection checked is READY.
      const ready = results.every((r) => r.result === 'READY');
      return { json: results, text: lines.join('\n') || 'no collections', exitCode: ready ? 0 : 1 };
    }),
  );
}
