/** The hash chain over the ledger and approvals: natal ledger --verify. */
import type { Ctx } from '../context.js';

export interface ChainVerification {
  ok: boolean;
  rows: number;
  /** The last link: keep it (every report prints it) to prove later that nothing was rewritten. */
  head: string;
  first_broken: { table: string; id: number | null; link: number | null; why: string } | null;
}

export async function verifyChain(ctx: Ctx): Promise<ChainVerification> {
  const { rows } = await ctx.db.query<{ v: ChainVerification }>(`SELECT ${ctx.ns}.chain_verify() AS v`);
  return rows[0]?.v as ChainVerification;
}
