/**
 * Apply (QT-001 step 4), fail-closed: apply_begin checks the gate inside the database
 * (approvals bound to the fingerprint, freezes, staleness, one apply at a time), then
 * keyset batches each commit their births with the run's cursor, then apply_finish
 * confirms every collection and writes the APPLY ledger rows. A killed apply resumes from
 * its cursor with `resume`.
 */
import { performance } from 'node:perf_hooks';
import type { Backend } from '../db/backend.js';
import { quoteIdent } from '../db/ident.js';

/** Rows per batch unless told otherwise: measured in docs/BENCHMARKS.md (npm run bench -- backfill). */
export const DEFAULT_BATCH_SIZE = 50_000;

export interface ApplyItem {
  collection: string;
  expected: number;
  born: number;
  gap_after: number;
  rows: number;
  inspection_failed: number;
  orphans: string[];
}

export interface ApplyResult {
  run_id: number;
  plan_id: number;
  resumed: boolean;
  batches: number;
  collections: ApplyItem[];
  born: number;
  gap_after: number;
  confirmed: boolean;
  /** Wall time of the apply, from the gate to the confirm. */
  seconds: number;
}

export interface ApplyProgress {
  run_id: number;
  collection: string;
  /** Births made by this run so far (including an interrupted part's), and the plan's total. */
  born: number;
  expected: number;
}

export interface ApplyOptions {
  batchSize?: number | undefined;
  resume?: number | undefined;
  onStart?: (p: ApplyProgress) => void;
  onBatch?: (p: ApplyProgress) => void;
}

export async function applyPlan(
  db: Backend,
  schema: string,
  planId: number,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const ns = quoteIdent(schema);
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const started = performance.now();
  return db.session(async (s) => {
    const begun = await s.query<{ run_id: number }>(
      `SELECT ${ns}.apply_begin($1::bigint, $2::int, $3::bigint) AS run_id`,
      [planId, batchSize, options.resume ?? null],
    );
    const runId = Number(begun.rows[0]?.run_id);
    try {
      const state = await s.query<{ expected: number; born: number }>(
        `SELECT p.expected_total AS expected,
                (SELECT COALESCE(sum(v::bigint), 0) FROM jsonb_each_text(r.cursor->'born') AS e(k, v)) AS born
         FROM ${ns}.backfill_run r JOIN ${ns}.backfill_plan p USING (plan_id) WHERE r.run_id = $1`,
        [runId],
      );
      const expected = Number(state.rows[0]?.expected);
      let born = Number(state.rows[0]?.born);
      let batches = 0;
      options.onStart?.({ run_id: runId, collection: '', born, expected });
      for (;;) {
        const { rows } = await s.query<{ collection_name: string; born: number; done: boolean }>(
          `SELECT collection_name, born, done FROM ${ns}.apply_batch($1::bigint, $2::int)`,
          [runId, batchSize],
        );
        const b = rows[0] as { collection_name: string; born: number; done: boolean };
        batches += 1;
        born += Number(b.born);
        options.onBatch?.({ run_id: runId, collection: b.collection_name, born, expected });
        if (b.done) break;
      }
      const finished = await s.query<{
        collection_name: string;
        expected: number;
        born: number;
        failed: number;
        rows: number;
        gap_after: number;
        orphans: string[];
      }>(`SELECT * FROM ${ns}.apply_finish($1::bigint)`, [runId]);
      const collections = finished.rows.map((r) => ({
        collection: r.collection_name,
        expected: Number(r.expected),
        born: Number(r.born),
        gap_after: Number(r.gap_after),
        rows: Number(r.rows),
        inspection_failed: Number(r.failed),
        orphans: r.orphans,
      }));
      const gapAfter = collections.reduce((a, c) => a + c.gap_after, 0);
      return {
        run_id: runId,
        plan_id: planId,
        resumed: options.resume !== undefined,
        batches,
        collections,
        born: collections.reduce((a, c) => a + c.born, 0),
        gap_after: gapAfter,
        confirmed: gapAfter === 0 && collections.every((c) => c.inspection_failed === 0),
        seconds: (performance.now() - started) / 1000,
      };
    } catch (err) {
      // The run stays resumable; the lock is given back for whoever resumes it.
      await s.query(`SELECT ${ns}.apply_release()`).catch(() => undefined);
      throw Object.assign(err as object, { runId });
    }
  });
}
