/**
 * `natal doctor`: compares the live schema with what the migrations should have produced.
 * The expectation is built, not hand-written: every known migration is applied to a scratch
 * schema inside a transaction that is rolled back, and both catalogs are compared.
 */
import { randomBytes } from 'node:crypto';
import type { Backend, Queryable } from '../db/backend.js';
import { quoteIdent } from '../db/ident.js';
import { NatalError } from '../errors.js';
import { loadSql } from '../paths.js';
import { applyDefinitions, applyMigration, knownMigrations, readSchemaState } from './migrations.js';

export type DoctorProblem =
  'missing' | 'unexpected' | 'changed' | 'tampered' | 'too-new' | 'pending' | 'broken';

export interface DoctorFinding {
  kind: string;
  name: string;
  problem: DoctorProblem;
  expected?: string;
  actual?: string;
  /** For a trigger of natal's changed or disabled, or a broken history: who can have done it. */
  who?: string;
}

export interface DoctorReport {
  schema: string;
  clean: boolean;
  findings: DoctorFinding[];
}

interface CatalogRow {
  kind: string;
  name: string;
  definition: string;
}

/** Call inside a transaction: with only pg_catalog on the path every other name is qualified. */
async function snapshot(tx: Queryable, schema: string): Promise<Map<string, CatalogRow>> {
  await tx.exec('SET LOCAL search_path TO pg_catalog');
  const { rows } = await tx.query<CatalogRow>(loadSql('schema/snapshot.sql'), [schema]);
  return new Map(rows.map((r) => [`${r.kind} ${r.name}`, r]));
}

class Rollback extends Error {}

/** Whether `schema` has the kept census on (0014); false before 0014 or when it is off. */
async function keepingOn(db: Backend, schema: string): Promise<boolean> {
  const { rows } = await db.query<{ on: boolean | null }>(
    `SELECT CASE WHEN to_regprocedure(format('%I.census_keeping()', $1::text)) IS NOT NULL
                 THEN EXISTS (SELECT 1 FROM pg_attrdef d
                              JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                              WHERE d.adrelid = to_regclass(format('%I.birth_registry', $1::text))
                                AND a.attname = 'born_xid') END AS on`,
    [schema],
  );
  return rows[0]?.on === true;
}

/**
 * The catalog the migrations make, in a scratch schema that is rolled back: with the kept
 * census off, and on (`keeping`) as set_census_keeping(true) leaves it (a default and an
 * index), the one asked for or both.
 */
async function expectedCatalogs(db: Backend, keeping: boolean[]): Promise<Map<string, CatalogRow>[]> {
  const scratch = `natal_doctor_${randomBytes(6).toString('hex')}`;
  const built: Map<string, CatalogRow>[] = [];
  try {
    await db.transaction(async (tx) => {
      for (const migration of knownMigrations()) await applyMigration(tx, scratch, migration);
      await applyDefinitions(tx, scratch);
      for (const on of keeping) {
        if (on) await tx.query(`SELECT ${quoteIdent(scratch)}.set_census_keeping(true)`);
        built.push(await snapshot(tx, scratch));
      }
      throw new Rollback();
    });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
  if (built.length !== keeping.length) throw new Error('natal doctor: scratch catalog was not built');
  return built;
}

/** Whether this session may build the expectation itself: a scratch schema needs CREATE on the database. */
async function mayBuild(db: Backend): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(
    `SELECT has_database_privilege(current_database(), 'CREATE') AS ok`,
  );
  return rows[0]?.ok === true;
}

/**
 * Records what natal doctor expects (natal init calls it after applying the files, on a
 * server): a reader, who may not create a scratch schema, compares the live schema with it.
 */
export async function recordExpectation(db: Backend, schema: string): Promise<void> {
  const [off, on] = await expectedCatalogs(db, [false, true]);
  const rows = (m: Map<string, CatalogRow> | undefined) => JSON.stringify([...(m ?? new Map()).values()]);
  await db.transaction(async (tx) => {
    const t = `${quoteIdent(schema)}.natal_expected_catalog`;
    // (two inits at once both record the same thing: the later one's rows stay)
    await tx.query(
      `INSERT INTO ${t} AS e (keeping, server_major, catalog)
       VALUES (false, current_setting('server_version_num')::int / 10000, $1::jsonb),
              (true, current_setting('server_version_num')::int / 10000, $2::jsonb)
       ON CONFLICT (keeping) DO UPDATE
         SET server_major = EXCLUDED.server_major, catalog = EXCLUDED.catalog, recorded_at = now()`,
      [rows(off), rows(on)],
    );
  });
}

