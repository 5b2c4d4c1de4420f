/**
 * One plan's part of a report: its state, targets, readiness before → after, steps and what
 * was not done, derived from its records alone.
 */
import { count } from '../count.js';
import type { Freeze } from '../backfill/freeze.js';
import type { LedgerRow } from '../backfill/ledger.js';
import type { ItemRecord, PlanRecord, Records, RunRecord } from './records.js';
import { gateGaps, type NotEligible, notDoneOf } from './pending.js';
import { groupLedger, type LedgerGroup, planSteps } from './steps.js';
import { describeWords } from './summary.js';
import type { NotDone, OutcomeRow, PlanState, PlanSummary, ReportMode, Step, Target } from './types.js';

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const total = (xs: (number | null)[]) => xs.reduce<number>((a, x) => a + (x ?? 0), 0);

/** The numbers of one plan that the report adds up. */
export interface OperationNumbers {
  eligible: number;
  nonzero: number;
  not_eligible: number;
  expected: number;
  /** Latest rehearsal: births, rerun delta and the net births it recorded; null if none. */
  rehearsed: number | null;
  rerun_delta: number | null;
  rehearsal_net: number | null;
  written: number;
  removed: number;
  gap_after: number | null;
  inspection_failed: number | null;
  ledger_rows: Record<LedgerRow['step'], number>;
  approvals: number;
}

export interface Operation {
  summary: PlanSummary;
  numbers: OperationNumbers;
  targets: Target[];
  outcome: OutcomeRow[];
  steps: Step[];
  not_done: NotDone[];
  /** Runs whose births are still in the registry. */
  live_runs: number[];
  /** Runs rolled back. */
  rolled_back: number[];
  /** The plan's approvals, each with why it does not count toward the gate (null: it counts). */
  approvals: Scoped['approvals'];
  last_at: string;
}

const MODE: Record<PlanState, ReportMode | null> = {
  PLANNED: 'DRY RUN',
  DRYRUN_PROVEN: 'REHEARSAL (rolled back)',
  REHEARSAL_FAILED: 'REHEARSAL (rolled back)',
  APPLY_READY: null,
  APPLY_RUNNING: 'LIVE APPLY',
  APPLY_INTERRUPTED: 'LIVE APPLY',
  APPLIED: 'LIVE APPLY',
  VERIFIED: 'LIVE APPLY',
  ROLLED_BACK: 'ROLLBACK',
};

export interface Scoped {
  ledger: LedgerRow[];
  groups: LedgerGroup[];
  approvals: Records['approvals'];
  runs: RunRecord[];
  freezes: Freeze[];
}

function scope(records: Records, plan: PlanRecord, items: ItemRecord[], runId: number | null): Scoped {
  const inRun = (id: number | null) => runId === null || id === null || id === runId;
  const ledger = records.ledger.filter((r) => r.plan_id === plan.plan_id && inRun(r.run_id));
  const names = new Set(items.map((i) => i.collection));
  const runs = records.runs.filter((r) => r.plan_id === plan.plan_id && inRun(r.run_id));
  // A permit is judged against the owners of now; once a run began, the gate had passed.
  const judged = (a: Records['approvals'][number]) =>
    a.kind === 'permit' && runs.length > 0 ? { ...a, refusal: null } : a;
  return {
    ledger,
    groups: groupLedger(ledger),
    approvals: records.approvals.filter((a) => a.plan_id === plan.plan_id).map(judged),
    runs,
    freezes: records.freezes.filter((f) => f.target === 'backfill' || names.has(f.target)),
  };
}

