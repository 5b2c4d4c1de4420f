/**
 * The census: for each collection its rows, births, gap (orphans) and phantoms, computed
 * inside the database; readiness per collection and overall.
 */
import { listFreezes } from '../backfill/freeze.js';
import { type Collection, listCollections } from '../catalog/collections.js';
import { isNatalCatalog } from '../catalog/identity.js';
import { resolveCollection, resolveCollections } from '../catalog/names.js';
import { triggerInventory } from '../catalog/wiring.js';
import type { Ctx } from '../context.js';
import { NatalError } from '../errors.js';
import { type BirthsOnDay, birthsPerDay } from '../report/births.js';
import type { GovernanceRole, IdentityStrategy } from '../types.js';

export type CollectionState =
  | 'NO_TABLE'
  | 'UNCLASSIFIED'
  | 'FROZEN'
  | 'NOT_WIRED'
  | 'DUPLICATE_RISK'
  | 'PREFLIGHT_READY'
  | BackfillStage
  | 'COMPLETE'
  | 'COMPLETE_WITH_PHANTOMS'
  | 'STAGING'
  | 'EXCLUDED';

/** Where a collection with a gap stands in an open backfill plan (its latest). */
export type BackfillStage = 'PLANNED' | 'DRYRUN_PROVEN' | 'APPLY_READY' | 'APPLY_RUNNING';
const STAGES: readonly string[] = [
  'PREFLIGHT_READY',
  'PLANNED',
  'DRYRUN_PROVEN',
  'APPLY_READY',
  'APPLY_RUNNING',
];

/**
 * The backfill stage of each of `collections` that is in an open plan with births expected:
 * PLANNED, DRYRUN_PROVEN (its latest rehearsal passed), APPLY_READY (that, and a review by
 * someone other than the author and the owner's permit, for this fingerprint), APPLY_RUNNING (a run of
 * it has not finished). From the ledger, approvals and runs; read in one query.
 */
interface Staged {
  stage: BackfillStage;
  plan_id: number;
  run_id: number | null;
}

async function backfillStages(ctx: Ctx, collections: string[]): Promise<Map<string, Staged>> {
  const { rows } = await ctx.db.query<{ collection_name: string } & Staged>(
    `SELECT DISTINCT ON (i.collection_name) i.collection_name, p.plan_id::int AS plan_id,
            (SELECT max(r.run_id)::int FROM ${ctx.ns}.backfill_run r
             WHERE r.plan_id = p.plan_id AND r.status = 'running') AS run_id,
            CASE
              WHEN EXISTS (SELECT 1 FROM ${ctx.ns}.backfill_run r WHERE r.plan_id = p.plan_id AND r.status = 'running')
                THEN 'APPLY_RUNNING'
              WHEN NOT COALESCE((${ctx.ns}.last_rehearsal(p)).detail->>'ok', 'false')::boolean
                THEN 'PLANNED'
              WHEN EXISTS (SELECT 1 FROM ${ctx.ns}.backfill_approval a
                           WHERE a.plan_id = p.plan_id AND a.kind = 'review' AND a.fingerprint = p.fingerprint
                             AND a.actor <> p.author)
               AND EXISTS (SELECT 1 FROM ${ctx.ns}.backfill_approval a
                           WHERE a.plan_id = p.plan_id AND a.kind = 'permit' AND a.fingerprint = p.fingerprint
                             AND ${ctx.ns}.permit_refusal(p.plan_id, a.actor) IS NULL)
                THEN 'APPLY_READY'
              ELSE 'DRYRUN_PROVEN'
            END AS stage
     FROM ${ctx.ns}.backfill_plan_item i JOIN ${ctx.ns}.backfill_plan p USING (plan_id)
     WHERE p.status = 'planned' AND i.expected > 0 AND i.collection_name = ANY ($1::text[])
     ORDER BY i.collection_name, p.plan_id DESC`,
    [collections],
  );
  return new Map(
    rows.map((r) => [r.collection_name, { stage: r.stage, plan_id: r.plan_id, run_id: r.run_id }]),
  );
}

