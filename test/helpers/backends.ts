/**
 * Runs a test suite once per backend: embedded (a fresh PGlite directory) and, when
 * `npm test` found a server, the server (fresh schemas in the test database, dropped after).
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../../src/db/ident.js';
import { Registry } from '../../src/registry.js';

export const SERVER_URL = process.env.NATAL_TEST_SERVER_URL;

export interface TestBackend {
  name: 'embedded' | 'server';
  /** A name no other test uses: for natal schemas and application schemas alike. */
  uniqueName(prefix?: string): string;
  /** Global CLI flags that reach this backend's database (a new data dir each call). */
  cliTarget(): string[];
  /** Opens a registry; `schema` defaults to a unique one. Closed after the suite. */
  open(options?: { schema?: string; dataDir?: string; as?: string }): Promise<Registry>;
  /** A fresh embedded data directory (copied from the run's template). */
  freshDataDir(): string;
  /** Drops `schema` after the suite too (for schemas made by the code under test). */
  adopt(schema: string): void;
}

/** Drops the roles natal init made for `schema` on the server (roles outlive databases). */
export async function dropNatalRoles(client: pg.Client, schema: string): Promise<void> {
  for (const suffix of ['writer', 'reader', 'reviewer', 'operator', 'admin', 'definer']) {
    const role = `${schema}_${suffix}`;
    if (Buffer.byteLength(role) > 63) continue;
    const { rows } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    if (rows.length === 0) continue;
    await client.query(`DROP OWNED BY ${quoteIdent(role)} CASCADE`);
    await client.query(`DROP ROLE ${quoteIdent(role)}`);
  }
}

function tmpRoot(): string {
  return process.env.NATAL_TEST_TMP ?? tmpdir();
}

export function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpRoot(), 'data-'));
  const template = process.env.NATAL_TEST_PGLITE_TEMPLATE;
  if (template) cpSync(template, dir, { recursive: true });
  return dir;
}

function makeBackend(name: 'embedded' | 'server'): TestBackend & { cleanup(): Promise<void> } {
  const registries: Registry[] = [];
  const schemas = new Set<string>();
  const dirs: string[] = [];
  const uniqueName = (prefix = 't') => {
    const n = `${prefix}_${randomBytes(5).toString('hex')}`;
    schemas.add(n);
    return n;
  };
  const dataDir = () => {
    const d = freshDataDir();
    dirs.push(d);
    return d;
  };
  return {
    name,
    uniqueName,
    freshDataDir: dataDir,
    adopt: (schema) => {
      schemas.add(schema);
    },
    cliTarget: () => (name === 'server' ? ['--db', SERVER_URL as string] : ['--data-dir', dataDir()]),
    async open(options = {}) {
      const schema = options.schema ?? uniqueName('natal');
      schemas.add(schema);
      const registry =
        name === 'server'
          ? await Registry.open({ db: SERVER_URL, schema, as: options.as })
          : await Registry.open({ dataDir: options.dataDir ?? dataDir(), schema, as: options.as });
      registries.push(registry);
      return registry;
    },
    async cleanup() {
      for (const r of registries) await r.close().catch(() => undefined);
      if (name === 'server' && schemas.size > 0) {
        const client = new pg.Client({ connectionString: SERVER_URL });
        await client.connect();
        try {
          for (const s of schemas) {
            if (Buffer.byteLength(s) > 63) continue;
            await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(s)} CASCADE`);
            await dropNatalRoles(client, s);
          }
        } finally {
          await client.end();
        }
      }
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** `describe` once per backend; the server half is skipped, visibly, when no server answers. */
export function eachBackend(title: string, suite: (backend: TestBackend) => void): void {
  for (const name of ['embedded', 'server'] as const) {
    if (name === 'embedded' && process.env.NATAL_TEST_SERVER_ONLY === '1') {
      describe(`${title} [embedded]`, { skip: 'the server half only (npm run test:citus)' }, () => {});
      continue;
    }
    if (name === 'server' && !SERVER_URL) {
      describe(
        `${title} [server]`,
        {
          skip: 'no PostgreSQL server (NATAL_TEST_DATABASE_URL)',
        },
        () => {},
      );
      continue;
    }
    describe(`${title} [${name}]`, () => {
      const backend = makeBackend(name);
      after(() => backend.cleanup());
      suite(backend);
    });
  }
}
