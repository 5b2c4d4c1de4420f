import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { eachBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';
import { rejects, type World, world } from './helpers/setup.js';

eachBackend('birth-first gateway', (backend) => {
  let w: World;
  const name = (t: string) => `${w.app}.${t}`;
  const count = async (sql: string) => (await w.sql(`SELECT count(*)::int AS n FROM ${sql}`))[0]?.n as number;

  before(async () => {
    w = await world(backend);
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.rules (id serial PRIMARY KEY, code text UNIQUE, name text NOT NULL,
                                 weight int CHECK (weight >= 0), _dot_origin text,
                                 created_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${w.a}.rules (code, name) SELECT 'DOM-' || lpad(g::text, 3, '0'), 'r' || g FROM generate_series(1, 67) g;
      CREATE TABLE ${w.a}.plain (id int PRIMARY KEY, code text);
      CREATE TABLE ${w.a}.keyed (id int PRIMARY KEY, v text);
      CREATE TABLE ${w.a}.staged (id int PRIMARY KEY, code text);`);
    await w.registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    await w.registry.addCollection({
      table: name('rules'),
      species: 'SPE-DOM',
      codeColumn: 'code',
      owner: 'alice',
    });
    await w.registry.addCollection({
      table: name('plain'),
      species: 'SPE-DOM',
      codeColumn: 'code',
    });
    await w.registry.addCollection({ table: name('keyed'), species: 'SPE-DOM' });
    await w.registry.addCollection({
      table: name('staged'),
      species: 'SPE-DOM',
      codeColumn: 'code',
      role: 'staging',
    });
    await w.registry.addCollection({
      table: name('ghost'),
      species: 'SPE-DOM',
      codeColumn: 'code',
      noTable: true,
    });
    await w.registry.wire([name('rules'), name('plain'), name('keyed')]);
  });

  test('codes continue after the codes already in the data: DOM-068 follows DOM-067', async () => {
    const birth = await w.registry.create(name('rules'), { name: 'new rule', weight: 3 }, 'dot-test');
    assert.equal(birth.entity_code, 'DOM-068');
    assert.equal(birth.dot_origin, 'dot-test');
    assert.equal(birth.operation, 'gateway');
    assert.equal(birth.inspection_status, 'passed');
    assert.deepEqual(Object.keys(birth.key), ['id']);
    const [row] = await w.sql(
      `SELECT code, name, weight, _dot_origin, created_at IS NOT NULL AS dated FROM ${w.a}.rules WHERE id = $1`,
      [birth.key.id],
    );
    assert.deepEqual(row, {
      code: 'DOM-068',
      name: 'new rule',
      weight: 3,
      _dot_origin: 'dot-test',
      dated: true,
    });
    const [b] = await w.births(name('rules'));
    assert.equal(b?.entity_code, 'DOM-068', 'exactly one birth: the trigger left it alone');
    assert.equal((await w.births(name('rules'))).length, 1);
  });

  test('a code already born anywhere, or taken by a row, is skipped', async () => {
    // A species of its own, so that no other test's codes count: SKP-001 … SKP-003 in the
    // data, SKP-004 in a row of a sibling collection with no birth (its trigger disabled),
    // SKP-005 born (for another collection) with no row.
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.skip_a (id serial PRIMARY KEY, code text UNIQUE, name text);
      INSERT INTO ${w.a}.skip_a (code) VALUES ('SKP-001'), ('SKP-002'), ('SKP-003');
      CREATE TABLE ${w.a}.skip_b (id int PRIMARY KEY, code text);`);
    await w.registry.addSpecies({ code: 'SPE-SKP', prefix: 'SKP', level: 'atom' });
    await w.registry.addCollection({ table: name('skip_a'), species: 'SPE-SKP', codeColumn: 'code' });
    await w.registry.addCollection({ table: name('skip_b'), species: 'SPE-SKP', codeColumn: 'code' });
    await w.registry.wire([name('skip_a'), name('skip_b')]);
    await w.sql(
      `INSERT INTO ${w.ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
         dot_origin, governance_role, operation) VALUES ('SKP-005', $1, 'SPE-SKP', 'atom', 'test', 'governed', 'import')`,
      [name('skip_b')],
    );
    await w.registry.db.exec(`ALTER TABLE ${w.a}.skip_b DISABLE TRIGGER natal_birth_auto;
      INSERT INTO ${w.a}.skip_b VALUES (1, 'SKP-004');
      ALTER TABLE ${w.a}.skip_b ENABLE TRIGGER natal_birth_auto`);
    const birth = await w.registry.create(name('skip_a'), { name: 'next' });
    assert.equal(birth.entity_code, 'SKP-006');
    assert.equal(birth.dot_origin, 'natal:create');
    assert.deepEqual(
      await w.sql(
        `SELECT entity_code, collection_name FROM ${w.ns}.birth_registry WHERE entity_code LIKE 'SKP-%' ORDER BY 1`,
      ),
      [
        { entity_code: 'SKP-005', collection_name: name('skip_b') },
        { entity_code: 'SKP-006', collection_name: name('skip_a') },
      ],
      'the row holding SKP-004 stays unborn: the gateway kept no birth of it',
    );
  });

  test('a failed entity insert leaves no birth, and its code is never reused', async () => {
    // A species of its own: FLD-001 is in the data, so the gateway's first code is FLD-002.
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.failing (id serial PRIMARY KEY, code text UNIQUE, name text NOT NULL,
                                   weight int CHECK (weight >= 0));
      INSERT INTO ${w.a}.failing (code, name) VALUES ('FLD-001', 'first');`);
    await w.registry.addSpecies({ code: 'SPE-FLD', prefix: 'FLD', level: 'atom' });
    await w.registry.addCollection({ table: name('failing'), species: 'SPE-FLD', codeColumn: 'code' });
    await w.registry.wire([name('failing')]);
    const failing = name('failing');
    const births = () => count(`${w.ns}.birth_registry`);
    const before = await births();
    // the entity insert fails: FLD-002, FLD-003 and FLD-004 were drawn, and are burnt
    await rejects(w.registry.create(failing, { weight: 1 }), 'ENTITY_REJECTED', /not-null|null value/);
    await rejects(w.registry.create(failing, { name: 'x', weight: -1 }), 'ENTITY_REJECTED', /check/);
    await rejects(w.registry.create(failing, { name: 'x', weight: 'heavy' }), 'ENTITY_REJECTED');
    // refused before a code is drawn
    await rejects(w.registry.create(failing, { name: 'x', nope: 1 }), 'BAD_ENTITY_DATA', /no column nope/);
    await rejects(
      w.registry.create(failing, { name: 'x', code: 'FLD-999' }),
      'BAD_ENTITY_DATA',
      /assigns the code/,
    );
    await rejects(w.registry.create(failing, [1, 2]), 'BAD_ENTITY_DATA', /JSON object/);
    await rejects(w.registry.create(failing, 'text'), 'BAD_ENTITY_DATA');
    assert.equal(await births(), before, 'no phantom');
    assert.equal(await count(`${w.a}.failing`), 1, 'no row');
    const next = await w.registry.create(failing, { name: 'after failures' });
    assert.equal(next.entity_code, 'FLD-005', 'no burnt number is reused');
  });

  test('refusals say why: unknown, not governed, frozen, no table, no code column, not wired', async () => {
    await rejects(w.registry.create(name('nothing'), {}), 'COLLECTION_UNKNOWN');
    await rejects(w.registry.create(name('staged'), { id: 1 }), 'COLLECTION_NOT_GOVERNED', /staging/);
    await rejects(w.registry.create(name('ghost'), {}), 'NO_TABLE');
    await rejects(w.registry.create(name('keyed'), { id: 1 }), 'IDENTITY_UNCLASSIFIED', /no code column/);
    await w.registry.db.exec(`CREATE TABLE ${w.a}.unwired (id int PRIMARY KEY, code text)`);
    await w.registry.addCollection({
      table: name('unwired'),
      species: 'SPE-DOM',
      codeColumn: 'code',
    });
    await rejects(w.registry.create(name('unwired'), { id: 1 }), 'NOT_WIRED', /natal wire/);
    await w.sql(`INSERT INTO ${w.ns}.operation_freeze (target, reason) VALUES ($1, 'audit in progress')`, [
      name('plain'),
    ]);
    await rejects(w.registry.create(name('plain'), { id: 9 }), 'COLLECTION_FROZEN', /audit in progress/);
    await w.sql(`DELETE FROM ${w.ns}.operation_freeze WHERE target = $1`, [name('plain')]);
    await w.sql(`DELETE FROM ${w.ns}.species_collection_map WHERE collection_name = $1`, [name('unwired')]);
    await rejects(w.registry.create(name('unwired'), { id: 1 }), 'SPECIES_UNMAPPED');
    assert.equal(await count(`${w.a}.unwired`), 0);
  });

  test('strict: a direct insert without a prior birth is rejected; the gateway still works', async () => {
    await w.registry.setCollection(name('plain'), { strict: true });
    await assert.rejects(
      w.registry.db.exec(`INSERT INTO ${w.a}.plain VALUES (50, 'DOM-500')`),
      /strict: entity DOM-500 has no prior birth/,
    );
    assert.equal(await count(`${w.a}.plain WHERE id = 50`), 0);
    const birth = await w.registry.create(name('plain'), { id: 51 });
    assert.match(birth.entity_code, /^DOM-\d+$/);
    // A code born for another collection does not count as this one's birth.
    await assert.rejects(
      w.registry.db.exec(`INSERT INTO ${w.a}.plain VALUES (52, 'DOM-068')`),
      /strict: entity DOM-068/,
    );
    await w.registry.setCollection(name('plain'), { strict: false });
    await w.registry.db.exec(`INSERT INTO ${w.a}.plain VALUES (50, 'DOM-500')`);
    assert.equal((await w.births(name('plain'))).filter((b) => b.entity_code === 'DOM-500').length, 1);
  });

  test('a code held by an unborn row of another collection of the species is skipped', async () => {
    await w.registry.db.exec(`CREATE TABLE ${w.a}.sibling (id int PRIMARY KEY, code text)`);
    await w.registry.addCollection({ table: name('sibling'), species: 'SPE-DOM', codeColumn: 'code' });
    const [seq] = await w.sql(`SELECT last_value::int AS n FROM ${w.ns}."code_seq_DOM"`);
    const next = (seq?.n as number) + 1;
    await w.registry.db.exec(
      `INSERT INTO ${w.a}.sibling VALUES (1, 'DOM-${next}'), (2, 'DOM-${next + 1}'), (3, 'DOM-${next + 2}')`,
    );
    assert.equal(
      (await w.births(name('sibling'))).length,
      0,
      'the sibling is not wired: its rows are unborn',
    );
    const birth = await w.registry.create(name('rules'), { name: 'after the sibling' });
    assert.equal(birth.entity_code, `DOM-${next + 3}`);
    assert.equal(
      await count(
        `${w.ns}.birth_registry WHERE entity_code IN ('DOM-${next}', 'DOM-${next + 1}', 'DOM-${next + 2}')`,
      ),
      0,
      'no birth of a code a row holds',
    );
  });

  test('a char(n) code column: the gateway matches the padded code, classification sees the format', async () => {
    await w.registry.db
      .exec(`CREATE TABLE ${w.a}.fixed (id serial PRIMARY KEY, code char(12) NOT NULL UNIQUE, name text);
                               INSERT INTO ${w.a}.fixed (code) VALUES ('DOM-800')`);
    await w.registry.addCollection({ table: name('fixed'), species: 'SPE-DOM', codeColumn: 'code' });
    const [proposal] = await w.registry.classify([name('fixed')]);
    assert.deepEqual([proposal?.strategy, proposal?.column], ['column', 'code']);
    await w.registry.wire([name('fixed')]);
    const birth = await w.registry.create(name('fixed'), { name: 'padded' });
    assert.match(birth.entity_code, /^DOM-\d+$/);
    assert.deepEqual(
      (await w.births(name('fixed'))).map((b) => b.entity_code),
      [birth.entity_code],
    );
  });

  test("rows a trigger inserts during the gateway's insert are born; so are rows after it", async () => {
    // A row that another trigger inserts into the same table during the gateway's insert
    // is born by the auto-birth trigger like any other.
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.echoed (id serial PRIMARY KEY, code text UNIQUE, name text NOT NULL);
      CREATE FUNCTION ${w.a}.echo() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name = 'parent' THEN
          INSERT INTO ${w.a}.echoed (code, name) VALUES ('ECHO-' || NEW.code, 'child');
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER echo AFTER INSERT ON ${w.a}.echoed FOR EACH ROW EXECUTE FUNCTION ${w.a}.echo();`);
    await w.registry.addCollection({ table: name('echoed'), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.wire([name('echoed')]);
    const born = await w.registry.db.transaction(async (tx) => {
      const r = await tx.query<{ b: { entity_code: string } }>(
        `SELECT ${w.ns}.create_entity($1, '{"name": "parent"}') AS b`,
        [name('echoed')],
      );
      await tx.query(`INSERT INTO ${w.a}.echoed (code, name) VALUES ('AFTER-1', 'after')`);
      return r.rows[0]?.b.entity_code;
    });
    const orphans = await w.sql(
      `SELECT e.code FROM ${w.a}.echoed e
       WHERE NOT EXISTS (SELECT 1 FROM ${w.ns}.birth_registry b
                         WHERE b.entity_code = e.code AND b.collection_name = $1)
       ORDER BY 1`,
      [name('echoed')],
    );
    assert.deepEqual(orphans, []);
    assert.deepEqual(
      (await w.sql(`SELECT code FROM ${w.a}.echoed ORDER BY id`)).map((r) => r.code),
      [born, `ECHO-${born}`, 'AFTER-1'],
    );
  });

  test('the SQL function is the same gateway for any client', async () => {
    const [r] = await w.sql(`SELECT ${w.ns}.create_entity($1, $2::jsonb, 'psql') AS b`, [
      name('rules'),
      JSON.stringify({ name: 'from sql' }),
    ]);
    const b = r?.b as { entity_code: string; dot_origin: string; key: { id: number } };
    assert.equal(b.dot_origin, 'psql');
    const [row] = await w.sql(`SELECT code FROM ${w.a}.rules WHERE id = $1`, [b.key.id]);
    assert.equal(row?.code, b.entity_code);
  });
});

eachBackend('natal create (cli)', (backend) => {
  test('prints the code; --json prints the birth record and the key; bad JSON exits 2', async () => {
    const target = backend.cliTarget();
    const schema = backend.uniqueName('natal');
    const app = backend.uniqueName('App Schema');
    const run = (...args: string[]) => natal([...args, ...target, '--schema', schema]);
    assert.equal((await run('init')).code, 0);
    // The CLI has no DDL command: make the table through a one-off registry on the same target.
    const { Registry } = await import('../src/registry.js');
    const { quoteIdent } = await import('../src/db/ident.js');
    const opts = target[0] === '--db' ? { db: target[1], schema } : { dataDir: target[1], schema };
    const r = await Registry.open(opts);
    await r.db.exec(
      `CREATE SCHEMA ${quoteIdent(app)}; CREATE TABLE ${quoteIdent(app)}."Rule Set" (id serial PRIMARY KEY, code text, name text)`,
    );
    await r.close();
    const table = `"${app}"."Rule Set"`;
    assert.equal((await run('species', 'add', 'SPE-RUL', '--prefix', 'RUL', '--level', 'atom')).code, 0);
    const add = await run('collection', 'add', table, '--species', 'SPE-RUL', '--code-column', 'code');
    assert.equal(add.code, 0, add.stderr);
    assert.equal((await run('wire', table)).code, 0);
    const created = await run('create', table, '--data', '{"name":"first"}', '--origin', 'cli-test');
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout.trim(), 'RUL-001');
    const json = await run('create', table, '--data', '{"name":"second"}', '--json');
    const birth = JSON.parse(json.stdout) as {
      entity_code: string;
      key: { id: number };
      collection_name: string;
    };
    assert.equal(birth.entity_code, 'RUL-002');
    assert.deepEqual(birth.key, { id: 2 });
    assert.equal(birth.collection_name, `"${app}"."Rule Set"`);
    const bad = await run('create', table, '--data', '{name:');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--data is not valid JSON/);
    // valid JSON that is not an object is a usage error too, and writes nothing
    const array = await run('create', table, '--data', '[1,2]');
    assert.equal(array.code, 2);
    assert.equal(
      array.stderr,
      `natal: --data must be a JSON object of column values, such as '{"name":"x"}'\n`,
    );
    const rejected = await run('create', table, '--data', '{"id":"x"}');
    assert.equal(rejected.code, 1);
    assert.equal(rejected.stderr.trim().split('\n').length, 1);
    const unknown = await run('create', `${app}.nope`, '--data', '{}');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /not registered/);
    const triggers = await run('triggers', '--json');
    const inventory = JSON.parse(triggers.stdout) as {
      collection_name: string;
      functional: boolean;
    }[];
    assert.ok(inventory.find((t) => t.collection_name === `"${app}"."Rule Set"`)?.functional);
  });
});
