/**
 * A wired partitioned table: every way a row can enter it is born exactly once — through the
 * parent (the statement path), straight into a partition or a sub-partitioned partition,
 * COPY, upsert, MERGE, a cross-partition update of the key — and a partition added after
 * wiring is reported until natal wire covers it. On the server the application writes as a
 * role that holds only natal's writer role and its table grants.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { eachBackend, SERVER_URL } from './helpers/backends.js';
import { type World, world } from './helpers/setup.js';

eachBackend('partitioned tables', (backend) => {
  let w: World;
  let app: pg.Client | undefined;
  const writer = `natal_t_writer_${randomBytes(4).toString('hex')}`;
  const name = (t: string) => `${w.app}.${t}`;
  /** Every id that has been in orders: each must have exactly one birth, and nothing else. */
  const expected = new Set<number>();
  /** The application's statement: as the writer role on the server. */
  const write = async (sql: string) => {
    if (app) await app.query(sql);
    else await w.registry.db.exec(sql);
  };
  const born = async () => {
    const rows = await w.sql(
      `SELECT entity_code, count(*) OVER ()::int AS n FROM ${w.ns}.birth_registry WHERE collection_name = $1`,
      [name('orders')],
    );
    return rows.map((r) => String(r.entity_code).slice(`${name('orders')}::`.length)).map(Number);
  };
  const assertBorn = async (what: string) => {
    const codes = await born();
    assert.equal(codes.length, new Set(codes).size, `${what}: a code born twice`);
    assert.deepEqual(
      codes.sort((x, y) => x - y),
      [...expected].sort((x, y) => x - y),
      `${what}: births differ from the rows`,
    );
    const [unborn] = await w.sql(
      `SELECT count(*)::int AS n FROM ${w.a}.orders o
       WHERE NOT EXISTS (SELECT 1 FROM ${w.ns}.birth_registry b
                         WHERE b.entity_code = $1 || '::' || o.id AND b.collection_name = $1)`,
      [name('orders')],
    );
    assert.equal(unborn?.n, 0, `${what}: a row with no birth`);
  };
  const add = (...ids: number[]) => {
    for (const id of ids) expected.add(id);
  };
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const inventory = async () =>
    (await w.registry.triggers()).find((t) => t.collection_name === name('orders'));

  before(async () => {
    w = await world(backend);
    // 0–99 a leaf; 100–199 sub-partitioned (leaves 100–149, 150–189); 200–9999 a leaf; 10000+ the default.
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.orders (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
      CREATE TABLE ${w.a}.orders_low PARTITION OF ${w.a}.orders FOR VALUES FROM (0) TO (100);
      CREATE TABLE ${w.a}.orders_mid PARTITION OF ${w.a}.orders FOR VALUES FROM (100) TO (200)
        PARTITION BY RANGE (id);
      CREATE TABLE ${w.a}.orders_mid_a PARTITION OF ${w.a}.orders_mid FOR VALUES FROM (100) TO (150);
      CREATE TABLE ${w.a}.orders_mid_b PARTITION OF ${w.a}.orders_mid FOR VALUES FROM (150) TO (190);
      CREATE TABLE ${w.a}.orders_high PARTITION OF ${w.a}.orders FOR VALUES FROM (200) TO (10000);
      CREATE TABLE ${w.a}.orders_rest PARTITION OF ${w.a}.orders DEFAULT;`);
    await w.registry.addSpecies({ code: 'SPE-ORD', prefix: 'ORD', level: 'atom' });
    await w.registry.addCollection({ table: name('orders'), species: 'SPE-ORD' });
    if (backend.name === 'server') {
      const admin = new pg.Client({ connectionString: SERVER_URL });
      await admin.connect();
      try {
        const r = quoteIdent(writer);
        await admin.query(`CREATE ROLE ${r} NOLOGIN`);
        await admin.query(`GRANT ${quoteIdent(`${w.registry.schema}_writer`)} TO ${r}`);
        await admin.query(`GRANT USAGE ON SCHEMA ${w.a} TO ${r}`);
        await admin.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA ${w.a} TO ${r}`);
      } finally {
        await admin.end();
      }
      app = new pg.Client({ connectionString: SERVER_URL });
      await app.connect();
      await app.query(`SET ROLE ${quoteIdent(writer)}`);
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

  test('wiring a partitioned table takes the statement path, and covers every partition', async () => {
    const [wired] = await w.registry.wire([name('orders')]);
    assert.equal(wired?.kind, 'statement');
    const t = await inventory();
    assert.deepEqual([t?.kind, t?.functional, t?.problem], ['statement', true, null]);
  });

  test('through the parent: one row, many rows, INSERT … SELECT of 5,000', async () => {
    await write(`INSERT INTO ${w.a}.orders VALUES (1, 'one')`);
    await write(
      `INSERT INTO ${w.a}.orders VALUES (2, 'a'), (120, 'b'), (160, 'c'), (300, 'd'), (20000, 'e')`,
    );
    await write(`INSERT INTO ${w.a}.orders SELECT g, 'bulk' FROM generate_series(1000, 5999) g`);
    add(1, 2, 120, 160, 300, 20000, ...range(1000, 5999));
    await assertBorn('through the parent');
  });

  test('straight into a partition, a sub-partitioned partition and one of its leaves', async () => {
    await write(`INSERT INTO ${w.a}.orders_low VALUES (3, 'direct')`);
    await write(`INSERT INTO ${w.a}.orders_mid VALUES (121, 'direct'), (161, 'direct')`);
    await write(`INSERT INTO ${w.a}.orders_mid_b VALUES (162, 'direct')`);
    await write(`INSERT INTO ${w.a}.orders_rest VALUES (20001, 'direct')`);
    await write(`INSERT INTO ${w.a}.orders_high SELECT g, 'bulk' FROM generate_series(6000, 6099) g`);
    add(3, 121, 161, 162, 20001, ...range(6000, 6099));
    await assertBorn('straight into a partition');
  });

  test('COPY into the parent and into a partition', async () => {
    if (backend.name === 'server') {
      // (COPY FROM STDIN needs a client library node-postgres lacks; the server reads a
      // program's output instead, which only a superuser may: the triggers are the same.)
      await w.sql(`COPY ${w.a}.orders FROM PROGRAM 'printf "4\\tcopy\\n122\\tcopy\\n"'`);
      await w.sql(`COPY ${w.a}.orders_mid_a FROM PROGRAM 'printf "123\\tcopy\\n"'`);
    } else {
      const lite = (w.registry.db as unknown as { pg: import('@electric-sql/pglite').PGlite }).pg;
      await lite.query(`COPY ${w.a}.orders FROM '/dev/blob'`, [], {
        blob: new Blob(['4\tcopy\n122\tcopy\n']),
      });
      await lite.query(`COPY ${w.a}.orders_mid_a FROM '/dev/blob'`, [], { blob: new Blob(['123\tcopy\n']) });
    }
    add(4, 122, 123);
    await assertBorn('COPY');
  });

  test('upsert through the parent and into a partition: inserted rows born, updated ones left alone', async () => {
    await write(
      `INSERT INTO ${w.a}.orders VALUES (1, 'again'), (5, 'new') ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v`,
    );
    await write(`INSERT INTO ${w.a}.orders VALUES (2, 'again'), (6, 'new') ON CONFLICT DO NOTHING`);
    await write(
      `INSERT INTO ${w.a}.orders_low VALUES (3, 'again'), (7, 'new') ON CONFLICT (id) DO UPDATE SET v = 'x'`,
    );
    // an upsert that changes the key of the row it updates (within its partition)
    await write(`INSERT INTO ${w.a}.orders VALUES (7, 'again') ON CONFLICT (id) DO UPDATE SET id = 17`);
    add(5, 6, 7, 17);
    await assertBorn('upsert');
  });

  test('a cross-partition update of the key: the moved rows are born under their new code', async () => {
    await write(`UPDATE ${w.a}.orders SET id = id + 10000 WHERE id IN (300, 301)`); // → default; 301 has no row
    await write(`UPDATE ${w.a}.orders SET id = 130 WHERE id = 1`); // low → mid_a
    await write(`UPDATE ${w.a}.orders_mid SET id = 170 WHERE id = 121`); // mid_a → mid_b, named the middle
    await write(`UPDATE ${w.a}.orders SET id = id + 20000 WHERE id BETWEEN 1000 AND 1099`); // → default
    await write(`UPDATE ${w.a}.orders SET id = 8 WHERE id = 2`); // within a partition: the update trigger
    await write(`UPDATE ${w.a}.orders_high SET id = 9000 WHERE id = 1100`); // named the leaf
    await write(`UPDATE ${w.a}.orders SET v = 'touched' WHERE id < 2000`); // no code changes: no birth
    add(10300, 130, 170, 8, 9000, ...range(21000, 21099));
    await assertBorn('cross-partition update');
    // An insert through the parent after them, in the same transaction, still takes the
    // statement path and is born once.
    await write(
      `BEGIN; UPDATE ${w.a}.orders SET id = 9 WHERE id = 8; INSERT INTO ${w.a}.orders VALUES (10, 'after'); COMMIT`,
    );
    add(9, 10);
    await assertBorn('insert after a move');
  });

  test('no setting a client can change keeps moved rows from birth', async () => {
    // A session that sets what it may (a custom setting, before and while its UPDATE runs,
    // through a function the statement calls) still has every moved row born.
    await write(`SET natal.partition_rows_moving = '0'`);
    await write(
      `UPDATE ${w.a}.orders SET id = id + 40000
       WHERE id BETWEEN 6000 AND 6009 AND set_config('natal.partition_rows_moving', '0', true) = '0'`,
    ); // high → default
    await write(
      `UPDATE ${w.a}.orders_mid SET id = 175
       WHERE id = 122 AND set_config('natal.partition_rows_moving', '', true) = ''`,
    ); // mid_a → mid_b, named the middle
    await write(
      `BEGIN; SET LOCAL natal.partition_rows_moving = 'off';
       UPDATE ${w.a}.orders SET id = 136, v = 'moved' WHERE id = 3; COMMIT`,
    ); // low → mid_a
    await write(`RESET natal.partition_rows_moving`);
    add(...range(46000, 46009), 175, 136);
    await assertBorn('moves under a client’s settings');
  });

  test('MERGE through the parent: inserted and moved rows are born', async () => {
    await write(`MERGE INTO ${w.a}.orders o USING (VALUES (4), (11)) AS s(id) ON o.id = s.id
                 WHEN MATCHED THEN UPDATE SET id = o.id + 500
                 WHEN NOT MATCHED THEN INSERT VALUES (s.id, 'merged')`);
    add(504, 11);
    await assertBorn('MERGE');
  });

  test('a partition created or attached after wiring: reported until natal wire covers it', async () => {
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.orders_mid_c PARTITION OF ${w.a}.orders_mid FOR VALUES FROM (190) TO (200);
      CREATE TABLE ${w.a}.orders_top (id int PRIMARY KEY, v text);
      ALTER TABLE ${w.a}.orders ATTACH PARTITION ${w.a}.orders_top FOR VALUES FROM (30000) TO (40000);`);
    if (backend.name === 'server') {
      await w.sql(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA ${w.a} TO ${quoteIdent(writer)}`);
    }
    const t = await inventory();
    assert.equal(t?.functional, false);
    assert.equal(
      t?.problem,
      `partitions ${w.app}.orders_top, ${w.app}.orders_mid_c have no natal trigger (made after wiring, or disabled): run natal wire`,
    );
    const doctor = await w.registry.doctor();
    assert.deepEqual(
      doctor.findings.filter((f) => f.kind === 'wiring').map((f) => [f.name, f.actual]),
      [[name('orders'), t?.problem]],
    );
    // Through the parent it is born already.
    await write(`INSERT INTO ${w.a}.orders VALUES (191, 'parent'), (35000, 'parent')`);
    add(191, 35000);
    await assertBorn('a new partition, through the parent');
    await w.registry.wire([name('orders')]);
    assert.deepEqual([(await inventory())?.functional, (await inventory())?.problem], [true, null]);
    await write(`INSERT INTO ${w.a}.orders_mid_c VALUES (192, 'direct')`);
    await write(`INSERT INTO ${w.a}.orders_top VALUES (35001, 'direct')`);
    await write(`UPDATE ${w.a}.orders SET id = 35002 WHERE id = 5`);
    add(192, 35001, 35002);
    await assertBorn('a new partition, wired');
  });

  test('the inventory notices a partition whose natal trigger was dropped or disabled', async () => {
    await w.registry.db.exec(`ALTER TABLE ${w.a}.orders_high DISABLE TRIGGER natal_birth_direct`);
    assert.match((await inventory())?.problem ?? '', /partition .*orders_high.* has no natal trigger/);
    await w.registry.db.exec(`DROP TRIGGER natal_birth_direct ON ${w.a}.orders_high`);
    assert.match((await inventory())?.problem ?? '', /partition .*orders_high.* has no natal trigger/);
    await w.registry.wire([name('orders')]);
    assert.equal((await inventory())?.problem, null);
    // the moved rows' trigger, on the parent and on a sub-partitioned partition
    await w.registry.db.exec(`ALTER TABLE ${w.a}.orders DISABLE TRIGGER natal_birth_recoded`);
    assert.equal(
      (await inventory())?.problem,
      'cross-partition update trigger missing or disabled: run natal wire',
    );
    await w.registry.wire([name('orders')]);
    await w.registry.db.exec(`DROP TRIGGER natal_birth_recoded ON ${w.a}.orders_mid`);
    assert.match((await inventory())?.problem ?? '', /partition .*orders_mid has no natal trigger/);
    await w.registry.wire([name('orders')]);
    assert.equal((await inventory())?.problem, null);
  });

  test('a table wired the old way (a row trigger cloned to every partition) is stale until wired again', async () => {
    const [fn] = await w.sql(`SELECT ${w.ns}.auto_birth_function($1) AS f`, [name('orders')]);
    await w.registry.db.exec(`DROP TRIGGER natal_birth_auto ON ${w.a}.orders;
      CREATE TRIGGER natal_birth_auto AFTER INSERT ON ${w.a}.orders FOR EACH ROW
        EXECUTE FUNCTION ${w.ns}.${quoteIdent(String(fn?.f))}()`);
    const t = await inventory();
    assert.deepEqual([t?.kind, t?.functional], ['row', false]);
    assert.match(t?.problem ?? '', /stale configuration/);
    await w.registry.wire([name('orders')]);
    assert.deepEqual([(await inventory())?.kind, (await inventory())?.problem], ['statement', null]);
    const [clones] = await w.sql(
      `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'natal_birth_auto'
       AND tgrelid IN (SELECT relid FROM pg_partition_tree($1::regclass))`,
      [`${w.a}.orders`],
    );
    assert.equal(clones?.n, 1, 'the parent’s alone');
    await write(`INSERT INTO ${w.a}.orders SELECT g, 'again' FROM generate_series(6200, 6299) g`);
    add(...range(6200, 6299));
    await assertBorn('wired again');
  });

  test('a table wired by an earlier natal (a setting counted moves) is stale until natal wire or natal init', async () => {
    const [fn] = await w.sql(`SELECT ${w.ns}.update_birth_function($1) AS f`, [name('orders')]);
    const old = async () => {
      await w.registry.db.exec(`
        CREATE FUNCTION ${w.ns}.partition_rows_moving() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM set_config('natal.partition_rows_moving', '1', true);
          RETURN NULL;
        END $$;
        CREATE TRIGGER natal_birth_moved AFTER INSERT ON ${w.a}.orders FOR EACH ROW
          WHEN (current_setting('natal.partition_rows_moving', true) NOT IN ('0', ''))
          EXECUTE FUNCTION ${w.ns}.${quoteIdent(String(fn?.f))}();`);
      for (const t of ['orders', 'orders_mid']) {
        await w.registry.db.exec(`
          CREATE TRIGGER natal_birth_moving BEFORE UPDATE ON ${w.a}.${t} FOR EACH STATEMENT
            EXECUTE FUNCTION ${w.ns}.partition_rows_moving();
          CREATE TRIGGER natal_birth_moving_end AFTER UPDATE ON ${w.a}.${t} FOR EACH STATEMENT
            EXECUTE FUNCTION ${w.ns}.partition_rows_moving();`);
      }
    };
    const leftovers = async () =>
      (
        await w.sql(
          `SELECT count(*)::int AS n FROM pg_trigger t
           WHERE t.tgname IN ('natal_birth_moved', 'natal_birth_moving', 'natal_birth_moving_end')
             AND t.tgrelid IN (SELECT relid FROM pg_partition_tree($1::regclass))`,
          [`${w.a}.orders`],
        )
      )[0]?.n;
    await old();
    const t = await inventory();
    assert.deepEqual(
      [t?.functional, t?.problem],
      [false, 'stale configuration: cross-partition updates wired by an earlier natal; run natal wire'],
    );
    await w.registry.wire([name('orders')]);
    assert.deepEqual([(await inventory())?.functional, await leftovers()], [true, 0]);
    await w.registry.db.exec(`DROP FUNCTION ${w.ns}.partition_rows_moving()`);
    // natal init, upgrading definitions that had partition_rows_moving(), drops it and its triggers.
    await old();
    await w.sql(`UPDATE ${w.ns}.natal_definitions SET checksum = repeat('0', 64)`);
    await w.registry.init();
    const [gone] = await w.sql(`SELECT to_regproc($1) IS NULL AS gone`, [`${w.ns}.partition_rows_moving`]);
    assert.deepEqual([gone?.gone, await leftovers(), (await inventory())?.problem], [true, 0, null]);
    await write(`UPDATE ${w.a}.orders SET id = 6500 WHERE id = 6020`); // high, still
    await write(`UPDATE ${w.a}.orders SET id = 36000 WHERE id = 6021`); // high → top
    add(6500, 36000);
    await assertBorn('wired again after an earlier natal');
  });

  test('strict: an unborn code is refused through the parent, in a partition and when moved', async () => {
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.tickets (id int PRIMARY KEY, code text) PARTITION BY RANGE (id);
      CREATE TABLE ${w.a}.tickets_a PARTITION OF ${w.a}.tickets FOR VALUES FROM (0) TO (100);
      CREATE TABLE ${w.a}.tickets_b PARTITION OF ${w.a}.tickets FOR VALUES FROM (100) TO (200);`);
    if (backend.name === 'server') {
      await w.sql(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA ${w.a} TO ${quoteIdent(writer)}`);
    }
    await w.registry.addCollection({ table: name('tickets'), species: 'SPE-ORD', codeColumn: 'code' });
    await w.registry.wire([name('tickets')]);
    await write(`INSERT INTO ${w.a}.tickets VALUES (1, 'ORD-1'), (2, 'ORD-2')`);
    await w.registry.setCollection(name('tickets'), { strict: true });
    for (const sql of [
      `INSERT INTO ${w.a}.tickets VALUES (3, 'ORD-3')`,
      `INSERT INTO ${w.a}.tickets_a VALUES (3, 'ORD-3')`,
      `INSERT INTO ${w.a}.tickets SELECT g, 'ORD-' || g FROM generate_series(10, 99) g`,
      `UPDATE ${w.a}.tickets SET id = 101, code = 'ORD-101' WHERE id = 1`,
    ]) {
      await assert.rejects(write(sql), /strict: entity ORD-\d+ has no prior birth/, sql);
    }
    // A born code may be inserted again, anywhere, and a row may move keeping its code.
    await write(`INSERT INTO ${w.a}.tickets_b VALUES (150, 'ORD-1')`);
    await write(`UPDATE ${w.a}.tickets SET id = 102 WHERE id = 2`);
    await w.registry.setCollection(name('tickets'), { strict: false });
    const codes = (await w.births(name('tickets'))).map((b) => b.entity_code);
    assert.deepEqual(codes, ['ORD-1', 'ORD-2']);
  });

  test('unwiring removes natal’s triggers from the parent and every partition', async () => {
    await w.registry.unwire(name('orders'));
    const [left] = await w.sql(
      `SELECT count(*)::int AS n FROM pg_trigger t
       WHERE t.tgname LIKE 'natal%' AND t.tgrelid IN (SELECT relid FROM pg_partition_tree($1::regclass))`,
      [`${w.a}.orders`],
    );
    assert.equal(left?.n, 0);
    await write(`INSERT INTO ${w.a}.orders VALUES (13, 'unwired')`);
    await write(`INSERT INTO ${w.a}.orders_low VALUES (14, 'unwired')`);
    assert.ok(!(await born()).some((id) => id === 13 || id === 14));
  });
});
