/**
 * natal's typed errors. Every failure the library reports is a NatalError with a stable
 * `code` (scripts match on it) and a message that tells the user what to do next.
 */

export type NatalErrorCode =
  | 'USAGE'
  | 'CONNECT_FAILED'
  | 'CONNECTION_LOST'
  | 'DATA_DIR_IN_USE'
  | 'DATABASE_CLOSED'
  | 'SERVER_TOO_OLD'
  | 'NOT_INITIALIZED'
  | 'SCHEMA_OUTDATED'
  | 'SCHEMA_TOO_NEW'
  | 'MIGRATION_TAMPERED'
  | 'INVALID_IDENTIFIER'
  | 'MIGRATION_FAILED'
  | 'INVALID_ARGUMENT'
  | 'SPECIES_EXISTS'
  | 'SPECIES_UNKNOWN'
  | 'COLLECTION_EXISTS'
  | 'COLLECTION_UNKNOWN'
  | 'COLLECTION_NOT_GOVERNED'
  | 'COLLECTION_FROZEN'
  | 'SPECIES_UNMAPPED'
  | 'NO_TABLE'
  | 'IDENTITY_UNCLASSIFIED'
  | 'STRICT_NO_BIRTH'
  | 'MATCH_FAILED'
  | 'NOT_WIRED'
  | 'IDENTITY_HAS_BIRTHS'
  | 'IDENTITY_NOT_UNIQUE'
  | 'NOT_A_TABLE'
  | 'CITUS_TABLE_UNSUPPORTED'
  | 'COLLECTION_HAS_BIRTHS'
  | 'PLAN_UNKNOWN'
  | 'RUN_UNKNOWN'
  | 'APPROVAL_REFUSED'
  | 'APPLY_REFUSED'
  | 'REHEARSAL_REQUIRED'
  | 'NOTHING_TO_PLAN'
  | 'NOTHING_TO_BIRTH'
  | 'PLAN_STALE'
  | 'APPLY_RUNNING'
  | 'ROLLBACK_REFUSED'
  | 'ACTOR_REFUSED'
  | 'OWNER_CHANGE_REFUSED'
  | 'BAD_ENTITY_DATA'
  | 'ENTITY_REJECTED'
  | 'INSTALL_REFUSED'
  | 'NOT_PERMITTED'
  | 'CHAIN_BROKEN'
  | 'LEDGER_APPEND_ONLY'
  | 'WRITE_FAILED'
  | 'ENTITY_UNKNOWN'
  | 'QUERY_FAILED';

export class NatalError extends Error {
  readonly code: NatalErrorCode;
  /** Exit status the CLI uses: 2 for usage errors, 1 for everything else. */
  readonly exitCode: 1 | 2;

  constructor(code: NatalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NatalError';
    this.code = code;
    this.exitCode = code === 'USAGE' ? 2 : 1;
  }
}

/** SQLSTATE values natal reacts to, by name. */
export const SqlState = {
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  invalidCatalogName: '3D000',
  undefinedTable: '42P01',
  undefinedColumn: '42703',
  undefinedFunction: '42883',
  duplicateObject: '42710',
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  notNullViolation: '23502',
  invalidTextRepresentation: '22P02',
  raiseException: 'P0001',
  adminShutdown: '57P01',
  crashShutdown: '57P02',
  cannotConnectNow: '57P03',
} as const;

/**
 * natal's own SQLSTATEs (class NB), raised by its SQL functions so that every client,
 * not only this library, gets a stable reason.
 */
export const NatalSqlState: Record<string, NatalErrorCode> = {
  NB001: 'COLLECTION_UNKNOWN',
  NB002: 'COLLECTION_NOT_GOVERNED',
  NB003: 'SPECIES_UNMAPPED',
  NB004: 'COLLECTION_FROZEN',
  NB005: 'NO_TABLE',
  NB006: 'IDENTITY_UNCLASSIFIED',
  NB007: 'STRICT_NO_BIRTH',
  NB008: 'MATCH_FAILED',
  NB009: 'BAD_ENTITY_DATA',
  NB010: 'COLLECTION_EXISTS',
  NB011: 'SPECIES_UNKNOWN',
  NB012: 'NOT_WIRED',
  NB013: 'IDENTITY_HAS_BIRTHS',
  NB014: 'PLAN_UNKNOWN',
  NB015: 'RUN_UNKNOWN',
  NB016: 'APPROVAL_REFUSED',
  NB017: 'APPLY_REFUSED',
  NB018: 'PLAN_STALE',
  NB019: 'APPLY_RUNNING',
  NB020: 'ROLLBACK_REFUSED',
  NB021: 'OWNER_CHANGE_REFUSED',
  NB022: 'LEDGER_APPEND_ONLY',
  NB023: 'NOT_PERMITTED',
  NB024: 'USAGE',
  NB025: 'NOT_PERMITTED',
  NB026: 'INVALID_ARGUMENT',
  NB027: 'REHEARSAL_REQUIRED',
  NB030: 'IDENTITY_NOT_UNIQUE',
  NB031: 'NOT_A_TABLE',
  NB032: 'COLLECTION_HAS_BIRTHS',
  NB033: 'NOTHING_TO_BIRTH',
  NB034: 'CITUS_TABLE_UNSUPPORTED',
};

/** A NatalError for an error raised by one of natal's SQL functions, else the error itself. */
export function fromSqlError(err: unknown): unknown {
  const state = sqlState(err);
  const code = state ? NatalSqlState[state] : undefined;
  if (!code) return err;
  const hint = (err as { hint?: string }).hint;
  return new NatalError(code, hint ? `${errorMessage(err)}; ${hint}` : errorMessage(err), {
    cause: err,
  });
}

/** The SQLSTATE of a driver error, if it has one. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** Node's socket errors that mean the connection is gone. */
const SOCKET_GONE = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EHOSTUNREACH',
]);

/**
 * The session is gone: its server ended it (pg_terminate_backend, a shutdown or restart:
 * 57P01–57P03), the connection failed (class 08), the socket dropped, or the driver says
 * so (`Connection terminated unexpectedly`, a client no longer queryable).
 */
export function isConnectionLost(err: unknown): boolean {
  if (err instanceof NatalError) return err.code === 'CONNECTION_LOST';
  // Before the SQLSTATE: EPIPE has the shape of one.
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && SOCKET_GONE.has(code)) return true;
  const state = sqlState(err);
  if (state) return state.startsWith('08') || /^57P0[123]$/.test(state);
  return /^Connection terminated|is not queryable/.test(errorMessage(err));
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
