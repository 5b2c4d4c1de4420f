/**
 * `natal report`: the report a governance team files after an operation (plan, rehearsal,
 * apply, rollback), in the seed's shape, from what the registry recorded and nothing else.
 * buildReport returns it as data; renderMarkdown writes it as the seed's Markdown.
 */
import { count } from '../count.js';
import { verifyChain } from '../backfill/chain.js';
import type { Ctx } from '../context.js';
import { NatalError } from '../errors.js';
import { describeOperation, type Operation, type OperationNumbers } from './operation.js';
import { readRecords } from './records.js';
import type { KeyNumber, LifecycleRow, LiveMutation, Report, ReportSelection } from './types.js';

export { renderMarkdown } from './markdown.js';
export type * from './types.js';

/** An ISO date (midnight UTC) or date-time, as `--since` takes it. */
export function parseSince(text: string): Date {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const stamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$/.test(text);
  const date = new Date(day ? `${text}T00:00:00Z` : text);
  if ((!day && !stamp) || Number.isNaN(date.getTime()) || (day && date.toISOString().slice(0, 10) !== text)) {
    throw new NatalError(
      'INVALID_ARGUMENT',
      `${JSON.stringify(text)} is not an ISO date: give 2026-06-06 or 2026-06-06T09:00:00Z`,
    );
  }
  return date;
}

/** The plans a selection covers (the latest plan when nothing is selected). */
async function selectPlans(ctx: Ctx, s: ReportSelection): Promise<number[]> {
  const given = [s.plan, s.run, s.since].filter((x) => x !== undefined).length;
  if (given > 1) throw new NatalError('INVALID_ARGUMENT', 'select by one of plan, run or since, not more');
  const ids = async (sql: string, params: unknown[] = []) =>
    (await ctx.db.query<{ id: number }>(sql, params)).rows.map((r) => Number(r.id));
  for (const [what, v] of [
    ['plan', s.plan],
    ['run', s.run],
  ] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) {
      throw new NatalError('INVALID_ARGUMENT', `a ${what} id is a whole number such as 1, not ${v}`);
    }
  }
  if (s.plan !== undefined) {
    const found = await ids(`SELECT plan_id AS id FROM ${ctx.ns}.backfill_plan WHERE plan_id = $1`, [s.plan]);
    if (!found.length)
      throw new NatalError('PLAN_UNKNOWN', `plan ${s.plan} does not exist; natal plans lists the plans`);
    return found;
  }
  if (s.run !== undefined) {
    const found = await ids(`SELECT plan_id AS id FROM ${ctx.ns}.backfill_run WHERE run_id = $1`, [s.run]);
    if (!found.length)
      throw new NatalError('RUN_UNKNOWN', `run ${s.run} does not exist; natal runs lists the runs`);
    return found;
  }
  if (s.since !== undefined) {
    const since = parseSince(s.since);
    const found = await ids(
      `SELECT plan_id AS id FROM ${ctx.ns}.backfill_plan WHERE created_at >= $1 ORDER BY plan_id`,
      [since.toISOString()],
    );
    if (!found.length) throw new NatalError('PLAN_UNKNOWN', `no plan was made since ${s.since}`);
    return found;
  }
  const latest = await ids(`SELECT plan_id AS id FROM ${ctx.ns}.backfill_plan ORDER BY plan_id DESC LIMIT 1`);
  if (!latest.length) {
    throw new NatalError('PLAN_UNKNOWN', 'no plan is recorded yet; natal plan makes one');
  }
  return latest;
}

async function chainOf(ctx: Ctx): Promise<Report['chain']> {
  const v = await verifyChain(ctx);
  return { head: v.head, rows: v.rows, ok: v.ok };
}

/** Births, deaths and re-keys since `since`, per collection and origin. */
async function lifecycleSince(ctx: Ctx, since: Date): Promise<LifecycleRow[]> {
  const { rows } = await ctx.db.query<LifecycleRow>(
    `SELECT collection, origin, sum(births)::int AS births, sum(deaths)::int AS deaths, sum(rekeys)::int AS rekeys
     FROM (SELECT b.collection_name AS collection, b.dot_origin AS origin, count(*) AS births, 0 AS deaths, 0 AS rekeys
           FROM ${ctx.ns}.birth_registry b WHERE b.born_at >= $1 GROUP BY 1, 2
           UNION ALL
           SELECT d.collection_name, d.dot_origin, 0,
                  COALESCE(sum(cardinality(d.codes)) FILTER (WHERE d.how <> 'rekey'), 0),
                  COALESCE(sum(cardinality(d.codes)) FILTER (WHERE d.how = 'rekey'), 0)
           FROM ${ctx.ns}.entity_death d WHERE d.died_at >= $1 AND d.how <> 'rollback' GROUP BY 1, 2) AS x
     GROUP BY 1, 2 ORDER BY 1, 2`,
    [since.toISOString()],
  );
  return rows;
}

