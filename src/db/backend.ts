/**
 * The one interface both backends implement. Everything above `db/` talks to a Backend
 * and never knows whether PostgreSQL is embedded (PGlite) or a server.
 */

import { NatalError } from '../errors.js';

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** A connection-like thing that runs SQL: the backend itself or an open transaction. */
export interface Queryable {
  /** One statement, values as parameters ($1, $2, …). */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** Several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export type BackendKind = 'embedded' | 'server';

export interface Backend extends Queryable {
  readonly kind: BackendKind;
  /** Where it points: the data directory or the URL with its password masked. */
  readonly location: string;
  /** Runs `fn` in one transaction on one session; commits on success, rolls back on throw. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` on one session, each statement committing on its own: for work that commits
   * in steps and holds a session-level lock between them (the backfill's apply).
   */
  session<T>(fn: (s: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** What both backends share: refusing work once closed, and closing once. */
export abstract class BaseBackend implements Backend {
  abstract readonly kind: BackendKind;
  #closed = false;

  protected constructor(
    readonly location: string,
    private readonly direct: Queryable,
  ) {}

  private assertOpen(): void {
    if (this.#closed) {
      throw new NatalError('DATABASE_CLOSED', 'the database is closed; open a new registry');
    }
  }

  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    this.assertOpen();
    return this.direct.query<R>(sql, params);
  }

  exec(sql: string): Promise<void> {
    this.assertOpen();
    return this.direct.exec(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.runTransaction(fn);
  }

  session<T>(fn: (s: Queryable) => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.runSession(fn);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.release();
  }

  /** One transaction on one session. */
  protected abstract runTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** One session (the embedded backend has only one). */
  protected abstract runSession<T>(fn: (s: Queryable) => Promise<T>): Promise<T>;
  /** Gives the connection (and any lock) back. */
  protected abstract release(): Promise<void>;
}
