/**
 * natal's schema, made by natal init from two kinds of files:
 * - versioned migrations: numbered `.sql` files under `sql/migrations/` (tables, types, data),
 *   each applied once, in its own transaction under an advisory lock, and recorded with a
 *   checksum that every start verifies;
 * - definitions: the functions and natal's own triggers, one file per concept under
 *   `sql/functions/`, each in its current form; all of them are re-applied, in one
 *   transaction, when one of them changed (Flyway's repeatable migrations).
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { actAsDefiner } from '../access/roles.js';
import type { Queryable } from '../db/backend.js';
import { quoteIdent } from '../db/ident.js';
import { errorMessage, NatalError } from '../errors.js';
import { loadSql, NATAL_VERSION, SQL_DIR } from '../paths.js';

export interface Migration {
  id: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface AppliedMigration {
  id: number;
  name: string;
  checksum: string;
}

/** One file of definitions (functions, natal's triggers): `catalog/names.sql`. */
export interface Definition {
  name: string;
  sql: string;
  checksum: string;
}

export type SchemaState =
  | { status: 'absent' }
  | { status: 'current'; applied: AppliedMigration[] }
  | {
      status: 'pending';
      applied: AppliedMigration[];
      pending: Migration[];
      /** Definition files new or changed since natal init last applied them. */
      definitions: string[];
    };

/**
 * What natal 0.1.0 recorded for its migrations. 0.2.0 moved their functions into
 * sql/functions and kept their tables as they were, so a schema made by 0.1.0 holds the
 * same tables and its recorded checksums still count as these migrations.
 */
const SHIPPED_0_1_0: Readonly<Record<number, string>> = {
  1: 'e701564c5d9bed477cb5038f35fd96d61e25764e6ea45f1d86c0a01a27549737',
  2: 'c890d4934b4c1ba7d521c39a314dca10e798ace29ce02f0f265977e8dc8a0025',
  3: '6f9a8a166f3e57a4d472a299efd224de90d17792dade13d456b96b6dffa3e356',
  4: '74780e56bc77108deee2ef59fad599911223378d613985bad2e2edec91c531c9',
  5: '0ce8d65dff1da2b3a94354463354dcdf71eee4a6491fb11831268e957393976c',
  6: 'b3aae036d0514f6639f43c3e620d390481c4bf4adeb6e7a03bb78a9fc309fd94',
  7: 'e0c8c14ea940145b81fbd1f6fe3fda89a4c23dc6f6a9aec0425b0592c78d88bb',
  8: '2141ed5a9f1673aa556a5452fd198f957dd94b075bbde47a0580660249a92186',
  9: '37a0802f0fd0fcf93fd762b859a462d940e74ee33dd5b1eb3ae7faab1a097f55',
  10: '64f3f4c6b3c8f2a60de8e31e05eff560db8217bc4b321aa6ffd1d51b8206a9b8',
  11: '882cfcc7e5123e466416882f9c6b83537e2292bcb6b4f99545cc53d23fec0578',
  12: '54ea771bac3f91345e35c8579c44ac75f0db50e147cc970d95cd1e394916eda2',
  13: '8eb301db9f39e553ce2e3825452ef0cf0747191cf245127bc3dd5feb7cbfea71',
  14: '63945ab7887a8c491e0576a0fe83cf1a885acc0b3bfc3ce421bb0a169c5a42fc',
};

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function checksum(sql: string): string {
  return createHash('sha256').update(sql.replaceAll('\r\n', '\n')).digest('hex');
}

let known: Migration[] | undefined;

/** The migrations this version of natal ships, in order. */
export function knownMigrations(): Migration[] {
  if (known) return known;
  const files = readdirSync(join(SQL_DIR, 'migrations')).filter((f) => FILE_PATTERN.test(f));
  known = files.sort().map((file) => {
    const [, id, name] = FILE_PATTERN.exec(file) as RegExpExecArray;
    const sql = loadSql(`migrations/${file}`);
    return { id: Number(id), name: `${id}_${name}`, sql, checksum: checksum(sql) };
  });
  known.forEach((m, i) => {
    if (m.id !== i + 1) throw new Error(`natal: migration ${m.name} is out of sequence`);
  });
  return known;
}

let definitions: Definition[] | undefined;

