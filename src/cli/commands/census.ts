/** `natal census` and `natal status`. */
import { type Command, InvalidArgumentError } from 'commander';
import type { Census } from '../../census/census.js';
import { checkCensus, checkText } from '../../census/check.js';
import { type HeldGroup, statusSummary } from '../../report/status.js';
import { NatalError } from '../../errors.js';
import { count, table, wrapped } from '../format.js';
import { parseCount } from '../parse.js';
import { runWithRegistry } from '../run.js';

type WithGlobals = (c: Command) => Command;

function parseOnOff(v: string): boolean {
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw new InvalidArgumentError('it takes on or off');
}

/** How the census reached its numbers, in one line. */
export function basisLine(c: Census): string {
  const b = c.counted;
  if (b.how === 'kept') {
    return `Counted forward from the census kept at ${b.kept_at} (${count(b.births_since)} births since); natal census --recount counts in full again.`;
  }
  return `Counted in full${b.kept_at ? '; kept for the next census to start from' : b.keeping ? '' : ' (the kept census is off: natal census --keeping on)'}.`;
}

/** The seed's "Key numbers" table. */
export function keyNumbers(c: Census): string {
  const t = c.totals;
  const resolvable =
    t.resolvable.column + t.resolvable.synthetic_id + t.resolvable.legacy + t.resolvable.composite;
  return table(
    ['Item', 'Value'],
    [
      ['BIRTH_REQUIRED', t.birth_required],
      [
        'Identity resolvable',
        `${resolvable} (${t.resolvable.synthetic_id} synthetic_id + ${t.resolvable.column} column + ${t.resolvable.legacy} legacy + ${t.resolvable.composite} composite)`,
      ],
      ['Identity unclassified', t.unclassified],
      ['No-table REQUIRED', t.no_table],
      ['Rows (governed, identified)', count(t.rows)],
      ['Births (governed collections)', count(t.births)],
      ['Gap (orphans)', count(t.gap)],
      ['Phantoms', count(t.phantoms)],
      ['Deaths (recorded)', count(t.deaths)],
      ['birth_registry', count(t.registry_births)],
      ['State', c.state],
    ],
  );
}

