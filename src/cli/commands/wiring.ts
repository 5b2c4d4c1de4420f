/** `natal wire`, `unwire` and `triggers`: auto-birth triggers and their inventory. */
import type { Command } from 'commander';
import type { WireResult } from '../../catalog/wiring.js';
import { NatalError } from '../../errors.js';
import { table, yesNo } from '../format.js';
import { runChange, runWithRegistry } from '../run.js';

type WithGlobals = (c: Command) => Command;

/** How a collection was wired, in words. */
function how(w: WireResult): string {
  return w.kind === 'gateway'
    ? 'no trigger: a Citus table, its rows written on the workers; natal create births its new entities (with a code column), a backfill the rows written around it'
    : `${w.kind} trigger`;
}

export function registerWiringCommands(program: Command, withGlobals: WithGlobals): void {
  withGlobals(
    program
      .command('wire [tables...]')
      .description('install auto-birth triggers on governed collections')
      .option('--all', 'every governed collection that can be wired; list the others')
      .option('--dry-run', 'say what would change, and change nothing'),
  ).action((tables: string[], opts: { all?: boolean }, cmd: Command) =>
    runChange(cmd, async (registry) => {
      if (opts.all && tables.length > 0) throw new NatalError('USAGE', 'give tables or --all, not both');
      if (!opts.all && tables.length === 0)
        throw new NatalError('USAGE', 'name the tables to wire, or give --all');
      if (opts.all) {
        const result = await registry.wireAll();
        const lines = [
          ...result.wired.map((w) => `wired      ${w.collection_name} (${how(w)})`),
          ...result.not_wired.map((n) => `not wired  ${n.collection_name}: ${n.reason}`),
        ];
        return { json: result, text: lines.join('\n') || 'no governed collections' };
      }
      const wired = await registry.wire(tables);
      return {
        json: { wired, not_wired: [] },
        text: wired.map((w) => `wired ${w.collection_name} (${how(w)})`).join('\n'),
      };
    }),
  );
  withGlobals(
    program
      .command('unwire <table>')
      .description("remove a collection's auto-birth trigger")
      .option('--dry-run', 'say what would change, and change nothing'),
  ).action((tableName: string, _o, cmd: Command) =>
    runChange(cmd, async (registry) => {
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
}
