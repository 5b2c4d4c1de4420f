/**
 * Rehearsal (QT-001 step 2): the plan applied, checked, applied again and rolled back,
 * all inside the database in one transaction; a REHEARSAL ledger row keeps the numbers.
 */
import type { Ctx } from '../context.js';

export interface RehearsalItem {
  collection: string;
  expected: number;
  born: number;
  rerun_delta: number;
  inspection_failed: number;
}

export interface Rehearsal {
  plan_id: number;
  collections: RehearsalItem[];
  net_births: number;
  outside_moved: boolean;
  ok: boolean;
  /** The plan's fingerprint the rehearsal proved; review, permit and apply need it to match. */
  fingerprint: string;
  /** When it failed: why (one line), and what to do next; null when it passed. */
  why: string | null;
  next: string | null;
}

export async function rehearse(ctx: Ctx, planId: number): Promise<Rehearsal> {
  const { rows } = await ctx.db.query<{ r: Rehearsal }>(`SELECT ${ctx.ns}.rehearse($1::bigint) AS r`, [
    planId,
  ]);
  return rows[0]?.r as Rehearsal;
}
