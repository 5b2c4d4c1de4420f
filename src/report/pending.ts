/**
 * What was deliberately not done, and why: the gate's missing pieces (review, permit,
 * freezes), collections the plan left out with their failed checks, unfinished runs, gaps
 * an apply left, births that failed inspection, a backfill rolled back.
 */
import { count } from '../count.js';
import type { ItemRecord, PlanRecord } from './records.js';
import type { RehearsalVerdict, Scoped } from './operation.js';
import type { NotDone, PlanState, Target } from './types.js';

export interface NotEligible {
  collection: string;
  failed: { check: string; fix?: string }[];
}

/**
 * What keeps the apply from being committed: the gate, as the database would judge it, in
 * its order (a passing rehearsal first: review and permit are refused until then).
 */
export function gateGaps(
  plan: PlanRecord,
  items: ItemRecord[],
  r: Scoped,
  rehearsal: RehearsalVerdict,
): NotDone[] {
  const out: NotDone[] = [];
  const add = (why: string, next: string | null) =>
    out.push({ plan_id: plan.plan_id, what: 'apply not committed', why, next });
  if (rehearsal.status === 'missing') {
    add(`rehearsal missing: plan ${plan.plan_id} has not been rehearsed`, rehearsal.next);
  } else if (rehearsal.status === 'failed') {
    add(`rehearsal failed: ${rehearsal.why}`, rehearsal.next);
  }
  // Review and permit come after a rehearsal that passed; until then they are refused.
  const after = (command: string) =>
    rehearsal.status === 'passed' ? command : `${command}, once a rehearsal passes`;
  const reviews = r.approvals.filter((a) => a.kind === 'review');
  if (!reviews.some((a) => a.refusal === null)) {
    add(
      reviews.length
        ? `review missing: only its author, ${plan.author}, reviewed it`
        : `review missing: someone other than its author, ${plan.author}, reviews it`,
      after(`natal approve ${plan.plan_id} --review`),
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
        after(`natal approve ${plan.plan_id} --permit`),
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

export function notDoneOf(
  plan: PlanRecord,
  state: PlanState,
  r: Scoped,
  gaps: NotDone[],
  notEligible: NotEligible[],
  rehearsal: RehearsalVerdict,
  targets: Target[],
): NotDone[] {
  const id = plan.plan_id;
  const out: NotDone[] = [];
  // A plan still to apply has its rehearsal in the gate's gaps; one applied without a
  // passing rehearsal (before natal required one) says so here: that step was never done.
  if (r.runs.length > 0 && rehearsal.status !== 'passed') {
    out.push({
      plan_id: id,
      what: rehearsal.status === 'missing' ? 'rehearsal not recorded' : 'rehearsal not passed',
      why:
        rehearsal.status === 'missing'
          ? `plan ${id} was applied without a rehearsal`
          : `plan ${id} was applied although its latest rehearsal failed: ${rehearsal.why}`,
      next: null,
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
    // Frozen on purpose: nothing to do while the freeze stands; it says who and why.
    const held = x.failed[0]?.check === 'not frozen' ? x.failed[0].fix : undefined;
    out.push({
      plan_id: id,
      what: `${x.collection} not planned`,
      why: held ? `frozen: ${held}` : `failed preflight: ${x.failed.map((f) => f.check).join('; ')}`,
      next: held ? null : (x.failed[0]?.fix ?? null),
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
      why: `gap after the apply: ${count(t.gap_after as number)} row(s) without a birth`,
      next: `natal census ${t.collection} --orphans`,
    });
  }
  for (const t of targets.filter((x) => (x.inspection_failed ?? 0) > 0)) {
    out.push({
      plan_id: id,
      what: `${t.collection} births not all valid`,
      why: `${count(t.inspection_failed as number)} birth(s) failed inspection`,
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
