/**
 * Plan, the dry run (QT-001 step 1): preflight, then for every eligible collection the
 * exact gap and a checksum over its missing codes, pinned by the plan's fingerprint.
 * Writes PLAN ledger rows and no birth.
 */
import { listCollections } from '../catalog/collections.js';
import { isNatalCatalog } from '../catalog/identity.js';
import { resolveCollections } from '../catalog/names.js';
import { type Check, type Preflight, preflight } from '../census/preflight.js';
import type { Ctx } from '../context.js';
import { NatalError } from '../errors.js';
import { NATAL_VERSION } from '../paths.js';

export interface PlanItem {
  collection: string;
  expected: number;
  checksum: string;
}

export interface NotEligible {
  collection: string;
  failed: Check[];
}

/** A plan as its row records it. */
export interface PlanRecord {
  plan_id: number;
  author: string;
  created_at: Date;
  status: string;
  fingerprint: string;
  natal_version: string;
  expected_total: number;
}

export interface Plan extends PlanRecord {
  collections: PlanItem[];
}

export interface PlanResult extends Plan {
  not_eligible: NotEligible[];
}

/** The collections a plan considers: the named ones, else every governed one. */
async function candidates(ctx: Ctx, tables: string[]): Promise<string[]> {
  if (tables.length) return [...new Set(await resolveCollections(ctx, tables))];
  return (await listCollections(ctx))
    .filter((c) => c.governance_role === 'governed' && !isNatalCatalog(ctx, c))
    .map((c) => c.collection_name);
}

export async function makePlan(
  ctx: Ctx,
  transaction: <T>(fn: (tx: Ctx) => Promise<T>) => Promise<T>,
  tables: string[] = [],
): Promise<PlanResult> {
  const names = await candidates(ctx, tables);
  if (names.length === 0) {
    throw new NatalError('NOTHING_TO_PLAN', 'nothing to plan: no governed collection is registered');
  }
  const checks = await preflight(ctx, names);
  // A collection named and frozen is planned all the same, so that the gate refuses it with
  // who froze it and why; unnamed, a frozen collection is left out like any other not ready.
  const named = (p: Preflight) => tables.length > 0 && p.failed[0]?.check === 'not frozen';
  const eligible = checks.filter((p) => p.result === 'READY' || named(p)).map((p) => p.collection);
  const notEligible = checks
    .filter((p) => p.result !== 'READY' && !named(p))
    .map((p) => ({ collection: p.collection, failed: p.failed }));
  if (eligible.length === 0) {
    throw new NatalError(
      'NOTHING_TO_PLAN',
      `nothing to plan: none of ${names.length} collection(s) passes preflight; natal preflight lists what to fix`,
    );
  }
  const planId = await transaction(async (tx) => {
    const { rows } = await tx.db.query<{ id: number }>(
      `SELECT ${tx.ns}.create_plan($1::text[], $2, $3::jsonb) AS id`,
      [eligible, NATAL_VERSION, JSON.stringify(notEligible)],
    );
    return Number(rows[0]?.id);
  });
  return { ...(await getPlan(ctx, planId)), not_eligible: notEligible };
}

export async function getPlan(ctx: Ctx, planId: number): Promise<Plan> {
  const { rows } = await ctx.db.query<PlanRecord>(
    `SELECT p.plan_id, p.author, p.created_at, p.status::text, p.fingerprint, p.natal_version, p.expected_total
     FROM ${ctx.ns}.find_plan($1::bigint) AS p`,
    [planId],
  );
  const plan = rows[0] as PlanRecord;
  const items = await ctx.db.query<PlanItem>(
    `SELECT collection_name AS collection, expected, codes_checksum AS checksum
     FROM ${ctx.ns}.backfill_plan_item WHERE plan_id = $1 ORDER BY collection_name`,
    [planId],
  );
  return {
    ...plan,
    plan_id: Number(plan.plan_id),
    expected_total: Number(plan.expected_total),
    collections: items.rows.map((i) => ({ ...i, expected: Number(i.expected) })),
  };
}
