import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { quoteIdent } from '../src/db/ident.js';
import { eachBackend } from './helpers/backends.js';
import { rejects, type World, world } from './helpers/setup.js';

eachBackend('auto-birth triggers', (backend) => {
  let w: World;
  const name = (t: string) => `${w.app}.${t}`;
  before(async () => {
    w = await world(backend);
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.rules (id serial PRIMARY KEY, code text, name text, _dot_origin text);
      CREATE TABLE ${w.a}.items (id bigint PRIMARY KEY, v text);
      CREATE TABLE ${w.a}.staged (id int PRIMARY KEY, v text);
      CREATE TABLE ${w.a}.parts (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
      CREATE TABLE ${w.a}.parts_low PARTITION OF ${w.a}.parts FOR VALUES FROM (0) TO (100);
      CREATE TABLE ${w.a}.parts_high PARTITION OF ${w.a}.parts FOR VALUES FROM (100) TO (1000);`);
    await w.registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    await w.registry.addCollection({
      table: name('rules'),
      species: 'SPE-DOM',
      codeColumn: 'code',
    });
    await w.registry.addCollection({ table: name('items'), species: 'SPE-DOM' });
    await w.registry.addCollection({ table: name('staged'), species: 'SPE-DOM', role: 'staging' });
    await w.registry.addCollection({ table: name('parts'), species: 'SPE-DOM' });
    const wired = await w.registry.wire([name('rules'), name('items'), name('parts')]);
    assert.deepEqual(
      wired.map((x) => x.kind),
      ['statement', 'statement', 'statement'],
    );
  });

  test('code column: the code is the value; empty or NULL falls back to <collection>::<pk>; _dot_origin is used when set', async () => {
    await w.registry.db.exec(`INSERT INTO ${w.a}.rules (id, code, name, _dot_origin) VALUES
      (1, 'DOM-001', 'a', 'tool-a'), (2, '', 'b', NULL), (3, NULL, 'c', ''), (4, 'DOM-004', 'd', NULL);
      SELECT setval(pg_get_serial_sequence('${w.a}.rules', 'id'), 100)`);
    const births = await w.births(name('rules'));
    assert.deepEqual(
      births.map((b) => [b.entity_code, b.dot_origin, b.operation, b.species_code, b.composition_level]),
      [
        ['DOM-001', 'tool-a', 'trigger', 'SPE-DOM', 'atom'],
        ['DOM-004', 'PG:trg_birth_rules', 'trigger', 'SPE-DOM', 'atom'],
        [`${name('rules')}::2`, 'PG:trg_birth_rules', 'trigger', 'SPE-DOM', 'atom'],
        [`${name('rules')}::3`, 'PG:trg_birth_rules', 'trigger', 'SPE-DOM', 'atom'],
      ],
    );
    assert.ok(births.every((b) => b.governance_role === 'governed'));
  });

  test('synthetic id and no _dot_origin column: <collection>::<pk>, origin PG:trg_birth_<table>', async () => {
    await w.registry.db.exec(`INSERT INTO ${w.a}.items VALUES (10, 'x'), (11, 'y')`);
    const births = await w.births(name('items'));
    assert.deepEqual(
      births.map((b) => [b.entity_code, b.dot_origin]),
      [
        [`${name('items')}::10`, 'PG:trg_birth_items'],
        [`${name('items')}::11`, 'PG:trg_birth_items'],
      ],
    );
  });

  test('idempotent: an existing birth is left alone; duplicate codes in one statement birth once', async () => {
    const [before] = await w.sql(
      `SELECT dot_origin FROM ${w.ns}.birth_registry WHERE entity_code = 'DOM-001'`,
    );
    // 20 rows (ON CONFLICT: the session has inserted under 4096 rows), 4200 rows (the bulk
    // path: a plain insert that meets the born code and the duplicates, then its ON CONFLICT
    // retry) and 2 rows, each repeating a born code.
    await w.registry.db.exec(`INSERT INTO ${w.a}.rules (code, name)
      SELECT CASE WHEN g = 1 THEN 'DOM-001' ELSE 'DUP-' || (g % 3) END, 'n' FROM generate_series(1, 20) g`);
    await w.registry.db.exec(`INSERT INTO ${w.a}.rules (code, name)
      SELECT CASE WHEN g = 1 THEN 'DOM-001' ELSE 'DUP-' || (g % 3) END, 'n' FROM generate_series(1, 4200) g`);
    await w.registry.db.exec(
      `INSERT INTO ${w.a}.rules (code, name) VALUES ('DOM-004', 'again'), ('DUP-9', 'n')`,
    );
    const [after] = await w.sql(
      `SELECT dot_origin FROM ${w.ns}.birth_registry WHERE entity_code = 'DOM-001'`,
    );
    assert.deepEqual(after, before);
    const dups = (await w.births(name('rules'))).filter((b) => String(b.entity_code).startsWith('DUP-'));
    assert.deepEqual(
      dups.map((b) => b.entity_code),
      ['DUP-0', 'DUP-1', 'DUP-2', 'DUP-9'],
    );
  });

  test('one transaction of many single-row inserts: past 16 rows each insert still births, and a born code is left alone', async () => {
    // Single-row statements take ON CONFLICT without counting their rows while the session
    // has inserted under 4096 rows into the table, and count them from then on. Either way
    // they must birth new codes and leave born ones (TXN-0, born by tool-a) without an error.
    await w.registry.db.exec(
      `CREATE TABLE ${w.a}.txn (id serial PRIMARY KEY, code text, name text, _dot_origin text)`,
    );
    await w.registry.addCollection({ table: name('txn'), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.wire([name('txn')]);
    await w.registry.db.exec(
      `INSERT INTO ${w.a}.txn (code, name, _dot_origin) VALUES ('TXN-0', 'born first', 'tool-a')`,
    );
    const singles = (from: number) =>
      Array.from(
        { length: 20 },
        (_, i) => `INSERT INTO ${w.a}.txn (code, name) VALUES ('TXN-${from + i}', 'one');`,
      ).join('\n');
    const transaction = (from: number) =>
      w.registry.db.exec(`BEGIN;
        ${singles(from)}
        INSERT INTO ${w.a}.txn (code, name) VALUES ('TXN-0', 'born already');
        INSERT INTO ${w.a}.txn (code, name) VALUES ('TXN-${from + 20}', 'new'), ('TXN-0', 'born already');
        COMMIT;`);
    await transaction(1); // under 4096 rows inserted by the session: ON CONFLICT
    // past 4096 (in PGlite, and on the server within a second): every statement counts
    await w.registry.db.exec(
      `INSERT INTO ${w.a}.txn (code, name) SELECT 'BULK-' || g, 'bulk' FROM generate_series(1, 4200) g`,
    );
    await transaction(101);
    const txn = (await w.births(name('txn'))).filter((b) => String(b.entity_code).startsWith('TXN-'));
    assert.deepEqual(
      txn.map((b) => b.entity_code).sort(),
      [
        'TXN-0',
        ...Array.from({ length: 21 }, (_, i) => `TXN-${1 + i}`),
        ...Array.from({ length: 21 }, (_, i) => `TXN-${101 + i}`),
      ].sort(),
    );
    assert.equal(txn.find((b) => b.entity_code === 'TXN-0')?.dot_origin, 'tool-a');
  });

  test('a bulk insert births every row', async () => {
    // 5000 rows: past 4096, so the trigger counts them and takes the plain insert
    await w.registry.db.exec(`CREATE TABLE ${w.a}.bulk (id bigint PRIMARY KEY, v text)`);
    await w.registry.addCollection({ table: name('bulk'), species: 'SPE-DOM' });
    await w.registry.wire([name('bulk')]);
    await w.registry.db.exec(`INSERT INTO ${w.a}.bulk SELECT g, 'bulk' FROM generate_series(1000, 5999) g`);
    const [row] = await w.sql(
      `SELECT count(*)::int AS n, min(entity_code) AS first, max(entity_code) AS last
       FROM ${w.ns}.birth_registry WHERE collection_name = $1`,
      [name('bulk')],
    );
    assert.deepEqual(row, { n: 5000, first: `${name('bulk')}::1000`, last: `${name('bulk')}::5999` });
  });

  test('partitions: inserts through the parent and straight into a partition are both born', async () => {
    await w.registry.db.exec(`INSERT INTO ${w.a}.parts VALUES (5, 'parent'), (150, 'parent')`);
    await w.registry.db.exec(`INSERT INTO ${w.a}.parts_low VALUES (6, 'direct')`);
    await w.registry.db.exec(`INSERT INTO ${w.a}.parts_high VALUES (151, 'direct')`);
    assert.deepEqual(
      (await w.births(name('parts'))).map((b) => b.entity_code),
      ['::150', '::151', '::5', '::6'].map((s) => `${name('parts')}${s}`),
    );
  });

  test('upsert: INSERT … ON CONFLICT DO UPDATE births the inserted rows and leaves updated ones alone', async () => {
    await w.registry.db.exec(
      `INSERT INTO ${w.a}.items VALUES (10, 'updated'), (12, 'new') ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v`,
    );
    const codes = (await w.births(name('items'))).map((b) => b.entity_code);
    assert.ok(codes.includes(`${name('items')}::12`));
    assert.equal(codes.filter((c) => c === `${name('items')}::10`).length, 1);
  });

  test('staging collections get no births and cannot be wired', async () => {
    await w.registry.db.exec(`INSERT INTO ${w.a}.staged VALUES (1, 'x')`);
    assert.equal((await w.births(name('staged'))).length, 0);
    await rejects(w.registry.wire([name('staged')]), 'COLLECTION_NOT_GOVERNED', /staging/);
  });

  test('wire and unwire are idempotent; unwired tables birth nothing', async () => {
    await w.registry.wire([name('items')]);
    await w.registry.wire([name('items')]);
    const triggers = await w.sql(
      `SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname = 'natal_birth_auto'`,
      [`${w.a}.items`],
    );
    assert.equal(triggers[0]?.n, 1);
    assert.equal((await w.registry.unwire(name('items'))).was_wired, true);
    assert.equal((await w.registry.unwire(name('items'))).was_wired, false);
    await w.registry.db.exec(`INSERT INTO ${w.a}.items VALUES (20, 'unwired')`);
    assert.ok(!(await w.births(name('items'))).some((b) => b.entity_code === `${name('items')}::20`));
    await w.registry.wire([name('items')]);
  });

  test('wiring refuses what cannot be wired, all or nothing; --all lists the reasons', async () => {
    await w.registry.addCollection({ table: name('ghost'), species: 'SPE-DOM', noTable: true });
    await w.registry.unwire(name('rules'));
    await rejects(w.registry.wire([name('rules'), name('ghost')]), 'NO_TABLE', /no table/);
    const inventory = await w.registry.triggers();
    assert.equal(
      inventory.find((t) => t.collection_name === name('rules'))?.present,
      false,
      'nothing was wired',
    );
    const all = await w.registry.wireAll();
    assert.ok(all.wired.some((x) => x.collection_name === name('rules')));
    assert.deepEqual(
      all.not_wired.map((x) => x.collection_name),
      [name('ghost')],
    );
    await rejects(w.registry.wire([name('nothing')]), 'COLLECTION_UNKNOWN');
  });

  test('the inventory reports disabled, missing, stale and unwirable triggers', async () => {
    const state = async (t: string) =>
      (await w.registry.triggers()).find((x) => x.collection_name === name(t));
    assert.deepEqual(
      { ...(await state('rules')) },
      {
        collection_name: name('rules'),
        governance_role: 'governed',
        has_table: true,
        present: true,
        enabled: true,
        functional: true,
        kind: 'statement',
        problem: null,
      },
    );
    await w.registry.db.exec(`ALTER TABLE ${w.a}.rules DISABLE TRIGGER natal_birth_auto`);
    assert.deepEqual([(await state('rules'))?.enabled, (await state('rules'))?.problem], [false, 'disabled']);
    await w.registry.db.exec(`ALTER TABLE ${w.a}.rules ENABLE TRIGGER natal_birth_auto`);
    // A species change re-wires a wired collection by itself …
    await w.registry.addSpecies({ code: 'SPE-ALT', prefix: 'ALT', level: 'molecule' });
    await w.registry.setCollection(name('rules'), { species: 'SPE-ALT' });
    assert.equal((await state('rules'))?.functional, true);
    // … but a change made behind natal's back leaves the trigger stale.
    await w.sql(
      `UPDATE ${w.ns}.species_collection_map SET species_code = 'SPE-DOM' WHERE collection_name = $1`,
      [name('rules')],
    );
    assert.match((await state('rules'))?.problem ?? '', /stale configuration/);
    await w.registry.wire([name('rules')]);
    assert.equal((await state('rules'))?.functional, true);
    // … and so does a function natal generated, rewritten behind its back while the collection
    // stays as it was wired (the inventory compares it with what wiring recorded)
    for (const fn of ['auto_birth_function', 'update_birth_function', 'death_function']) {
      const [f] = await w.sql(`SELECT ${w.ns}.${fn}($1)::text AS f`, [name('rules')]);
      await w.registry.db
        .exec(`CREATE OR REPLACE FUNCTION ${w.ns}.${quoteIdent(String(f?.f))}() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`);
      assert.match((await state('rules'))?.problem ?? '', /stale configuration/, fn);
      await w.registry.wire([name('rules')]);
      assert.equal((await state('rules'))?.functional, true, fn);
    }
    // … and the gateway's insert of the row, rewritten with natal's properties kept (the
    // inventory a census reads knows its body from wiring's record)
    const [row] = await w.sql(`SELECT ${w.ns}.gateway_row_function($1)::text AS f`, [name('rules')]);
    await w.registry.db
      .exec(`CREATE OR REPLACE FUNCTION ${w.ns}.${quoteIdent(String(row?.f))}(p_data jsonb, v_code text, v_origin text)
      RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
      AS $$ BEGIN RETURN NULL; END $$`);
    for (const full of [false, true]) {
      const [inv] = await w.sql(`SELECT functional, problem FROM ${w.ns}.trigger_inventory(ARRAY[$1], $2)`, [
        name('rules'),
        full,
      ]);
      assert.equal(inv?.functional, false, `full: ${full}`);
      assert.match(String(inv?.problem), /stale configuration|gateway insert or probe altered/);
    }
    await w.registry.wire([name('rules')]);
    assert.equal((await state('rules'))?.functional, true);
    await w.registry.db.exec(`DROP TRIGGER natal_birth_auto ON ${w.a}.rules`);
    assert.deepEqual(
      [(await state('rules'))?.present, (await state('rules'))?.problem],
      [false, 'missing: run natal wire'],
    );
    await w.registry.wire([name('rules')]);
    assert.equal((await state('ghost'))?.problem, 'no table');
    assert.equal((await state('staged'))?.problem, null);
  });

  test('the inventory a census reads (from what wiring recorded) says what the full one says', async () => {
    const inventory = async (t: string, full: boolean): Promise<string | null> => {
      const [row] = await w.sql(`SELECT problem FROM ${w.ns}.trigger_inventory(ARRAY[$1], $2)`, [
        name(t),
        full,
      ]);
      return (row?.problem as string | null | undefined) ?? null;
    };
    const same = async (t: string) => {
      const full = await inventory(t, true);
      assert.equal(await inventory(t, false), full, `${t}: ${full}`);
      return full;
    };
    // a code column's gateway probes the code columns of its species' other collections: one
    // registered ahead of its table, whose table then appears, makes it stale
    await w.registry.addCollection({
      table: name('sibling'),
      species: 'SPE-DOM',
      codeColumn: 'code',
      noTable: true,
    });
    assert.equal(await same('rules'), null);
    await w.registry.db.exec(`CREATE TABLE ${w.a}.sibling (id int PRIMARY KEY, code text UNIQUE)`);
    assert.match((await same('rules')) ?? '', /stale configuration/);
    await w.registry.wire([name('rules')]);
    assert.equal(await same('rules'), null);
    // a column's default changed (the gateway's insert writes it for a column its data leaves out)
    await w.registry.db.exec(`ALTER TABLE ${w.a}.rules ALTER COLUMN name SET DEFAULT 'unnamed'`);
    assert.match((await same('rules')) ?? '', /stale configuration|gateway insert or probe altered/);
    await w.registry.wire([name('rules')]);
    assert.equal(await same('rules'), null);
    assert.equal((await w.registry.create(name('rules'), {})).collection_name, name('rules'));
    const [made] = await w.sql(`SELECT name FROM ${w.a}.rules ORDER BY id DESC LIMIT 1`);
    assert.equal(made?.name, 'unnamed', 'the gateway writes the default of now');
    await w.registry.db.exec(`ALTER TABLE ${w.a}.rules ALTER COLUMN name DROP DEFAULT`);
    await w.registry.wire([name('rules')]);
    // a key changed under a wired table (a column added to it, as INCLUDE and then as a key)
    await w.registry.db.exec(`ALTER TABLE ${w.a}.items ADD COLUMN k int NOT NULL DEFAULT 0;
      ALTER TABLE ${w.a}.items DROP CONSTRAINT items_pkey, ADD PRIMARY KEY (id) INCLUDE (k)`);
    await same('items');
    await w.registry.db.exec(`ALTER TABLE ${w.a}.items DROP CONSTRAINT items_pkey, ADD PRIMARY KEY (id, k)`);
    await same('items');
    await w.registry.db.exec(`ALTER TABLE ${w.a}.items DROP CONSTRAINT items_pkey, ADD PRIMARY KEY (id);
      ALTER TABLE ${w.a}.items DROP COLUMN k`);
    await w.registry.wire([name('items')]);
    assert.equal(await same('items'), null);
  });

  test('a wired table renamed away is unwired all the same: natal’s triggers leave it (natal init re-wires through this)', async () => {
    await w.registry.db.exec(`CREATE TABLE ${w.a}.moving (id int PRIMARY KEY, code text UNIQUE)`);
    await w.registry.addCollection({ table: name('moving'), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.wire([name('moving')]);
    await w.registry.db.exec(`ALTER TABLE ${w.a}.moving RENAME TO moved_away`);
    assert.equal((await w.registry.unwire(name('moving'))).was_wired, true);
    const [left] = await w.sql(
      `SELECT count(*)::int AS n FROM pg_trigger
       WHERE tgrelid = '${w.a}.moved_away'::regclass AND (tgname LIKE 'natal_birth%' OR tgname LIKE 'natal_death%')`,
    );
    assert.equal(left?.n, 0, 'natal’s triggers left the table that is no longer the collection’s');
    await w.registry.db.exec(`ALTER TABLE ${w.a}.moved_away RENAME TO moving`);
    await w.registry.wire([name('moving')]);
    await w.registry.db.exec(`INSERT INTO ${w.a}.moving VALUES (1, 'DOM-801')`);
    assert.ok((await w.births(name('moving'))).some((b) => b.entity_code === 'DOM-801'));
  });

  test('updates: a changed code is born; strict refuses an unborn one; other updates birth nothing', async () => {
    await w.registry.db.exec(`CREATE TABLE ${w.a}.renamed (id int PRIMARY KEY, code text, note text);
                               INSERT INTO ${w.a}.renamed VALUES (1, 'DOM-301', 'a'), (2, 'DOM-302', 'b')`);
    await w.registry.addCollection({ table: name('renamed'), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.wire([name('renamed')]);
    const codes = async () => (await w.births(name('renamed'))).map((b) => b.entity_code);
    assert.deepEqual(await codes(), []);
    await w.registry.db.exec(`UPDATE ${w.a}.renamed SET note = 'changed'`);
    assert.deepEqual(await codes(), [], 'an update of other columns births nothing');
    await w.registry.db.exec(`UPDATE ${w.a}.renamed SET code = 'DOM-311' WHERE id = 1`);
    assert.deepEqual(await codes(), ['DOM-311']);
    await w.registry.setCollection(name('renamed'), { strict: true });
    await assert.rejects(
      w.registry.db.exec(`UPDATE ${w.a}.renamed SET code = 'DOM-399' WHERE id = 2`),
      /strict: entity DOM-399 has no prior birth/,
    );
    await w.registry.setCollection(name('renamed'), { strict: false });
    await w.registry.db.exec(`DROP TRIGGER natal_birth_update ON ${w.a}.renamed`);
    const t = (await w.registry.triggers()).find((x) => x.collection_name === name('renamed'));
    assert.deepEqual(
      [t?.functional, t?.problem],
      [false, 'update trigger missing or disabled: run natal wire'],
    );
    await w.registry.wire([name('renamed')]);
  });

  test('a trigger birth is inspected as it is written: a code inspection would pass is passed at once, another waits and fails as before', async () => {
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.checked (id int PRIMARY KEY, code text);
      CREATE TABLE ${w.a}.checked_parts (id int PRIMARY KEY, code text) PARTITION BY RANGE (id);
      CREATE TABLE ${w.a}.checked_parts_a PARTITION OF ${w.a}.checked_parts FOR VALUES FROM (0) TO (100);
      CREATE TABLE ${w.a}.checked_parts_b PARTITION OF ${w.a}.checked_parts FOR VALUES FROM (100) TO (200);`);
    for (const t of ['checked', 'checked_parts']) {
      await w.registry.addCollection({ table: name(t), species: 'SPE-DOM', codeColumn: 'code' });
    }
    await w.registry.wire([name('checked'), name('checked_parts')]);
    const state = async (t: string) =>
      (
        await w.sql(
          `SELECT entity_code, inspection_status, inspected_at IS NOT NULL AS inspected, inspection_note
           FROM ${w.ns}.birth_registry WHERE collection_name = $1 ORDER BY entity_code COLLATE "C"`,
          [name(t)],
        )
      ).map((b) => [b.entity_code, b.inspection_status, b.inspected, b.inspection_note]);
    for (const [t, k] of [
      ['checked', 'A'],
      ['checked_parts', 'P'],
    ] as const) {
      // the species' prefix, the collection's fallback (no code), a code of no accepted prefix;
      // then an update to a good code and one to a bad code (moved to the other partition)
      await w.registry.db.exec(
        `INSERT INTO ${w.a}.${t} VALUES (1, 'DOM-${k}1'), (2, NULL), (3, 'BAD-${k}3'), (4, 'DOM-${k}4')`,
      );
      await w.registry.db.exec(`UPDATE ${w.a}.${t} SET code = 'DOM-${k}5' WHERE id = 4`);
      await w.registry.db.exec(`UPDATE ${w.a}.${t} SET id = 106, code = 'BAD-${k}6' WHERE id = 1`);
      await w.registry.db.exec(
        `INSERT INTO ${w.a}.${t} SELECT g, 'DOM-${k}' || g FROM generate_series(110, 119) g`,
      );
      const passed = (code: string) => [code, 'passed', true, null];
      assert.deepEqual(await state(t), [
        [`BAD-${k}3`, 'pending', false, null],
        [`BAD-${k}6`, 'pending', false, null],
        passed(`DOM-${k}1`),
        ...Array.from({ length: 10 }, (_, i) => passed(`DOM-${k}${110 + i}`)),
        passed(`DOM-${k}4`),
        passed(`DOM-${k}5`),
        passed(`${name(t)}::2`),
      ]);
      const reason = `code does not match the column identity (expected a prefix of DOM- or ${name(t)}::)`;
      const [r] = await w.registry.inspect([name(t)]);
      assert.deepEqual(
        [r?.checked, r?.passed, r?.failed, r?.failures],
        [
          2,
          0,
          2,
          [
            { entity_code: `BAD-${k}3`, reason },
            { entity_code: `BAD-${k}6`, reason },
          ],
        ],
      );
      // what passed at birth passes a recheck (but DOM-1 and DOM-4: their rows have other codes now)
      const [again] = await w.registry.inspect([name(t)], { recheck: true });
      assert.deepEqual(
        again?.failures.map((f) => f.entity_code),
        [`BAD-${k}3`, `BAD-${k}6`, `DOM-${k}1`, `DOM-${k}4`],
      );
    }
    // a synthetic code is always the collection's own
    const synthetic = (await w.births(name('items'))).map((b) => b.inspection_status);
    assert.ok(synthetic.length > 0 && synthetic.every((s) => s === 'passed'), String(synthetic));
  });

  test('making a wired collection staging unwires it', async () => {
    await w.registry.db.exec(`CREATE TABLE ${w.a}.later (id int PRIMARY KEY)`);
    await w.registry.addCollection({ table: name('later'), species: 'SPE-DOM' });
    await w.registry.wire([name('later')]);
    const c = await w.registry.setCollection(name('later'), { role: 'staging' });
    assert.equal(c.wired, false);
    await w.registry.db.exec(`INSERT INTO ${w.a}.later VALUES (1)`);
    assert.equal((await w.births(name('later'))).length, 0);
  });
});