export interface CensusRow {
  collection: string;
  governance_role: GovernanceRole;
  strategy: IdentityStrategy;
  rows: number | null;
  births: number;
  gap: number | null;
  /** Births whose rows are gone without a recorded death. */
  phantoms: number | null;
  /** Births whose rows are gone with a recorded death (a delete, truncate or re-key). */
  deaths: number | null;
  state: CollectionState;
  /** The open backfill plan the collection is in (PLANNED … APPLY_RUNNING), and its running run. */
  plan_id: number | null;
  run_id: number | null;
  /** The collection's freeze (natal freeze): held as it is on purpose, by whom and why. */
  frozen: Frozen | null;
}

/** A collection held on purpose: natal freeze TABLE --reason … */
export interface Frozen {
  frozen_by: string;
  frozen_at: Date;
  reason: string;
}

export interface CensusTotals {
  collections: number;
  birth_required: number;
  resolvable: { column: number; synthetic_id: number; legacy: number; composite: number };
  unclassified: number;
  no_table: number;
  rows: number;
  births: number;
  gap: number;
  phantoms: number;
  deaths: number;
  registry_births: number;
}

export interface Census {
  collections: CensusRow[];
  totals: CensusTotals;
  state: string;
  /** How the numbers were reached: counted in full, or forward from the kept census. */
  counted: CensusBasis;
  /** Births per day by origin, when asked for (`birthsPerDay`). */
  births_per_day?: BirthsOnDay[];
}

export interface CensusBasis {
  /** `recount`: every row matched against its births; `kept`: from the last kept census. */
  how: 'recount' | 'kept';
  /** The census the numbers start from (`kept`), or whether this one was kept (`recount`). */
  kept_at: string | null;
  /** Births made since the kept census (`kept`). */
  births_since: number | null;
  /** Whether the kept census is on (natal census --keeping on|off). */
  keeping: boolean;
}

export interface CensusOptions {
  /** Count everything again even when the kept census could be counted forward. */
  recount?: boolean;
  /**
   * Also births per day by origin (the dashboard's chart, as `birthsPerDay`): a census
   * counted in full reads them in its own pass over the registry.
   */
  birthsPerDay?: { days: number; top: number };
}

/** One collection's numbers, from the census() SQL function or counted forward. */
interface Counts {
  collection_name: string;
  rows: number | null;
  births: number;
  gap: number | null;
  phantoms: number | null;
  deaths: number | null;
}

/** census_recount(): the full count, and when it was kept (null: not kept). */
interface Recounted {
  counted: Counts[];
  risk: DuplicateRisk[];
  registry_births: number;
  kept_at: string | null;
  births_per_day: BirthsOnDay[] | null;
}

interface Kept {
  collections: Record<
    string,
    { rows: number; births: number; gap: number; phantoms: number; deaths: number }
  >;
  risk: DuplicateRisk[];
  registry_births: number;
  births_since: number;
  taken_at: string;
}

/** Whether `listed` holds every governed collection outside natal's catalog. */
function isEveryGoverned(ctx: Ctx, listed: Collection[], all: Collection[]): boolean {
  const have = new Set(listed.map((c) => c.collection_name));
  return all
    .filter((c) => c.governance_role === 'governed' && !isNatalCatalog(ctx, c))
    .every((c) => have.has(c.collection_name));
}

/** The counting SQL for `names`: census(), and duplicate_risk() unless `risk` is false. */
async function recount(
  ctx: Ctx,
  names: string[],
  risk = true,
): Promise<{ counted: Counts[]; risk: DuplicateRisk[] }> {
  if (names.length === 0) return { counted: [], risk: [] };
  const { rows } = await ctx.db.query<Counts>(`SELECT * FROM ${ctx.ns}.census($1::text[])`, [names]);
  return { counted: rows, risk: risk ? await duplicateRisk(ctx, names) : [] };
}

/**
 * Rows, births, gap, phantoms and duplicate risk for `names`: counted forward from the kept
 * census when census_kept() can prove it right, else counted in full. A full count that
 * covers every governed collection (`covers`) is kept for the next census; so is one counted
 * forward past new births. Keeping is skipped where the session cannot write (read-only).
 */