/** The definition files this version of natal ships, in path order. */
export function knownDefinitions(): Definition[] {
  if (definitions) return definitions;
  const root = join(SQL_DIR, 'functions');
  const files = (readdirSync(root, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.sql'))
    .map((f) => relative(root, join(root, f)).replaceAll('\\', '/'))
    .sort();
  definitions = files.map((name) => {
    const sql = loadSql(`functions/${name}`);
    return { name, sql, checksum: checksum(sql) };
  });
  return definitions;
}

/** Definition files that are new or changed since they were last applied to `schema`. */
async function staleDefinitions(db: Queryable, schema: string): Promise<string[]> {
  const { rows: exists } = await db.query<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = $1 AND c.relname = 'natal_definitions') AS ok`,
    [schema],
  );
  const applied = new Map<string, string>();
  if (exists[0]?.ok) {
    const { rows } = await db.query<{ name: string; checksum: string }>(
      `SELECT name, checksum FROM ${quoteIdent(schema)}.natal_definitions`,
    );
    for (const r of rows) applied.set(r.name, r.checksum);
  }
  const code = knownDefinitions();
  const stale = code.filter((d) => applied.get(d.name) !== d.checksum).map((d) => d.name);
  // A file natal no longer ships (its functions are dropped by the next init) counts too.
  for (const name of applied.keys()) if (!code.some((d) => d.name === name)) stale.push(name);
  return stale;
}

/** Reads what is applied in `schema` and checks it against the code, without writing. */
export async function readSchemaState(db: Queryable, schema: string): Promise<SchemaState> {
  // A catalog query, not to_regclass(): after waiting on another init's lock, to_regclass
  // can still answer from a stale negative cache and make this init apply 0001 again.
  const { rows: exists } = await db.query<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = $1 AND c.relname = 'natal_migrations') AS ok`,
    [schema],
  );
  if (!exists[0]?.ok) return { status: 'absent' };
  const { rows: applied } = await db.query<AppliedMigration>(
    `SELECT id, name, checksum FROM ${quoteIdent(schema)}.natal_migrations ORDER BY id`,
  );
  const code = knownMigrations();
  for (const row of applied) {
    const mine = code.find((m) => m.id === row.id);
    if (!mine) {
      throw new NatalError(
        'SCHEMA_TOO_NEW',
        `schema ${schema} has migration ${row.name}, which this natal (${NATAL_VERSION}) does not know; upgrade natal`,
      );
    }
    if (mine.checksum !== row.checksum && SHIPPED_0_1_0[row.id] !== row.checksum) {
      throw new NatalError(
        'MIGRATION_TAMPERED',
        `migration ${row.name} was edited after it was applied to schema ${schema} (checksum differs); restore the original file`,
      );
    }
  }
  const pending = code.filter((m) => !applied.some((a) => a.id === m.id));
  const stale = await staleDefinitions(db, schema);
  return pending.length === 0 && stale.length === 0
    ? { status: 'current', applied }
    : { status: 'pending', applied, pending, definitions: stale };
}

