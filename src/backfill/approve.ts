/**
 * Approval (QT-001 step 3): a review by someone other than the plan's author, a permit by
 * the owner of every collection in it, each bound to the plan's fingerprint. The database
 * decides who is acting (see actor() in 0007_backfill.sql) and refuses the wrong one.
 */
import type { Ctx } from '../context.js';

export type ApprovalKind = 'review' | 'permit';

export interface Approval {
  approval_id: number;
  plan_id: number;
  kind: ApprovalKind;
  actor: string;
  fingerprint: string;
  note: string | null;
  approved_at: Date;
}

export async function approve(
  ctx: Ctx,
  planId: number,
  kind: ApprovalKind,
  note?: string,
): Promise<Approval> {
  const { rows } = await ctx.db.query<Approval>(
    `SELECT (a).approval_id, (a).plan_id, (a).kind::text, (a).actor, (a).fingerprint, (a).note, (a).approved_at
     FROM (SELECT ${ctx.ns}.approve_plan($1::bigint, $2::${ctx.ns}.approval_kind, $3) AS a) AS x`,
    [planId, kind, note ?? null],
  );
  const a = rows[0] as Approval;
  return { ...a, approval_id: Number(a.approval_id), plan_id: Number(a.plan_id) };
}

/** Whether the acting role may give the plan its review or permit now, and if not why (the gate's own words). */
export interface ApprovalCheck {
  allowed: boolean;
  reason?: string;
  hint?: string | null;
}

/** Asks the gate without approving: the refusal approve() would meet, or allowed. Writes nothing. */
export async function approvalCheck(ctx: Ctx, planId: number, kind: ApprovalKind): Promise<ApprovalCheck> {
  const { rows } = await ctx.db.query<{ c: ApprovalCheck }>(
    `SELECT ${ctx.ns}.approval_check($1::bigint, $2::${ctx.ns}.approval_kind) AS c`,
    [planId, kind],
  );
  return rows[0]?.c as ApprovalCheck;
}

/** Who the database says is acting on this connection. */
export async function currentActor(ctx: Ctx): Promise<string> {
  const { rows } = await ctx.db.query<{ actor: string }>(`SELECT ${ctx.ns}.actor() AS actor`);
  return rows[0]?.actor ?? '';
}
