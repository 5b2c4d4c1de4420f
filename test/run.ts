/**
 * `npm test`'s runner: every test file runs on PGlite and, when a server answers at
 * NATAL_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), on the server
 * too. With no server the server half is skipped and says so; with
 * NATAL_TEST_REQUIRE_SERVER=1 (CI) a missing server fails the run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';
const url = process.env.NATAL_TEST_DATABASE_URL || DEFAULT_URL;
const here = dirname(fileURLToPath(import.meta.url));

async function serverAnswers(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return rows[0]?.v;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const version = await serverAnswers();

/**
 * Owners the suites name (a collection's owner must be a database role on a server), made
 * for the run and dropped after it; a role that was already there is left as it was, unless
 * a run made it (its comment says so: a run that was killed left it behind).
 */
const OWNERS = ['alice', 'ann', 'bob', 'o', 'owner'];
const MADE_BY_TESTS = 'made by natal tests for one run';
async function withServer<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
const madeOwners: string[] = version
  ? await withServer(async (c) => {
      const made: string[] = [];
      for (const role of OWNERS) {
        const { rows } = await c.query<{ note: string | null }>(
          `SELECT shobj_description(oid, 'pg_authid') AS note FROM pg_roles WHERE rolname = $1`,
          [role],
        );
        if (rows.length === 0) {
          await c.query(`CREATE ROLE "${role}" NOLOGIN`);
          await c.query(`COMMENT ON ROLE "${role}" IS '${MADE_BY_TESTS}'`);
          made.push(role);
        } else if (rows[0]?.note === MADE_BY_TESTS) {
          console.log(`natal tests: role ${role} was left by an earlier run; this one drops it after`);
          made.push(role);
        }
      }
      return made;
    })
  : [];
/** The demo's people (cluster-wide roles): dropped after the run when the run made them. */
const DEMO_ROLES = ['natal_demo_author', 'natal_demo_reviewer', 'natal_demo_owner'];
const demoRolesBefore: string[] = version
  ? await withServer(async (c) =>
      (
        await c.query<{ r: string }>('SELECT rolname AS r FROM pg_roles WHERE rolname = ANY ($1)', [
          DEMO_ROLES,
        ])
      ).rows.map((x) => x.r),
    )
  : [];
const env: NodeJS.ProcessEnv = { ...process.env };
delete env.NATAL_DATABASE_URL;
if (version) {
  env.NATAL_TEST_SERVER_URL = url;
  console.log(`natal tests: embedded (PGlite) half and server half (PostgreSQL ${version} at ${url})`);
} else if (process.env.NATAL_TEST_REQUIRE_SERVER === '1') {
  console.error(`natal tests: no PostgreSQL server answers at ${url}, and this run requires one`);
  process.exit(1);
} else {
  delete env.NATAL_TEST_SERVER_URL;
  console.log(
    `natal tests: SERVER HALF SKIPPED: no PostgreSQL server answers at ${url} (set NATAL_TEST_DATABASE_URL); running the embedded half only`,
  );
}

// One initialised PGlite directory, copied by tests that need a fresh data dir:
// initdb takes seconds, a copy milliseconds.
const scratch = mkdtempSync(join(tmpdir(), 'natal-test-'));
const template = join(scratch, 'template');
mkdirSync(template);
const seed = await PGlite.create(join(template, 'pgdata'));
await seed.close();
env.NATAL_TEST_PGLITE_TEMPLATE = template;
env.NATAL_TEST_TMP = scratch;

const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()
  .map((f) => join(here, f));

const child = spawn(process.execPath, ['--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env,
});
const code: number = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
rmSync(scratch, { recursive: true, force: true });
if (version) {
  await withServer(async (c) => {
    for (const role of DEMO_ROLES.filter((r) => !demoRolesBefore.includes(r))) {
      const { rows } = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      if (rows.length) {
        await c.query(`DROP OWNED BY "${role}"`);
        await c.query(`DROP ROLE "${role}"`);
      }
    }
    for (const role of madeOwners) {
      await c.query(`DROP OWNED BY "${role}"`);
      await c.query(`DROP ROLE "${role}"`);
    }
    // natal's roles of a suite's schema (natal_<10 hex>_admin, …) whose schema is gone: a
    // suite that did not drop them is named here, and they go.
    const { rows } = await c.query<{ r: string }>(
      `SELECT rolname AS r FROM pg_roles
       WHERE rolname ~ '^natal_[0-9a-f]{10}_(admin|operator|reviewer|reader|writer|definer)$'
         AND NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = substr(rolname, 1, 16))`,
    );
    if (rows.length)
      console.log(
        `natal tests: dropping ${rows.length} roles a suite left: ${rows.map((x) => x.r).join(', ')}`,
      );
    for (const { r } of rows) {
      await c.query(`DROP OWNED BY "${r}" CASCADE`);
      await c.query(`DROP ROLE "${r}"`);
    }
  });
}
if (!version) console.log(`natal tests: reminder: the server half was skipped (no server at ${url})`);
process.exit(code);
