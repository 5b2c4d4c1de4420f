/**
 * Versioned migrations: numbered `.sql` files under `sql/migrations/`, each applied in its
 * own transaction under an advisory lock, recorded with a checksum that every start verifies.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
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

export type SchemaState =
  | { status: 'absent' }
  | { status: 'current'; applied: AppliedMigration[] }
  | { status: 'pending'; applied: AppliedMigration[]; pending: Migration[] };

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
    if (mine.checksum !== row.checksum) {
      throw new NatalError(
        'MIGRATION_TAMPERED',
        `migration ${row.name} was edited after it was applied to schema ${schema} (checksum differs); restore the original file`,
      );
    }
  }
  const pending = code.filter((m) => !applied.some((a) => a.id === m.id));
  return pending.length === 0 ? { status: 'current', applied } : { status: 'pending', applied, pending };
}

/** The advisory-lock key for one natal schema, so two inits of the same schema serialise. */
const LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtextextended('natal:' || $1, 0))`;

/** Applies `migration` to `schema` inside the caller's transaction. */
export async function applyMigration(tx: Queryable, schema: string, migration: Migration): Promise<void> {
  const q = quoteIdent(schema);
  await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${q}; SET LOCAL search_path TO ${q};`);
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

export interface MigrateResult {
  applied: string[];
  upToDate: boolean;
}

/**
 * Brings `schema` up to date. Each migration runs in its own transaction that first takes
 * the schema's advisory lock and re-reads the state, so concurrent inits apply each once.
 */
export async function migrate(
  db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> } & Queryable,
  schema: string,
): Promise<MigrateResult> {
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
      await applyMigration(tx, schema, migration);
      return true;
    });
    if (done) applied.push(migration.name);
  }
  return { applied, upToDate: applied.length === 0 };
}
