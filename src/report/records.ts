/**
 * What the registry recorded about some plans: the plans and their items, the ledger, the
 * approvals (with whether each still counts), the runs, the freezes and owners. Reads only.
 */
import { type Freeze, listFreezes } from '../backfill/freeze.js';
import { type LedgerRow, ledger } from '../backfill/ledger.js';
import type { PlanRecord } from '../backfill/plan.js';
import type { Ctx } from '../context.js';

export type { PlanRecord };

export interface ItemRecord {
  plan_id: number;
  collection: string;
  expected: number;
  /** The collection's owner as the plan pinned it (who must permit), or null. */
  owner: string | null;
}

export interface ApprovalRecord {
  approval_id: number;
  plan_id: number;
  kind: 'review' | 'permit';
  actor: string;
  note: string | null;
  approved_at: Date;
  /** Why it does not count toward the gate (bound to another fingerprint, the author's review, not the owner). */
  refusal: string | null;
}

export interface RunRecord {
  run_id: number;
  plan_id: number;
  actor: string;
  status: string;
  batch_size: number;
  started_at: Date;
  finished_at: Date | null;
  /** Births per collection so far, from the run's cursor. */
  born: Record<string, number>;
  part: number;
}

export interface Records {
  plans: PlanRecord[];
  items: ItemRecord[];
  ledger: LedgerRow[];
  approvals: ApprovalRecord[];
  runs: RunRecord[];
  freezes: Freeze[];
  /** The run holding the apply lock now (an apply in progress), if any. */
  running_run: number | null;
  registry_births: number;
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export async function readRecords(ctx: Ctx, planIds: number[]): Promise<Records> {
  const ns = ctx.ns;
  const ids = [planIds];
  const plans = await ctx.db.query<PlanRecord>(
    `SELECT plan_id, author, created_at, status::text, fingerprint, natal_version, expected_total
     FROM ${ns}.backfill_plan WHERE plan_id = ANY ($1::bigint[]) ORDER BY plan_id`,
    ids,
  );
  const items = await ctx.db.query<ItemRecord>(
    `SELECT i.plan_id, i.collection_name AS collection, i.expected, i.identity->>'owner' AS owner
     FROM ${ns}.backfill_plan_item i
     WHERE i.plan_id = ANY ($1::bigint[]) ORDER BY i.plan_id, i.collection_name`,
    ids,
  );
  const steps = await ledger(ctx, { plans: planIds });
  const approvals = await ctx.db.query<ApprovalRecord>(
    `SELECT a.approval_id, a.plan_id, a.kind::text, a.actor, a.note, a.approved_at,
            CASE WHEN a.fingerprint <> p.fingerprint THEN 'bound to another fingerprint'
                 WHEN a.kind = 'review' AND a.actor = p.author THEN 'the plan''s author cannot review it'
                 WHEN a.kind = 'permit' THEN ${ns}.permit_refusal(a.plan_id, a.actor) END AS refusal
     FROM ${ns}.backfill_approval a JOIN ${ns}.backfill_plan p USING (plan_id)
     WHERE a.plan_id = ANY ($1::bigint[]) ORDER BY a.approval_id`,
    ids,
  );
  const runs = await ctx.db.query<Omit<RunRecord, 'born' | 'part'> & { cursor: Record<string, unknown> }>(
    `SELECT run_id, plan_id, actor, status::text, batch_size, started_at, finished_at, cursor
     FROM ${ns}.backfill_run WHERE plan_id = ANY ($1::bigint[]) ORDER BY run_id`,
    ids,
  );
  // An apply holds a lock while it runs; with one unfinished run in the registry, it is that one.
  const state = await ctx.db.query<{ births: number; running: number | null }>(
    `SELECT (SELECT count(*) FROM ${ns}.birth_registry) AS births,
            CASE WHEN ${ns}.apply_lock_holder() IS NOT NULL
                      AND (SELECT count(*) FROM ${ns}.backfill_run WHERE status = 'running') = 1
                 THEN (SELECT run_id FROM ${ns}.backfill_run WHERE status = 'running') END AS running`,
  );
  return {
    plans: plans.rows.map((p) => ({
      ...p,
      plan_id: Number(p.plan_id),
      expected_total: Number(p.expected_total),
    })),
    items: items.rows.map((i) => ({ ...i, plan_id: Number(i.plan_id), expected: Number(i.expected) })),
    ledger: steps,
    approvals: approvals.rows.map((a) => ({
      ...a,
      approval_id: Number(a.approval_id),
      plan_id: Number(a.plan_id),
    })),
    runs: runs.rows.map(({ cursor, ...r }) => ({
      ...r,
      run_id: Number(r.run_id),
      plan_id: Number(r.plan_id),
      batch_size: Number(r.batch_size),
      born: Object.fromEntries(
        Object.entries((cursor.born ?? {}) as Record<string, unknown>).map(([k, v]) => [k, Number(v)]),
      ),
      part: Number(cursor.part ?? 1),
    })),
    freezes: await listFreezes(ctx),
    running_run: num(state.rows[0]?.running),
    registry_births: Number(state.rows[0]?.births ?? 0),
  };
}