/** Whether natal init has recorded the expectation for this server's major version. */
export async function expectationRecorded(db: Queryable, schema: string): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.natal_expected_catalog
     WHERE server_major = current_setting('server_version_num')::int / 10000`,
  );
  return rows[0]?.n === 2;
}

/** The expectation natal init recorded, or null (and a finding saying to run natal init). */
async function recordedCatalog(
  db: Backend,
  schema: string,
  keeping: boolean,
  findings: DoctorFinding[],
): Promise<Map<string, CatalogRow> | null> {
  const { rows } = await db.query<{ catalog: CatalogRow[] }>(
    `SELECT catalog FROM ${quoteIdent(schema)}.natal_expected_catalog
     WHERE keeping = $1 AND server_major = current_setting('server_version_num')::int / 10000`,
    [keeping],
  );
  const catalog = rows[0]?.catalog;
  if (!catalog) {
    findings.push({
      kind: 'expectation',
      name: schema,
      problem: 'pending',
      expected:
        'natal init records what natal doctor compares with (this role may not build it: no CREATE on the database); run natal init',
    });
    return null;
  }
  return new Map(catalog.map((r) => [`${r.kind} ${r.name}`, r]));
}

export async function doctor(db: Backend, schema: string): Promise<DoctorReport> {
  const findings: DoctorFinding[] = [];
  try {
    const state = await readSchemaState(db, schema);
    if (state.status === 'absent') {
      findings.push({
        kind: 'schema',
        name: schema,
        problem: 'missing',
        expected: 'run natal init',
      });
      return { schema, clean: false, findings };
    }
    if (state.status === 'pending') {
      for (const m of state.pending) {
        findings.push({
          kind: 'migration',
          name: m.name,
          problem: 'pending',
          expected: 'run natal init',
        });
      }
      for (const name of state.definitions) {
        findings.push({ kind: 'definitions', name, problem: 'pending', expected: 'run natal init' });
      }
    }
  } catch (err) {
    if (err instanceof NatalError && err.code === 'MIGRATION_TAMPERED') {
      findings.push({ kind: 'migration', name: schema, problem: 'tampered', actual: err.message });
    } else if (err instanceof NatalError && err.code === 'SCHEMA_TOO_NEW') {
      findings.push({ kind: 'migration', name: schema, problem: 'too-new', actual: err.message });
      return { schema, clean: false, findings };
    } else {
      throw err;
    }
  }
  if (findings.some((f) => f.problem === 'pending' || f.problem === 'tampered')) {
    return { schema, clean: false, findings };
  }
  // Built here when this role may (a scratch schema), else as natal init recorded it.
  const keeping = await keepingOn(db, schema);
  const expected = (await mayBuild(db))
    ? (await expectedCatalogs(db, [keeping]))[0]
    : await recordedCatalog(db, schema, keeping, findings);
  if (!expected) return { schema, clean: false, findings };
  const actual = await db.transaction((tx) => snapshot(tx, schema));
  for (const [key, want] of expected) {
    const have = actual.get(key);
    if (!have) {
      findings.push({
        kind: want.kind,
        name: want.name,
        problem: 'missing',
        expected: want.definition,
      });
    } else if (have.definition !== want.definition) {
      findings.push({
        kind: want.kind,
        name: want.name,
        problem: 'changed',
        expected: want.definition,
        actual: have.definition,
      });
    }
  }
  for (const [key, have] of actual) {
    if (!expected.has(key)) {
      findings.push({
        kind: have.kind,
        name: have.name,
        problem: 'unexpected',
        actual: have.definition,
      });
    }
  }
  await lookAtTrust(db, schema, findings);
  return { schema, clean: findings.length === 0, findings };
}

/**
 * What only a superuser (or someone acting as natal's definer) can have done: a trigger of
 * natal's own disabled or changed, the hash chain broken; and a wired collection whose
 * trigger its table's owner turned off. Each finding says who could have done it.
 */
async function lookAtTrust(db: Backend, schema: string, findings: DoctorFinding[]): Promise<void> {
  const q = quoteIdent(schema);
  const { rows: su } = await db.query<{ names: string | null }>(
    `SELECT string_agg(rolname, ', ' ORDER BY rolname) AS names FROM pg_roles WHERE rolsuper`,
  );
  const superusers = `a superuser (${su[0]?.names ?? 'none'})`;
  const definer = db.kind === 'server' ? ` or a session acting as ${schema}_definer` : '';
  for (const f of findings) {
    if (f.kind === 'trigger' || f.kind === 'function') f.who = `${superusers}${definer}`;
  }
  const { rows: chain } = await db.query<{
    v: { ok: boolean; first_broken: { table: string; id: number; why: string } | null };
  }>(`SELECT ${q}.chain_verify() AS v`);
  const broken = chain[0]?.v.first_broken;
  if (broken) {
    findings.push({
      kind: 'history',
      name: `${broken.table}${broken.id === null ? '' : ` ${broken.id}`}`,
      problem: 'broken',
      actual: `the hash chain is broken: ${broken.why}`,
      who: `${superusers}${definer}`,
    });
  }
  const { rows: wiring } = await db.query<{ collection_name: string; problem: string; owner: string | null }>(
    `SELECT i.collection_name, i.problem,
            (SELECT k.relowner::regrole::text FROM pg_class k WHERE k.oid = ${q}.collection_table(r)) AS owner
     FROM ${q}.trigger_inventory(NULL, true) i JOIN ${q}.collection_registry r USING (collection_name)
     WHERE i.present AND i.problem IS NOT NULL`,
  );
  for (const w of wiring) {
    findings.push({
      kind: 'wiring',
      name: w.collection_name,
      problem: 'changed',
      actual: w.problem,
      who: `the table's owner (${w.owner ?? 'unknown'}) or a member of it, ${superusers}${definer}`,
    });
  }
}
