/**
 * Deaths and re-keys (issue 15, section 2): a wired collection records the end of its
 * entities — a DELETE of one row or many, a TRUNCATE, a change of a row's code or key — and
 * the census counts them apart from phantoms, which are now only births whose rows went
 * without a recorded death (a delete in replica mode). On the server the application deletes,
 * truncates and updates as a role that holds only natal's writer role and its table grants.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { eachBackend, SERVER_URL } from './helpers/backends.js';
import { type World, world } from './helpers/setup.js';

eachBackend('deaths and re-keys', (backend) => {
  let w: World;
  let app: pg.Client | undefined;
  const writer = `natal_t_writer_${randomBytes(4).toString('hex')}`;
  const name = (t: string) => `${w.app}.${t}`;
  /** The application's statement: as the writer role on the server. */
  const write = async (sql: string) => {
    if (app) await app.query(sql);
    else await w.registry.db.exec(sql);
  };
  const counts = async (t: string) => {
    const c = (await w.registry.census([name(t)])).collections[0];
    return {
      rows: c?.rows,
      births: c?.births,
      gap: c?.gap,
      phantoms: c?.phantoms,
      deaths: c?.deaths,
      state: c?.state,
    };
  };
  const actor = () => (backend.name === 'server' ? writer : 'postgres');

  before(async () => {
    w = await world(backend);
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.items (id int PRIMARY KEY, code text UNIQUE, v text);
      CREATE TABLE ${w.a}.pairs (film text, actor int, v text, PRIMARY KEY (film, actor));
      CREATE TABLE ${w.a}.orders (id int PRIMARY KEY, code text, v text) PARTITION BY RANGE (id);
      CREATE TABLE ${w.a}.orders_low PARTITION OF ${w.a}.orders FOR VALUES FROM (0) TO (1000);
      CREATE TABLE ${w.a}.orders_high PARTITION OF ${w.a}.orders FOR VALUES FROM (1000) TO (MAXVALUE);`);
    await w.registry.addSpecies({ code: 'SPE-ITM', prefix: 'ITM', level: 'atom' });
    await w.registry.addCollection({ table: name('items'), species: 'SPE-ITM', codeColumn: 'code' });
    await w.registry.addCollection({ table: name('pairs'), species: 'SPE-ITM' });
    await w.registry.setIdentity(name('pairs'), { strategy: 'composite', columns: ['film', 'actor'] });
    await w.registry.addCollection({ table: name('orders'), species: 'SPE-ITM', codeColumn: 'code' });
    await w.registry.wire([name('items'), name('pairs'), name('orders')]);
    if (backend.name === 'server') {
      const admin = new pg.Client({ connectionString: SERVER_URL });
      await admin.connect();
      try {
        const r = quoteIdent(writer);
        await admin.query(`CREATE ROLE ${r} NOLOGIN`);
        await admin.query(`GRANT ${quoteIdent(`${w.registry.schema}_writer`)} TO ${r}`);
        await admin.query(`GRANT USAGE ON SCHEMA ${w.a} TO ${r}`);
        await admin.query(
          `GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA ${w.a} TO ${r}`,
        );
      } finally {
        await admin.end();
      }
      app = new pg.Client({ connectionString: SERVER_URL });
      await app.connect();
      // as an application that logs in as its own role (the session's user)
      await app.query(`SET SESSION AUTHORIZATION ${quoteIdent(writer)}`);
    }
  });

  after(async () => {
    if (backend.name !== 'server') return;
    await app?.end();
    const admin = new pg.Client({ connectionString: SERVER_URL });
    await admin.connect();
    try {
      await admin.query(`DROP OWNED BY ${quoteIdent(writer)}`).catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(writer)}`);
    } finally {
      await admin.end();
    }
  });

  test('wiring installs the death triggers, and the inventory misses one that is dropped', async () => {
    const t = (await w.registry.triggers()).find((x) => x.collection_name === name('items'));
    assert.deepEqual([t?.functional, t?.problem], [true, null]);
    await w.registry.db.exec(`DROP TRIGGER natal_death ON ${w.a}.items`);
    const broken = (await w.registry.triggers()).find((x) => x.collection_name === name('items'));
    assert.equal(broken?.functional, false);
    assert.match(String(broken?.problem), /death trigger missing or disabled on .*items: run natal wire/);
    await w.registry.wire([name('items')]);
    const fixed = (await w.registry.triggers()).find((x) => x.collection_name === name('items'));
    assert.equal(fixed?.functional, true);
  });

  test('a deleted row dies: the birth stays, dead, with when, how, origin and who', async () => {
    await write(`INSERT INTO ${w.a}.items VALUES (1, 'ITM-001', 'a'), (2, 'ITM-002', 'b'), (3, NULL, 'c')`);
    await write(`DELETE FROM ${w.a}.items WHERE id = 1`);
    const e = await w.registry.show('ITM-001');
    assert.equal(e.status, 'dead');
    assert.equal(e.row, null);
    assert.equal(e.death?.how, 'delete');
    assert.equal(e.death?.origin, 'PG:trg_death_items');
    assert.equal(e.death?.actor, actor());
    assert.ok(e.died_at);
    assert.deepEqual(
      e.history.map((h) => h.event),
      ['born', 'inspected', 'died'],
    );
    assert.deepEqual(await counts('items'), {
      rows: 2,
      births: 3,
      gap: 0,
      phantoms: 0,
      deaths: 1,
      state: 'COMPLETE',
    });
    // the session's origin, where it sets one; a row with no code has its synthetic one
    if (app) await app.query(`SET natal.dot_origin = 'cleanup-job'`);
    else await w.registry.db.exec(`SET natal.dot_origin = 'cleanup-job'`);
    await write(`DELETE FROM ${w.a}.items WHERE id = 3`);
    if (app) await app.query('RESET natal.dot_origin');
    else await w.registry.db.exec('RESET natal.dot_origin');
    const synthetic = await w.registry.show(`${name('items')}::3`);
    assert.equal(synthetic.status, 'dead');
    assert.equal(synthetic.death?.origin, 'cleanup-job');
    assert.deepEqual(
      (await w.registry.deaths(name('items'))).map((d) => [d.entity_code, d.how, d.dot_origin]).sort(),
      [
        ['ITM-001', 'delete', 'PG:trg_death_items'],
        [`${name('items')}::3`, 'delete', 'cleanup-job'],
      ].sort(),
    );
    assert.deepEqual(await w.registry.phantoms(name('items')), []);
  });

  test('the application cannot write deaths itself: only natal’s triggers do', async (t) => {
    if (!app) return t.skip('server only: embedded there is one user and no roles');
    await assert.rejects(
      app.query(
        `INSERT INTO ${w.ns}.entity_death (collection_name, how, dot_origin, codes, filed)
         VALUES ($1, 'delete', 'forged', ARRAY['ITM-002'], true)`,
        [name('items')],
      ),
      /permission denied/,
    );
    await assert.rejects(
      app.query(`SELECT ${w.ns}.record_rekey($1, 'forged', 'ITM-002', 'X')`, [name('items')]),
      /permission denied/,
    );
    await assert.rejects(app.query(`DELETE FROM ${w.ns}.entity_death`), /permission denied/);
    assert.equal((await w.registry.show('ITM-002')).status, 'alive');
  });

  test('a DELETE of many rows records one death for the statement; inspection files its codes', async () => {
    // (5,000: a statement of fewer than 4,096 rows may be recorded a row per code, death_source)
    await write(`INSERT INTO ${w.a}.items SELECT g, 'ITM-' || g, 'bulk' FROM generate_series(100, 5099) g`);
    await write(`DELETE FROM ${w.a}.items WHERE v = 'bulk'`);
    const deaths = await w.sql(
      `SELECT cardinality(codes)::int AS n, filed FROM ${w.ns}.entity_death WHERE collection_name = $1 ORDER BY death_id DESC LIMIT 1`,
      [name('items')],
    );
    assert.deepEqual(deaths, [{ n: 5000, filed: false }]);
    assert.equal((await w.registry.show('ITM-555')).status, 'dead');
    assert.deepEqual((await counts('items')).deaths, 5002);
    await w.registry.inspect([name('items')]);
    const [filed] = await w.sql(
      `SELECT bool_and(filed) AS filed, (SELECT count(*)::int FROM ${w.ns}.entity_death_code WHERE entity_code LIKE 'ITM-%') AS codes
       FROM ${w.ns}.entity_death`,
    );
    assert.deepEqual(filed, { filed: true, codes: 5000 });
    const e = await w.registry.show('ITM-555');
    assert.deepEqual([e.status, e.death?.how], ['dead', 'delete']);
    assert.deepEqual((await counts('items')).deaths, 5002);
  });

  test('a TRUNCATE is the death of every entity of the table, in one statement', async () => {
    await write(`INSERT INTO ${w.a}.items SELECT g, 'ITM-' || g, 't' FROM generate_series(6000, 6009) g`);
    await write(`TRUNCATE ${w.a}.items`);
    const e = await w.registry.show('ITM-6005');
    assert.deepEqual([e.status, e.death?.how], ['dead', 'truncate']);
    assert.equal((await w.registry.show('ITM-002')).death?.how, 'truncate');
    assert.deepEqual(await counts('items'), {
      rows: 0,
      births: 5013,
      gap: 0,
      phantoms: 0,
      deaths: 5013,
      state: 'COMPLETE',
    });
  });

  test('a changed code is a re-key: the old code dies "re-keyed to" the new, born "re-keyed from" it', async () => {
    await write(`INSERT INTO ${w.a}.items VALUES (10, 'ITM-010', 'r')`);
    await write(`UPDATE ${w.a}.items SET code = 'ITM-011' WHERE id = 10`);
    const old = await w.registry.show('ITM-010');
    assert.equal(old.status, 'dead');
    assert.deepEqual([old.death?.how, old.death?.rekeyed_to], ['rekey', 'ITM-011']);
    assert.ok(old.history.some((h) => h.event === 're-keyed'));
    const now = await w.registry.show('ITM-011');
    assert.deepEqual([now.status, now.rekeyed_from], ['alive', 'ITM-010']);
    const c = await counts('items');
    assert.deepEqual([c.gap, c.phantoms, c.state], [0, 0, 'COMPLETE']);
  });

  test('a changed composite key is a re-key too', async () => {
    await write(`INSERT INTO ${w.a}.pairs VALUES ('f/1', 1, 'x')`);
    await write(`UPDATE ${w.a}.pairs SET actor = 2 WHERE film = 'f/1'`);
    const old = await w.registry.show(`${name('pairs')}::f%2F1/1`);
    assert.deepEqual([old.status, old.death?.rekeyed_to], ['dead', `${name('pairs')}::f%2F1/2`]);
    const now = await w.registry.showRow(name('pairs'), { film: 'f/1', actor: 2 });
    assert.deepEqual([now.status, now.rekeyed_from], ['alive', `${name('pairs')}::f%2F1/1`]);
    assert.deepEqual((await counts('pairs')).phantoms, 0);
  });

  test('a delete in replica mode records no death: a phantom', async () => {
    await write(`INSERT INTO ${w.a}.pairs VALUES ('g', 1, 'x')`);
    // (session_replication_role: a superuser's setting, as in logical replication)
    await w.registry.db.exec(`SET session_replication_role = replica;
      DELETE FROM ${w.a}.pairs WHERE film = 'g';
      SET session_replication_role = DEFAULT;`);
    const e = await w.registry.show(`${name('pairs')}::g/1`);
    assert.deepEqual([e.status, e.death], ['phantom', null]);
    const c = await counts('pairs');
    assert.deepEqual([c.phantoms, c.deaths, c.state], [1, 1, 'COMPLETE_WITH_PHANTOMS']);
  });

  test('a row deleted, then inserted again with the same key: its one birth, alive again, the death in its history', async () => {
    await write(`INSERT INTO ${w.a}.pairs VALUES ('h', 1, 'first')`);
    await write(`DELETE FROM ${w.a}.pairs WHERE film = 'h'`);
    assert.equal((await w.registry.show(`${name('pairs')}::h/1`)).status, 'dead');
    await write(`INSERT INTO ${w.a}.pairs VALUES ('h', 1, 'again')`);
    const e = await w.registry.show(`${name('pairs')}::h/1`);
    assert.equal(e.status, 'alive');
    assert.deepEqual(e.row, { film: 'h', actor: 1, v: 'again' });
    assert.deepEqual(
      e.history.filter((h) => h.event !== 'inspected').map((h) => h.event),
      ['born', 'died'],
    );
    const [n] = await w.sql(`SELECT count(*)::int AS n FROM ${w.ns}.birth_registry WHERE entity_code = $1`, [
      `${name('pairs')}::h/1`,
    ]);
    assert.equal(n?.n, 1);
    assert.equal((await counts('pairs')).deaths, 1);
  });

  test('a partitioned table: deletes through the parent and straight from a partition, a moved re-key, TRUNCATE', async () => {
    await write(`INSERT INTO ${w.a}.orders SELECT g, 'ITM-9' || g, 'o' FROM generate_series(1, 6) g;
                 INSERT INTO ${w.a}.orders VALUES (1500, 'ITM-91500', 'high')`);
    await write(`DELETE FROM ${w.a}.orders WHERE id = 1`);
    await write(`DELETE FROM ${w.a}.orders_low WHERE id = 2`);
    assert.equal((await w.registry.show('ITM-91')).death?.how, 'delete');
    assert.equal((await w.registry.show('ITM-92')).death?.how, 'delete');
    // in place, and moved to the other partition, each with a new code
    await write(`UPDATE ${w.a}.orders SET code = 'ITM-93b' WHERE id = 3`);
    await write(`UPDATE ${w.a}.orders SET id = 1004, code = 'ITM-94b' WHERE id = 4`);
    const inPlace = await w.registry.show('ITM-93');
    assert.deepEqual([inPlace.status, inPlace.death?.rekeyed_to], ['dead', 'ITM-93b']);
    const moved = await w.registry.show('ITM-94');
    assert.deepEqual([moved.status, moved.death?.how, moved.death?.rekeyed_to], ['dead', 'rekey', 'ITM-94b']);
    assert.equal((await w.registry.show('ITM-94b')).status, 'alive');
    const [once] = await w.sql(
      `SELECT count(*)::int AS n FROM ${w.ns}.recorded_deaths(ARRAY[$1]) WHERE entity_code = 'ITM-93'`,
      [name('orders')],
    );
    assert.equal(once?.n, 1, 'an in-place re-key through the parent is recorded once');
    await write(`TRUNCATE ${w.a}.orders`);
    assert.equal((await w.registry.show('ITM-91500')).death?.how, 'truncate');
    assert.deepEqual(await counts('orders'), {
      rows: 0,
      births: 9,
      gap: 0,
      phantoms: 0,
      deaths: 9,
      state: 'COMPLETE',
    });
  });

  test('a strict partitioned table: a row moved with a new code born first; its old code dies re-keyed', async () => {
    await write(`INSERT INTO ${w.a}.orders VALUES (7, 'ITM-S7', 'o'), (8, 'ITM-S8', 'o')`);
    await w.registry.setCollection(name('orders'), { strict: true });
    try {
      // the new code is born first, as the gateway does (an import here)
      await w.sql(
        `INSERT INTO ${w.ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
           dot_origin, governance_role, operation)
         VALUES ('ITM-S7b', $1, 'SPE-ITM', 'atom', 'test', 'governed', 'import')`,
        [name('orders')],
      );
      await write(`UPDATE ${w.a}.orders SET id = 1007, code = 'ITM-S7b' WHERE id = 7`);
      const old = await w.registry.show('ITM-S7');
      assert.deepEqual([old.status, old.death?.how, old.death?.rekeyed_to], ['dead', 'rekey', 'ITM-S7b']);
      assert.equal((await w.registry.show('ITM-S7b')).status, 'alive');
      // moved keeping its code, and an update of another column: no death
      await write(`UPDATE ${w.a}.orders SET id = 1008 WHERE id = 8`);
      await write(`UPDATE ${w.a}.orders SET v = 'x'`);
      assert.equal((await w.registry.show('ITM-S8')).status, 'alive');
      // a new code not born first is refused, and nothing is recorded
      await assert.rejects(
        write(`UPDATE ${w.a}.orders SET code = 'ITM-S8c' WHERE id = 1008`),
        /no prior birth/,
      );
      assert.equal((await w.registry.show('ITM-S8')).status, 'alive');
      const [n] = await w.sql(
        `SELECT count(*)::int AS n FROM ${w.ns}.recorded_deaths(ARRAY[$1]) WHERE entity_code IN ('ITM-S7', 'ITM-S8')`,
        [name('orders')],
      );
      assert.equal(n?.n, 1);
    } finally {
      await w.registry.setCollection(name('orders'), { strict: false });
    }
  });

  test('how a DELETE is recorded follows its size, not the session: through a partitioned parent many rows are one death row; a hundred from a plain table, every death', async () => {
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.lines (id int PRIMARY KEY, code text, v text) PARTITION BY RANGE (id);
      CREATE TABLE ${w.a}.lines_a PARTITION OF ${w.a}.lines FOR VALUES FROM (0) TO (3000);
      CREATE TABLE ${w.a}.lines_b PARTITION OF ${w.a}.lines FOR VALUES FROM (3000) TO (MAXVALUE);
      CREATE TABLE ${w.a}.notes (id int PRIMARY KEY, code text UNIQUE, v text);`);
    if (backend.name === 'server')
      await w.registry.db.exec(
        `GRANT SELECT, INSERT, DELETE ON ${w.a}.lines, ${w.a}.notes TO ${quoteIdent(writer)}`,
      );
    await w.registry.addCollection({ table: name('lines'), species: 'SPE-ITM', codeColumn: 'code' });
    await w.registry.addCollection({ table: name('notes'), species: 'SPE-ITM', codeColumn: 'code' });
    await w.registry.wire([name('lines'), name('notes')]);
    await write(`INSERT INTO ${w.a}.lines SELECT g, 'ITM-L' || g, 'bulk' FROM generate_series(1, 5000) g`);
    await write(`INSERT INTO ${w.a}.notes SELECT g, 'ITM-N' || g, 'n' FROM generate_series(1, 100) g`);
    // A partitioned table counts no deleted rows of its own (its partitions do): the parent's
    // trigger counts the statement's rows, and 5,000 are one death row, filed later.
    await write(`DELETE FROM ${w.a}.lines`);
    const rows = async (t: string) =>
      w.sql(
        `SELECT count(*)::int AS deaths, sum(cardinality(codes))::int AS codes FROM ${w.ns}.entity_death
         WHERE collection_name = $1`,
        [name(t)],
      );
    assert.deepEqual(await rows('lines'), [{ deaths: 1, codes: 5000 }]);
    // 100 rows (64 or more, fewer than 4,096): either way, each entity's death is recorded
    await write(`DELETE FROM ${w.a}.notes`);
    assert.deepEqual((await rows('notes'))[0]?.codes, 100);
    assert.deepEqual(
      [(await w.registry.show('ITM-N77')).status, (await w.registry.show('ITM-L4321')).status],
      ['dead', 'dead'],
    );
    for (const t of ['lines', 'notes'])
      assert.deepEqual(await counts(t), {
        rows: 0,
        births: t === 'lines' ? 5000 : 100,
        gap: 0,
        phantoms: 0,
        deaths: t === 'lines' ? 5000 : 100,
        state: 'COMPLETE',
      });
  });
});
