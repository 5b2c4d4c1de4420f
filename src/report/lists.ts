/**
 * `natal plans` and `natal runs`: the newest plans and runs, each with the state the report
 * gives it (derived from the same records, by describeOperation), who acted and its births.
 */
import type { Ctx } from '../context.js';
import { NatalError } from '../errors.js';
import { describeOperation } from './operation.js';
import { readRecords } from './records.js';
import type { PlanState } from './types.js';

export interface PlanListing {
  plan_id: number;
  /** Where the plan stands, as natal report says it. */
  state: PlanState;
  /** backfill_plan.status as recorded: planned, applied, superseded. */
  plan_status: string;
  author: string;
  created_at: string;
  fingerprint: string;
  /** Who reviewed it and who permitted it, in approvals that count toward the gate. */
  reviewed_by: string[];
  permitted_by: string[];
  /** Births the plan expects, written by its runs, and removed by rollbacks of them. */
  expected: number;
  written: number;
  removed: number;
  runs: number[];
  /** The last thing recorded about it. */
  last_at: string;
}

export interface RunListing {
  run_id: number;
  plan_id: number;
  /** Where the run stands, as natal report --run says it. */
  state: PlanState;
  /** backfill_run.status as recorded: running, completed, failed, rolled_back. */
  run_status: string;
  actor: string;
  /** Births its plan expects, written by the run, and removed by its rollback. */
  expected: number;
  written: number;
  removed: number;
  started_at: string;
  finished_at: string | null;
}

export interface ListOptions {
  /** How many, newest first (default 20). */
  limit?: number | undefined;
}

export const DEFAULT_LIST_LIMIT = 20;

function limitOf(options: ListOptions): number {
  const limit = options.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new NatalError('INVALID_ARGUMENT', `the limit must be a whole number of 1 or more, not ${limit}`);
  }
  return limit;
}

const iso = (d: Date | string) => new Date(d).toISOString();

/** The newest plans, newest first. */
export async function listPlans(ctx: Ctx, options: ListOptions = {}): Promise<PlanListing[]> {
  const { rows } = await ctx.db.query<{ id: string }>(
    `SELECT plan_id AS id FROM ${ctx.ns}.backfill_plan ORDER BY plan_id DESC LIMIT $1`,
    [limitOf(options)],
  );
  const ids = rows.map((r) => Number(r.id));
  if (ids.length === 0) return [];
  const records = await readRecords(ctx, ids);
  return records.plans
    .map((plan): PlanListing => {
      const op = describeOperation(records, plan, null);
      const who = (kind: 'review' | 'permit') =>
        op.approvals.filter((a) => a.kind === kind && a.refusal === null).map((a) => a.actor);
      return {
        plan_id: plan.plan_id,
        state: op.summary.state,
        plan_status: plan.status,
        author: plan.author,
        created_at: iso(plan.created_at),
        fingerprint: plan.fingerprint,
        reviewed_by: who('review'),
        permitted_by: who('permit'),
        expected: op.numbers.expected,
        written: op.numbers.written,
        removed: op.numbers.removed,
        runs: op.summary.runs,
        last_at: op.last_at,
      };
    })
    .sort((a, b) => b.plan_id - a.plan_id);
}

/** The newest runs (of one plan, with `plan`), newest first. A plan that does not exist is refused. */
export async function listRuns(
  ctx: Ctx,
  options: ListOptions & { plan?: number | undefined; run?: number | undefined } = {},
): Promise<RunListing[]> {
  const limit = limitOf(options);
  if (options.plan !== undefined) {
    const { rows } = await ctx.db.query(`SELECT 1 FROM ${ctx.ns}.backfill_plan WHERE plan_id = $1`, [
      options.plan,
    ]);
    if (rows.length === 0) {
      throw new NatalError(
        'PLAN_UNKNOWN',
        `plan ${options.plan} does not exist; natal plans lists the plans`,
      );
    }
  }
  // (a rehearsal's run never commits; the filter says so)
  const { rows } = await ctx.db.query<{ run_id: string; plan_id: string }>(
    `SELECT run_id, plan_id FROM ${ctx.ns}.backfill_run
     WHERE NOT rehearsal AND ($1::bigint IS NULL OR plan_id = $1) AND ($3::bigint IS NULL OR run_id = $3)
     ORDER BY run_id DESC LIMIT $2`,
    [options.plan ?? null, limit, options.run ?? null],
  );
  if (rows.length === 0) return [];
  const records = await readRecords(ctx, [...new Set(rows.map((r) => Number(r.plan_id)))]);
  return rows.map(({ run_id }): RunListing => {
    const run = records.runs.find((r) => r.run_id === Number(run_id));
    const plan = records.plans.find((p) => p.plan_id === run?.plan_id);
    if (!run || !plan) throw new Error(`run ${run_id} was not read with its plan`);
    const op = describeOperation(records, plan, run.run_id);
    return {
      run_id: run.run_id,
      plan_id: run.plan_id,
      state: op.summary.state,
      run_status: run.status,
      actor: run.actor,
      expected: op.numbers.expected,
      written: op.numbers.written,
      removed: op.numbers.removed,
      started_at: iso(run.started_at),
      finished_at: run.finished_at ? iso(run.finished_at) : null,
    };
  });
}
