/**
 * natal on a Citus coordinator (issue 19; `npm run test:citus`, on the cluster of
 * `../shared/citus/cluster up`): natal's objects stay the coordinator's, the coordinator's
 * local tables are governed as on any server, and a table Citus manages (distributed,
 * reference) is refused with the reason, whether at registration, at wiring, or in a census
 * after it was distributed behind natal's back. Skipped, visibly, without a cluster
 * (NATAL_TEST_CITUS_URL); `npm run test:citus` and CI require it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { dropNatalRoles } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

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
      await onNode(
        url,
        `DROP OWNED BY ${quoteIdent(writer)}; DROP ROLE IF EXISTS ${quoteIdent(writer)}`,
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
                (SELECT count(*) FROM pg_roles WHERE rolname LIKE $1 || '\\_%')::int AS roles`,
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

    test('a distributed or a reference table is refused at registration, with the reason and what to do', async () => {
      await onNode(
        url,
        `CREATE SCHEMA ${quoteIdent(dist)};
       CREATE TABLE ${quoteIdent(dist)}.orders (id bigint PRIMARY KEY, v text);
       SELECT create_distributed_table('${dist}.orders', 'id');
       CREATE TABLE ${quoteIdent(dist)}.countries (id bigint PRIMARY KEY);
       SELECT create_reference_table('${dist}.countries')`,
        true,
      );
      for (const [table, kind] of [
        ['orders', 'distributed'],
        ['countries', 'reference'],
      ]) {
        const r = await cli('collection', 'add', `${dist}.${table}`, '--species', 'SPE-CIT');
        assert.equal(r.code, 1);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(`is a ${kind} table \\(Citus\\): natal does not govern Citus tables yet`),
        );
        assert.match(r.stderr, /keep the table a local table of the coordinator/);
      }
      await assert.rejects(registry.addCollection({ table: `${dist}.orders`, species: 'SPE-CIT' }), {
        code: 'CITUS_TABLE_UNSUPPORTED',
      });
      assert.equal(
        (await registry.listCollections()).filter((c) => c.table_schema === dist).length,
        0,
        'nothing registered',
      );
    });

    test("a Citus table of the species is not probed by a local collection's gateway; classify says why it leaves one alone", async () => {
      // a code-column collection of the same species as tags, distributed after registration
      await onNode(url, `CREATE TABLE ${quoteIdent(dist)}.labels (id bigint PRIMARY KEY, code text)`, true);
      await registry.addCollection({ table: `${dist}.labels`, species: 'SPE-CIT', codeColumn: 'code' });
      await onNode(url, `SELECT create_distributed_table('${dist}.labels', 'id')`, true);
      // the gateway made at wiring probed labels: the inventory says so, and wiring again
      // makes one that leaves the Citus table alone
      const tags = (await registry.triggers()).find((t) => t.collection_name === `${app}.tags`);
      assert.match(tags?.problem ?? '', /stale configuration/);
      assert.equal((await cli('wire', `${app}.tags`)).code, 0);
      const made = await cli('create', `${app}.tags`, '--data', '{"name": "after"}', '--json');
      assert.equal(made.code, 0, made.stderr);
      assert.match(JSON.parse(made.stdout).entity_code, /^CIT-/);
      const classified = await cli('classify', `${dist}.labels`, `${app}.items`, '--json');
      assert.equal(classified.code, 0, classified.stderr);
      const proposals = JSON.parse(classified.stdout) as {
        collection_name: string;
        strategy: string;
        why: string;
      }[];
      const labels = proposals.find((p) => p.collection_name === `${dist}.labels`);
      assert.equal(labels?.strategy, 'unclassified');
      assert.match(
        labels?.why ?? '',
        /a distributed table \(Citus\): natal does not govern Citus tables yet/,
      );
      assert.equal(proposals.find((p) => p.collection_name === `${app}.items`)?.strategy, 'synthetic_id');
    });

    test('a table distributed after it was registered is not wired, and a census says so instead of failing', async () => {
      await onNode(url, `CREATE TABLE ${quoteIdent(dist)}.later (id bigint PRIMARY KEY, v text)`, true);
      await registry.addCollection({ table: `${dist}.later`, species: 'SPE-CIT' });
      await onNode(url, `SELECT create_distributed_table('${dist}.later', 'id')`, true);
      const wired = await cli('wire', `${dist}.later`);
      assert.equal(wired.code, 1);
      assert.match(wired.stderr, /is a distributed table \(Citus\)/);
      const census = await registry.census();
      const later = census.collections.find((c) => c.collection === `${dist}.later`);
      assert.deepEqual([later?.rows, later?.gap, later?.state], [null, null, 'UNCLASSIFIED']);
      const trigger = (await registry.triggers()).find((t) => t.collection_name === `${dist}.later`);
      assert.match(
        trigger?.problem ?? '',
        /a distributed table \(Citus\): natal does not govern Citus tables yet/,
      );
      // the coordinator's local tables are still counted alongside
      assert.equal(census.collections.find((c) => c.collection === `${app}.items`)?.state, 'COMPLETE');
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