export async function buildReport(ctx: Ctx, selection: ReportSelection = {}): Promise<Report> {
  const planIds = await selectPlans(ctx, selection);
  const records = await readRecords(ctx, planIds);
  const ops = records.plans.map((p) => describeOperation(records, p, selection.run ?? null));
  const one = ops.length === 1 ? ops[0] : undefined;
  const unique = (xs: string[]) => [...new Set(xs)];
  const states = ops.map((o) => o.summary.state);
  const counts = unique(states).map((s) => `${states.filter((x) => x === s).length} ${s}`);
  const title = one
    ? `Birth backfill — plan ${one.summary.plan_id}${selection.run ? `, run ${selection.run}` : ''} — ${one.summary.state}`
    : `Birth backfill — ${ops.length} plans since ${selection.since} — ${counts.join(', ')}`;
  const live = liveMutation(ops);
  return {
    title,
    date: (
      ops
        .map((o) => o.last_at)
        .sort()
        .at(-1) as string
    ).slice(0, 10),
    generated_at: new Date().toISOString(),
    chain: await chainOf(ctx),
    selection: Object.fromEntries(
      Object.entries(selection).filter(([, v]) => v !== undefined),
    ) as ReportSelection,
    mode: unique(ops.map((o) => o.summary.mode)).join(' + '),
    status: unique(states).join(' + '),
    status_note: one
      ? one.summary.status_note
      : ops.map((o) => `plan ${o.summary.plan_id}: ${o.summary.status_note}`).join('; '),
    plans: ops.map((o) => o.summary),
    lifecycle: selection.since !== undefined ? await lifecycleSince(ctx, parseSince(selection.since)) : null,
    live_mutation: live,
    what_changed: ops.map((o) => o.summary.what_changed).join(' '),
    outcome: ops.flatMap((o) => o.outcome),
    key_numbers: keyNumbers(ops, live, records.registry_births),
    targets: ops.flatMap((o) => o.targets),
    steps: ops.flatMap((o) => o.steps).sort((a, b) => a.at.localeCompare(b.at)),
    rollback_commands: ops.flatMap((o) => o.live_runs).map((r) => `natal rollback ${r}`),
    not_done: ops.flatMap((o) => o.not_done),
  };
}

function liveMutation(ops: Operation[]): LiveMutation {
  const written = ops.reduce((a, o) => a + o.numbers.written, 0);
  const removed = ops.reduce((a, o) => a + o.numbers.removed, 0);
  const committed: string[] = [];
  const notCommitted: string[] = [];
  for (const o of ops) {
    const x = o.numbers;
    const p = `plan ${o.summary.plan_id}`;
    const rows = (k: keyof OperationNumbers['ledger_rows'], what: string) => {
      if (x.ledger_rows[k]) committed.push(`${x.ledger_rows[k]} ${k} ledger row(s) (${what}) — ${p}`);
    };
    rows('PLAN', 'dry run');
    rows('REHEARSAL', 'dry run');
    if (x.approvals) committed.push(`${x.approvals} approval(s) — ${p}`);
    if (x.written)
      committed.push(`${count(x.written)} birth(s) in birth_registry — run ${o.summary.runs.join(', ')}`);
    rows('APPLY', 'live');
    if (x.removed) {
      committed.push(`removal of ${count(x.removed)} birth(s) — rollback of run ${o.rolled_back.join(', ')}`);
    }
    rows('ROLLBACK', 'live');
    if (x.rehearsed !== null) {
      notCommitted.push(
        `the rehearsal's ${count(x.rehearsed)} birth(s): rolled back inside the rehearsal — ${p}`,
      );
    }
    const pending = o.not_done
      .filter((d) => d.what === 'apply not committed')
      .map((d) => d.why.split(': ')[0]);
    if (pending.length) notCommitted.push(`the backfill apply (${pending.join(', ')}) — ${p}`);
  }
  if (written === 0) notCommitted.unshift('any birth_registry row (net births 0)');
  return {
    live: written > 0 || removed > 0,
    births_written: written,
    births_removed: removed,
    net_births: written - removed,
    additive: removed === 0,
    reversible: removed === 0,
    committed,
    not_committed: notCommitted,
  };
}

/** The seed's "Key numbers" table, from the ledger, plus the registry's size now. */
function keyNumbers(ops: Operation[], live: LiveMutation, registryBirths: number): KeyNumber[] {
  const sum = (f: (x: OperationNumbers) => number | null) => {
    const known = ops.map((o) => f(o.numbers)).filter((v): v is number => v !== null);
    return known.length ? known.reduce((a, b) => a + b, 0) : null;
  };
  const runs = ops.flatMap((o) => o.summary.runs);
  const k = (item: string, value: number | string | null, note: string | null = null): KeyNumber => ({
    item,
    value: value ?? 'not recorded',
    note: value === null ? null : note,
  });
  const rehearsed = sum((x) => x.rehearsed);
  return [
    ops.length === 1
      ? k(
          'Plan',
          (ops[0] as Operation).summary.plan_id,
          `fingerprint ${(ops[0] as Operation).summary.fingerprint.slice(0, 12)}…`,
        )
      : k('Plans', ops.length, ops.map((o) => o.summary.plan_id).join(', ')),
    k(
      'Eligible collections (planned)',
      sum((x) => x.eligible),
    ),
    k(
      'Collections with non-zero gap',
      sum((x) => x.nonzero),
    ),
    k(
      'Collections not eligible',
      sum((x) => x.not_eligible),
    ),
    k(
      'Total expected new births',
      sum((x) => x.expected),
    ),
    k(
      'Rehearsed births',
      rehearsed ?? 'not rehearsed',
      rehearsed === null
        ? null
        : `rerun delta ${sum((x) => x.rerun_delta)}, net births ${sum((x) => x.rehearsal_net) ?? '-'}, rolled back`,
    ),
    k('Real backfill committed', live.births_written, runs.length ? `run ${runs.join(', ')}` : null),
    k('Births removed by rollback', live.births_removed),
    k('Net births', live.net_births),
    k(
      'Gap after',
      sum((x) => x.gap_after),
      'as recorded by the last apply or rollback',
    ),
    k(
      'Inspection failed',
      sum((x) => x.inspection_failed),
    ),
    k('birth_registry', registryBirths, 'all births, now'),
  ];
}
