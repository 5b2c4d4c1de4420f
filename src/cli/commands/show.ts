/** `natal show`: one entity's birth certificate, by its code or by its row's key. */
import type { Command } from 'commander';
import { NatalError } from '../../errors.js';
import { type Entity, type EntityEvent, parseKey, SHOW_FIELDS } from '../../show/show.js';
import { fittedRow } from '../format.js';
import { runWithRegistry } from '../run.js';

type WithGlobals = (c: Command) => Command;

type Born = Extract<EntityEvent, { event: 'born'; operation: string }>;

function names(list: { actor: string }[] | null | undefined): string {
  return list && list.length ? list.map((a) => a.actor).join(', ') : 'nobody';
}

/** How it was born, in words. */
export function howBorn(e: Entity): string {
  const born = e.history.find((h) => h.event === 'born') as Born | undefined;
  const by = born?.actor ? `, by ${born.actor}` : '';
  switch (e.operation) {
    case 'trigger':
      return 'by the auto-birth trigger of its table (an insert into the wired table)';
    case 'gateway':
      return 'birth-first, by the gateway (natal create / create_entity), before its row';
    case 'backfill':
      return `by backfill run ${e.run_id} of plan ${e.plan_id}${by}; reviewed by ${names(born?.review)}, permitted by ${names(born?.permit)}`;
    case 'catalog':
      return `by natal's catalog, when it was registered${by}`;
    case 'import':
      return 'imported: a birth brought in as another system made it';
    default:
      return String(e.operation);
  }
}

function inspection(e: Entity): string {
  const seen = [...e.history].reverse().find((h) => h.event === 'inspected') as
    Extract<EntityEvent, { event: 'inspected'; result: string }> | undefined;
  if (e.inspection_status === 'pending' || !seen) return 'pending (not inspected yet: natal inspect)';
  return e.inspection_status === 'passed'
    ? `passed (${seen.at})`
    : `failed (${seen.at}): ${seen.reason ?? 'no reason recorded'}`;
}

function existence(e: Entity): string {
  if (e.status === 'alive') {
    return e.row ? 'yes, its row:' : 'yes (its row is not shown: you may not read its table)';
  }
  if (e.status === 'dead' && e.death) {
    const d = e.death;
    const how =
      d.how === 'rekey'
        ? `re-keyed to ${d.rekeyed_to ?? '(no code)'}`
        : d.how === 'truncate'
          ? 'its table was truncated'
          : 'its row was deleted';
    return `no: it died at ${d.at}, ${how} (origin ${d.origin}, by ${d.actor})`;
  }
  return 'no: a phantom (its row is gone and no death is recorded)';
}

/** Its deaths and re-keys, when it has any (a row that came back is alive again). */
function lifeEvents(e: Entity): [string, string][] {
  const out: [string, string][] = [];
  if (e.rekeyed_from) out.push(['re-keyed', `from ${e.rekeyed_from} (natal show ${e.rekeyed_from})`]);
  const deaths = e.history.filter((h) => h.event === 'died' || h.event === 're-keyed') as Extract<
    EntityEvent,
    { event: 'died' | 're-keyed'; how: string }
  >[];
  if (deaths.length && e.status === 'alive')
    out.push(['deaths', `${deaths.length} recorded, its row came back since (alive again)`]);
  const to = deaths.at(-1)?.rekeyed_to;
  if (e.status === 'dead' && to) out.push(['now', `natal show ${to}`]);
  return out;
}

/** What natal knows of a code whose birth a rollback removed. */
function rolledBack(e: Entity): [string, string][] {
  const back = [...e.history].reverse().find((h) => h.event === 'rolled back') as
    { at: string; actor?: unknown } | undefined;
  return [
    ['code', e.entity_code],
    ['collection', e.collection_name],
    ['species', `${e.species_code} (level ${e.composition_level})`],
    ['how', `born by backfill run ${e.run_id} of plan ${e.plan_id}, which was rolled back`],
    [
      'rolled back',
      `${e.rolled_back_at ?? back?.at ?? '?'}${back?.actor ? `, by ${String(back.actor)}` : ''} (natal ledger --run ${e.run_id})`,
    ],
    [
      'exists',
      e.row_exists
        ? `no birth now; its row is there, an orphan again (natal census ${e.collection_name} --orphans)`
        : 'no birth now, and no row',
    ],
  ];
}

/** The birth certificate as text; the row's columns fit `width` (a terminal's). */
export function certificate(e: Entity, width: number | undefined): string {
  const lines: [string, string][] =
    e.status === 'rolled_back'
      ? rolledBack(e)
      : [
          ['code', e.entity_code],
          ['collection', e.collection_name],
          ['species', `${e.species_code} (level ${e.composition_level})`],
          ['origin', e.dot_origin ?? '-'],
          ['born', e.born_at ?? '-'],
          ['how', howBorn(e)],
          ['inspection', inspection(e)],
          ['exists', existence(e)],
          ...lifeEvents(e),
        ];
  if (e.status !== 'rolled_back' && e.history.some((h) => h.event === 'rolled back'))
    lines.push(['rolled back', 'an earlier birth of this code was rolled back (natal show --json: history)']);
  const label = Math.max(...lines.map(([l]) => l.length));
  const out = lines.map(([l, v]) => `${l.padEnd(label)}  ${v}`);
  if (e.row) {
    const { text, hidden } = fittedRow(e.row, width);
    out.push(text);
    if (hidden.length)
      out.push(`(${hidden.length} more column(s): ${hidden.join(', ')}; natal show --json shows them)`);
  }
  return out.join('\n');
}

/** The terminal's width: stdout's when it is one, else COLUMNS, else none (every column). */
function terminalWidth(): number | undefined {
  if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
  const env = Number(process.env.COLUMNS);
  return Number.isInteger(env) && env > 0 ? env : undefined;
}

export function registerShowCommand(program: Command, withGlobals: WithGlobals): void {
  withGlobals(
    program
      .command('show <code|table> [key]')
      .description(
        "one entity's birth certificate: natal show CODE, or natal show TABLE KEY (the key's value, or a JSON object for a composite key)",
      ),
  ).action((first: string, key: string | undefined, _opts: unknown, cmd: Command) =>
    runWithRegistry(cmd, async (registry) => {
      if (first === '' || key === '')
        throw new NatalError('USAGE', 'natal show CODE, or natal show TABLE KEY');
      const entity =
        key === undefined ? await registry.show(first) : await registry.showRow(first, parseKey(key));
      const json = Object.fromEntries(SHOW_FIELDS.map((f) => [f, entity[f]]));
      return { json, text: certificate(entity, terminalWidth()) };
    }),
  );
}
