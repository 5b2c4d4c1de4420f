/** Pieces of the demo's walk: the identity decisions, and the lines that narrate readiness. */
import { count } from '../count.js';
import type { IdentityDecision } from '../catalog/identity.js';
import type { Census } from '../census/census.js';
import type { Preflight } from '../census/preflight.js';
import { quoteIdent } from '../db/ident.js';
import type { Registry } from '../registry.js';

export type Narrator = (line: string) => void;
/** A collection's name as the narration shows it: its table's. */
export type Short = (collection: string) => string;

/** What the owner decides where classification could not be sure. */
const OWNER_DECISIONS: { table: string; decision: IdentityDecision }[] = [
  {
    table: 'normative_relations',
    decision: {
      strategy: 'column',
      column: 'code',
      reason: "owner: code is the relation's own NRL code; source_code only says where it comes from",
    },
  },
  {
    table: 'field_type_equivalences',
    decision: {
      strategy: 'synthetic_id',
      reason: 'owner: its code column was never filled in; the key identifies an equivalence',
    },
  },
];

const listed = (names: string[]) => names.sort().join(', ');

/** "status: STATE — the key numbers, and what blocks". */
export function statusLine(label: string, c: Census, short: Short): string {
  const t = c.totals;
  const r = t.resolvable;
  const resolvable = r.synthetic_id + r.column + r.legacy + r.composite;
  const blocked = c.collections.filter(
    (x) => x.governance_role === 'governed' && (x.state === 'UNCLASSIFIED' || x.state === 'NO_TABLE'),
  );
  const by = (state: string) => blocked.filter((x) => x.state === state).map((x) => short(x.collection));
  const what = ['UNCLASSIFIED', 'NO_TABLE']
    .filter((s) => by(s).length > 0)
    .map((s) => `${s} ${listed(by(s))}`)
    .join('; ');
  return (
    `${label}: ${c.state}: ${t.birth_required} collections require birth, ${resolvable} identity-resolvable ` +
    `(${r.synthetic_id} synthetic_id + ${r.column} column + ${r.legacy} legacy${r.composite ? ` + ${r.composite} composite` : ''}), ` +
    `${t.unclassified} unclassified, ${t.no_table} with no table${what ? ` — ${what}` : ''}; ` +
    `gap ${count(t.gap)} where the identity is known, birth_registry ${count(t.registry_births)}`
  );
}

/**
 * classify --apply records what the data makes certain; the owner decides two of the
 * uncertain ones and leaves the rest. Returns the collections that got an identity.
 */
export async function decideIdentities(
  registry: Registry,
  owner: Registry,
  app: string,
  short: Short,
  step: Narrator,
): Promise<string[]> {
  const proposals = await registry.classify([], { apply: true });
  const recorded = proposals.filter((p) => p.applied);
  const uncertain = proposals.filter((p) => !p.certain);
  step(
    `classify --apply: ${proposals.length} collections examined; ${recorded.length} identities recorded (${recorded
      .map((p) => `${short(p.collection_name)} ${p.strategy}${p.column ? ` ${p.column}` : ''}`)
      .join(', ')}); ${uncertain.length} uncertain, left for the owner (${uncertain
      .map((p) => `${short(p.collection_name)}: ${p.reason}`)
      .join(', ')}); the others were already recorded`,
  );
  const decided: string[] = [];
  for (const { table, decision } of OWNER_DECISIONS) {
    const c = await owner.setIdentity(`${quoteIdent(app)}.${quoteIdent(table)}`, decision);
    decided.push(c.collection_name);
  }
  const open = uncertain.filter((p) => !decided.includes(p.collection_name));
  const actor = await owner.actor();
  step(
    `the owner's identity decisions (${actor}): ${OWNER_DECISIONS.map(
      (d) => `${d.table} → ${d.decision.strategy}${d.decision.column ? ` ${d.decision.column}` : ''}`,
    ).join(', ')}; ${listed(open.map((p) => short(p.collection_name)))} left for later`,
  );
  return [...recorded.map((p) => p.collection_name), ...decided];
}

/** "preflight: N of the governed READY; M not, by the first check each fails". */
export function preflightLine(checks: Preflight[]): string {
  const governed = checks.filter((c) => !c.failed.some((f) => f.check === 'governed'));
  const ready = governed.filter((c) => c.result === 'READY').length;
  const why = new Map<string, number>();
  for (const c of governed.filter((x) => x.result !== 'READY')) {
    const first = c.failed[0]?.check ?? 'unknown';
    why.set(first, (why.get(first) ?? 0) + 1);
  }
  const reasons = [...why.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([check, count]) => `${count} fail "${check}"`)
    .join(', ');
  return (
    `preflight: ${ready} of ${governed.length} governed collections READY, eligible for the dry run; ` +
    `${governed.length - ready} not (${reasons}); ${checks.length - governed.length} staging, not governed`
  );
}
