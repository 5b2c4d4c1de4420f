/**
 * What was deliberately not done, and why: the gate's missing pieces (review, permit,
 * freezes), collections the plan left out with their failed checks, unfinished runs, gaps
 * an apply left, births that failed inspection, a backfill rolled back.
 */
import { count } from '../count.js';
import type { ItemRecord, PlanRecord } from './records.js';
import type { Scoped } from './operation.js';
import type { NotDone, PlanState, Target } from './types.js';

export interface NotEligible {
  collection: string;
  failed: { check: string; fix?: string }[];
}

/** What keeps the apply from being committed: the gate, as the database would judge it. */
export function gateGaps(plan: PlanRecord, items: ItemRecord[], r: Scoped): NotDone[] {
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

export function notDoneOf(
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
