/**
 * An apply whose database connection is cut (pg_terminate_backend on its session, as a
 * server restart or a network drop would): the CLI ends with one line that names the run
 * and how to continue, exit 1, and `--resume` then finishes the run. (Server only: PGlite
 * has no connection to lose.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { grant } from './helpers/actors.js';
import { SERVER_URL, dropNatalRoles } from './helpers/backends.js';
import { type CliResult, NATAL_BIN, natal } from './helpers/cli.js';

const unique = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The server URL, logging in as `role` (the test server trusts local logins). */
function urlAs(role: string): string {
  const u = new URL(SERVER_URL as string);
  u.username = role;
  u.password = '';
  return u.toString();
}

/** Runs natal like helpers/cli.ts does, but hands back the child too, to watch it run. */
function start(args: string[]): Promise<CliResult> {
  const env = { ...process.env };
  delete env.NATAL_DATABASE_URL;
  const child = spawn(process.execPath, [NATAL_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe(
  'apply when the connection is lost [server]',
  SERVER_URL === undefined ? { skip: 'no PostgreSQL server (NATAL_TEST_DATABASE_URL)' } : {},
  () => {
    const schema = unique('natal');
    const app = unique('app');
    const roles = { reviewer: unique('natal_reviewer'), owner: unique('natal_owner') };
    const ns = quoteIdent(schema);
    const target = ['--db', SERVER_URL as string, '--schema', schema];
    let admin: pg.Client;
    let registry: Registry;
    const opened: Registry[] = [];

    async function login(role: string): Promise<Registry> {
      const r = await Registry.open({ db: urlAs(role), schema });
      opened.push(r);
      return r;
    }

    before(async () => {
      admin = new pg.Client({ connectionString: SERVER_URL });
      await admin.connect();
      for (const role of Object.values(roles)) await admin.query(`CREATE ROLE ${quoteIdent(role)} LOGIN`);
      registry = await Registry.open({ db: SERVER_URL, schema });
      await registry.init();
      await admin.query(`CREATE SCHEMA ${quoteIdent(app)}`);
      await registry.addSpecies({ code: 'SPE-ROW', prefix: 'ROW', level: 'atom' });
    });

    after(async () => {
      for (const r of [...opened, registry]) await r?.close().catch(() => undefined);
      await admin.query(`DROP SCHEMA IF EXISTS ${ns} CASCADE`);
      await dropNatalRoles(admin, schema);
      await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(app)} CASCADE`);
      for (const role of Object.values(roles)) {
        await admin.query(`DROP OWNED BY ${quoteIdent(role)}`).catch(() => undefined);
        await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`).catch(() => undefined);
      }
      await admin.end();
    });

    /**
     * Applies a plan of 100,000 births in a subprocess, cuts `victims` once a few batches are
     * committed, then checks the one line, the run left resumable, and the resume.
     */
    async function cutAndResume(name: string, victims: 'lock holder' | 'every session'): Promise<void> {
      const rows = 100_000;
      const table = `${quoteIdent(app)}.${name}`;
      await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text);
        INSERT INTO ${table} SELECT g, 'v' FROM generate_series(1, ${rows}) g`);
      const c = (
        await registry.addCollection({ table: `${app}.${name}`, species: 'SPE-ROW', owner: roles.owner })
      ).collection_name;
      await registry.wire([c]);
      for (const [person, role] of Object.entries(roles)) await grant(admin, role, schema, person);
      const plan = (await registry.plan([c])).plan_id;
      await registry.rehearse(plan);
      await (await login(roles.reviewer)).approve(plan, 'review');
      await (await login(roles.owner)).approve(plan, 'permit');

      const applying = start(['apply', String(plan), '--batch-size', '500', '--json', ...target]);
      // Wait until a few batches are committed, then cut the session that holds the apply lock.
      let batches = 0;
      let run = 0;
      for (let i = 0; i < 1000 && batches < 4; i += 1) {
        await sleep(10);
        const r = await admin.query<{ run_id: number; b: number | null }>(
          `SELECT run_id, (cursor->>'batches')::int AS b FROM ${ns}.backfill_run WHERE plan_id = $1`,
          [plan],
        );
        batches = r.rows[0]?.b ?? 0;
        run = Number(r.rows[0]?.run_id ?? 0);
      }
      assert.ok(batches >= 4, 'the apply got going');
      const holder = await admin.query<{ pid: number | null }>(`SELECT ${ns}.apply_lock_holder() AS pid`);
      const pid = holder.rows[0]?.pid;
      assert.ok(pid, 'the apply holds the lock');
      // The lock holder alone (pg_terminate_backend), or every session of the apply, as a
      // server restart does.
      const cut = await admin.query<{ ok: boolean }>(
        victims === 'lock holder'
          ? `SELECT pg_terminate_backend($1) AS ok`
          : `SELECT bool_and(pg_terminate_backend(pid)) AS ok FROM pg_stat_activity
             WHERE application_name = 'natal' AND pid <> pg_backend_pid() AND (pid = $1 OR query LIKE $2)`,
        victims === 'lock holder' ? [pid] : [pid, `%${schema}%apply_%`],
      );
      assert.equal(cut.rows[0]?.ok, true);

      const res = await applying;
      const message = `the connection to the database was lost during run ${run} of plan ${plan}; the run is resumable: natal apply ${plan} --resume ${run}`;
      assert.equal(res.code, 1, res.stderr);
      assert.equal(res.stderr, `natal: ${message}\n`);
      assert.deepEqual(JSON.parse(res.stdout), { error: { code: 'CONNECTION_LOST', message } });
      const state = await admin.query<{ status: string; born: number }>(
        `SELECT status::text, (SELECT count(*)::int FROM ${ns}.birth_registry b WHERE b.run_id = r.run_id) AS born
         FROM ${ns}.backfill_run r WHERE run_id = $1`,
        [run],
      );
      assert.equal(state.rows[0]?.status, 'running');
      const partial = state.rows[0]?.born ?? 0;
      assert.ok(partial > 0 && partial < rows, `part 1 made ${partial} births`);

      // The dead client's other sessions end with its process; then the run is resumed.
      for (let i = 0; i < 500; i += 1) {
        const busy = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE application_name = 'natal' AND pid <> pg_backend_pid() AND query LIKE $1`,
          [`%${schema}%apply_%`],
        );
        const lock = await admin.query<{ pid: number | null }>(`SELECT ${ns}.apply_lock_holder() AS pid`);
        if (busy.rows[0]?.n === 0 && lock.rows[0]?.pid === null) break;
        await sleep(20);
      }
      const resumed = await natal(['apply', String(plan), '--resume', String(run), '--json', ...target]);
      assert.equal(resumed.code, 0, resumed.stderr);
      const out = JSON.parse(resumed.stdout) as { run_id: number; born: number; gap_after: number };
      assert.deepEqual([out.run_id, out.born, out.gap_after], [run, rows, 0]);
      const births = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${ns}.birth_registry WHERE collection_name = $1`,
        [c],
      );
      assert.equal(births.rows[0]?.n, rows);
    }

    test('its backend terminated mid-apply: one line naming the run, exit 1; --resume completes it', () =>
      cutAndResume('cut_one', 'lock holder'));

    test('every session of the apply terminated, as a restart does: the same line, the same resume', () =>
      cutAndResume('cut_all', 'every session'));
  },
);
