/** What every library operation needs: where to run SQL and which schema is natal's. */
import type { Queryable } from './db/backend.js';
import { quoteIdent } from './db/ident.js';

export interface Ctx {
  db: Queryable;
  /** natal's schema, as given. */
  schema: string;
  /** natal's schema, quoted for SQL text. */
  ns: string;
}

export function makeCtx(db: Queryable, schema: string): Ctx {
  return { db, schema, ns: quoteIdent(schema) };
}
