/**
 * `--dry-run`: a command's own code, run inside one transaction that is rolled back at the
 * end, so it says what it would change and changes nothing. Its transactions become
 * savepoints of that one; DDL (a trigger made by wire) is transactional in PostgreSQL.
 */
import type { Backend, BackendKind, Queryable, QueryResult } from './backend.js';

/** Thrown to roll the dry run's transaction back; carries what the command returned. */
class DryRunDone<T> extends Error {
  constructor(readonly result: T) {
    super('dry run rolled back');
  }
}

class DryRunBackend implements Backend {
  #savepoints = 0;

  constructor(
    readonly kind: BackendKind,
    readonly location: string,
    private readonly tx: Queryable,
  ) {}

  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    return this.tx.query<R>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.tx.exec(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const name = `natal_dry_run_${++this.#savepoints}`;
    await this.tx.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this.tx);
      await this.tx.exec(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await this.tx.exec(`ROLLBACK TO SAVEPOINT ${name}`);
      throw err;
    }
  }

  session<T>(fn: (s: Queryable) => Promise<T>): Promise<T> {
    return fn(this.tx);
  }

  async close(): Promise<void> {
    // the dry run's transaction belongs to the backend it was opened on
  }
}

/** Runs `fn` on a backend whose every change is rolled back; returns what `fn` returned. */
export async function dryRun<T>(db: Backend, fn: (dry: Backend) => Promise<T>): Promise<T> {
  try {
    await db.transaction(async (tx) => {
      throw new DryRunDone(await fn(new DryRunBackend(db.kind, db.location, tx)));
    });
  } catch (err) {
    if (err instanceof DryRunDone) return err.result as T;
    throw err;
  }
  throw new Error('natal: the dry run ended without rolling back');
}
