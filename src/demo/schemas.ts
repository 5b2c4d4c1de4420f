/**
 * The demo's two schemas (natal's, and the sample platform's beside it) and the mark that
 * lets a rerun drop them: the demo never drops or reuses a schema it did not make.
 */
import { assertIdentifier, quoteIdent } from '../db/ident.js';
import { NatalError } from '../errors.js';
import type { Registry } from '../registry.js';

export const DEMO_SCHEMA = 'natal_demo';
export const DEMO_MARK = 'made by natal demo; dropped by the next natal demo';
/** Roles are cluster-wide and shared by demos in other schemas: marked, kept, reused. */
export const DEMO_ROLE_MARK =
  'made by natal demo: a person of its walk (NOLOGIN); reused by every natal demo';

/** The platform's schema: named after natal's, so demos in other schemas never meet. */
export function appSchemaOf(schema: string): string {
  return assertIdentifier(`${schema}_app`, 'the demo application schema (natal schema + "_app")');
}

/** Drops `schema` if an earlier demo made it; refuses to touch one it did not make. */
export async function clearDemoSchema(registry: Registry, schema: string): Promise<void> {
  const { rows } = await registry.db.query<{ mark: string | null }>(
    `SELECT obj_description(oid, 'pg_namespace') AS mark FROM pg_namespace WHERE nspname = $1`,
    [schema],
  );
  if (rows[0] && rows[0].mark !== DEMO_MARK) {
    throw new NatalError(
      'INVALID_ARGUMENT',
      `schema ${schema} exists and was not made by natal demo; the demo will not touch it (choose another --schema)`,
    );
  }
  if (rows[0]) await registry.db.exec(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
}

export async function markDemoSchema(registry: Registry, schema: string): Promise<void> {
  // DEMO_MARK is a constant without quotes; COMMENT takes no parameters.
  await registry.db.exec(`COMMENT ON SCHEMA ${quoteIdent(schema)} IS '${DEMO_MARK}'`);
}
