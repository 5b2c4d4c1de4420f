/**
 * `natal demo`: the seed's QT-001 on a sample platform shaped like it, step by step:
 * status (blocked on identities) → classify and the owner's decisions → preflight → plan →
 * rehearse → apply refused → review → permit → apply → confirm → birth-first create →
 * report. The library reports each step through `onStep`; the CLI prints them.
 */
import { count } from '../count.js';
import type { CensusTotals } from '../census/census.js';
import { quoteIdent } from '../db/ident.js';
import { NatalError } from '../errors.js';
import type { Registry } from '../registry.js';
import { type DemoActors, demoActors, type OpenAs } from './actors.js';
import { DEFAULT_BIRTHS, assertBirths, buildPlatform } from './platform.js';
import { writePlanReport } from './report.js';
import { appSchemaOf, clearDemoSchema, markDemoSchema } from './schemas.js';
import { type Narrator, decideIdentities, preflightLine, statusLine } from './steps.js';

export { DEMO_SCHEMA } from './schemas.js';
export { DEFAULT_BIRTHS, FULL_BIRTHS, SEED_GAPS } from './platform.js';

export interface DemoOptions {
  /** The birth registry's size before the backfill, catalog births included. */
  births?: number | undefined;
  /** Server: opens a registry on the same database and schema acting as a role. */
  openAs?: OpenAs | undefined;
  /** Where the report is written; without it, the report is built but not written. */
  reportDir?: string | undefined;
  onStep?: (line: string) => void;
}

/** The seed's key numbers, as the census saw them when QT-001 planned, and the walk's. */
export interface DemoNumbers extends CensusTotals {
  state: string;
  eligible: number;
  nonzero_gap: number;
  expected: number;
  born: number;
  rerun_delta: number;
  net_births_rehearsal: number;
}

export interface DemoSummary extends DemoNumbers {
  /** The collections still without an identity, and why (no-id, needs-owner, no-table). */
  unclassified_collections: Record<string, string>;
  app_schema: string;
  actors: { author: string; reviewer: string; owner: string };
  plan_id: number;
  run_id: number;
  /** The planned gap of each collection with one (short table names). */
  gaps: Record<string, number>;
  duplicate_risk: number;
  apply_refused: string;
  /** After the apply and the birth-first create. */
  after: {
    /** Births the apply made. */
    born: number;
    gaps: Record<string, number>;
    gap: number;
    phantoms: number;
    registry_births: number;
    state: string;
    confirmed: boolean;
  };
  staging: Record<string, { rows: number | null; births: number }>;
  created: { entity_code: string; collection: string };
  report: { path: string | null; title: string; status: string };
}

export async function runDemo(registry: Registry, options: DemoOptions = {}): Promise<DemoSummary> {
  const births = assertBirths(options.births ?? DEFAULT_BIRTHS);
  const step: Narrator = options.onStep ?? (() => undefined);
  const app = appSchemaOf(registry.schema);
  // The demo runs in a registry of its own, made anew each time.
  await clearDemoSchema(registry, registry.schema);
  const init = await registry.init();
  await markDemoSchema(registry, registry.schema);
  step(`init: natal installed in schema ${registry.schema} (${init.applied.length} migrations)`);
  const actors = await demoActors(registry, options.openAs);
  try {
    return await walk(registry, app, births, actors, step, options.reportDir);
  } finally {
    await actors.close();
  }
}

