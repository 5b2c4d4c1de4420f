/**
 * The census as a check (`natal census --check`), for a nightly job or a pipeline step: every
 * governed collection complete, or each one that is not with what fails and what to do.
 */
import { count } from '../count.js';
import type { Census, CensusRow } from './census.js';

/**
 * Why a governed collection fails the check: it has no table, its identity is unclassified,
 * it is not wired, rows share a code, rows without a birth (`orphans`, the gap), births whose
 * row is gone (`phantoms`; only the unexplained ones once natal records deaths).
 */
export type CheckReason =
  'no_table' | 'unclassified' | 'not_wired' | 'duplicate_risk' | 'orphans' | 'phantoms';

export interface CheckFailure {
  collection: string;
  state: string;
  reasons: CheckReason[];
  /** The gap and the phantoms, where the census could count them. */
  orphans: number | null;
  phantoms: number | null;
  /** What to do first. */
  next: string;
}

export interface CensusCheck {
  ok: boolean;
  /** How many governed collections were checked. */
  governed: number;
  failing: CheckFailure[];
  /**
   * Governed collections held on purpose (natal freeze) and not complete: they do not fail
   * the check, and are listed with who froze them, why, and their gap and phantoms.
   */
  frozen: HeldCollection[];
}

export interface HeldCollection {
  collection: string;
  frozen_by: string;
  reason: string;
  orphans: number | null;
  phantoms: number | null;
}

/** What to do next about a governed collection in `state` (empty when there is nothing to do). */
export function nextStep(r: CensusRow): string {
  const plan = r.plan_id ?? 'PLAN';
  const steps: Record<string, string> = {
    NO_TABLE: 'create the table, or register the right one',
    UNCLASSIFIED: 'natal classify --apply, or the owner: natal identity set',
    NOT_WIRED: `natal wire ${r.collection}`,
    DUPLICATE_RISK: 'natal preflight shows the colliding codes',
    PREFLIGHT_READY: `natal plan ${r.collection}`,
    PLANNED: `in plan ${plan}: natal rehearse ${plan}`,
    DRYRUN_PROVEN: `in plan ${plan}, rehearsed: natal approve ${plan} --review, then the owner's --permit`,
    APPLY_READY: `in plan ${plan}, approved: natal apply ${plan}`,
    APPLY_RUNNING: `plan ${plan} is being applied${r.run_id ? ` (run ${r.run_id}); if it stopped: natal apply ${plan} --resume ${r.run_id}` : ''}`,
    COMPLETE_WITH_PHANTOMS: `natal census ${r.collection} --phantoms lists them`,
    FROZEN: r.frozen
      ? `none: held on purpose by ${r.frozen.frozen_by} (${r.frozen.reason}); natal unfreeze ${r.collection} to go on`
      : '',
  };
  return steps[r.state] ?? '';
}

const STATE_REASON: Record<string, CheckReason> = {
  NO_TABLE: 'no_table',
  UNCLASSIFIED: 'unclassified',
  NOT_WIRED: 'not_wired',
  DUPLICATE_RISK: 'duplicate_risk',
};

/** Why `r` fails the check (nothing when it passes, or is held on purpose). */
function reasonsOf(r: CensusRow): CheckReason[] {
  const reasons: CheckReason[] = [];
  if (r.state === 'FROZEN') return reasons;
  const blocked = STATE_REASON[r.state];
  if (blocked) reasons.push(blocked);
  if ((r.gap ?? 0) > 0) reasons.push('orphans');
  // A collection with no table: its births have no row, but the table is what is missing.
  if (r.state !== 'NO_TABLE' && (r.phantoms ?? 0) > 0) reasons.push('phantoms');
  return reasons;
}

/** Checks the census: ok when every governed collection in it passes. */
export function checkCensus(c: Census): CensusCheck {
  const governed = c.collections.filter((r) => r.governance_role === 'governed');
  const failing = governed.flatMap((r): CheckFailure[] => {
    const reasons = reasonsOf(r);
    if (reasons.length === 0) return [];
    return [
      {
        collection: r.collection,
        state: r.state,
        reasons,
        orphans: r.gap,
        phantoms: r.phantoms,
        next: nextStep(r),
      },
    ];
  });
  const frozen = governed
    .filter((r) => r.state === 'FROZEN' && r.frozen)
    .map((r) => ({
      collection: r.collection,
      frozen_by: r.frozen?.frozen_by as string,
      reason: r.frozen?.reason as string,
      orphans: r.gap,
      phantoms: r.phantoms,
    }));
  return { ok: failing.length === 0, governed: governed.length, failing, frozen };
}

const plural = (n: number, word: string) => `${count(n)} ${word}${n === 1 ? '' : 's'}`;

/** One failing collection in one line: collection, state, what fails, what to do. */
export function checkLine(f: CheckFailure): string {
  const words: Record<CheckReason, string> = {
    no_table: 'no table',
    unclassified: 'identity unclassified',
    not_wired: 'not wired',
    duplicate_risk: 'duplicate risk',
    orphans: plural(f.orphans ?? 0, 'orphan'),
    phantoms: plural(f.phantoms ?? 0, 'phantom'),
  };
  return `${f.collection} ${f.state}: ${f.reasons.map((r) => words[r]).join(', ')}; next: ${f.next}`;
}

/**
 * The check's text: one line per failing collection, or one line saying all is well; then
 * one line for the collections held on purpose, which the check does not fail.
 */
export function checkText(check: CensusCheck): string {
  const n = check.governed - check.frozen.length;
  const held = check.frozen.length
    ? [
        `${plural(check.frozen.length, 'collection')} frozen on purpose, not checked: ${check.frozen
          .map((f) => f.collection)
          .join(', ')} (natal freezes says why)`,
      ]
    : [];
  const head = check.ok
    ? [
        `ok: ${count(n)} governed collection${n === 1 ? '' : 's'} complete${check.governed === 0 ? ' (none is governed yet)' : ''}`,
      ]
    : check.failing.map(checkLine);
  return [...head, ...held].join('\n');
}
