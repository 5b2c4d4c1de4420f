/** Births per day by origin: the dashboard's chart, from natal's births_per_day(). */
import type { Ctx } from '../context.js';

export interface BirthsOnDay {
  /** The day (UTC), as YYYY-MM-DD. */
  day: string;
  origin: string;
  births: number;
}

/** The last `days` days, the `top` origins with the most births apart, the rest as `other`. */
export async function birthsPerDay(ctx: Ctx, days: number, top: number): Promise<BirthsOnDay[]> {
  const { rows } = await ctx.db.query<BirthsOnDay>(
    `SELECT day::text AS day, origin, births::float8 AS births FROM ${ctx.ns}.births_per_day($1, $2)`,
    [days, top],
  );
  return rows;
}