export function describeOperation(records: Records, plan: PlanRecord, runId: number | null): Operation {
  const items = records.items.filter((i) => i.plan_id === plan.plan_id);
  const r = scope(records, plan, items, runId);
  const planSummary = r.groups.find((g) => g.step === 'PLAN')?.summary;
  const notEligible = (
    Array.isArray(planSummary?.detail.not_eligible) ? planSummary.detail.not_eligible : []
  ) as NotEligible[];
  // The latest rehearsal of this plan's fingerprint (one recorded before natal kept the
  // fingerprint in it counts: an intact plan's fingerprint never changes).
  const rehearsal = r.groups
    .filter((g) => g.step === 'REHEARSAL')
    .filter((g) => {
      const fp = g.summary?.detail.fingerprint;
      return typeof fp !== 'string' || fp === plan.fingerprint;
    })
    .at(-1);
  const verdict = rehearsalVerdict(plan, rehearsal);
  const finish = r.ledger.filter((l) => l.step === 'APPLY' && l.collection !== null);
  const rollback = r.ledger.filter((l) => l.step === 'ROLLBACK' && l.collection !== null);
  const unfinished = r.runs.filter((x) => x.status === 'running');
  const liveRuns = r.runs.filter((x) => x.status !== 'rolled_back');
  const rolledBack = r.runs.filter((x) => x.status === 'rolled_back');

  const targets: Target[] = items.map((i) => {
    const of = (rows: LedgerRow[]) => rows.filter((l) => l.collection === i.collection);
    const reh = rehearsal ? of(rehearsal.collections)[0] : undefined;
    const applied = of(finish);
    const removed = of(rollback);
    // Births of a run: its APPLY rows once it finished, else its cursor (the run's own record).
    const born = r.runs.length
      ? total(
          r.runs.map((run) => {
            const row = applied.find((l) => l.run_id === run.run_id);
            return row ? row.actual : (run.born[i.collection] ?? 0);
          }),
        )
      : null;
    const lastGap = [...applied, ...removed].sort((a, b) => a.ledger_id - b.ledger_id).at(-1);
    return {
      plan_id: plan.plan_id,
      collection: i.collection,
      expected: i.expected,
      rehearsed: reh?.actual ?? null,
      rerun_delta: reh?.rerun_delta ?? null,
      born,
      gap_after: lastGap ? num(lastGap.detail.gap_after) : null,
      inspection_failed: applied.length ? total(applied.map((l) => num(l.detail.inspection_failed))) : null,
      removed: removed.length ? total(removed.map((l) => l.actual)) : null,
    };
  });

  const confirmed =
    finish.length > 0 &&
    finish.every((l) => num(l.detail.gap_after) === 0 && num(l.detail.inspection_failed) === 0);
  const rehearsalOk = rehearsal ? verdict.status === 'passed' : null;
  const gaps = plan.status === 'planned' && liveRuns.length === 0 ? gateGaps(plan, items, r, verdict) : [];
  const state: PlanState = unfinished.length
    ? unfinished.some((x) => x.run_id === records.running_run)
      ? 'APPLY_RUNNING'
      : 'APPLY_INTERRUPTED'
    : liveRuns.length
      ? confirmed
        ? 'VERIFIED'
        : 'APPLIED'
      : rolledBack.length
        ? 'ROLLED_BACK'
        : rehearsalOk === false
          ? 'REHEARSAL_FAILED'
          : plan.status === 'planned' && gaps.length === 0
            ? 'APPLY_READY'
            : rehearsalOk
              ? 'DRYRUN_PROVEN'
              : 'PLANNED';
  const mode = MODE[state] ?? (rehearsal ? 'REHEARSAL (rolled back)' : 'DRY RUN');

  const expected = total(items.map((i) => i.expected));
  const written = total(targets.map((t) => t.born));
  const removed = total(targets.map((t) => t.removed));
  const gapsKnown = targets.filter((t) => t.gap_after !== null);
  const numbers: OperationNumbers = {
    eligible: items.length,
    nonzero: items.filter((i) => i.expected > 0).length,
    not_eligible: notEligible.length,
    expected,
    rehearsed: rehearsal
      ? (rehearsal.summary?.actual ?? total(rehearsal.collections.map((l) => l.actual)))
      : null,
    rerun_delta: rehearsal
      ? (rehearsal.summary?.rerun_delta ?? total(rehearsal.collections.map((l) => l.rerun_delta)))
      : null,
    rehearsal_net: rehearsal?.summary ? num(rehearsal.summary.detail.net_births) : null,
    written,
    removed,
    gap_after: gapsKnown.length ? total(gapsKnown.map((t) => t.gap_after)) : null,
    inspection_failed: finish.length ? total(targets.map((t) => t.inspection_failed)) : null,
    ledger_rows: {
      PLAN: r.ledger.filter((l) => l.step === 'PLAN').length,
      REHEARSAL: r.ledger.filter((l) => l.step === 'REHEARSAL').length,
      APPLY: r.ledger.filter((l) => l.step === 'APPLY').length,
      ROLLBACK: r.ledger.filter((l) => l.step === 'ROLLBACK').length,
    },
    approvals: r.approvals.length,
  };

  const steps = planSteps(plan, r.groups, r.approvals, unfinished);
  const words = describeWords(plan, state, numbers, r, gaps, confirmed);
  const notDone = notDoneOf(plan, state, r, gaps, notEligible, verdict, targets);
  const outcome: OutcomeRow[] = targets.map((t) => ({
    plan_id: plan.plan_id,
    collection: t.collection,
    // What the plan found: a gap to close (its items have one; a plan made before 0.3 could
    // also hold a complete collection, with nothing to birth).
    before: t.expected > 0 ? 'PREFLIGHT_READY' : 'COMPLETE',
    gap_at_plan: t.expected,
    after: collectionState(t, state),
    gap_after: t.gap_after,
  }));
  const times = [
    new Date(plan.created_at).toISOString(),
    ...steps.map((s) => s.at),
    ...r.runs.flatMap((x) => (x.finished_at ? [new Date(x.finished_at).toISOString()] : [])),
  ].sort();
  return {
    summary: {
      plan_id: plan.plan_id,
      run_id: runId,
      author: plan.author,
      created_at: new Date(plan.created_at).toISOString(),
      fingerprint: plan.fingerprint,
      natal_version: plan.natal_version,
      plan_status: plan.status,
      state,
      mode,
      ...words,
      runs: r.runs.map((x) => x.run_id),
    },
    numbers,
    targets,
    outcome,
    steps,
    not_done: notDone,
    live_runs: liveRuns.map((x) => x.run_id),
    rolled_back: rolledBack.map((x) => x.run_id),
    approvals: r.approvals,
    last_at: times.at(-1) as string,
  };
}

