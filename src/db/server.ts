/** The server backend: any PostgreSQL 13+ reached by URL, through a `pg` pool. */
import pg from 'pg';
import { errorMessage, fromSqlError, isConnectionLost, NatalError, SqlState, sqlState } from '../errors.js';
import { type Backend, BaseBackend, type Queryable, type QueryResult } from './backend.js';
import { quoteIdent } from './ident.js';
import { traced } from './debug.js';

const INT8_OID = 20;

/** The URL with its password replaced, for messages and `location`. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    // (node-postgres reads secrets from the query string too)
    for (const k of ['password', 'sslpassword']) if (u.searchParams.has(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}

const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    // Counts and ids fit in a double; natal returns plain numbers on both backends.
    if (oid === INT8_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/**
 * natal's own SQL errors become NatalErrors here, for every caller; so does a connection
 * lost under a statement (a caller that knows more, like the apply, says more).
 */
function rethrow(err: unknown): never {
  if (isConnectionLost(err)) {
    const why = (errorMessage(err).split('\n')[0] ?? '').trim() || 'the connection ended';
    throw new NatalError(
      'CONNECTION_LOST',
      `the connection to the database was lost (${why}); check the server, then run the command again`,
      { cause: err },
    );
  }
  throw fromSqlError(err);
}

/**
 * A pooled client is ready once its connect hook's statement (SET SESSION AUTHORIZATION, for
 * `as`) is done: every checkout waits for it, so that no statement is sent while another is
 * still running on the same client (which the driver deprecates, saying so on stderr).
 */
const readyClients = new WeakMap<pg.PoolClient, Promise<unknown>>();

async function checkout(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await pool.connect();
  await readyClients.get(client);
  return client;
}

/** Statements outside a transaction or session: each on a client checked out for it. */
function pooled(pool: pg.Pool): Queryable {
  const once = async <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await checkout(pool).catch(rethrow);
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  };
  return wrap({ query: (sql, params) => once((c) => c.query(sql, params)) });
}

/** What runs a statement: a client, or the pool's checkout of one. */
interface Runs {
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
}

function wrap(client: Runs): Queryable {
  return {
    async query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
      const res = await traced(sql, () => client.query(sql, params)).catch(rethrow);
      return { rows: res.rows as R[], rowCount: res.rowCount ?? res.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await traced(sql, () => client.query(sql)).catch(rethrow);
    },
  };
}

/** Turns a driver's connection failure into one line that says what to do. */
export function connectError(url: string, err: unknown): NatalError {
  const where = maskUrl(url);
  const state = sqlState(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  let why: string;
  if (state === SqlState.invalidPassword || state === SqlState.invalidAuthorization) {
    why = `authentication failed (${errorMessage(err)}); check the user and password in the URL`;
  } else if (state === SqlState.invalidCatalogName) {
    why = `${errorMessage(err)}; create it first or name an existing database`;
  } else if (code === 'ECONNREFUSED') {
    why = 'connection refused; is the server running and listening on that host and port?';
  } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    why = 'unknown host; check the host name in the URL';
  } else if (code === 'ETIMEDOUT' || /timeout/i.test(errorMessage(err))) {
    why = 'timed out; check the host and port, and that the server accepts connections';
  } else {
    why = errorMessage(err).split('\n')[0] ?? 'unknown error';
  }
  return new NatalError('CONNECT_FAILED', `cannot connect to ${where}: ${why}`, { cause: err });
}

function checkUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new NatalError(
      'CONNECT_FAILED',
      `"${maskUrl(url)}" is not a database URL; use postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`,
    );
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new NatalError(
      'CONNECT_FAILED',
      `"${maskUrl(url)}" is not a PostgreSQL URL; it must start with postgres:// or postgresql://`,
    );
  }
}

class ServerBackend extends BaseBackend {
  readonly kind = 'server' as const;

  constructor(
    location: string,
    private readonly pool: pg.Pool,
  ) {
    super(location, pooled(pool));
  }

  protected async runTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await checkout(this.pool).catch(rethrow);
    try {
      await client.query('BEGIN').catch(rethrow);
      const result = await fn(wrap(client));
      // Deferred checks (natal's run gate) speak at commit: their errors are natal's too.
      await client.query('COMMIT').catch(rethrow);
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  protected async runSession<T>(fn: (s: Queryable) => Promise<T>): Promise<T> {
    const client = await checkout(this.pool).catch(rethrow);
    let failed = false;
    try {
      return await fn(wrap(client));
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      // A session that failed may still hold session state: it is closed, not reused.
      client.release(failed);
    }
  }

  protected release(): Promise<void> {
    return this.pool.end();
  }
}

/**
 * `as`: the database role every session of this backend acts as (SET SESSION AUTHORIZATION),
 * so that session_user, natal's actor, is that role. PostgreSQL allows it only to a
 * superuser, or to the role the URL already logs in as.
 */
/** Checks that sessions really act as `as` (the connect hook's SET cannot report). */
async function actAs(client: pg.PoolClient, as: string): Promise<void> {
  try {
    await client.query(`SET SESSION AUTHORIZATION ${quoteIdent(as)}`);
  } catch (err) {
    throw new NatalError(
      'ACTOR_REFUSED',
      `cannot act as ${as} (${errorMessage(err)}): on a server the actor is the database role of the session; connect as ${as}, or use --as from a superuser session`,
      { cause: err },
    );
  }
}

export async function openServer(
  url: string,
  options: { max?: number; as?: string | undefined } = {},
): Promise<Backend> {
  checkUrl(url);
  const as = options.as;
  const makePool = (connectionString: string): pg.Pool => {
    const pool = new pg.Pool({
      connectionString,
      max: options.max ?? 10,
      connectionTimeoutMillis: 10_000,
      types: typeParsers,
      application_name: 'natal',
    });
    // A client losing its server (terminated, restarted, the network gone) must not crash the
    // process with an unhandled 'error' event: idle in the pool, the pool hears it; checked
    // out, the client's own listener does (from its first moment to its last), and the
    // statement in flight or the next one fails and says why.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => {
      client.on('error', () => undefined);
    });
    if (as !== undefined) {
      pool.on('connect', (client) => {
        readyClients.set(
          client,
          client.query(`SET SESSION AUTHORIZATION ${quoteIdent(as)}`).catch(() => undefined),
        );
      });
    }
    return pool;
  };
  let pool = makePool(url);
  try {
    let citus = false;
    const client = await checkout(pool);
    try {
      if (as !== undefined) await actAs(client, as);
      const { rows } = await client.query<{ citus: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus`,
      );
      citus = rows[0]?.citus === true;
    } finally {
      client.release();
    }
    // On a Citus coordinator natal's objects are the coordinator's own (docs/SCALE.md): its
    // sessions do not propagate their DDL (natal's schema, roles, grants, wiring) to the
    // workers, where natal's roles do not exist. (Added to the startup options the URL or
    // PGOPTIONS already give: the URL's would replace a separate setting.)
    if (citus) {
      await pool.end();
      const local = new URL(url);
      const given = local.searchParams.get('options') ?? process.env.PGOPTIONS ?? '';
      local.searchParams.set('options', `${given} -c citus.enable_ddl_propagation=off`.trim());
      pool = makePool(local.toString());
      const again = await checkout(pool);
      again.release();
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof NatalError) throw err;
    throw connectError(url, err);
  }
  return new ServerBackend(maskUrl(url), pool);
}
