/**
 * natal on a Citus coordinator (issue 19; `npm run test:citus`, on the cluster of
 * `../shared/citus/cluster up`): natal's objects stay the coordinator's, nothing of natal's
 * is on the workers; the coordinator's local tables are governed as on any server;
 * distributed and reference tables are governed without triggers (the gateway, and the
 * backfill through the whole gate, their rows read on the workers as the tables' owner); a
 * Citus local table is refused with the reason. Skipped, visibly, without a cluster
 * (NATAL_TEST_CITUS_URL); `npm run test:citus` and CI require it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { dropNatalRoles } from './helpers/backends.js';
import { NATAL_BIN, natal } from './helpers/cli.js';
import { waitFor } from './helpers/wait.js';

const URL_ = process.env.NATAL_TEST_CITUS_URL;

/** A statement on one node, as postgres; `propagate`: let Citus send its DDL to the workers. */
async function onNode(
  url: string,
  sql: string,
  propagate = false,
  params: unknown[] = [],
): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    if (!propagate) await client.query('SET citus.enable_ddl_propagation = off');
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/** Drops the roles natal init made for `schema` on the coordinator (natal made them there only). */
async function dropLocalNatalRoles(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SET citus.enable_ddl_propagation = off');
    await dropNatalRoles(client, schema);
  } finally {
    await client.end();
  }
}

