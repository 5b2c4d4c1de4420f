/**
 * One plan's part of a report: its state, targets, readiness before → after, steps and what
 * was not done, derived from its records alone.
 */
import type { Freeze } from '../backfill/freeze.js';
import type { LedgerRow } from '../backfill/ledger.js';
import type { ItemRecord, PlanRecord, Records, RunRecord } from './records.js';
import { groupLedger, type LedgerGroup, planSteps } from './steps.js';
import type { NotDone, OutcomeRow, PlanState, PlanSummary, ReportMode, Step, Target } from './types.js';

const n = (v: number) => v.toLocaleString('en-US');
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
  last_at: string;
}

interface NotEligible {
  collection: string;
  failed: { check: string; fix?: string }[];
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

/** What keeps the apply from being committed: the gate, as the database would judge it. */
function gateGaps(plan: PlanRecord, items: ItemRecord[], r: Scoped): NotDone[] {
  const out: NotDone[] = [];
  const add = (why: string, next: string | null) =>
    out.push({ plan_id: plan.plan_id, what: 'apply not committed', why, next });
  const reviews = r.approvals.filter((a) => a.kind === 'review');
  if (!reviews.some((a) => a.refusal === null)) {
    add(
      reviews.length
        ? `review missing: only its author, ${plan.author}, reviewed it`
        : `review missing: someone other than its author, ${plan.author}, reviews it`,
      `natal approve ${plan.plan_id} --review`,
    );
  }
  const permits = r.approvals.filter((a) => a.kind === 'permit');
  if (!permits.some((a) => a.refusal === null)) {
    const ownerless = items.filter((i) => i.owner === null).map((i) => i.collection);
    const owners = [...new Set(items.map((i) => i.owner).filter((o) => o !== null))];
    if (ownerless.length) {
      add(
        `permit missing: ${ownerless.join(', ')} has no owner to permit it`,
        `natal collection set ${ownerless[0]} --owner NAME`,
      );
    } else {
      add(
        `permit missing: ${permits[0]?.refusal ?? `no permit from the owner (${owners.join(', ')})`}`,
        `natal approve ${plan.plan_id} --permit`,
      );
    }
  }
  for (const f of r.freezes) {
    const what = f.target === 'backfill' ? 'backfill' : `collection ${f.target}`;
    add(
      `${what} is frozen by ${f.frozen_by} since ${new Date(f.frozen_at).toISOString().slice(0, 10)}: ${f.reason}`,
      `natal unfreeze ${f.target}`,
    );
  }
  return out;
}

interface Scoped {
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
  return {
    ledger,
    groups: groupLedger(ledger),
    approvals: records.approvals.filter((a) => a.plan_id === plan.plan_id),
    runs: records.runs.filter((r) => r.plan_id === plan.plan_id && inRun(r.run_id)),
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
  const rehearsal = r.groups.filter((g) => g.step === 'REHEARSAL').at(-1);
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
  const rehearsalOk = rehearsal ? rehearsal.summary?.detail.ok !== false : null;
  const gaps = plan.status === 'planned' && liveRuns.length === 0 ? gateGaps(plan, items, r) : [];
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
  const notDone = notDoneOf(plan, state, r, gaps, notEligible, rehearsal === undefined, targets);
  const outcome: OutcomeRow[] = targets.map((t) => ({
    plan_id: plan.plan_id,
    collection: t.collection,
    before: 'PREFLIGHT_READY',
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
    last_at: times.at(-1) as string,
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

function describeWords(
  plan: PlanRecord,
  state: PlanState,
  x: OperationNumbers,
  r: Scoped,
  gaps: NotDone[],
  confirmed: boolean,
): Pick<PlanSummary, 'status_note' | 'what_changed' | 'before' | 'after'> {
  const p = `plan ${plan.plan_id}`;
  const runs = r.runs.map((run) => `run ${run.run_id}`).join(', ');
  const runsTitle = runs.charAt(0).toUpperCase() + runs.slice(1);
  const pending = gaps.map((g) => g.why.split(': ')[0]).join(', ');
  const reviewers = r.approvals.filter((a) => a.kind === 'review' && a.refusal === null).map((a) => a.actor);
  const permitters = r.approvals.filter((a) => a.kind === 'permit' && a.refusal === null).map((a) => a.actor);
  const rehearsed =
    x.rehearsed === null
      ? ''
      : `rehearsed (${n(x.rehearsed)} births, rerun delta ${x.rerun_delta ?? '-'}, rolled back, net births ${x.rehearsal_net ?? '-'}); `;
  const gap = x.gap_after === null ? '' : `, gap after ${n(x.gap_after)}`;
  const status: Record<PlanState, string> = {
    PLANNED: `dry run only; apply not committed (${pending})`,
    DRYRUN_PROVEN: `dry run and rehearsal complete; apply not committed (${pending})`,
    REHEARSAL_FAILED: `the rehearsal did not match the plan; apply not advised${pending ? ` (and ${pending})` : ''}`,
    APPLY_READY: `review by ${reviewers.join(', ')} and permit by ${permitters.join(', ')} recorded; apply not yet run`,
    APPLY_RUNNING: `${runs} is applying now: ${n(x.written)} of ${n(x.expected)} births so far`,
    APPLY_INTERRUPTED: `${runs} stopped after ${n(x.written)} of ${n(x.expected)} births; resume or roll back`,
    APPLIED: `${n(x.written)} births committed by ${runs} but NOT confirmed${gap}`,
    VERIFIED: `${n(x.written)} births committed by ${runs} and confirmed: gap 0, every birth inspected`,
    ROLLED_BACK: `${runs} rolled back: ${n(x.removed)} births removed${gap}; plan superseded`,
  };
  const fp = plan.fingerprint.slice(0, 12);
  const what: Record<PlanState, string> = {
    PLANNED: `Plan ${plan.plan_id} pinned ${n(x.expected)} expected births in ${x.nonzero} of ${x.eligible} eligible collection(s) (fingerprint ${fp}…); no birth was written.`,
    DRYRUN_PROVEN: `Plan ${plan.plan_id}: ${n(x.expected)} expected births ${rehearsed.replace(/; $/, '')}; apply not committed.`,
    REHEARSAL_FAILED: `Plan ${plan.plan_id}'s rehearsal did not match it (${n(x.rehearsed ?? 0)} of ${n(x.expected)} births, rerun delta ${x.rerun_delta ?? '-'}); nothing was committed.`,
    APPLY_READY: `Plan ${plan.plan_id} (${n(x.expected)} expected births) is reviewed and permitted; ${rehearsed}no birth committed yet.`,
    APPLY_RUNNING: `${runsTitle} of ${p} has written ${n(x.written)} of ${n(x.expected)} births so far.`,
    APPLY_INTERRUPTED: `${runsTitle} of ${p} stopped after ${n(x.written)} of ${n(x.expected)} births.`,
    APPLIED: `${runsTitle} of ${p} committed ${n(x.written)} births in ${x.eligible} collection(s)${gap} — not confirmed.`,
    VERIFIED: `${runsTitle} of ${p} committed ${n(x.written)} births in ${x.eligible} collection(s), gap after 0, reversible with natal rollback.`,
    ROLLED_BACK: `${runsTitle} of ${p} rolled back: ${n(x.removed)} births removed (net births ${n(x.written - x.removed)})${gap}.`,
  };
  const after = [`PLANNED (${n(x.expected)} expected)`];
  if (x.rehearsed !== null) {
    after.push(
      state === 'REHEARSAL_FAILED'
        ? `REHEARSAL_FAILED (${n(x.rehearsed)} rehearsed)`
        : `DRYRUN_PROVEN (${n(x.rehearsed)} rehearsed, rerun delta ${x.rerun_delta ?? '-'}, rolled back)`,
    );
  }
  if (reviewers.length && permitters.length) after.push('APPLY_READY (review + permit)');
  else if (plan.status === 'planned' && r.runs.length === 0) after.push(`APPLY pending (${pending})`);
  if (x.written > 0 || r.runs.length) {
    after.push(
      state === 'APPLY_RUNNING' || state === 'APPLY_INTERRUPTED'
        ? `${state} (${n(x.written)} births so far)`
        : `APPLIED (${n(x.written)} births)`,
    );
  }
  if (confirmed) after.push('VERIFIED (gap 0, inspection passed)');
  if (state === 'ROLLED_BACK') after.push(`ROLLED_BACK (${n(x.removed)} removed${gap})`);
  return {
    status_note: status[state],
    what_changed: what[state],
    before: `PREFLIGHT_READY (${x.eligible} eligible collection(s), gap ${n(x.expected)}${x.not_eligible ? `; ${x.not_eligible} not eligible` : ''})`,
    after: after.join(' + '),
  };
}

function notDoneOf(
  plan: PlanRecord,
  state: PlanState,
  r: Scoped,
  gaps: NotDone[],
  notEligible: NotEligible[],
  unrehearsed: boolean,
  targets: Target[],
): NotDone[] {
  const id = plan.plan_id;
  const out: NotDone[] = [];
  if (unrehearsed && r.runs.length === 0) {
    out.push({
      plan_id: id,
      what: 'rehearsal not recorded',
      why: 'the plan was not rehearsed',
      next: `natal rehearse ${id}`,
    });
  }
  if (state === 'APPLY_READY') {
    out.push({
      plan_id: id,
      what: 'apply not committed',
      why: 'review and permit are recorded; nobody has run the apply',
      next: `natal apply ${id}`,
    });
  }
  out.push(...gaps);
  for (const x of notEligible) {
    out.push({
      plan_id: id,
      what: `${x.collection} not planned`,
      why: `failed preflight: ${x.failed.map((f) => f.check).join('; ')}`,
      next: x.failed[0]?.fix ?? null,
    });
  }
  for (const run of r.runs.filter((x) => x.status === 'running')) {
    out.push({
      plan_id: id,
      what: `run ${run.run_id} not finished`,
      why: state === 'APPLY_RUNNING' ? 'the apply is still running' : `interrupted in part ${run.part}`,
      next: `natal apply ${id} --resume ${run.run_id} (or natal rollback ${run.run_id})`,
    });
  }
  for (const t of targets.filter((x) => x.removed === null && x.gap_after !== null && x.gap_after > 0)) {
    out.push({
      plan_id: id,
      what: `${t.collection} not complete`,
      why: `gap after the apply: ${n(t.gap_after as number)} row(s) without a birth`,
      next: `natal census ${t.collection} --orphans`,
    });
  }
  for (const t of targets.filter((x) => (x.inspection_failed ?? 0) > 0)) {
    out.push({
      plan_id: id,
      what: `${t.collection} births not all valid`,
      why: `${n(t.inspection_failed as number)} birth(s) failed inspection`,
      next: `natal inspect ${t.collection}`,
    });
  }
  for (const run of r.runs.filter((x) => x.status === 'rolled_back')) {
    out.push({
      plan_id: id,
      what: 'backfill undone',
      why: `run ${run.run_id} was rolled back; plan ${id} is superseded`,
      next: 'natal plan',
    });
  }
  return out;
}
