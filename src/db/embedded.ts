/** The embedded backend: PGlite persisted in natal's data directory. */
import { join, resolve } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { fromSqlError, NatalError } from '../errors.js';
import type { Backend, Queryable, QueryResult } from './backend.js';
import { acquireDirLock, type DirLock } from './lock.js';

export const DEFAULT_DATA_DIR = '.natal';

/** natal's own SQL errors become NatalErrors here, for every caller. */
function rethrow(err: unknown): never {
  throw fromSqlError(err);
}

function wrap(target: PGlite | Transaction): Queryable {
  return {
    async query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
      const res = await target.query<R>(sql, params).catch(rethrow);
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await target.exec(sql).catch(rethrow);
    },
  };
}

class EmbeddedBackend implements Backend {
  readonly kind = 'embedded' as const;
  #closed = false;
  readonly #direct: Queryable;

  constructor(
    readonly location: string,
    private readonly pg: PGlite,
    private readonly lock: DirLock | undefined,
  ) {
    this.#direct = wrap(pg);
  }

  #open(): void {
    if (this.#closed) {
      throw new NatalError('DATABASE_CLOSED', 'the database is closed; open a new registry');
    }
  }

  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    this.#open();
    return this.#direct.query<R>(sql, params);
  }

  exec(sql: string): Promise<void> {
    this.#open();
    return this.#direct.exec(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.#open();
    return this.pg.transaction((tx) => fn(wrap(tx)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.pg.close();
    } finally {
      this.lock?.release();
    }
  }
}

/**
 * Opens (creating if needed) the PGlite database under `dataDir`, or an in-memory one
 * when `dataDir` is `memory://`. The lock is taken before PGlite touches the files.
 */
export async function openEmbedded(dataDir: string): Promise<Backend> {
  if (dataDir === 'memory://') {
    return new EmbeddedBackend('memory://', await PGlite.create(), undefined);
  }
  const dir = resolve(dataDir);
  const lock = acquireDirLock(dir);
  try {
    const pg = await PGlite.create(join(dir, 'pgdata'));
    return new EmbeddedBackend(dir, pg, lock);
  } catch (err) {
    lock.release();
    throw new NatalError(
      'CONNECT_FAILED',
      `cannot open the embedded database in ${dir}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
