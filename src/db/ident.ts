/**
 * The one quoting helper. Every identifier natal puts into SQL text goes through
 * `quoteIdent`; values never do (they travel as query parameters).
 */
import { NatalError } from '../errors.js';

/** PostgreSQL truncates identifiers to NAMEDATALEN-1 bytes; natal refuses instead. */
export const MAX_IDENT_BYTES = 63;

/** Checks that `name` can be a PostgreSQL identifier without being silently truncated. */
export function assertIdentifier(name: string, what = 'identifier'): string {
  if (name.length === 0) {
    throw new NatalError('INVALID_IDENTIFIER', `${what} must not be empty`);
  }
  if (name.includes('\0')) {
    throw new NatalError('INVALID_IDENTIFIER', `${what} must not contain a NUL character`);
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENT_BYTES) {
    throw new NatalError(
      'INVALID_IDENTIFIER',
      `${what} "${name.slice(0, 24)}…" is longer than PostgreSQL's ${MAX_IDENT_BYTES}-byte limit; choose a shorter name`,
    );
  }
  return name;
}

/** Always double-quotes, so case, spaces, quotes and keywords survive unchanged. */
export function quoteIdent(name: string): string {
  assertIdentifier(name);
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."name"`. */
export function qualify(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}