async function countCollections(
  ctx: Ctx,
  names: string[],
  covers: boolean,
  options: CensusOptions,
): Promise<{
  counted: Counts[];
  risky: Set<string>;
  registryBirths: number;
  basis: CensusBasis;
  perDay?: BirthsOnDay[];
}> {
  const asked = new Set(names);
  // Counted forward (and kept again past new births) by natal's own function, which counts
  // what it keeps: any reader's census is kept, and none can hand it numbers of its own.
  const kept = options.recount
    ? null
    : ((await ctx.db.query<{ k: Kept | null }>(`SELECT ${ctx.ns}.census_kept_forward() AS k`)).rows[0]?.k ??
      null);
  if (kept) {
    // The kept census covers every collection that can produce a risky code (the governed
    // ones with a table and an identity); the others asked for are counted, risk-free.
    const rest = names.filter((n) => !Object.hasOwn(kept.collections, n));
    const other = await recount(ctx, rest, false);
    const forward: Counts[] = Object.entries(kept.collections)
      .filter(([n]) => asked.has(n))
      .map(([n, c]) => ({ collection_name: n, ...c }));
    const risk = kept.risk.filter((d) => d.collections.some((c) => asked.has(c)));
    return {
      counted: [...forward, ...other.counted],
      risky: riskySet(risk),
      registryBirths: kept.registry_births,
      basis: { how: 'kept', kept_at: kept.taken_at, births_since: kept.births_since, keeping: true },
    };
  }
  const keeping = await censusKeeping(ctx);
  // One call counts everything, and keeps it when it covers every governed collection.
  const perDay = options.birthsPerDay;
  const { rows } = await ctx.db.query<{ r: Recounted }>(
    `SELECT ${ctx.ns}.census_recount($1::text[], $2, $3, $4) AS r`,
    [names, covers && keeping, perDay?.days ?? null, perDay?.top ?? 6],
  );
  const r = rows[0]?.r as Recounted;
  return {
    counted: r.counted,
    risky: riskySet(r.risk),
    registryBirths: Number(r.registry_births),
    basis: { how: 'recount', kept_at: r.kept_at, births_since: null, keeping },
    perDay: r.births_per_day ?? undefined,
  };
}

/** Whether the kept census is on: births record the transaction that made them. */
export async function censusKeeping(ctx: Ctx): Promise<boolean> {
  const { rows } = await ctx.db.query<{ keeping: boolean }>(`SELECT ${ctx.ns}.census_keeping() AS keeping`);
  return rows[0]?.keeping === true;
}

/**
 * Turns the kept census on or off (set_census_keeping): on, every birth records its
 * transaction (a cost on the insert path) and a census can start from the last one.
 */
export async function setCensusKeeping(ctx: Ctx, on: boolean): Promise<void> {
  await ctx.db.query(`SELECT ${ctx.ns}.set_census_keeping($1)`, [on]);
}

function riskySet(risk: DuplicateRisk[]): Set<string> {
  return new Set(risk.flatMap((d) => d.collections));
}

export interface DuplicateRisk {
  entity_code: string;
  collections: string[];
  born_as: string | null;
}

export async function duplicateRisk(ctx: Ctx, collections?: string[]): Promise<DuplicateRisk[]> {
  const { rows } = await ctx.db.query<DuplicateRisk>(`SELECT * FROM ${ctx.ns}.duplicate_risk($1::text[])`, [
    collections ?? null,
  ]);
  return rows;
}