export function registerCensusCommands(program: Command, withGlobals: WithGlobals): void {
  withGlobals(
    program
      .command('census [tables...]')
      .description('rows, births, gap, phantoms and deaths per collection, and readiness')
      .option('--orphans', 'list the rows of TABLE that have no birth')
      .option('--phantoms', 'list the births of TABLE whose row is gone with no recorded death')
      .option('--deaths', 'list the births of TABLE whose row is gone with a recorded death')
      .option('--limit <n>', 'how many to list (default 100)', parseCount)
      .option(
        '--recount',
        'count in full again (every table and the registry read), not forward from the kept census',
      )
      .option(
        '--keeping <on|off>',
        'turn the kept census on or off (a registry setting), then count',
        parseOnOff,
      )
      .option(
        '--check',
        'for cron and CI: exit 1 with one line per governed collection that is not complete, else one ok line',
      ),
  ).action(
    (
      tables: string[],
      opts: {
        orphans?: boolean;
        phantoms?: boolean;
        deaths?: boolean;
        limit?: number;
        recount?: boolean;
        keeping?: boolean;
        check?: boolean;
      },
      cmd: Command,
    ) =>
      runWithRegistry(cmd, async (registry) => {
        const lists = [opts.orphans, opts.phantoms, opts.deaths].filter(Boolean).length;
        if (opts.check && (lists > 0 || opts.limit !== undefined))
          throw new NatalError(
            'USAGE',
            '--check counts every collection: give it without --orphans, --phantoms, --deaths or --limit',
          );
        if (lists > 0) {
          if (lists > 1)
            throw new NatalError('USAGE', 'give one of --orphans, --phantoms or --deaths, not several');
          if (tables.length !== 1)
            throw new NatalError('USAGE', 'name exactly one table with --orphans, --phantoms or --deaths');
          const t = tables[0] as string;
          const limit = opts.limit ?? 100;
          if (opts.orphans) {
            const list = await registry.orphans(t, limit);
            return {
              json: list,
              text:
                list
                  .map((o) => `${o.entity_code}${o.born_elsewhere ? `  (born as ${o.born_elsewhere})` : ''}`)
                  .join('\n') || 'no orphans',
            };
          }
          if (opts.deaths) {
            const list = await registry.deaths(t, limit);
            return {
              json: list,
              text:
                list
                  .map(
                    (d) =>
                      `${d.entity_code}  ${d.how === 'rekey' ? `re-keyed to ${d.rekeyed_to ?? '(no code)'}` : d.how}  ${d.dot_origin}  ${d.died_at instanceof Date ? d.died_at.toISOString() : String(d.died_at)}`,
                  )
                  .join('\n') || 'no deaths',
            };
          }
          const list = await registry.phantoms(t, limit);
          return {
            json: list,
            text: list.map((p) => `${p.entity_code}  ${p.dot_origin}`).join('\n') || 'no phantoms',
          };
        }
        if (opts.limit !== undefined)
          throw new NatalError('USAGE', '--limit goes with --orphans, --phantoms or --deaths');
        if (opts.keeping !== undefined) await registry.setCensusKeeping(opts.keeping);
        const c = await registry.census(tables, { recount: opts.recount === true });
        if (opts.check) {
          const check = checkCensus(c);
          return { json: { ...c, check }, text: checkText(check), exitCode: check.ok ? 0 : 1 };
        }
        const text = [
          table(
            ['collection', 'role', 'strategy', 'rows', 'births', 'gap', 'phantoms', 'deaths', 'state'],
            c.collections.map((r) => [
              r.collection,
              r.governance_role,
              r.strategy,
              count(r.rows),
              count(r.births),
              count(r.gap),
              count(r.phantoms),
              count(r.deaths),
              r.state,
            ]),
          ),
          '',
          keyNumbers(c),
          '',
          basisLine(c),
        ].join('\n');
        return { json: c, text };
      }),
  );

  withGlobals(
    program.command('status').description('the one-screen summary: key numbers, then what blocks progress'),
  ).action((_o, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      const c = await registry.census();
      const summary = statusSummary(c, count);
      const lines = [
        `natal status — ${registry.schema} at ${registry.db.location}`,
        '',
        keyNumbers(c),
        '',
        summary.headline,
        ...summary.groups.flatMap((g) => [
          `${g.title} (${g.items.length}):`,
          ...g.items.map((r) => `  ${r.state.padEnd(22)} ${r.collection}: ${r.next}`),
        ]),
        ...heldOnPurpose(summary.held),
        ...(summary.deaths.length
          ? [
              `Deaths recorded (${summary.deaths.length} collection(s)):`,
              ...summary.deaths.map(
                (r) =>
                  `  ${r.collection}: ${count(r.births)} births, ${count(r.deaths)} dead: natal census ${r.collection} --deaths`,
              ),
            ]
          : []),
      ].filter((l, i, all) => !(l === '' && (i === all.length - 1 || all[i + 1] === '')));
      return { json: c, text: lines.join('\n') };
    }),
  );
}

/**
 * The governed collections frozen on purpose and not complete, one line per freeze reason
 * (a demo or a migration holds dozens for one reason): who, why, which, and how to go on.
 */
function heldOnPurpose(held: HeldGroup[]): string[] {
  if (held.length === 0) return [];
  const n = held.reduce((a, g) => a + g.collections.length, 0);
  return [
    `Frozen on purpose (${n}; nothing to do while they are: natal unfreeze TABLE to go on):`,
    ...held.map(
      (g) => `  ${wrapped(`FROZEN by ${g.frozen_by}: ${g.reason}: ${g.collections.join(', ')}`, 98, 4)}`,
    ),
  ];
}
