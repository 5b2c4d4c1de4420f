/**
 * What `natal status` says after the key numbers, as data: the headline, and the governed
 * collections grouped by what they need, each with its next step. The CLI prints it, the
 * dashboard's overview shows it.
 */
import type { Collection } from '../catalog/collections.js';
import type { Census, CensusRow } from '../census/census.js';
import { nextStep } from '../census/check.js';

export interface StatusItem {
  collection: string;
  state: string;
  next: string;
}

export interface StatusGroup {
  title: string;
  items: StatusItem[];
}

/** Collections frozen on purpose for one reason, by one person. */
export interface HeldGroup {
  frozen_by: string;
  reason: string;
  collections: string[];
}

export interface StatusSummary {
  headline: string;
  groups: StatusGroup[];
  held: HeldGroup[];
  deaths: { collection: string; births: number; deaths: number }[];
}

const BLOCKING = ['NO_TABLE', 'UNCLASSIFIED', 'NOT_WIRED', 'DUPLICATE_RISK'];

export function statusSummary(c: Census, count: (n: number) => string = String): StatusSummary {
  const governed = c.collections.filter((r) => r.governance_role === 'governed');
  const next = (r: CensusRow): string =>
    r.state === 'COMPLETE_WITH_PHANTOMS'
      ? `no gap; ${count(r.phantoms ?? 0)} birth(s) whose rows are gone: natal census ${r.collection} --phantoms`
      : nextStep(r);
  const item = (r: CensusRow): StatusItem => ({ collection: r.collection, state: r.state, next: next(r) });
  const blocked = governed.filter((r) => BLOCKING.includes(r.state));
  const ready = governed.filter((r) => r.state === 'PREFLIGHT_READY');
  const headline =
    c.collections.length === 0
      ? 'Nothing is registered yet: add a species (natal species add CODE --prefix PREFIX --level LEVEL), then a collection (natal collection add TABLE --species CODE).'
      : c.state === 'NOTHING_GOVERNED'
        ? 'No collection is governed: nothing requires birth (natal collection set TABLE --role governed).'
        : c.state === 'COMPLETE'
          ? 'Every governed collection is complete: no gap, no phantom.'
          : c.state.startsWith('COMPLETE_EXCEPT_')
            ? 'Every governed collection not frozen is complete.'
            : blocked.length === 0
              ? ready.length
                ? `Nothing blocks: ${ready.length} collection(s) with a gap, ready for a backfill plan: natal plan`
                : 'Nothing blocks.'
              : '';
  const groups: StatusGroup[] = [
    { title: 'What blocks progress', items: blocked.map(item) },
    { title: 'In a backfill plan', items: governed.filter((r) => r.plan_id !== null).map(item) },
    {
      title: 'Complete, with phantoms',
      items: governed.filter((r) => r.state === 'COMPLETE_WITH_PHANTOMS').map(item),
    },
  ].filter((g) => g.items.length > 0);
  const held = new Map<string, HeldGroup>();
  for (const r of governed.filter((x) => x.state === 'FROZEN' && x.frozen)) {
    const by = r.frozen?.frozen_by ?? '';
    const reason = r.frozen?.reason ?? '';
    const key = `${by}\u0000${reason}`;
    const g = held.get(key) ?? { frozen_by: by, reason, collections: [] };
    g.collections.push(r.collection);
    held.set(key, g);
  }
  return {
    headline,
    groups,
    held: [...held.values()],
    deaths: governed
      .filter((r) => (r.deaths ?? 0) > 0)
      .map((r) => ({ collection: r.collection, births: r.births, deaths: r.deaths ?? 0 })),
  };
}

/**
 * How many governed collections no preflight check fails for (natal preflight's READY: not
 * frozen, mapped to a species, a table, an identity, a working trigger, no duplicate risk),
 * from the census and the catalog: the seed report's "eligible".
 */
export function eligibleCount(c: Census, collections: Collection[]): number {
  const species = new Map(collections.map((x) => [x.collection_name, x.species_code]));
  return c.collections.filter(
    (r) =>
      r.governance_role === 'governed' &&
      r.frozen === null &&
      species.get(r.collection) != null &&
      !BLOCKING.includes(r.state) &&
      r.state !== 'FROZEN',
  ).length;
}
