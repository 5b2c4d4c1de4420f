/**
 * The report a governance team files after a backfill operation, in the seed's shape, built
 * only from what the registry recorded (plans, ledger, approvals, runs, freezes).
 *
 * - mode: what kind of operation the report is about: `DRY RUN` (a plan), `REHEARSAL
 *   (rolled back)`, `LIVE APPLY`, `ROLLBACK`.
 * - state: where a plan stands (`PLANNED`, `DRYRUN_PROVEN`, `REHEARSAL_FAILED`,
 *   `APPLY_READY`, `APPLY_RUNNING`, `APPLY_INTERRUPTED`, `APPLIED`, `VERIFIED`,
 *   `ROLLED_BACK`); the report's status.
 * - net births: births the reported steps left in the database: written by applies minus
 *   removed by rollbacks (0 for a plan or a rehearsal).
 * - step: one recorded act, in order: a group of ledger rows written together (PLAN,
 *   REHEARSAL, APPLY part, ROLLBACK) or one approval (REVIEW, PERMIT).
 */

export type ReportMode = 'DRY RUN' | 'REHEARSAL (rolled back)' | 'LIVE APPLY' | 'ROLLBACK';

export type PlanState =
  | 'PLANNED'
  | 'DRYRUN_PROVEN'
  | 'REHEARSAL_FAILED'
  | 'APPLY_READY'
  | 'APPLY_RUNNING'
  | 'APPLY_INTERRUPTED'
  | 'APPLIED'
  | 'VERIFIED'
  | 'ROLLED_BACK';

/** Which operation(s) to report: one plan, one run (with its plan's steps), or plans since a date. */
export interface ReportSelection {
  plan?: number | undefined;
  run?: number | undefined;
  /** An ISO date (`2026-06-06`, midnight UTC) or date-time: every plan created since then. */
  since?: string | undefined;
}

export interface PlanSummary {
  plan_id: number;
  /** Only this run's APPLY and ROLLBACK steps are reported (the --run selection). */
  run_id: number | null;
  author: string;
  created_at: string;
  fingerprint: string;
  natal_version: string;
  /** backfill_plan.status as recorded: planned, applied, superseded. */
  plan_status: string;
  state: PlanState;
  mode: ReportMode;
  status_note: string;
  what_changed: string;
  /** Readiness before the plan → the states it reached. */
  before: string;
  after: string;
  runs: number[];
}

export interface LiveMutation {
  /** Births were written or removed (a plan or a rehearsal writes only ledger rows). */
  live: boolean;
  births_written: number;
  births_removed: number;
  net_births: number;
  /** Only inserts: nothing was removed or changed. */
  additive: boolean;
  /** What was written can be undone by natal itself (natal rollback RUN). */
  reversible: boolean;
  committed: string[];
  not_committed: string[];
}

export interface OutcomeRow {
  plan_id: number;
  collection: string;
  before: string;
  gap_at_plan: number;
  after: string;
  /** The gap recorded by the last APPLY or ROLLBACK of the collection; null before either. */
  gap_after: number | null;
}

export interface KeyNumber {
  item: string;
  value: number | string;
  note: string | null;
}

export interface Target {
  plan_id: number;
  collection: string;
  expected: number;
  /** Births of the latest rehearsal, and what its second pass added (must be 0). */
  rehearsed: number | null;
  rerun_delta: number | null;
  /** Births the run wrote (APPLY ledger rows, or the run's cursor while it is unfinished). */
  born: number | null;
  gap_after: number | null;
  inspection_failed: number | null;
  /** Births the rollback removed (ROLLBACK ledger rows). */
  removed: number | null;
}

export type StepKind = 'PLAN' | 'REHEARSAL' | 'REVIEW' | 'PERMIT' | 'APPLY' | 'ROLLBACK';

export interface Step {
  step: StepKind;
  plan_id: number;
  run_id: number | null;
  /** The ledger rows of the step (none for approvals and for an unfinished part). */
  ledger_ids: number[];
  approval_id: number | null;
  actor: string;
  at: string;
  summary: string;
}

export interface NotDone {
  plan_id: number;
  what: string;
  why: string;
  /** The command that would do it, when there is one. */
  next: string | null;
}

/** Births, deaths and re-keys of one collection and origin in the period of a --since report. */
export interface LifecycleRow {
  collection: string;
  origin: string;
  births: number;
  deaths: number;
  rekeys: number;
}

export interface Report {
  title: string;
  /** The day (UTC) of the last recorded step. */
  date: string;
  generated_at: string;
  /**
   * The hash chain over the ledger and the approvals when the report was made: its head
   * (keep it: a later `natal ledger --verify` that ends elsewhere, or breaks before it,
   * shows the history was rewritten), how many rows it links, and whether it held.
   */
  chain: { head: string; rows: number; ok: boolean };
  selection: ReportSelection;
  mode: string;
  status: string;
  status_note: string;
  plans: PlanSummary[];
  /**
   * A --since report: every birth, death and re-key recorded since the date, per collection and
   * origin (the trigger's, the gateway's, a backfill's, or a session's natal.dot_origin). Null for
   * the report of one plan or run.
   */
  lifecycle: LifecycleRow[] | null;
  live_mutation: LiveMutation;
  what_changed: string;
  outcome: OutcomeRow[];
  key_numbers: KeyNumber[];
  targets: Target[];
  steps: Step[];
  /** `natal rollback RUN` for every run whose births are still in the registry. */
  rollback_commands: string[];
  not_done: NotDone[];
}
