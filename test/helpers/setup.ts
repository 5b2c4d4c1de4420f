/** Common fixtures: an initialised registry with an application schema beside it. */

import assert from 'node:assert/strict';
import { quoteIdent } from '../../src/db/ident.js';
import { NatalError } from '../../src/errors.js';
import type { Registry } from '../../src/registry.js';
import type { TestBackend } from './backends.js';

export interface World {
  registry: Registry;
  /** The application schema's name, and quoted. */
  app: string;
  a: string;
  /** natal's schema, quoted. */
  ns: string;
  sql: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;
  /** Births of one collection, by code. */
  births: (collection: string) => Promise<Record<string, unknown>[]>;
}

export async function world(backend: TestBackend): Promise<World> {
  const registry = await backend.open();
  await registry.init();
  const app = backend.uniqueName('app');
  const a = quoteIdent(app);
  await registry.db.exec(`CREATE SCHEMA ${a}`);
  const ns = registry.ctx.ns;
  const sql = async (text: string, params?: unknown[]) => (await registry.db.query(text, params)).rows;
  return {
    registry,
    app,
    a,
    ns,
    sql,
    births: (collection) =>
      sql(
        `SELECT entity_code, collection_name, species_code, composition_level, dot_origin, governance_role,
                operation, inspection_status
         FROM ${ns}.birth_registry WHERE collection_name = $1 ORDER BY entity_code`,
        [collection],
      ),
  };
}

/**
 * `promise` fails with `code`: a NatalError's code from the library, or the SQLSTATE of an
 * error a raw client got from the server (`42501`, `NB017`, …); and its message matches.
 */
export async function rejects(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    const raw = /^[0-9A-Z]{5}$/.test(code);
    if (!raw) assert.ok(err instanceof NatalError, `expected a NatalError, got ${String(err)}`);
    const got = err as { code?: string; message: string };
    assert.equal(got.code, code, got.message);
    if (message) assert.match(got.message, message);
    return true;
  });
}
