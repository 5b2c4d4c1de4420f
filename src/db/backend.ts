/**
 * The one interface both backends implement. Everything above `db/` talks to a Backend
 * and never knows whether PostgreSQL is embedded (PGlite) or a server.
 */

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
  close(): Promise<void>;
}
