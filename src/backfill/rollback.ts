/**
 * Rollback (QT-001 step 6): removes exactly the births one run made (they carry its run
 * id; trigger and gateway births do not), verifies, and writes ROLLBACK ledger rows.
 */
import type { Ctx } from '../context.js';

export interface RollbackItem {
  collection: string;
  born: number;
  removed: number;
  gap_after: number | null;
}

export interface RollbackResult {
  run_id: number;
  dry_run: boolean;
  collections: RollbackItem[];
  removed: number;
  /** A few of the codes a dry run would remove. */
  sample: string[];
}

export async function rollbackRun(ctx: Ctx, runId: number, dryRun = false): Promise<RollbackResult> {
  const { rows } = await ctx.db.query<{
    collection_name: string;
    born: number;
    removed: number;
    gap_after: number | null;
  }>(`SELECT * FROM ${ctx.ns}.rollback_run($1::bigint, $2)`, [runId, dryRun]);
  const sample = dryRun
    ? (
        await ctx.db.query<{ entity_code: string }>(
          `SELECT entity_code FROM ${ctx.ns}.birth_registry WHERE run_id = $1 AND operation = 'backfill'
           ORDER BY entity_code LIMIT 10`,
          [runId],
        )
      ).rows.map((r) => r.entity_code)
    : [];
  const collections = rows.map((r) => ({
    collection: r.collection_name,
    born: Number(r.born),
    removed: Number(r.removed),
    gap_after: r.gap_after === null ? null : Number(r.gap_after),
  }));
  return {
    run_id: runId,
    dry_run: dryRun,
    collections,
    removed: collections.reduce((a, c) => a + c.removed, 0),
    sample,
  };
}
