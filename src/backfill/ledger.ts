/** The ledger: every PLAN / REHEARSAL / APPLY / ROLLBACK step, with its actor and numbers. */
import type { Ctx } from '../context.js';
import { NatalError } from '../errors.js';
import type { LedgerStep } from '../types.js';

export interface LedgerRow {
  ledger_id: number;
  step: LedgerStep;
  plan_id: number;
  run_id: number | null;
  collection: string | null;
  actor: string;
  dry_run: boolean;
  expected: number | null;
  actual: number | null;
  rerun_delta: number | null;
  detail: Record<string, unknown>;
  recorded_at: Date;
}

/**
 * Ledger rows in order, of the given plans and run (both filters apply when both are given;
 * all rows when neither is); with `limit`, the newest that many of them, still in order. A
 * plan or run named that does not exist is refused, as report does.
 */
export async function ledger(
  ctx: Ctx,
  filter: { plan?: number; plans?: number[]; run?: number; limit?: number } = {},
): Promise<LedgerRow[]> {
  if (filter.limit !== undefined && (!Number.isSafeInteger(filter.limit) || filter.limit < 1)) {
    throw new NatalError(
      'INVALID_ARGUMENT',
      `the limit must be a whole number of 1 or more, not ${filter.limit}`,
    );
  }
  for (const [what, id, table, column] of [
    ['plan', filter.plan, 'backfill_plan', 'plan_id'],
    ['run', filter.run, 'backfill_run', 'run_id'],
  ] as const) {
    if (id === undefined) continue;
    const { rows } = await ctx.db.query(`SELECT 1 FROM ${ctx.ns}.${table} WHERE ${column} = $1`, [id]);
    if (rows.length === 0) {
      throw new NatalError(
        what === 'plan' ? 'PLAN_UNKNOWN' : 'RUN_UNKNOWN',
        `${what} ${id} does not exist; natal ${what}s lists the ${what}s`,
      );
    }
  }
  const plans = filter.plans ?? (filter.plan === undefined ? null : [filter.plan]);
  const { rows } = await ctx.db.query<LedgerRow>(
    `SELECT * FROM (
       SELECT ledger_id, step::text, plan_id, run_id, collection_name AS collection, actor, dry_run, expected,
              actual, rerun_delta, detail, recorded_at
       FROM ${ctx.ns}.birth_backfill_ledger
       WHERE ($1::bigint[] IS NULL OR plan_id = ANY ($1)) AND ($2::bigint IS NULL OR run_id = $2)
       ORDER BY ledger_id DESC LIMIT $3) AS newest
     ORDER BY ledger_id`,
    [plans, filter.run ?? null, filter.limit ?? null],
  );
  const num = (v: number | null) => (v === null ? null : Number(v));
  return rows.map((r) => ({
    ...r,
    ledger_id: Number(r.ledger_id),
    plan_id: Number(r.plan_id),
    run_id: num(r.run_id),
    expected: num(r.expected),
    actual: num(r.actual),
    rerun_delta: num(r.rerun_delta),
  }));
}
