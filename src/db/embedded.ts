/** The embedded backend: PGlite persisted in natal's data directory. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { fromSqlError, NatalError } from '../errors.js';
import { type Backend, BaseBackend, type Queryable, type QueryResult } from './backend.js';
import { acquireDirLock, type DirLock } from './lock.js';
import { traced } from './debug.js';

export const DEFAULT_DATA_DIR = '.natal';

/** natal's own SQL errors become NatalErrors here, for every caller. */
function rethrow(err: unknown): never {
  throw fromSqlError(err);
}

function wrap(target: PGlite | Transaction): Queryable {
  return {
    async query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
      const res = await traced(sql, () => target.query<R>(sql, params)).catch(rethrow);
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await traced(sql, () => target.exec(sql)).catch(rethrow);
    },
  };
}

class EmbeddedBackend extends BaseBackend {
  readonly kind = 'embedded' as const;

  constructor(
    location: string,
    private readonly pg: PGlite,
    private readonly lock: DirLock | undefined,
  ) {
    super(location, wrap(pg));
  }

  protected runTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // Deferred checks (natal's run gate) speak at commit: their errors are natal's too.
    return this.pg.transaction((tx) => fn(wrap(tx))).catch(rethrow);
  }

  protected runSession<T>(fn: (s: Queryable) => Promise<T>): Promise<T> {
    return fn(wrap(this.pg));
  }

  protected async release(): Promise<void> {
    try {
      await this.pg.close();
    } finally {
      this.lock?.release();
    }
  }
}

/**
 * Opens the PGlite database under `dataDir` (making it when `create`, else refusing a
 * directory that holds none), or an in-memory one when `dataDir` is `memory://`. The lock
 * is taken before PGlite touches the files.
 */
export async function openEmbedded(dataDir: string, create = false): Promise<Backend> {
  if (dataDir === 'memory://') {
    return new EmbeddedBackend('memory://', await PGlite.create(), undefined);
  }
  const dir = resolve(dataDir);
  // Only natal init (and the demo) make a database: anything else in a directory that holds
  // none says so and leaves the directory as it found it.
  if (!create && !existsSync(join(dir, 'pgdata'))) {
    throw new NatalError(
      'NOT_INITIALIZED',
      `there is no natal database in ${dir}; run natal init there, or name one with --data-dir DIR or a server with --db URL`,
    );
  }
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
