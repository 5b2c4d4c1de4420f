/**
 * The backfill on a real server, where it matters most: separation of duties by database
 * roles that log in as themselves, a kill -9 in the middle of an apply and its resume,
 * inserts into the collection while an apply runs, and one apply at a time.
 * (PGlite is one process and one connection; these run on the server only.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { grant } from './helpers/actors.js';
import { dropNatalRoles, SERVER_URL } from './helpers/backends.js';
import { NATAL_BIN, natal } from './helpers/cli.js';
import { rejects } from './helpers/setup.js';
import { waitFor } from './helpers/wait.js';

const unique = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`;

/** The server URL, logging in as `role` (the test server trusts local logins). */
function urlAs(role: string): string {
  const u = new URL(SERVER_URL as string);
  u.username = role;
  u.password = '';
  return u.toString();
}

describe(
  'backfill on a server [server]',
  SERVER_URL === undefined ? { skip: 'no PostgreSQL server (NATAL_TEST_DATABASE_URL)' } : {},
  () => {
    const schema = unique('natal');
    const app = unique('app');
    const roles = {
      author: unique('natal_author'),
      reviewer: unique('natal_reviewer'),
      owner: unique('natal_owner'),
    };
    let admin: pg.Client;
    let registry: Registry;
    const opened: Registry[] = [];
    let n = 0;

    const count = async (sql: string, params: unknown[] = []) =>
      Number((await admin.query<{ n: string }>(sql, params)).rows[0]?.n);

    /** A plan of collection `c` taken through the gate by its three people; its id. */
    async function approve(c: string): Promise<number> {
      const plan = await (await login(roles.author)).plan([c]);
      await (await login(roles.author)).rehearse(plan.plan_id);
      await (await login(roles.reviewer)).approve(plan.plan_id, 'review');
      await (await login(roles.owner)).approve(plan.plan_id, 'permit');
      return plan.plan_id;
    }

    async function login(role: string): Promise<Registry> {
      const r = await Registry.open({ db: urlAs(role), schema });
      opened.push(r);
      return r;
    }

    /** A wired collection of `rows` rows with no births, owned by the owner role. */
    async function collection(rows: number): Promise<string> {
      n += 1;
      const q = `${quoteIdent(app)}.t${n}`;
      await admin.query(`CREATE TABLE ${q} (id int PRIMARY KEY, v text);
        INSERT INTO ${q} SELECT g, 'v' FROM generate_series(1, ${rows}) g`);
      const c = await registry.addCollection({
        table: `${app}.t${n}`,
        species: 'SPE-ROW',
        owner: roles.owner,
      });
      await registry.wire([c.collection_name]);
      return c.collection_name;
    }

    before(async () => {
      admin = new pg.Client({ connectionString: SERVER_URL });
      await admin.connect();
      for (const role of Object.values(roles)) await admin.query(`CREATE ROLE ${quoteIdent(role)} LOGIN`);
      registry = await Registry.open({ db: SERVER_URL, schema });
      await registry.init();
      await admin.query(`CREATE SCHEMA ${quoteIdent(app)}`);
      await registry.addSpecies({ code: 'SPE-ROW', prefix: 'ROW', level: 'atom' });
      for (const [person, role] of Object.entries(roles)) await grant(admin, role, schema, person);
    });

    after(async () => {
      for (const r of [...opened, registry]) await r?.close().catch(() => undefined);
      await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      await dropNatalRoles(admin, schema);
      await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(app)} CASCADE`);
      for (const role of Object.values(roles)) {
        await admin.query(`DROP OWNED BY ${quoteIdent(role)}`).catch(() => undefined);
        await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`).catch(() => undefined);
      }
      await admin.end();
    });

    test('two roles: the author cannot review, a non-owner cannot permit, the right roles can', async () => {
      const c = await collection(100);
      const author = await login(roles.author);
      const reviewer = await login(roles.reviewer);
      const owner = await login(roles.owner);
      assert.equal(await author.actor(), roles.author);
      const plan = await author.plan([c]);
      assert.equal(plan.author, roles.author);
      assert.equal((await author.rehearse(plan.plan_id)).ok, true);
      await rejects(author.approve(plan.plan_id, 'review'), 'NOT_PERMITTED', /is not a natal reviewer/);
      await rejects(
        reviewer.approve(plan.plan_id, 'permit'),
        'APPROVAL_REFUSED',
        /a permit comes from an owner/,
      );
      // The author cannot pass for someone else: on a server --as needs a superuser session.
      await assert.rejects(
        Registry.open({ db: urlAs(roles.author), schema, as: roles.reviewer }),
        /cannot act as/,
      );
      // Nor by setting what the embedded backend reads: the server ignores natal.actor.
      await author.db.query(`SELECT set_config('natal.actor', $1, false)`, [roles.reviewer]);
      await rejects(
        author.approve(plan.plan_id, 'permit'),
        'APPROVAL_REFUSED',
        /wrote plan \d+ and cannot permit/,
      );
      await reviewer.approve(plan.plan_id, 'review');
      await rejects(author.apply(plan.plan_id), 'APPLY_REFUSED', /no permit/);
      await owner.approve(plan.plan_id, 'permit');
      const applied = await author.apply(plan.plan_id);
      assert.equal(applied.born, 100);
      const ledger = await author.ledger({ plan: plan.plan_id });
      assert.deepEqual(
        [...new Set(ledger.map((l) => `${l.step}:${l.actor}`))],
        [`PLAN:${roles.author}`, `REHEARSAL:${roles.author}`, `APPLY:${roles.author}`],
      );
      const approvals = await admin.query(
        `SELECT kind::text, actor FROM ${quoteIdent(schema)}.backfill_approval WHERE plan_id = $1 ORDER BY kind`,
        [plan.plan_id],
      );
      assert.deepEqual(approvals.rows, [
        { kind: 'permit', actor: roles.owner },
        { kind: 'review', actor: roles.reviewer },
      ]);
    });

    test('a direct SQL apply by a client that skips the CLI is refused without approvals', async () => {
      const c = await collection(10);
      const plan = await registry.plan([c]);
      const client = new pg.Client({ connectionString: urlAs(roles.author) });
      await client.connect();
      try {
        // first the rehearsal the gate begins with, then the approvals
        await assert.rejects(
          client.query(`SELECT ${quoteIdent(schema)}.apply_begin($1, 1000)`, [plan.plan_id]),
          (err: { code?: string; message: string }) =>
            err.code === 'NB027' && /has not been rehearsed, so it cannot be applied/.test(err.message),
        );
        await registry.rehearse(plan.plan_id);
        await assert.rejects(
          client.query(`SELECT ${quoteIdent(schema)}.apply_begin($1, 1000)`, [plan.plan_id]),
          (err: { code?: string; message: string }) => err.code === 'NB017' && /no review/.test(err.message),
        );
      } finally {
        await client.end();
      }
      assert.equal(
        await count(
          `SELECT count(*) AS n FROM ${quoteIdent(schema)}.birth_registry WHERE run_id IS NOT NULL AND collection_name = $1`,
          [c],
        ),
        0,
      );
    });

    test('one apply at a time: a running apply refuses a second; a key anyone takes, here or in another database, blocks nothing', async () => {
      const q = quoteIdent(schema);
      const [c1, c2] = [await collection(10), await collection(10)];
      const [p1, p2] = [await approve(c1), await approve(c2)];
      // natal 0.1's key, and any other, taken by a role that is not natal's: nothing blocks.
      const outsider = new pg.Client({ connectionString: urlAs(roles.owner) });
      await outsider.connect();
      const holder = new pg.Client({ connectionString: urlAs(roles.author) });
      await holder.connect();
      const other = unique('natal_other');
      await admin.query(`CREATE DATABASE ${quoteIdent(other)}`);
      const elsewhere = new pg.Client({ connectionString: SERVER_URL?.replace(/\/[^/]*$/, `/${other}`) });
      await elsewhere.connect();
      try {
        await outsider.query(`SELECT pg_advisory_lock(28257, hashtext('natal apply ' || $1))`, [schema]);
        // An apply under way on another session holds the lock: a second apply is refused.
        const run = Number(
          (await holder.query<{ r: string }>(`SELECT ${q}.apply_begin($1, 1000) AS r`, [p1])).rows[0]?.r,
        );
        const runs = await count(`SELECT count(*) AS n FROM ${q}.backfill_run`);
        await rejects(
          (await login(roles.author)).apply(p2),
          'APPLY_RUNNING',
          /another apply is running \(backend pid \d+\)/,
        );
        assert.equal(await count(`SELECT count(*) AS n FROM ${q}.backfill_run`), runs);
        // The same key taken in another database of the cluster is not this apply's lock.
        const key = (await admin.query<{ k: number }>(`SELECT lock_key AS k FROM ${q}.apply_lock`)).rows[0]
          ?.k;
        await elsewhere.query('SELECT pg_advisory_lock(28257, $1)', [key]);
        for (;;) {
          const next = await holder.query<{ c: string; a: string | null; u: string | null }>(
            `SELECT collection_name AS c, after_key::text AS a, upto_key::text AS u FROM ${q}.apply_next($1, 1000, 1)`,
            [run],
          );
          const r = next.rows[0];
          if (!r) break;
          await holder.query(`SELECT ${q}.apply_range($1, $2, $3::jsonb, $4::jsonb)`, [run, r.c, r.a, r.u]);
          await holder.query(`SELECT ${q}.apply_advance($1, $2, $3::jsonb)`, [run, r.c, r.u]);
        }
        const done = await holder.query(`SELECT * FROM ${q}.apply_finish($1)`, [run]);
        assert.equal(Number(done.rows[0]?.born), 10);
      } finally {
        await outsider.end();
        await holder.end();
        await elsewhere.end();
        await admin.query(`DROP DATABASE ${quoteIdent(other)}`);
      }
      // With the first apply finished, the second goes through.
      assert.equal((await (await login(roles.author)).apply(p2)).born, 10);
    });

    test('natal apply --wait waits for the apply that runs, then applies; without it, refused at once', async () => {
      const q = quoteIdent(schema);
      const [c1, c2] = [await collection(10), await collection(10)];
      const [p1, p2] = [await approve(c1), await approve(c2)];
      const holder = new pg.Client({ connectionString: urlAs(roles.author) });
      await holder.connect();
      try {
        await holder.query(`SELECT ${q}.apply_begin($1, 1000)`, [p1]);
        const apply = (...flags: string[]) =>
          natal(['apply', String(p2), ...flags, '--db', urlAs(roles.author), '--schema', schema]);
        const refused = await apply();
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /another apply is running/);
        const short = await apply('--wait', '0.5');
        assert.equal(short.code, 1);
        assert.match(
          short.stderr,
          /another apply is running .*; waiting up to 0\.5 s \(--wait\)\n[\s\S]*another apply is running/,
        );
        const started = Date.now();
        const waiting = apply('--wait', '30');
        await new Promise((r) => setTimeout(r, 1500));
        await holder.query(`SELECT ${q}.apply_release()`);
        const r = await waiting;
        assert.equal(r.code, 0, r.stderr);
        assert.ok(Date.now() - started >= 1500);
        assert.match(r.stderr, /waiting up to 30 s \(--wait\)/);
        assert.match(r.stdout, /10 births/);
      } finally {
        await holder.end();
      }
    });

    test('kill -9 in the middle of an apply, then --resume: exactly the planned births', async () => {
      const c = await collection(60_000);
      const plan = await registry.plan([c]);
      await registry.rehearse(plan.plan_id);
      await (await login(roles.reviewer)).approve(plan.plan_id, 'review');
      await (await login(roles.owner)).approve(plan.plan_id, 'permit');
      const child = spawn(
        process.execPath,
        [
          NATAL_BIN,
          'apply',
          String(plan.plan_id),
          '--batch-size',
          '500',
          '--db',
          SERVER_URL as string,
          '--schema',
          schema,
        ],
        { stdio: 'ignore' },
      );
      const exited = new Promise((resolve) => child.on('exit', resolve));
      // The point of the kill is made, not waited for: births are held back (a SHARE lock on
      // the registry) until the run has pinned its ranges; then range 5 is held (its row
      // locked) and the rest let go. Ranges 1-4 commit, and with them range 6 (the other
      // lane); range 5 waits with its births written, uncommitted, when the kill comes.
      const q = quoteIdent(schema);
      const births = new pg.Client({ connectionString: SERVER_URL });
      const range5 = new pg.Client({ connectionString: SERVER_URL });
      await births.connect();
      await range5.connect();
      let runId = 0;
      try {
        await births.query(`BEGIN; LOCK TABLE ${q}.birth_registry IN SHARE MODE`);
        await waitFor(async () => {
          const { rows } = await admin.query<{ r: string | null }>(
            `SELECT max(run_id) AS r FROM ${q}.backfill_range WHERE run_id IN
               (SELECT run_id FROM ${q}.backfill_run WHERE plan_id = $1)`,
            [plan.plan_id],
          );
          runId = Number(rows[0]?.r ?? 0);
          return runId > 0;
        }, 'the run pinned its ranges');
        await range5.query('BEGIN');
        await range5.query(`SELECT 1 FROM ${q}.backfill_range WHERE run_id = $1 AND seq = 5 FOR UPDATE`, [
          runId,
        ]);
        await births.query('ROLLBACK');
        await waitFor(async () => {
          const { rows } = await admin.query<{ done: string; waiting: string }>(
            `SELECT (SELECT count(*) FROM ${q}.backfill_range WHERE run_id = $1 AND done) AS done,
                    (SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid') AS waiting`,
            [runId],
          );
          return Number(rows[0]?.done) === 5 && Number(rows[0]?.waiting) >= 1;
        }, 'ranges 1-4 and 6 written, range 5 waiting');
        child.kill('SIGKILL');
        await exited;
      } finally {
        await births.end();
        await range5.end(); // range 5's statement may now finish, or end with its session
      }
      // The server ends the dead sessions, and the lock with them: then the run's state is final.
      await waitFor(async () => {
        const { rows } = await admin.query<{ pid: number | null }>(`SELECT ${q}.apply_lock_holder() AS pid`);
        return rows[0]?.pid === null;
      }, 'the lock went with the killed apply');
      const run = await admin.query<{ run_id: string; status: string; born: string }>(
        `SELECT run_id, status::text,
                (SELECT count(*) FROM ${quoteIdent(schema)}.birth_registry b WHERE b.run_id = r.run_id) AS born
         FROM ${quoteIdent(schema)}.backfill_run r WHERE plan_id = $1`,
        [plan.plan_id],
      );
      const killed = run.rows[0] as { run_id: string; status: string; born: string };
      assert.equal(killed.status, 'running');
      const partial = Number(killed.born);
      // ranges 1-4 and 6; range 5 too when its statement finished before its session ended
      assert.ok(partial === 2500 || partial === 3000, `part 1 made ${partial} births`);
      // The killed session's lock went with it; a plain apply is told to resume.
      const again = await natal([
        'apply',
        String(plan.plan_id),
        '--db',
        SERVER_URL as string,
        '--schema',
        schema,
      ]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, new RegExp(`--resume ${killed.run_id}`));
      const resumed = await natal([
        'apply',
        String(plan.plan_id),
        '--resume',
        killed.run_id,
        '--json',
        '--db',
        SERVER_URL as string,
        '--schema',
        schema,
      ]);
      assert.equal(resumed.code, 0, resumed.stderr);
      const out = JSON.parse(resumed.stdout) as { run_id: number; born: number; gap_after: number };
      assert.deepEqual([out.run_id, out.born, out.gap_after], [Number(killed.run_id), 60_000, 0]);
      assert.equal(
        await count(
          `SELECT count(*) AS n FROM ${quoteIdent(schema)}.birth_registry WHERE collection_name = $1`,
          [c],
        ),
        60_000,
      );
      const ledger = await registry.ledger({ run: Number(killed.run_id) });
      assert.deepEqual(
        ledger.map((l) => [l.step, l.collection, l.actual, l.detail.part, l.detail.ended ?? null]),
        [
          ['APPLY', null, partial, 1, 'interrupted'],
          ['APPLY', c, 60_000, 2, null],
        ],
      );
    });

    test('inserts into the collection while an apply runs: no duplicates, no orphans', async () => {
      const c = await collection(40_000);
      const plan = await registry.plan([c]);
      await registry.rehearse(plan.plan_id);
      await (await login(roles.reviewer)).approve(plan.plan_id, 'review');
      await (await login(roles.owner)).approve(plan.plan_id, 'permit');
      const writer = new pg.Client({ connectionString: SERVER_URL });
      await writer.connect();
      let stop = false;
      let inserted = 0;
      const writing = (async () => {
        // New rows on both sides of the apply's cursor: low ids (passed) and high ones (ahead).
        while (!stop) {
          const id = inserted % 2 === 0 ? -1 - inserted : 100_000 + inserted;
          await writer.query(`INSERT INTO ${c} VALUES ($1, 'during')`, [id]);
          inserted += 1;
        }
      })();
      try {
        const applied = await registry.apply(plan.plan_id, {
          batchSize: 1000,
          onBatch: () => undefined,
        });
        stop = true;
        await writing;
        assert.equal(applied.born, 40_000, 'the run births exactly the planned rows');
        assert.ok(inserted > 0, 'rows were inserted during the apply');
      } finally {
        stop = true;
        await writing.catch(() => undefined);
        await writer.end();
      }
      const census = await registry.census([c]);
      assert.deepEqual(
        [
          census.collections[0]?.rows,
          census.collections[0]?.births,
          census.collections[0]?.gap,
          census.collections[0]?.phantoms,
        ],
        [40_000 + inserted, 40_000 + inserted, 0, 0],
      );
    });
  },
);