describe(
  'natal on a Citus coordinator',
  { skip: URL_ ? false : 'no Citus cluster (NATAL_TEST_CITUS_URL)' },
  () => {
    const url = URL_ as string;
    const tag = randomBytes(4).toString('hex');
    const schema = `natal_cit_${tag}`;
    const app = `capp_${tag}`; // the coordinator's own (local) tables
    const dist = `cdist_${tag}`; // tables Citus manages, on every node
    const writer = `cwriter_${tag}`;
    const owner = `cowner_${tag}`; // owns the distributed tables: a role of every node
    const operator = `coperator_${tag}`;
    const reviewer = `creviewer_${tag}`;
    const d = quoteIdent(dist);
    /** The coordinator's URL, logged in as `role` (trust auth). */
    const as = (role: string) => {
      const u = new URL(url);
      u.username = role;
      return u.toString();
    };
    let registry: Registry;
    let workers: string[] = [];
    const cli = (...args: string[]) => natal(['--db', url, '--schema', schema, ...args]);

    before(async () => {
      const { rows } = await onNode(
        url,
        `SELECT format('postgres://postgres@%s:%s/%s', nodename, nodeport, current_database()) AS url
       FROM pg_dist_node WHERE groupid > 0 AND isactive ORDER BY nodeport`,
      );
      workers = rows.map((r) => r.url as string);
      registry = await Registry.open({ db: url, schema });
      await registry.init();
    });

    after(async () => {
      await registry?.close();
      await onNode(url, `DROP SCHEMA IF EXISTS ${quoteIdent(dist)} CASCADE`, true);
      await onNode(
        url,
        `DROP SCHEMA IF EXISTS ${quoteIdent(app)} CASCADE; DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`,
      );
      for (const r of [writer, operator, reviewer]) {
        await onNode(url, `DROP OWNED BY ${quoteIdent(r)}; DROP ROLE IF EXISTS ${quoteIdent(r)}`).catch(
          () => undefined,
        );
      }
      await onNode(
        url,
        `DROP OWNED BY ${quoteIdent(owner)}; DROP ROLE IF EXISTS ${quoteIdent(owner)}`,
        true,
      ).catch(() => undefined);
      await dropLocalNatalRoles(url, schema);
    });

    test("natal init keeps natal's schema and roles on the coordinator; doctor finds nothing", async () => {
      assert.ok(workers.length >= 2, `the cluster has its workers: ${workers.join(', ')}`);
      const here = await onNode(
        url,
        'SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1',
        false,
        [schema],
      );
      assert.equal(here.rows[0]?.n, 1);
      for (const w of workers) {
        const { rows } = await onNode(
          w,
          `SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = $1)::int AS schemas,
                (SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1 || '_'))::int AS roles`,
          false,
          [schema],
        );
        assert.deepEqual(rows[0], { schemas: 0, roles: 0 }, `nothing of natal's on ${w}`);
      }
      assert.deepEqual((await registry.doctor()).findings, []);
      assert.equal((await cli('init')).code, 0, 'a second init changes nothing');
    });

    test("the coordinator's local tables are governed as on any server: births from several sessions, a census, the gateway, a lookup", async () => {
      await registry.db.exec(`CREATE SCHEMA ${quoteIdent(app)};
      CREATE TABLE ${quoteIdent(app)}.items (id bigint PRIMARY KEY, v text);
      CREATE TABLE ${quoteIdent(app)}.tags (id bigserial PRIMARY KEY, code text UNIQUE, name text)`);
      await registry.addSpecies({ code: 'SPE-CIT', prefix: 'CIT', level: 'atom' });
      await registry.addCollection({ table: `${app}.items`, species: 'SPE-CIT' });
      await registry.addCollection({ table: `${app}.tags`, species: 'SPE-CIT', codeColumn: 'code' });
      await registry.wire([`${app}.items`, `${app}.tags`]);
      // an application role with only natal_writer, as on any server
      await onNode(
        url,
        `CREATE ROLE ${quoteIdent(writer)} LOGIN;
      GRANT USAGE ON SCHEMA ${quoteIdent(app)} TO ${quoteIdent(writer)};
      GRANT INSERT ON ALL TABLES IN SCHEMA ${quoteIdent(app)} TO ${quoteIdent(writer)};
      GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${quoteIdent(app)} TO ${quoteIdent(writer)}`,
      );
      await registry.grantAccess(writer, ['writer']);
      const asWriter = new URL(url);
      asWriter.username = writer;
      await Promise.all(
        [0, 1, 2, 3].map(async (s) => {
          const c = new pg.Client({ connectionString: asWriter.toString() });
          await c.connect();
          try {
            for (let i = 0; i < 50; i++) {
              await c.query(`INSERT INTO ${quoteIdent(app)}.items VALUES ($1, 'v')`, [s * 1000 + i]);
              await c.query(
                `SELECT ${quoteIdent(schema)}.create_entity($1, '{"name": "n"}'::jsonb, 'test')`,
                [`${app}.tags`],
              );
            }
          } finally {
            await c.end();
          }
        }),
      );
      const census = await registry.census();
      const numbers = census.collections.map((c) => [
        c.collection,
        c.rows,
        c.births,
        c.gap,
        c.phantoms,
        c.state,
      ]);
      assert.deepEqual(numbers, [
        [`${app}.items`, 200, 200, 0, 0, 'COMPLETE'],
        [`${app}.tags`, 200, 200, 0, 0, 'COMPLETE'],
      ]);
      const { rows } = await registry.db.query<{ n: number; d: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT code)::int AS d FROM ${quoteIdent(app)}.tags`,
      );
      assert.deepEqual(rows[0], { n: 200, d: 200 }, 'the gateway gave every entity its own code');
      const shown = await cli('show', `${app}.items`, '1001', '--json');
      assert.equal(shown.code, 0, shown.stderr);
      assert.equal(JSON.parse(shown.stdout).entity_code, `${app}.items::1001`);
    });

    test('a distributed table of 100,000 rows and its co-located pair: wired without triggers, backfilled through the gate by three roles, a kill -9 mid-apply resumed; census complete; show', async () => {
      // The application's owner exists on every node (Citus makes the shards its); natal's
      // people only on the coordinator, where they log in.
      await onNode(
        url,
        `CREATE ROLE ${quoteIdent(owner)} LOGIN; CREATE SCHEMA ${quoteIdent(dist)} AUTHORIZATION ${quoteIdent(owner)}`,
        true,
      );
      await onNode(
        as(owner),
        `CREATE TABLE ${d}.orders (id bigint PRIMARY KEY, v text);
         SELECT create_distributed_table('${dist}.orders', 'id');
         INSERT INTO ${d}.orders SELECT g, 'v' FROM generate_series(1, 100000) g;
         CREATE TABLE ${d}.order_lines (order_id bigint, line int, qty int, PRIMARY KEY (order_id, line));
         SELECT create_distributed_table('${dist}.order_lines', 'order_id', colocate_with => '${dist}.orders');
         INSERT INTO ${d}.order_lines SELECT g, l, 1 FROM generate_series(1, 5000) g, generate_series(1, 2) l`,
        true,
      );
      await onNode(
        url,
        `CREATE ROLE ${quoteIdent(operator)} LOGIN; CREATE ROLE ${quoteIdent(reviewer)} LOGIN`,
      );
      await registry.grantAccess(operator, ['operator']);
      await registry.grantAccess(reviewer, ['reviewer']);
      await registry.grantAccess(owner, ['reader']); // (the permit: README)
      await registry.addSpecies({ code: 'SPE-DIS', prefix: 'DIS', level: 'atom' });
      for (const t of ['orders', 'order_lines']) {
        const added = await cli(
          'collection',
          'add',
          `${dist}.${t}`,
          '--species',
          'SPE-DIS',
          '--owner',
          owner,
        );
        assert.equal(added.code, 0, added.stderr);
        if (t === 'order_lines') {
          // (a composite key: the owner's decision)
          const set = await cli(
            'identity',
            'set',
            `${dist}.${t}`,
            '--strategy',
            'composite',
            '--columns',
            'order_id,line',
          );
          assert.equal(set.code, 0, set.stderr);
        }
        const wired = await cli('wire', `${dist}.${t}`);
        assert.equal(wired.code, 0, wired.stderr);
        assert.match(wired.stdout, /no trigger: a Citus table, its rows written on the workers/);
      }
      const inventory = (await registry.triggers()).filter((t) => t.collection_name.startsWith(`${dist}.`));
      assert.deepEqual(
        inventory.map((t) => [t.collection_name, t.kind, t.functional, t.problem]),
        [
          [`${dist}.order_lines`, 'gateway', true, null],
          [`${dist}.orders`, 'gateway', true, null],
        ],
      );
      // no trigger of natal's on the coordinator's shells, nor on the shards
      const shell = await onNode(
        url,
        `SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid IN ($1::regclass, $2::regclass) AND tgname LIKE 'natal%'`,
        false,
        [`${dist}.orders`, `${dist}.order_lines`],
      );
      assert.equal(shell.rows[0]?.n, 0);
      // plan and rehearsal (the operator), review (the reviewer), permit (the owner)
      const asOperator = (...args: string[]) => natal(['--db', as(operator), '--schema', schema, ...args]);
      const planned = await asOperator('plan', `${dist}.orders`, `${dist}.order_lines`, '--json');
      assert.equal(planned.code, 0, planned.stderr);
      const plan = JSON.parse(planned.stdout) as { plan_id: number; expected_total: number };
      assert.equal(plan.expected_total, 110_000);
      const rehearsed = await asOperator('rehearse', String(plan.plan_id));
      assert.equal(rehearsed.code, 0, rehearsed.stderr);
      for (const [who, kind] of [
        [reviewer, '--review'],
        [owner, '--permit'],
      ] as const) {
        const r = await natal(['--db', as(who), '--schema', schema, 'approve', String(plan.plan_id), kind]);
        assert.equal(r.code, 0, r.stderr);
      }
      // the apply, killed once some of its ranges are committed, then resumed
      const q = quoteIdent(schema);
      const child = spawn(
        process.execPath,
        [
          NATAL_BIN,
          '--db',
          as(operator),
          '--schema',
          schema,
          'apply',
          String(plan.plan_id),
          '--batch-size',
          '2000',
        ],
        { stdio: 'ignore' },
      );
      const exited = new Promise((resolve) => child.on('exit', resolve));
      let runId = 0;
      await waitFor(async () => {
        const { rows } = await onNode(
          url,
          `SELECT r.run_id, (SELECT count(*) FROM ${q}.backfill_range g WHERE g.run_id = r.run_id AND g.done)::int AS done
           FROM ${q}.backfill_run r WHERE r.plan_id = $1`,
          false,
          [plan.plan_id],
        );
        runId = Number(rows[0]?.run_id ?? 0);
        return Number(rows[0]?.done ?? 0) >= 3;
      }, 'three ranges applied');
      child.kill('SIGKILL');
      await exited;
      await waitFor(async () => {
        const { rows } = await onNode(url, `SELECT ${q}.apply_lock_holder() AS pid`);
        return rows[0]?.pid === null;
      }, 'the lock went with the killed apply');
      const partial = await onNode(
        url,
        `SELECT (SELECT status::text FROM ${q}.backfill_run WHERE run_id = $1) AS status,
                (SELECT count(*) FROM ${q}.birth_registry WHERE run_id = $1)::int AS born`,
        false,
        [runId],
      );
      assert.equal(partial.rows[0]?.status, 'running');
      assert.ok(
        partial.rows[0]?.born > 0 && partial.rows[0]?.born < 110_000,
        `part 1: ${partial.rows[0]?.born}`,
      );
      const resumed = await asOperator('apply', String(plan.plan_id), '--resume', String(runId), '--json');
      assert.equal(resumed.code, 0, resumed.stderr);
      const out = JSON.parse(resumed.stdout) as { born: number; gap_after: number };
      assert.deepEqual([out.born, out.gap_after], [110_000, 0]);
      const census = await registry.census([`${dist}.orders`, `${dist}.order_lines`]);
      assert.deepEqual(
        census.collections.map((c) => [c.collection, c.rows, c.births, c.gap, c.phantoms, c.state]),
        [
          [`${dist}.order_lines`, 10_000, 10_000, 0, 0, 'COMPLETE'],
          [`${dist}.orders`, 100_000, 100_000, 0, 0, 'COMPLETE'],
        ],
      );
      const shown = await cli('show', `${dist}.orders`, '4242', '--json');
      assert.equal(shown.code, 0, shown.stderr);
      const cert = JSON.parse(shown.stdout) as { entity_code: string; status: string; row: { v: string } };
      assert.deepEqual([cert.entity_code, cert.status, cert.row?.v], [`${dist}.orders::4242`, 'alive', 'v']);
      // A row written around natal (no trigger can birth it on the workers) is an orphan
      // until a backfill births it; the census says so.
      await onNode(as(owner), `INSERT INTO ${d}.orders VALUES (100001, 'late')`);
      const late = (await registry.census([`${dist}.orders`])).collections[0];
      assert.deepEqual([late?.rows, late?.births, late?.gap], [100_001, 100_000, 1]);
      // the governance report of the run, and its rollback (the operator's)
      const report = await cli('report', '--run', String(runId));
      assert.equal(report.code, 0, report.stderr);
      assert.match(report.stdout, new RegExp(`${dist}\\.orders`));
      assert.match(report.stdout, /110,000/);
      const rolled = await asOperator('rollback', String(runId));
      assert.equal(rolled.code, 0, rolled.stderr);
      const undone = (await registry.census([`${dist}.orders`])).collections[0];
      assert.deepEqual([undone?.births, undone?.gap], [0, 100_001]);
    });

    test('a distributed table and a reference table with code columns: the gateway from several sessions as an application role, no duplicate, census complete', async () => {
      await onNode(
        as(owner),
        `CREATE TABLE ${d}.labels (id bigserial PRIMARY KEY, code text, name text);
         SELECT create_distributed_table('${dist}.labels', 'id');
         CREATE TABLE ${d}.countries (id bigserial PRIMARY KEY, code text, name text);
         SELECT create_reference_table('${dist}.countries')`,
        true,
      );
      // the same species as the coordinator's tags: each gateway probes the others' codes
      for (const t of ['labels', 'countries']) {
        const added = await cli(
          'collection',
          'add',
          `${dist}.${t}`,
          '--species',
          'SPE-CIT',
          '--code-column',
          'code',
        );
        assert.equal(added.code, 0, added.stderr);
        assert.equal((await cli('wire', `${dist}.${t}`)).code, 0);
      }
      // a gateway function dropped since wiring (of the table wired last, whose inputs are
      // still those wiring recorded): the inventory says so, wiring again mends it
      const { rows: fn } = await registry.db.query<{ f: string }>(
        `SELECT ${quoteIdent(schema)}.gateway_function($1) AS f`,
        [`${dist}.countries`],
      );
      await onNode(url, `DROP FUNCTION ${quoteIdent(schema)}.${quoteIdent(fn[0]?.f as string)}(jsonb, text)`);
      // (both inventories: natal triggers', every source generated again, and the census's,
      // compared with what wiring recorded)
      const broken = (await registry.triggers()).find((t) => t.collection_name === `${dist}.countries`);
      const { rows: recorded } = await registry.db.query<{ functional: boolean; problem: string }>(
        `SELECT functional, problem FROM ${quoteIdent(schema)}.trigger_inventory(ARRAY[$1], false)`,
        [`${dist}.countries`],
      );
      for (const state of [broken, recorded[0]])
        assert.deepEqual(
          [state?.functional, state?.problem],
          [false, 'gateway altered or missing since it was wired: run natal wire'],
        );
      assert.equal((await cli('wire', `${dist}.countries`)).code, 0);
      const mended = (await registry.triggers()).find((t) => t.collection_name === `${dist}.countries`);
      assert.deepEqual([mended?.functional, mended?.problem], [true, null]);
      await onNode(
        url,
        `GRANT USAGE ON SCHEMA ${d} TO ${quoteIdent(writer)};
         GRANT INSERT ON ${d}.labels, ${d}.countries TO ${quoteIdent(writer)}`,
      );
      await Promise.all(
        [0, 1, 2, 3].map(async () => {
          const c = new pg.Client({ connectionString: as(writer) });
          await c.connect();
          try {
            for (let i = 0; i < 15; i++) {
              for (const t of ['labels', 'countries', 'tags']) {
                await c.query(
                  `SELECT ${quoteIdent(schema)}.create_entity($1, '{"name": "n"}'::jsonb, 'test')`,
                  [`${t === 'tags' ? app : dist}.${t}`],
                );
              }
            }
          } finally {
            await c.end();
          }
        }),
      );
      const census = await registry.census([`${dist}.labels`, `${dist}.countries`]);
      assert.deepEqual(
        census.collections.map((c) => [c.collection, c.rows, c.births, c.gap, c.phantoms, c.state]),
        [
          [`${dist}.countries`, 60, 60, 0, 0, 'COMPLETE'],
          [`${dist}.labels`, 60, 60, 0, 0, 'COMPLETE'],
        ],
      );
      const { rows } = await onNode(
        url,
        `SELECT count(*)::int AS n, count(DISTINCT code)::int AS d FROM (
           SELECT code FROM ${d}.labels UNION ALL SELECT code FROM ${d}.countries
           UNION ALL SELECT code FROM ${quoteIdent(app)}.tags) AS x`,
      );
      assert.equal(rows[0]?.n, rows[0]?.d, 'every entity of the species has its own code');
      assert.equal(rows[0]?.n, 60 + 60 + 200 + 60);
      // what needs a trigger where the rows are written is refused or left off, and said
      const strict = await cli('collection', 'set', `${dist}.labels`, '--strict');
      assert.equal(strict.code, 1);
      assert.match(
        strict.stderr,
        /is strict, and its table is a distributed table \(Citus\): natal cannot refuse/,
      );
      assert.equal(
        (await registry.listCollections()).find((c) => c.collection_name === `${dist}.labels`)?.strict_mode,
        false,
        'nothing changed',
      );
      const kept = await cli('census', '--keeping', 'on');
      assert.equal(kept.code, 0, kept.stderr);
      const shells = await onNode(
        url,
        `SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid IN ($1::regclass, $2::regclass) AND tgname LIKE 'natal%'`,
        false,
        [`${dist}.labels`, `${dist}.countries`],
      );
      assert.equal(shells.rows[0]?.n, 0, 'the kept census puts no trigger on the shells');
      assert.equal((await cli('census', '--keeping', 'off')).code, 0);
    });

    test('a Citus local table is refused at registration, with the reason and what to do', async () => {
      await onNode(
        as(owner),
        `CREATE TABLE ${d}.notes (id bigint PRIMARY KEY, v text);
         SELECT citus_add_local_table_to_metadata('${dist}.notes')`,
        true,
      );
      const r = await cli('collection', 'add', `${dist}.notes`, '--species', 'SPE-CIT');
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /is a Citus local table \(Citus\): natal does not govern Citus local tables/);
      await assert.rejects(registry.addCollection({ table: `${dist}.notes`, species: 'SPE-CIT' }), {
        code: 'CITUS_TABLE_UNSUPPORTED',
      });
    });

    test("with startup options in its URL natal's DDL stays on the coordinator too; after everything, nothing of natal's is on the workers", async () => {
      const other = `natal_cit2_${tag}`;
      const withOptions = new URL(url);
      withOptions.searchParams.set('options', '-c statement_timeout=0');
      try {
        const r = await natal(['--db', withOptions.toString(), '--schema', other, 'init']);
        assert.equal(r.code, 0, r.stderr);
      } finally {
        await onNode(url, `DROP SCHEMA IF EXISTS ${quoteIdent(other)} CASCADE`);
        await dropLocalNatalRoles(url, other);
      }
      for (const w of workers) {
        const { rows } = await onNode(
          w,
          `SELECT (SELECT count(*) FROM pg_namespace WHERE nspname IN ($1, $2))::int AS schemas,
                  (SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1 || '_') OR starts_with(rolname, $2 || '_'))::int AS roles,
                  (SELECT count(*) FROM pg_proc WHERE starts_with(proname, 'birth_'))::int AS functions`,
          false,
          [schema, other],
        );
        assert.deepEqual(rows[0], { schemas: 0, roles: 0, functions: 0 }, `nothing of natal's on ${w}`);
      }
    });
  },
);