async function walk(
  registry: Registry,
  app: string,
  births: number,
  actors: DemoActors,
  step: Narrator,
  reportDir: string | undefined,
): Promise<DemoSummary> {
  const { author, reviewer, owner } = actors.names;

  await actors.grant();
  // The longest step (a minute with --full) says what it is doing before it starts.
  step(`building the sample platform in ${app} with its history: ${count(births)} births…`);
  await buildPlatform(registry, app, { births, owner });
  const tables = new Map((await registry.listCollections()).map((c) => [c.collection_name, c.table_name]));
  const short = (name: string) => tables.get(name) ?? name;
  const start = await registry.census();
  step(
    `platform: ${start.totals.collections} collections in ${app}, as Stage 1 left them (${start.totals.birth_required} require birth, ${start.totals.collections - start.totals.birth_required} staging), all owned by ${owner}; birth_registry ${count(start.totals.registry_births)}`,
  );
  step(statusLine('status', start, short));

  const resolved = await decideIdentities(registry, await actors.as('owner'), app, short, step);
  await actors.as('author');

  const collections = await registry.listCollections();
  const unwired = collections.filter(
    (c) =>
      c.governance_role === 'governed' &&
      c.has_table &&
      c.birth_code_strategy !== 'unclassified' &&
      !c.wired &&
      !resolved.includes(c.collection_name) &&
      c.table_schema === app,
  );
  const wired = await registry.wire(resolved);
  // Left on the old triggers on purpose, and recorded so: status, census --check and the
  // report say why instead of telling the user to wire them.
  const reason = "stays on the platform's old birth triggers while dot-birth-trigger-setup is frozen";
  for (const c of unwired) await registry.freeze(c.collection_name, reason);
  step(
    `wire: natal's auto-birth trigger on the ${wired.length} collections just identified (their new rows are born from now on); ${unwired.length} Stage 1 collections stay on the platform's old triggers (dot-birth-trigger-setup is frozen): natal freezes them with that reason, so nothing asks to wire them`,
  );
  const planned = await registry.census();
  step(statusLine('status', planned, short));
  const unclassified = Object.fromEntries(
    (await registry.listCollections())
      .filter((c) => c.governance_role === 'governed' && c.birth_code_strategy === 'unclassified')
      .map((c) => [short(c.collection_name), c.birth_code_reason ?? 'unknown']),
  );

  const checks = await registry.preflight();
  step(preflightLine(checks));

  const plan = await registry.plan();
  const planNames = plan.collections.map((c) => c.collection);
  const risk = await registry.duplicateRisk(planNames);
  const nonzero = plan.collections.filter((c) => c.expected > 0).sort((a, b) => b.expected - a.expected);
  const gaps = Object.fromEntries(nonzero.map((c) => [short(c.collection), c.expected]));
  step(
    `plan ${plan.plan_id} (the dry run, by ${plan.author}): ${plan.collections.length} eligible collections, ${nonzero.length} with a gap: ${nonzero.map((c) => `${short(c.collection)} ${c.expected}`).join(' · ')} = ${count(plan.expected_total)} expected births; duplicate risk ${risk.length}; no birth written`,
  );

  const rehearsal = await registry.rehearse(plan.plan_id);
  const rehearsed = rehearsal.collections.reduce((a, c) => a + c.born, 0);
  const rerun = rehearsal.collections.reduce((a, c) => a + c.rerun_delta, 0);
  step(
    `rehearse: ${count(rehearsed)} born, rerun delta ${rerun}, rolled back: net births ${rehearsal.net_births}${rehearsal.ok ? '' : ` (NOT ok: ${rehearsal.why})`}`,
  );

  let refused = '';
  try {
    await registry.apply(plan.plan_id);
  } catch (err) {
    if (!(err instanceof NatalError) || err.code !== 'APPLY_REFUSED') throw err;
    refused = err.message;
  }
  if (!refused)
    throw new NatalError('APPLY_REFUSED', 'the gate let an apply through without review and permit');
  step(`apply before review and permit: refused (${refused})`);

  const review = await (
    await actors.as('reviewer')
  ).approve(
    plan.plan_id,
    'review',
    `independent review: ${plan.expected_total} births in ${nonzero.length} collections, zero duplicate risk`,
  );
  step(
    `review by ${review.actor} (not the author, ${author}): recorded, bound to fingerprint ${review.fingerprint.slice(0, 12)}…`,
  );
  const permit = await (await actors.as('owner')).approve(plan.plan_id, 'permit', 'owner permit for QT-001');
  step(
    `permit by ${permit.actor}, owner of all ${plan.collections.length} collections in the plan: recorded`,
  );
  await actors.as('author');

  const applied = await registry.apply(plan.plan_id);
  step(
    `apply (by ${author}): run ${applied.run_id}, ${count(applied.born)} births in ${applied.batches} batches`,
  );
  const gapAfter = new Map(applied.collections.map((c) => [c.collection, c.gap_after]));
  const after = Object.fromEntries(
    nonzero.map((c) => [short(c.collection), gapAfter.get(c.collection) ?? -1]),
  );
  const closed = Object.values(after).every((g) => g === 0);
  step(
    `confirm: gap after the apply ${closed ? `0 in all ${nonzero.length}` : 'NOT 0'} (${Object.entries(after)
      .map(([t, g]) => `${t} ${g}`)
      .join(
        ' · ',
      )}); inspection failed ${applied.collections.reduce((a, c) => a + c.inspection_failed, 0)}; ${applied.confirmed ? 'confirmed' : 'NOT confirmed'}`,
  );

  const created = await registry.create(
    `${quoteIdent(app)}.dot_domain_rules`,
    { name: 'a new domain rule, born first' },
    'natal-demo',
  );
  step(
    `birth-first (QT-002): natal create dot_domain_rules → ${created.entity_code}: the birth first, then the row, in one transaction`,
  );

  const end = await registry.census();
  const staging = Object.fromEntries(
    end.collections
      .filter((c) => c.governance_role === 'staging')
      .map((c) => [short(c.collection), { rows: c.rows, births: c.births }]),
  );
  step(
    `census: gap ${end.totals.gap}, phantoms ${end.totals.phantoms}; birth_registry ${count(end.totals.registry_births)} (+${applied.born} backfill, +1 birth-first); staging ${Object.entries(
      staging,
    )
      .map(([t, s]) => `${t} ${s.rows} rows / ${s.births} births`)
      .join(', ')}`,
  );

  const report = reportDir
    ? await writePlanReport(registry, plan.plan_id, reportDir)
    : { path: null, ...(await registry.report({ plan: plan.plan_id })) };
  step(`report: ${report.title}${report.path ? ` → ${report.path}` : ''}`);

  return {
    ...planned.totals,
    state: planned.state,
    eligible: plan.collections.length,
    nonzero_gap: nonzero.length,
    expected: plan.expected_total,
    born: rehearsed,
    rerun_delta: rerun,
    net_births_rehearsal: rehearsal.net_births,
    unclassified_collections: unclassified,
    app_schema: app,
    actors: { author, reviewer, owner },
    plan_id: plan.plan_id,
    run_id: applied.run_id,
    gaps,
    duplicate_risk: risk.length,
    apply_refused: refused,
    after: {
      born: applied.born,
      gaps: after,
      gap: end.totals.gap,
      phantoms: end.totals.phantoms,
      registry_births: end.totals.registry_births,
      state: end.state,
      confirmed: applied.confirmed,
    },
    staging,
    created: { entity_code: created.entity_code, collection: short(created.collection_name) },
    report: { path: report.path, title: report.title, status: report.status },
  };
}