/** The advisory-lock key for one natal schema, so two inits of the same schema serialise. */
const LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtextextended('natal:' || $1, 0))`;

/** Applies `migration` to `schema` inside the caller's transaction. */
export async function applyMigration(tx: Queryable, schema: string, migration: Migration): Promise<void> {
  const q = quoteIdent(schema);
  // (CREATE SCHEMA IF NOT EXISTS would still ask for CREATE on the database, which natal's
  // definer, making the objects on a server, does not have: the schema is made before.)
  const { rows } = await tx.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (rows.length === 0) await tx.exec(`CREATE SCHEMA ${q}`);
  await tx.exec(`SET LOCAL search_path TO ${q};`);
  await tx.exec(loadSql('schema/bootstrap.sql'));
  try {
    await tx.exec(migration.sql);
  } catch (err) {
    throw new NatalError(
      'MIGRATION_FAILED',
      `migration ${migration.name} failed in schema ${schema}: ${errorMessage(err)}; if the schema holds other tables, choose another --schema`,
      { cause: err },
    );
  }
  await tx.query('INSERT INTO natal_migrations (id, name, checksum, natal_version) VALUES ($1, $2, $3, $4)', [
    migration.id,
    migration.name,
    migration.checksum,
    NATAL_VERSION,
  ]);
}

/** Functions of natal's own that natal generates per wired collection, or regenerates. */
const GENERATED = `^(birth_auto|birth_upd|birth_death|gateway|gateway_row|gateway_probe|read_as)_[0-9a-f]{16}$|^create_entity$`;

/**
 * Applies every definition file to `schema` inside the caller's transaction, drops the
 * functions of natal's that no file defines any more, seeds the catalog of a fresh schema,
 * re-wires every wired collection (its generated functions follow the definitions) and
 * records the files' checksums.
 */
export async function applyDefinitions(tx: Queryable, schema: string): Promise<void> {
  const q = quoteIdent(schema);
  await tx.exec(`SET LOCAL search_path TO ${q}, pg_temp; SET LOCAL check_function_bodies = off;`);
  await tx.exec(loadSql('schema/bootstrap.sql'));
  for (const d of knownDefinitions()) {
    try {
      await tx.exec(d.sql);
    } catch (err) {
      throw new NatalError(
        'MIGRATION_FAILED',
        `definitions ${d.name} failed in schema ${schema}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }
  // Every function a file defines was written by this transaction; the others are gone
  // from the files (renamed, merged, or their signature changed).
  const { rows: obsolete } = await tx.query<{ fn: string }>(
    `SELECT p.oid::regprocedure::text AS fn FROM pg_proc p
     WHERE p.pronamespace = $1::regnamespace AND p.proname !~ $2
       AND p.xmin::text::bigint <> (txid_current() & 4294967295)`,
    [q, GENERATED],
  );
  // A trigger of natal's that calls one of them is a wiring of before (the re-wiring below
  // makes what replaces it): it goes first, or the function could not.
  for (const { fn } of obsolete) {
    const { rows: triggers } = await tx.query<{ drop: string }>(
      `SELECT format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass) AS drop FROM pg_trigger t
       WHERE t.tgfoid = $1::regprocedure AND t.tgname LIKE 'natal\\_%' AND t.tgparentid = 0`,
      [fn],
    );
    for (const { drop } of triggers) await tx.exec(drop);
    await tx.exec(`DROP FUNCTION ${fn}`);
  }
  // (recorded first: re-wiring records the definitions it was generated from, wiring_inputs)
  await tx.query('DELETE FROM natal_definitions');
  for (const d of knownDefinitions()) {
    await tx.query('INSERT INTO natal_definitions (name, checksum, natal_version) VALUES ($1, $2, $3)', [
      d.name,
      d.checksum,
      NATAL_VERSION,
    ]);
  }
  await tx.query(`SELECT ${q}.after_definitions()`);
}

export interface MigrateResult {
  applied: string[];
  upToDate: boolean;
}

/**
 * Brings `schema` up to date. Each migration runs in its own transaction that first takes
 * the schema's advisory lock and re-reads the state, so concurrent inits apply each once.
 */
export async function migrate(
  db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>; kind: string } & Queryable,
  schema: string,
): Promise<MigrateResult> {
  // On a server, natal's objects are made by its definer role (see src/access/roles.ts).
  const asDefiner = (tx: Queryable) => (db.kind === 'server' ? actAsDefiner(tx, schema) : Promise.resolve());
  const before = await readSchemaState(db, schema);
  if (before.status === 'current') return { applied: [], upToDate: true };
  const applied: string[] = [];
  for (const migration of knownMigrations()) {
    const done = await db.transaction(async (tx) => {
      await tx.query(LOCK_SQL, [schema]);
      const state = await readSchemaState(tx, schema);
      if (state.status === 'current') return false;
      if (state.status === 'pending' && !state.pending.some((m) => m.id === migration.id)) {
        return false;
      }
      await asDefiner(tx);
      await applyMigration(tx, schema, migration);
      return true;
    });
    if (done) applied.push(migration.name);
  }
  const defined = await db.transaction(async (tx) => {
    await tx.query(LOCK_SQL, [schema]);
    const state = await readSchemaState(tx, schema);
    if (state.status !== 'pending' || state.definitions.length === 0) return false;
    await asDefiner(tx);
    await applyDefinitions(tx, schema);
    return true;
  });
  if (defined) applied.push('definitions');
  return { applied, upToDate: applied.length === 0 };
}
