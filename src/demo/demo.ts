/**
 * `natal demo`: the birth story on a small sample platform, step by step. The library
 * reports each step through `onStep`; the CLI prints them.
 */
import { quoteIdent } from '../db/ident.js';
import { NatalError } from '../errors.js';
import { inspectionTotals } from '../inspect/inspect.js';
import { loadSql } from '../paths.js';
import type { Registry } from '../registry.js';

export const DEMO_APP_SCHEMA = 'natal_demo_app';
const MARK = 'made by natal demo; dropped by the next natal demo';
export const DEMO_SCHEMA = 'natal_demo';

export interface DemoSummary {
  app_schema: string;
  collections: number;
  births: number;
  trigger_births: number;
  gateway_code: string;
  strict_rejected: boolean;
  inspected: { checked: number; passed: number; failed: number };
  functional_triggers: number;
  /** The census after the walk: the 67 rules that predate the registry await a backfill. */
  gap: number;
  state: string;
}

/** Drops `schema` if an earlier demo made it; refuses to touch one it did not make. */
async function clearDemoSchema(registry: Registry, schema: string): Promise<void> {
  const { rows } = await registry.db.query<{ mark: string | null }>(
    `SELECT obj_description(oid, 'pg_namespace') AS mark FROM pg_namespace WHERE nspname = $1`,
    [schema],
  );
  if (rows[0] && rows[0].mark !== MARK) {
    throw new NatalError(
      'INVALID_ARGUMENT',
      `schema ${schema} exists and was not made by natal demo; the demo will not touch it (choose another --schema)`,
    );
  }
  if (rows[0]) await registry.db.exec(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
}

async function markDemoSchema(registry: Registry, schema: string): Promise<void> {
  await registry.db.exec(`COMMENT ON SCHEMA ${quoteIdent(schema)} IS '${MARK}'`);
}

/** Creates the demo's application schema, replacing one an earlier demo made. */
async function freshAppSchema(registry: Registry): Promise<string> {
  const app = quoteIdent(DEMO_APP_SCHEMA);
  await clearDemoSchema(registry, DEMO_APP_SCHEMA);
  await registry.transaction(async (tx) => {
    await tx.db.exec(`CREATE SCHEMA ${app}; SET LOCAL search_path TO ${app};`);
    await tx.db.exec(loadSql('demo/platform.sql'));
  });
  await markDemoSchema(registry, DEMO_APP_SCHEMA);
  return DEMO_APP_SCHEMA;
}

export async function runDemo(registry: Registry, onStep: (line: string) => void): Promise<DemoSummary> {
  const t = (table: string) => `${DEMO_APP_SCHEMA}.${table}`;
  // The demo runs in a registry of its own, made anew each time.
  await clearDemoSchema(registry, registry.schema);
  const init = await registry.init();
  await markDemoSchema(registry, registry.schema);
  onStep(`init: natal installed in schema ${registry.schema} (${init.applied.length} migrations applied)`);
  const app = await freshAppSchema(registry);
  onStep(
    `platform: tables dot_domain_rules (67 rows, codes DOM-001…DOM-067), apr_approvals, iu_staging_record in ${app}`,
  );

  await registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom', name: 'domain rule' });
  await registry.addSpecies({
    code: 'SPE-APR',
    prefix: 'APR',
    level: 'molecule',
    name: 'approval',
  });
  onStep('species: SPE-DOM (DOM-…) and SPE-APR (APR-…) registered; each catalog row is born (Case 3)');

  await registry.addCollection({
    table: t('dot_domain_rules'),
    species: 'SPE-DOM',
    codeColumn: 'code',
    owner: 'governance',
  });
  await registry.addCollection({
    table: t('apr_approvals'),
    species: 'SPE-APR',
    owner: 'governance',
  });
  await registry.addCollection({
    table: t('iu_staging_record'),
    species: 'SPE-APR',
    role: 'staging',
  });
  onStep(
    'collections: 2 governed (code column, synthetic id) and 1 staging registered; no data row was born',
  );

  const wired = await registry.wireAll();
  onStep(`wire --all: ${wired.wired.length} auto-birth triggers installed (natal's own catalog included)`);

  await registry.db
    .exec(`INSERT INTO ${quoteIdent(app)}.apr_approvals (subject) SELECT 'approval ' || g FROM generate_series(1, 42) g;
                          INSERT INTO ${quoteIdent(app)}.iu_staging_record (payload) VALUES ('consumed'), ('expired')`);
  const { rows: auto } = await registry.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${registry.ctx.ns}.birth_registry WHERE collection_name = $1`,
    [t('apr_approvals')],
  );
  onStep(
    `auto-birth: 42 approvals inserted directly, ${auto[0]?.n} born by the trigger; 2 staging rows, no births`,
  );

  const birth = await registry.create(t('dot_domain_rules'), { name: 'a new domain rule' }, 'dot-demo');
  onStep(
    `birth-first (QT-002): natal create dot_domain_rules → ${birth.entity_code} (the data already held DOM-001…DOM-067)`,
  );

  await registry.setCollection(t('dot_domain_rules'), { strict: true });
  let strictRejected = false;
  try {
    await registry.db.exec(
      `INSERT INTO ${quoteIdent(app)}.dot_domain_rules (code, name) VALUES ('DOM-900', 'sneaked in')`,
    );
  } catch {
    strictRejected = true;
  }
  onStep(
    `strict: a direct insert of DOM-900 with no prior birth was ${strictRejected ? 'rejected' : 'ACCEPTED (unexpected)'}`,
  );

  const inspected = await registry.inspect();
  const totals = inspectionTotals(inspected);
  onStep(
    `inspect: ${totals.checked} birth records checked, ${totals.passed} passed, ${totals.failed} failed`,
  );

  const triggers = await registry.triggers();
  const functional = triggers.filter((x) => x.functional).length;
  onStep(`triggers: ${functional} functional of ${triggers.length} registered collections`);

  const census = await registry.census();
  const rules = census.collections.find((r) => r.collection === t('dot_domain_rules'));
  onStep(
    `census: ${census.totals.birth_required} governed collections, gap ${census.totals.gap} (dot_domain_rules ${rules?.gap}: its pre-existing rows), phantoms ${census.totals.phantoms}; state ${census.state}`,
  );

  const { rows: counts } = await registry.db.query<{
    births: number;
    trigger_births: number;
    collections: number;
  }>(
    `SELECT (SELECT count(*)::int FROM ${registry.ctx.ns}.birth_registry) AS births,
            (SELECT count(*)::int FROM ${registry.ctx.ns}.birth_registry WHERE operation = 'trigger') AS trigger_births,
            (SELECT count(*)::int FROM ${registry.ctx.ns}.collection_registry) AS collections`,
  );
  const c = counts[0] as { births: number; trigger_births: number; collections: number };
  onStep(
    `registry: ${c.collections} collections, ${c.births} births (the 67 pre-existing rules await a backfill)`,
  );
  return {
    app_schema: app,
    collections: c.collections,
    births: c.births,
    trigger_births: c.trigger_births,
    gateway_code: birth.entity_code,
    strict_rejected: strictRejected,
    inspected: totals,
    functional_triggers: functional,
    gap: census.totals.gap,
    state: census.state,
  };
}
