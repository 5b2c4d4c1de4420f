/**
 * Apply (QT-001 step 4), fail-closed: apply_begin checks the gate inside the database
 * (approvals bound to the fingerprint, freezes, staleness, one apply at a time), then
 * keyset batches each commit their births with the run's cursor, then apply_finish
 * confirms every collection and writes the APPLY ledger rows. A killed apply resumes from
 * its cursor with `resume`.
 */
import { performance } from 'node:perf_hooks';
import type { Backend, Queryable } from '../db/backend.js';
import { quoteIdent } from '../db/ident.js';
import { waitingFor } from '../db/wait.js';
import { errorMessage, isConnectionLost, NatalError } from '../errors.js';

/** Rows per batch unless told otherwise: measured in docs/BENCHMARKS.md (npm run bench -- backfill). */
export const DEFAULT_BATCH_SIZE = 50_000;
/** Sessions writing ranges at once on a server (measured: docs/BENCHMARKS.md). */
export const DEFAULT_LANES = 2;

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
  /** Sessions writing at once (server only; default DEFAULT_LANES). */
  lanes?: number | undefined;
  /** Wait this long (ms; Infinity: until free) while another apply is running. */
  wait?: number | undefined;
  /** Told once, with why, when it waits. */
  onWait?: ((why: string) => void) | undefined;
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
  // Embedded there is one connection; a server takes parallel lanes.
  const lanes = db.kind === 'embedded' ? 1 : (options.lanes ?? DEFAULT_LANES);
  const started = performance.now();
  return db.session(async (s) => {
    const begun = await waitingFor(
      () =>
        s.query<{ run_id: number }>(`SELECT ${ns}.apply_begin($1::bigint, $2::int, $3::bigint) AS run_id`, [
          planId,
          batchSize,
          options.resume ?? null,
        ]),
      (err) => err.code === 'APPLY_RUNNING' && /^another apply is running/.test(err.message),
      options.wait,
      (err) => options.onWait?.(err.message),
    ).catch((err: unknown) => {
      // Whether a run began is not known here; a plain apply names it if one did.
      if (!isConnectionLost(err)) throw err;
      throw new NatalError(
        'CONNECTION_LOST',
        `the connection to the database was lost while the apply of plan ${planId} began (${reason(err)}); ` +
          `run natal apply ${planId} again: it names the run to resume if one began`,
        { cause: err },
      );
    });
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
      // Each step: the next `lanes` ranges of `batchSize` rows, written at once on as many
      // sessions, then the cursor moved past them.
      await withSessions(db, lanes - 1, async (others) => {
        const writers = [s, ...others];
        for (;;) {
          // Keys travel as JSON text, never as JS numbers (a bigint key would lose digits).
          const next = await s.query<{
            collection_name: string;
            after_key: string | null;
            upto_key: string | null;
          }>(
            `SELECT collection_name, after_key::text, upto_key::text
             FROM ${ns}.apply_next($1::bigint, $2::int, $3::int)`,
            [runId, batchSize, writers.length],
          );
          if (next.rows.length === 0) break;
          // Every lane is waited for, even when one fails, so that no range is still being
          // written when the lock is given back.
          const settled = await Promise.allSettled(
            next.rows.map((r, i) =>
              (writers[i] as Queryable).query<{ born: number }>(
                `SELECT born FROM ${ns}.apply_range($1::bigint, $2, $3::jsonb, $4::jsonb)`,
                [runId, r.collection_name, r.after_key, r.upto_key],
              ),
            ),
          );
          const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
          if (failed) throw failed.reason;
          const written = settled.map(
            (x) => (x as PromiseFulfilledResult<{ rows: { born: number }[] }>).value,
          );
          const last = next.rows[next.rows.length - 1] as {
            collection_name: string;
            upto_key: string | null;
          };
          await s.query(`SELECT ${ns}.apply_advance($1::bigint, $2, $3::jsonb)`, [
            runId,
            last.collection_name,
            last.upto_key,
          ]);
          batches += next.rows.length;
          born += written.reduce((a, w) => a + Number(w.rows[0]?.born), 0);
          options.onBatch?.({ run_id: runId, collection: last.collection_name, born, expected });
          // PGlite runs in this thread and answers at once, so an await chain never gives the
          // event loop a turn: yield one between batches (natal serve answers its pages, a
          // progress bar redraws).
          if (db.kind === 'embedded') await new Promise((resolve) => setImmediate(resolve));
        }
      });
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
      // A range that would birth other rows than were approved there: the run ends here, its
      // births so far stay (the ledger says so), and a new plan takes the rest.
      if (err instanceof NatalError && err.code === 'PLAN_STALE') {
        await s.query(`SELECT ${ns}.apply_stop($1::bigint, $2)`, [runId, err.message]).catch(() => undefined);
        throw Object.assign(err, { runId });
      }
      // The run stays resumable; the lock is given back for whoever resumes it.
      // A session lost while it waited (for another lane) shows it here, not in `err`: the
      // other lane is then refused, for the lock went with the lost session.
      const lost = await s.query(`SELECT ${ns}.apply_release()`).then(
        () => false,
        (e: unknown) => isConnectionLost(e),
      );
      if (lost || isConnectionLost(err)) {
        // What the run committed stays, and its cursor says how far it got: --resume
        // continues from there (the lock went with the lost session, or was given back).
        throw Object.assign(
          new NatalError(
            'CONNECTION_LOST',
            `the connection to the database was lost during run ${runId} of plan ${planId}; ` +
              `the run is resumable: natal apply ${planId} --resume ${runId}`,
            { cause: err },
          ),
          { runId },
        );
      }
      throw Object.assign(err as object, { runId });
    }
  });
}

/** The driver's first line, without the wrapper's words when it has already wrapped it. */
function reason(err: unknown): string {
  const cause = err instanceof NatalError && err.cause !== undefined ? err.cause : err;
  return (errorMessage(cause).split('\n')[0] ?? '').trim() || 'the connection ended';
}

/** Runs `fn` with `n` more sessions of the backend, each held until it returns. */
async function withSessions<T>(
  db: Backend,
  n: number,
  fn: (sessions: Queryable[]) => Promise<T>,
): Promise<T> {
  if (n <= 0) return fn([]);
  return db.session((one) => withSessions(db, n - 1, (rest) => fn([one, ...rest])));
}
