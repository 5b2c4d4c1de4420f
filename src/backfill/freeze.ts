/** Freezes: a frozen operation ('backfill') or collection refuses to plan, apply or roll back. */
import { resolveCollection } from '../catalog/names.js';
import type { Ctx } from '../context.js';

export interface Freeze {
  target: string;
  reason: string;
  frozen_by: string;
  frozen_at: Date;
}

async function target(ctx: Ctx, input: string): Promise<string> {
  return input === 'backfill' ? 'backfill' : resolveCollection(ctx, input);
}

export async function freeze(ctx: Ctx, input: string, reason?: string): Promise<Freeze> {
  const { rows } = await ctx.db.query<Freeze>(
    `SELECT (f).target, (f).reason, (f).frozen_by, (f).frozen_at
     FROM (SELECT ${ctx.ns}.freeze($1, $2) AS f) AS x`,
    [await target(ctx, input), reason ?? null],
  );
  return rows[0] as Freeze;
}

export async function unfreeze(ctx: Ctx, input: string): Promise<{ target: string; was_frozen: boolean }> {
  const t = await target(ctx, input);
  const { rows } = await ctx.db.query<{ was: boolean }>(`SELECT ${ctx.ns}.unfreeze($1) AS was`, [t]);
  return { target: t, was_frozen: rows[0]?.was === true };
}

export async function listFreezes(ctx: Ctx): Promise<Freeze[]> {
  const { rows } = await ctx.db.query<Freeze>(
    `SELECT target, reason, frozen_by, frozen_at FROM ${ctx.ns}.operation_freeze ORDER BY target`,
  );
  return rows;
}