function stateOf(
  c: Collection,
  counts: { gap: number | null; phantoms: number | null },
  functional: boolean,
  risky: boolean,
  stage: BackfillStage | undefined,
  frozen: boolean,
): CollectionState {
  if (c.governance_role !== 'governed') return c.governance_role === 'staging' ? 'STAGING' : 'EXCLUDED';
  if (!c.has_table) return 'NO_TABLE';
  // (and an identity whose code natal cannot compute now: a column gone, or of a type natal
  // does not convert; the census could not count its rows)
  if (c.birth_code_strategy === 'unclassified' || counts.gap === null) return 'UNCLASSIFIED';
  // Held on purpose (natal freeze): not a step to take, unless it is complete anyway.
  if (frozen && !(functional && !risky && counts.gap === 0 && counts.phantoms === 0)) return 'FROZEN';
  if (!functional) return 'NOT_WIRED';
  // Two rows sharing one code are not complete, even with no gap.
  if (risky) return 'DUPLICATE_RISK';
  if (counts.gap === 0 && counts.phantoms === 0) return 'COMPLETE';
  // No gap to close: births whose rows are gone are not a backfill's work.
  if (counts.gap === 0) return 'COMPLETE_WITH_PHANTOMS';
  return stage ?? 'PREFLIGHT_READY';
}

/**
 * The registry's overall state, from its governed collections. Frozen collections are held
 * on purpose: the state is that of the others, and a complete rest says how many are held.
 */
export function overallState(rows: CensusRow[]): string {
  const all = rows.filter((r) => r.governance_role === 'governed');
  const frozen = all.filter((r) => r.state === 'FROZEN').length;
  const state = overallOf(all.filter((r) => r.state !== 'FROZEN'));
  if (frozen === 0) return state;
  return ['COMPLETE', 'COMPLETE_WITH_PHANTOMS', 'NOTHING_GOVERNED'].includes(state)
    ? `COMPLETE_EXCEPT_${frozen}_FROZEN`
    : state;
}

function overallOf(governed: CensusRow[]): string {
  // Nothing requires birth (yet): not complete, there is nothing to be complete.
  if (governed.length === 0) return 'NOTHING_GOVERNED';
  const unresolved = governed.filter((r) => r.state === 'UNCLASSIFIED' || r.state === 'NO_TABLE').length;
  if (unresolved > 0) return `BLOCKED_UNTIL_${unresolved}_IDENTITIES_RESOLVED`;
  if (governed.some((r) => r.state === 'NOT_WIRED')) return 'IDENTITY_CLASSIFIED';
  if (governed.some((r) => r.state === 'DUPLICATE_RISK')) return 'BLOCKED_BY_DUPLICATE_RISK';
  const done = (r: CensusRow) => r.state === 'COMPLETE' || r.state === 'COMPLETE_WITH_PHANTOMS';
  if (governed.every((r) => r.state === 'COMPLETE')) return 'COMPLETE';
  if (governed.every(done)) return 'COMPLETE_WITH_PHANTOMS';
  // The least advanced backfill stage among the collections still to complete.
  const open = governed.filter((r) => !done(r)).map((r) => STAGES.indexOf(r.state));
  return STAGES[Math.min(...open.map((i) => (i < 0 ? 0 : i)))] ?? 'PREFLIGHT_READY';
}

/**
 * The census of the named collections (all but natal's catalog when none are named).
 * Call it inside a transaction that has run nothing yet: it reads at one snapshot
 * (repeatable read), and keeps what it counted for the next census to start from.
 */
