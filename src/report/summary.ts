/** The sentences of a plan's report: status note, what changed, readiness before → after. */
import { count } from '../count.js';
import type { OperationNumbers, Scoped } from './operation.js';
import type { PlanRecord } from './records.js';
import type { NotDone, PlanState, PlanSummary } from './types.js';

export function describeWords(
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
  const failed = gaps
    .find((g) => g.why.startsWith('rehearsal failed: '))
    ?.why.slice('rehearsal failed: '.length);
  const reviewers = r.approvals.filter((a) => a.kind === 'review' && a.refusal === null).map((a) => a.actor);
  const permitters = r.approvals.filter((a) => a.kind === 'permit' && a.refusal === null).map((a) => a.actor);
  const rehearsed =
    x.rehearsed === null
      ? ''
      : `rehearsed (${count(x.rehearsed)} births, rerun delta ${x.rerun_delta ?? '-'}, rolled back, net births ${x.rehearsal_net ?? '-'}); `;
  const gap = x.gap_after === null ? '' : `, gap after ${count(x.gap_after)}`;
  const status: Record<PlanState, string> = {
    PLANNED: `dry run only; apply not committed: ${pending}`,
    DRYRUN_PROVEN: `dry run and rehearsal complete; apply not committed: ${pending}`,
    REHEARSAL_FAILED: `the rehearsal failed${failed ? ` (${failed})` : ''}; review, permit and apply are refused until a rehearsal of the plan passes`,
    APPLY_READY: `review by ${reviewers.join(', ')} and permit by ${permitters.join(', ')} recorded; apply not yet run`,
    APPLY_RUNNING: `${runs} is applying now: ${count(x.written)} of ${count(x.expected)} births so far`,
    APPLY_INTERRUPTED: `${runs} stopped after ${count(x.written)} of ${count(x.expected)} births; resume or roll back`,
    APPLIED: `${count(x.written)} births committed by ${runs} but NOT confirmed${gap}`,
    VERIFIED: `${count(x.written)} births committed by ${runs} and confirmed: gap 0, every birth inspected`,
    ROLLED_BACK: `${runs} rolled back: ${count(x.removed)} births removed${gap}; plan superseded`,
  };
  const fp = plan.fingerprint.slice(0, 12);
  const what: Record<PlanState, string> = {
    PLANNED: `Plan ${plan.plan_id} pinned ${count(x.expected)} expected births in ${x.nonzero} of ${x.eligible} eligible collection(s) (fingerprint ${fp}…); no birth was written.`,
    DRYRUN_PROVEN: `Plan ${plan.plan_id}: ${count(x.expected)} expected births ${rehearsed.replace(/; $/, '')}; apply not committed.`,
    REHEARSAL_FAILED: `Plan ${plan.plan_id}'s rehearsal did not match it (${count(x.rehearsed ?? 0)} of ${count(x.expected)} births, rerun delta ${x.rerun_delta ?? '-'}); nothing was committed.`,
    APPLY_READY: `Plan ${plan.plan_id} (${count(x.expected)} expected births) is reviewed and permitted; ${rehearsed}no birth committed yet.`,
    APPLY_RUNNING: `${runsTitle} of ${p} has written ${count(x.written)} of ${count(x.expected)} births so far.`,
    APPLY_INTERRUPTED: `${runsTitle} of ${p} stopped after ${count(x.written)} of ${count(x.expected)} births.`,
    APPLIED: `${runsTitle} of ${p} committed ${count(x.written)} births in ${x.eligible} collection(s)${gap} — not confirmed.`,
    VERIFIED: `${runsTitle} of ${p} committed ${count(x.written)} births in ${x.eligible} collection(s), gap after 0, reversible with natal rollback.`,
    ROLLED_BACK: `${runsTitle} of ${p} rolled back: ${count(x.removed)} births removed (net births ${count(x.written - x.removed)})${gap}.`,
  };
  const after = [`PLANNED (${count(x.expected)} expected)`];
  if (x.rehearsed !== null) {
    after.push(
      state === 'REHEARSAL_FAILED'
        ? `REHEARSAL_FAILED (${count(x.rehearsed)} rehearsed)`
        : `DRYRUN_PROVEN (${count(x.rehearsed)} rehearsed, rerun delta ${x.rerun_delta ?? '-'}, rolled back)`,
    );
  }
  if (reviewers.length && permitters.length && (state === 'APPLY_READY' || r.runs.length > 0))
    after.push('APPLY_READY (review + permit)');
  else if (plan.status === 'planned' && r.runs.length === 0) after.push(`APPLY pending (${pending})`);
  if (x.written > 0 || r.runs.length) {
    after.push(
      state === 'APPLY_RUNNING' || state === 'APPLY_INTERRUPTED'
        ? `${state} (${count(x.written)} births so far)`
        : `APPLIED (${count(x.written)} births)`,
    );
  }
  if (confirmed) after.push('VERIFIED (gap 0, inspection passed)');
  if (state === 'ROLLED_BACK') after.push(`ROLLED_BACK (${count(x.removed)} removed${gap})`);
  return {
    status_note: status[state],
    what_changed: what[state],
    before: `PREFLIGHT_READY (${x.eligible} eligible collection(s), gap ${count(x.expected)}${x.not_eligible ? `; ${x.not_eligible} not eligible` : ''})`,
    after: after.join(' + '),
  };
}