/** Whether the plan's latest rehearsal passed: the gate's first step. */
export interface RehearsalVerdict {
  status: 'passed' | 'failed' | 'missing';
  /** A failed rehearsal: why (as it recorded it), and what to do next. */
  why: string | null;
  next: string | null;
}

function rehearsalVerdict(plan: PlanRecord, g: LedgerGroup | undefined): RehearsalVerdict {
  if (!g) return { status: 'missing', why: null, next: `natal rehearse ${plan.plan_id}` };
  const d = g.summary?.detail ?? {};
  if (d.ok !== false) return { status: 'passed', why: null, next: null };
  // (a rehearsal recorded before natal kept why: its numbers)
  const off = g.collections
    .filter((l) => l.actual !== l.expected || (l.rerun_delta ?? 0) !== 0)
    .map(
      (l) =>
        `${l.collection}: ${count(l.actual ?? 0)} born of ${count(l.expected ?? 0)} expected, rerun delta ${l.rerun_delta ?? 0}`,
    );
  return {
    status: 'failed',
    why:
      typeof d.why === 'string'
        ? d.why
        : off.length
          ? off.slice(0, 3).join('; ')
          : d.outside_moved === true
            ? 'rows or births outside the plan moved while it ran'
            : 'it did not match the plan',
    next: typeof d.next === 'string' ? d.next : `fix what it found, then natal rehearse ${plan.plan_id}`,
  };
}

function collectionState(t: Target, state: PlanState): string {
  if (t.removed !== null) return 'ROLLED_BACK';
  if (t.gap_after !== null) return t.gap_after === 0 && !t.inspection_failed ? 'VERIFIED' : 'APPLIED';
  if (t.born !== null) return state === 'APPLY_RUNNING' ? 'APPLY_RUNNING' : 'APPLY_INTERRUPTED';
  if (t.rehearsed !== null) {
    return t.rehearsed === t.expected && t.rerun_delta === 0 ? 'DRYRUN_PROVEN' : 'REHEARSAL_FAILED';
  }
  return 'PLANNED';
}
