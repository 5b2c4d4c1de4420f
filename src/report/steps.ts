/**
 * The steps of a plan in the order they were recorded: ledger rows grouped by the act that
 * wrote them (one transaction writes a PLAN, a REHEARSAL, an APPLY part or a ROLLBACK), and
 * approvals, each with its id.
 */
import { count } from '../count.js';
import type { LedgerRow } from '../backfill/ledger.js';
import type { ApprovalRecord, PlanRecord, RunRecord } from './records.js';
import type { Step } from './types.js';

const sum = (rows: LedgerRow[], f: (r: LedgerRow) => number | null | undefined) =>
  rows.reduce((a, r) => a + (f(r) ?? 0), 0);
const detailNumber = (r: LedgerRow, key: string) => {
  const v = r.detail[key];
  return v === null || v === undefined ? null : Number(v);
};

export interface LedgerGroup {
  step: LedgerRow['step'];
  run_id: number | null;
  rows: LedgerRow[];
  /** The row with no collection (PLAN and REHEARSAL summaries, an interrupted APPLY part). */
  summary: LedgerRow | undefined;
  /** The per-collection rows. */
  collections: LedgerRow[];
}

/** Rows written together: same step, run and transaction time. */
export function groupLedger(rows: LedgerRow[]): LedgerGroup[] {
  const groups = new Map<string, LedgerRow[]>();
  for (const r of rows) {
    const key = `${r.step}|${r.run_id ?? ''}|${new Date(r.recorded_at).getTime()}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((g) => ({
    step: (g[0] as LedgerRow).step,
    run_id: (g[0] as LedgerRow).run_id,
    rows: g,
    summary: g.find((r) => r.collection === null),
    collections: g.filter((r) => r.collection !== null),
  }));
}

function ledgerSummary(g: LedgerGroup): string {
  const s = g.summary;
  const c = g.collections;
  switch (g.step) {
    case 'PLAN': {
      const notEligible = Array.isArray(s?.detail.not_eligible) ? s.detail.not_eligible.length : 0;
      const fp = typeof s?.detail.fingerprint === 'string' ? s.detail.fingerprint.slice(0, 12) : '';
      return (
        `${c.length} collection(s), ${count(s?.expected ?? sum(c, (r) => r.expected))} births expected` +
        (notEligible ? `, ${notEligible} collection(s) not eligible` : '') +
        (fp ? `; fingerprint ${fp}…` : '') +
        '; no birth written (dry run)'
      );
    }
    case 'REHEARSAL':
      return (
        `${count(s?.actual ?? sum(c, (r) => r.actual))} births rehearsed of ${count(s?.expected ?? sum(c, (r) => r.expected))} expected, ` +
        `rerun delta ${count(s?.rerun_delta ?? sum(c, (r) => r.rerun_delta))}, ` +
        `rolled back (net births ${count(s ? detailNumber(s, 'net_births') : null)})` +
        (s?.detail.outside_moved === true ? '; rows or births outside the plan moved' : '') +
        (s?.detail.ok === false
          ? ` — FAILED${typeof s.detail.why === 'string' ? `: ${s.detail.why}` : ''}`
          : ' — ok')
      );
    case 'APPLY':
      if (s?.detail.ended === 'interrupted') {
        return (
          `part ${detailNumber(s, 'part') ?? 1} interrupted after ${count(s.actual)} births` +
          (typeof s.detail.resumed_by === 'string' ? `; resumed by ${s.detail.resumed_by}` : '')
        );
      }
      return (
        `part ${c[0] ? (detailNumber(c[0], 'part') ?? 1) : 1}: ${count(sum(c, (r) => r.actual))} births in ` +
        `${c.length} collection(s) (run total), gap after ${count(sum(c, (r) => detailNumber(r, 'gap_after')))}` +
        `, inspection failed ${count(sum(c, (r) => detailNumber(r, 'inspection_failed')))}`
      );
    case 'ROLLBACK':
      return (
        `${count(sum(c, (r) => r.actual))} births removed from ${c.length} collection(s), ` +
        `gap after ${count(sum(c, (r) => detailNumber(r, 'gap_after')))}`
      );
  }
}

function approvalSummary(a: ApprovalRecord): string {
  return (
    `${a.kind} by ${a.actor}` +
    (a.refusal ? ` (does not count: ${a.refusal})` : '') +
    (a.note ? ` — "${a.note}"` : '')
  );
}

export function planSteps(
  plan: PlanRecord,
  groups: LedgerGroup[],
  approvals: ApprovalRecord[],
  unfinished: RunRecord[],
): Step[] {
  const at = (d: Date | string) => new Date(d).toISOString();
  const steps: (Step & { order: number })[] = [
    ...groups.map((g) => ({
      step: g.step,
      plan_id: plan.plan_id,
      run_id: g.run_id,
      ledger_ids: g.rows.map((r) => r.ledger_id),
      approval_id: null,
      actor: (g.rows[0] as LedgerRow).actor,
      at: at((g.rows[0] as LedgerRow).recorded_at),
      summary: ledgerSummary(g),
      order: 0,
    })),
    ...approvals.map((a) => ({
      step: a.kind === 'review' ? ('REVIEW' as const) : ('PERMIT' as const),
      plan_id: plan.plan_id,
      run_id: null,
      ledger_ids: [],
      approval_id: a.approval_id,
      actor: a.actor,
      at: at(a.approved_at),
      summary: approvalSummary(a),
      order: 0,
    })),
    // A run not finished has no ledger row for its current part: its cursor is the record.
    ...unfinished.map((r) => ({
      step: 'APPLY' as const,
      plan_id: plan.plan_id,
      run_id: r.run_id,
      ledger_ids: [],
      approval_id: null,
      actor: r.actor,
      // The part in progress began when the run started or was last resumed.
      at: [
        at(r.started_at),
        ...groups.filter((g) => g.run_id === r.run_id).map((g) => at((g.rows[0] as LedgerRow).recorded_at)),
      ]
        .sort()
        .at(-1) as string,
      summary: `part ${r.part} not finished: ${count(Object.values(r.born).reduce((a, b) => a + b, 0))} births so far (the run's cursor; no ledger row yet)`,
      order: 1,
    })),
  ];
  steps.sort((a, b) => a.at.localeCompare(b.at) || a.order - b.order);
  return steps.map(({ order: _order, ...s }) => s);
}

/** `#4–#6` for consecutive ids, else `#4, #9`. */
export function ledgerIdText(ids: number[]): string {
  if (ids.length === 0) return '';
  const first = ids[0] as number;
  const last = ids[ids.length - 1] as number;
  const consecutive = ids.every((id, i) => id === first + i);
  if (ids.length > 1 && consecutive) return `#${first}–#${last}`;
  return ids.map((id) => `#${id}`).join(', ');
}