export async function census(ctx: Ctx, inputs: string[] = [], options: CensusOptions = {}): Promise<Census> {
  await ctx.db.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  const names = inputs.length ? await resolveCollections(ctx, inputs) : undefined;
  const collections = (await listCollections(ctx, names)).filter((c) => names || !isNatalCatalog(ctx, c));
  const functional = new Set(
    (
      await triggerInventory(
        ctx,
        collections.map((c) => c.collection_name),
      )
    )
      .filter((t) => t.functional)
      .map((t) => t.collection_name),
  );
  const { counted, risky, registryBirths, basis, perDay } = await countCollections(
    ctx,
    collections.map((c) => c.collection_name),
    !names || isEveryGoverned(ctx, collections, await listCollections(ctx)),
    options,
  );
  const byName = new Map(counted.map((r) => [r.collection_name, r]));
  const stages = await backfillStages(
    ctx,
    collections.map((c) => c.collection_name),
  );
  const frozen = new Map(
    (await listFreezes(ctx)).map((f) => [
      f.target,
      { frozen_by: f.frozen_by, frozen_at: f.frozen_at, reason: f.reason },
    ]),
  );
  const rows: CensusRow[] = collections.map((c) => {
    const counts = byName.get(c.collection_name) as Counts;
    // Where the table exists but the identity is unknown, natal cannot tell births from phantoms.
    const known = c.has_table && c.birth_code_strategy !== 'unclassified';
    const staged = stages.get(c.collection_name);
    const state = stateOf(
      c,
      counts,
      functional.has(c.collection_name),
      risky.has(c.collection_name),
      staged?.stage,
      frozen.has(c.collection_name),
    );
    const inPlan = staged !== undefined && state === staged.stage;
    return {
      collection: c.collection_name,
      governance_role: c.governance_role,
      strategy: c.birth_code_strategy,
      rows: known ? counts.rows : null,
      births: counts.births,
      gap: known ? counts.gap : null,
      phantoms: known ? counts.phantoms : c.has_table ? null : counts.births,
      deaths: known ? counts.deaths : null,
      state,
      plan_id: inPlan ? staged.plan_id : null,
      run_id: inPlan ? staged.run_id : null,
      frozen: frozen.get(c.collection_name) ?? null,
    };
  });
  const governed = rows.filter((r) => r.governance_role === 'governed');
  const sum = (f: (r: CensusRow) => number | null) => governed.reduce((s, r) => s + (f(r) ?? 0), 0);
  const count = (s: IdentityStrategy) => governed.filter((r) => r.strategy === s).length;
  return {
    collections: rows,
    totals: {
      collections: rows.length,
      birth_required: governed.length,
      resolvable: {
        column: count('column'),
        synthetic_id: count('synthetic_id'),
        legacy: count('legacy'),
        composite: count('composite'),
      },
      unclassified: count('unclassified'),
      no_table: governed.filter((r) => r.state === 'NO_TABLE').length,
      rows: sum((r) => r.rows),
      births: sum((r) => r.births),
      gap: sum((r) => r.gap),
      phantoms: sum((r) => r.phantoms),
      deaths: sum((r) => r.deaths),
      registry_births: registryBirths,
    },
    state: overallState(rows),
    counted: basis,
    // (counted forward, the census read no registry: the chart's rows are read apart)
    ...(options.birthsPerDay && {
      births_per_day:
        perDay ?? (await birthsPerDay(ctx, options.birthsPerDay.days, options.birthsPerDay.top)),
    }),
  };
}

export async function listOrphans(
  ctx: Ctx,
  input: string,
  limit: number,
): Promise<{ entity_code: string; born_elsewhere: string | null }[]> {
  assertLimit(limit);
  const name = await resolveCollection(ctx, input);
  const { rows } = await ctx.db.query<{ entity_code: string; born_elsewhere: string | null }>(
    `SELECT * FROM ${ctx.ns}.census_orphans($1, $2)`,
    [name, limit],
  );
  return rows;
}

export async function listPhantoms(
  ctx: Ctx,
  input: string,
  limit: number,
): Promise<{ entity_code: string; born_at: Date; dot_origin: string }[]> {
  assertLimit(limit);
  const name = await resolveCollection(ctx, input);
  const { rows } = await ctx.db.query<{ entity_code: string; born_at: Date; dot_origin: string }>(
    `SELECT * FROM ${ctx.ns}.census_phantoms($1, $2)`,
    [name, limit],
  );
  return rows;
}

/** A birth whose row is gone with a recorded death, with its last death. */
export interface DeathListing {
  entity_code: string;
  died_at: Date;
  how: 'delete' | 'truncate' | 'rekey';
  dot_origin: string;
  rekeyed_to: string | null;
}

export async function listDeaths(ctx: Ctx, input: string, limit: number): Promise<DeathListing[]> {
  assertLimit(limit);
  const name = await resolveCollection(ctx, input);
  const { rows } = await ctx.db.query<DeathListing>(`SELECT * FROM ${ctx.ns}.census_deaths($1, $2)`, [
    name,
    limit,
  ]);
  return rows;
}

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new NatalError('INVALID_ARGUMENT', `the limit must be a whole number of 1 or more, not ${limit}`);
  }
}
