/**
 * The kept census (0014): a census counted forward from the last one must say what a full
 * recount says, after every kind of change; and it must count again whenever a change could
 * have moved the gap, the phantoms or the duplicate risk.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { Census } from '../src/census/census.js';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { type Actors, actors } from './helpers/actors.js';
import { eachBackend, SERVER_URL } from './helpers/backends.js';
import { natal } from './helpers/cli.js';
import { type World, world } from './helpers/setup.js';

/** What a census says, in a form two censuses can be compared by. */
function numbers(c: Census): unknown {
  return {
    collections: c.collections.map((r) => [r.collection, r.rows, r.births, r.gap, r.phantoms, r.state]),
    totals: c.totals,
    state: c.state,
  };
}

eachBackend('kept census', (backend) => {
  let w: World;
  const name = (t: string) => `${w.app}.${t}`;
  /** A census, then a full recount: the same numbers; returns the first one's basis. */
  const census = async (tables: string[] = []) => {
    const c = await w.registry.census(tables);
    const full = await w.registry.census(tables, { recount: true });
    assert.equal(full.counted.how, 'recount');
    assert.deepEqual(numbers(c), numbers(full), `${c.counted.how} census differs from a recount`);
    return c;
  };
  const birth = (code: string, collection: string, operation = 'import') =>
    w.sql(
      `INSERT INTO ${w.ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
         dot_origin, governance_role, operation)
       VALUES ($1, $2, 'SPE-DOM', 'atom', 'test', 'governed', $3)`,
      [code, collection, operation],
    );

  before(async () => {
    w = await world(backend);
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.rules (id serial PRIMARY KEY, code text UNIQUE, name text);
      INSERT INTO ${w.a}.rules (code) SELECT 'DOM-' || g FROM generate_series(1, 20) g;
      CREATE TABLE ${w.a}.items (id int PRIMARY KEY, v text);
      INSERT INTO ${w.a}.items SELECT g, 'ITM-' || g FROM generate_series(1, 8) g;
      CREATE TABLE ${w.a}.pairs (a text, b text, PRIMARY KEY (a, b));
      INSERT INTO ${w.a}.pairs VALUES ('x/y', '1'), ('x', 'y/1');
      CREATE TABLE ${w.a}.other (id int PRIMARY KEY, code text UNIQUE);
      INSERT INTO ${w.a}.other VALUES (1, 'OTH-1'), (2, 'SHARED-1');
      CREATE TABLE ${w.a}.stage (id int PRIMARY KEY, v text);
      INSERT INTO ${w.a}.stage VALUES (1, 'x');`);
    await w.registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    await w.registry.addCollection({ table: name('rules'), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.addCollection({ table: name('items'), species: 'SPE-DOM' });
    await w.registry.addCollection({ table: name('pairs'), species: 'SPE-DOM' });
    await w.registry.addCollection({ table: name('other'), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.addCollection({ table: name('stage'), species: 'SPE-DOM', role: 'staging' });
    await w.registry.classify([name('pairs')], { apply: true });
    await w.registry.wire([name('rules'), name('items'), name('pairs'), name('other')]);
    // Births for half the rules (the rest is the gap) and two phantoms.
    await w.sql(
      `INSERT INTO ${w.ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
         dot_origin, governance_role, operation)
       SELECT code, $1, 'SPE-DOM', 'atom', 'test', 'governed', 'import' FROM ${w.a}.rules WHERE id <= 10`,
      [name('rules')],
    );
    await birth('DOM-900', name('rules'));
    await birth('DOM-901', name('rules'));
  });

  /** The tables of this world that have natal's census trigger (only while keeping is on). */
  const censusTriggers = async () =>
    (
      await w.sql(
        `SELECT c.relname AS t FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE g.tgname = 'natal_census_change' AND n.nspname = $1 ORDER BY 1`,
        [w.app],
      )
    ).map((r) => String(r.t));

  test('off by default: every census counts in full and nothing is kept', async () => {
    // off, no wired table pays for the census trigger on its deletes
    assert.deepEqual(await censusTriggers(), []);
    for (let i = 0; i < 2; i++) {
      const c = await w.registry.census();
      assert.deepEqual([c.counted.how, c.counted.kept_at, c.counted.keeping], ['recount', null, false]);
    }
    assert.deepEqual(
      await w.sql(`SELECT born_xid FROM ${w.ns}.birth_registry WHERE born_xid IS NOT NULL`),
      [],
    );
    await w.registry.setCensusKeeping(true);
    assert.deepEqual(await censusTriggers(), ['items', 'other', 'pairs', 'rules']);
    // what turning it on adds (a default, an index, the triggers) is what natal doctor expects
    assert.deepEqual((await w.registry.doctor()).findings, []);
  });

  test('the first census counts and is kept; the next starts from it', async () => {
    const first = await w.registry.census();
    assert.equal(first.counted.how, 'recount');
    assert.ok(first.counted.kept_at, 'a census of every governed collection is kept');
    const next = await census();
    assert.deepEqual([next.counted.how, next.counted.births_since], ['kept', 0]);
    // counted forward, the census reads no registry: births per day are read apart, the same
    const charted = await w.registry.census([], { birthsPerDay: { days: 30, top: 6 } });
    assert.equal(charted.counted.how, 'kept');
    assert.ok(charted.births_per_day?.length, 'births today');
    assert.deepEqual(charted.births_per_day, await w.registry.birthsPerDay(30, 6));
    const rules = next.collections.find((c) => c.collection === name('rules'));
    assert.deepEqual([rules?.rows, rules?.births, rules?.gap, rules?.phantoms], [20, 12, 10, 2]);
    // A staging collection is not kept, but still counted.
    assert.deepEqual(
      next.collections.filter((c) => c.collection === name('stage')).map((c) => [c.rows, c.state]),
      [[1, 'STAGING']],
    );
  });

  test('rows born by their triggers and by the gateway are counted forward', async () => {
    await w.sql(`INSERT INTO ${w.a}.rules (code) SELECT 'DOM-' || g FROM generate_series(21, 25) g`);
    await w.sql(`INSERT INTO ${w.a}.items VALUES (9, 'y')`);
    await w.sql(`INSERT INTO ${w.a}.pairs VALUES ('q', 'r/s')`);
    await w.registry.create(name('rules'), { name: 'made by the gateway' });
    const c = await census();
    assert.deepEqual([c.counted.how, c.counted.births_since], ['kept', 8]);
    const rules = c.collections.find((r) => r.collection === name('rules'));
    assert.deepEqual([rules?.rows, rules?.births, rules?.gap, rules?.phantoms], [26, 18, 10, 2]);
    // and kept again: the next census has no births to read
    assert.deepEqual([(await census()).counted.births_since], [0]);
  });

  test('a subset is reported from the kept census of all', async () => {
    await w.sql(`INSERT INTO ${w.a}.items VALUES (10, 'z')`);
    const c = await census([name('items'), name('stage')]);
    assert.equal(c.counted.how, 'kept');
    assert.deepEqual(
      c.collections.map((r) => [r.collection, r.rows, r.gap]),
      [
        [name('items'), 10, 8],
        [name('stage'), 1, 1],
      ],
    );
  });

  const changes: [string, string | (() => Promise<unknown>)][] = [
    ['a row whose code was a phantom', `INSERT INTO ${'%a'}.rules (code) VALUES ('DOM-900')`],
    ['a deleted row', `DELETE FROM ${'%a'}.rules WHERE code = 'DOM-3'`],
    ['a re-coded row', `UPDATE ${'%a'}.rules SET code = 'DOM-300' WHERE code = 'DOM-4'`],
    ['a truncated table', `TRUNCATE ${'%a'}.pairs`],
    ['a deleted birth', `DELETE FROM ${'%n'}.birth_registry WHERE entity_code = 'DOM-901'`],
    ['a birth for an orphan, by import', async () => birth('DOM-15', name('rules'))],
    ['a trigger birth with no row', async () => birth('DOM-990', name('rules'), 'trigger')],
    [
      'a row inserted with its trigger disabled',
      `ALTER TABLE ${'%a'}.items DISABLE TRIGGER natal_birth_auto;
       INSERT INTO ${'%a'}.items VALUES (11, 'x');
       ALTER TABLE ${'%a'}.items ENABLE TRIGGER natal_birth_auto`,
    ],
    ['a new code another table already has', `INSERT INTO ${'%a'}.rules (code) VALUES ('SHARED-1')`],
    [
      'a change of identity',
      async () => w.registry.setIdentity(name('items'), { strategy: 'legacy', column: 'v', force: true }),
    ],
  ];
  for (const [what, change] of changes) {
    test(`after ${what}, the census counts again`, async () => {
      assert.equal((await census()).counted.how, 'kept', 'kept before the change');
      if (typeof change === 'string') {
        await w.registry.db.exec(change.replaceAll('%a', w.a).replaceAll('%n', w.ns));
      } else {
        await change();
      }
      const c = await census();
      assert.equal(c.counted.how, 'recount', `${what}: counted forward`);
    });
  }

  test('turned off, the census counts in full again; turned on, it keeps again', async () => {
    assert.equal((await census()).counted.how, 'kept');
    await w.registry.setCensusKeeping(false);
    assert.deepEqual(await censusTriggers(), []);
    // wired again while off: still none
    await w.registry.wire([name('items')]);
    assert.deepEqual(await censusTriggers(), []);
    assert.deepEqual((await w.registry.census()).counted.how, 'recount');
    assert.deepEqual((await w.registry.census()).counted.how, 'recount');
    await w.sql(`INSERT INTO ${w.a}.items VALUES (90, 'ITM-90')`);
    // a delete while off is seen by no trigger: turning keeping on counts everything again
    await w.sql(`DELETE FROM ${w.a}.items WHERE id = 90`);
    await w.registry.setCensusKeeping(true);
    assert.deepEqual(await censusTriggers(), ['items', 'other', 'pairs', 'rules']);
    assert.equal((await w.registry.census()).counted.how, 'recount');
    await w.sql(`INSERT INTO ${w.a}.items VALUES (91, 'ITM-91')`);
    assert.deepEqual((await census()).counted.births_since, 1);
  });
});

eachBackend('species siblings', (backend) => {
  test('a change of identity re-wires the other collections of its species', async () => {
    const w = await world(backend);
    const name = (t: string) => `${w.app}.${t}`;
    // items holds DOM-001 in a column that is not yet its code column, and no birth for it.
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.rules (id serial PRIMARY KEY, code text UNIQUE, name text);
      CREATE TABLE ${w.a}.items (id int PRIMARY KEY, v text);
      INSERT INTO ${w.a}.items VALUES (1, 'DOM-001');`);
    await w.registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    await w.registry.addCollection({ table: name('rules'), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.addCollection({ table: name('items'), species: 'SPE-DOM' });
    await w.registry.wire([name('rules'), name('items')]);
    await w.registry.setIdentity(name('items'), { strategy: 'legacy', column: 'v' });
    // rules' gateway probes every code column of the species: items now has one (legacy v)
    const stale = (await w.registry.triggers()).filter(
      (t) => t.governance_role === 'governed' && !t.functional,
    );
    assert.deepEqual(
      stale.map((t) => [t.collection_name, t.problem]),
      [],
    );
    assert.equal((await w.registry.create(name('rules'), { name: 'next' })).entity_code, 'DOM-002');
  });

  test('moving a collection to another species re-wires the collections of both', async () => {
    const w = await world(backend);
    const name = (t: string) => `${w.app}.${t}`;
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.a (id int PRIMARY KEY, code text UNIQUE);
      CREATE TABLE ${w.a}.b (id int PRIMARY KEY, code text UNIQUE);
      CREATE TABLE ${w.a}.c (id int PRIMARY KEY, code text UNIQUE);`);
    await w.registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    await w.registry.addSpecies({ code: 'SPE-OTH', prefix: 'OTH', level: 'atom' });
    for (const t of ['a', 'b']) {
      await w.registry.addCollection({ table: name(t), species: 'SPE-DOM', codeColumn: 'code' });
    }
    await w.registry.addCollection({ table: name('c'), species: 'SPE-OTH', codeColumn: 'code' });
    await w.registry.wire([name('a'), name('b'), name('c')]);
    // b leaves a's species for c's: a's gateway no longer probes b, c's now does.
    await w.registry.setCollection(name('b'), { species: 'SPE-OTH' });
    const stale = (await w.registry.triggers()).filter(
      (t) => !t.functional && t.governance_role === 'governed',
    );
    assert.deepEqual(
      stale.map((t) => [t.collection_name, t.problem]),
      [],
    );
  });
});

eachBackend('kept census: what its triggers could miss', (backend) => {
  let w: World;
  const name = (t: string) => `${w.app}.${t}`;
  const census = async () => {
    const c = await w.registry.census();
    const full = await w.registry.census([], { recount: true });
    assert.deepEqual(numbers(c), numbers(full), `${c.counted.how} census differs from a recount`);
    return c;
  };
  before(async () => {
    w = await world(backend);
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.e (id serial PRIMARY KEY, code text UNIQUE);
      CREATE TABLE ${w.a}.f (id serial PRIMARY KEY, code text UNIQUE);
      INSERT INTO ${w.a}.f (code) VALUES ('DOM-1'), ('DOM-2');`);
    await w.registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    await w.registry.addCollection({ table: name('e'), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.addCollection({ table: name('f'), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.wire([name('e'), name('f')]);
    await w.registry.setCensusKeeping(true);
  });

  test('an empty table counts 0 rows, 0 gap, 0 phantoms, and is counted forward from there', async () => {
    const c = await census();
    assert.deepEqual(
      c.collections
        .filter((r) => r.collection === name('e'))
        .map((r) => [r.rows, r.gap, r.phantoms, r.state]),
      [[0, 0, 0, 'COMPLETE']],
    );
    await w.sql(`INSERT INTO ${w.a}.e (code) VALUES ('DOM-50')`);
    const next = await census();
    assert.deepEqual([next.counted.how, next.counted.births_since], ['kept', 1]);
  });

  test('a statement made while a trigger was disabled, then enabled again, is not missed', async () => {
    assert.equal((await census()).counted.how, 'kept');
    // Nothing records the re-coding; only the census trigger's new row version tells.
    await w.registry.db.exec(`
      ALTER TABLE ${w.a}.f DISABLE TRIGGER natal_census_change;
      ALTER TABLE ${w.a}.f DISABLE TRIGGER natal_birth_update;
      UPDATE ${w.a}.f SET code = 'DOM-77' WHERE code = 'DOM-1';
      ALTER TABLE ${w.a}.f ENABLE ALWAYS TRIGGER natal_census_change;
      ALTER TABLE ${w.a}.f ENABLE TRIGGER natal_birth_update;`);
    assert.equal((await census()).counted.how, 'recount');
  });

  test('after ENABLE TRIGGER USER no census is kept until natal wire', async () => {
    // It leaves natal's census trigger firing in origin mode only, not in replica mode.
    await w.registry.db.exec(
      `ALTER TABLE ${w.a}.f DISABLE TRIGGER USER; ALTER TABLE ${w.a}.f ENABLE TRIGGER USER`,
    );
    assert.equal((await census()).counted.kept_at, null);
    await w.registry.wire([name('f')]);
    assert.notEqual((await census()).counted.kept_at, null);
  });

  test('deletes and inserts in replica mode are not missed', async () => {
    assert.equal((await census()).counted.how, 'kept');
    await w.registry.db.transaction(async (tx) => {
      await tx.query('SET LOCAL session_replication_role = replica');
      await tx.query(`DELETE FROM ${w.a}.f WHERE code = 'DOM-2'`);
      await tx.query(`INSERT INTO ${w.a}.f (code) VALUES ('DOM-4')`);
    });
    assert.equal((await census()).counted.how, 'recount');
  });

  test(
    'a collection named like an object property is counted',
    {
      skip:
        backend.name === 'server'
          ? "a bare name is a table in public, and the server's test database is shared"
          : false,
    },
    async () => {
      await w.registry.db.exec(`CREATE TABLE public."constructor" (id int PRIMARY KEY, code text)`);
      await w.registry.addCollection({ table: '"constructor"', species: 'SPE-DOM', role: 'staging' });
      await w.registry.census(); // kept again after the registration's catalog birth
      const c = await w.registry.census(['"constructor"']);
      assert.equal(c.counted.how, 'kept');
      assert.deepEqual(
        c.collections.map((r) => [r.collection, r.rows]),
        [['constructor', 0]],
      );
    },
  );

  test('a registry with a partition for a collection is always counted in full', async () => {
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.m (id int PRIMARY KEY, code text) PARTITION BY RANGE (id);
      CREATE TABLE ${w.a}.m1 PARTITION OF ${w.a}.m FOR VALUES FROM (0) TO (100);`);
    await w.registry.addCollection({ table: name('m1'), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.wire([name('m1')]);
    for (let i = 0; i < 2; i++) {
      const c = await census();
      assert.deepEqual([c.counted.how, c.counted.kept_at], ['recount', null]);
    }
  });
});

eachBackend('kept census, test by test', (backend) => {
  /** A registry with rules (DOM-1 … DOM-3, born) and other (OTH-1, SHARED-1), both wired. */
  const setup = async (keeping: boolean) => {
    const w = await world(backend);
    const name = (t: string) => `${w.app}.${t}`;
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.rules (id serial PRIMARY KEY, code text UNIQUE, name text);
      CREATE TABLE ${w.a}.other (id int PRIMARY KEY, code text UNIQUE);
      INSERT INTO ${w.a}.other VALUES (1, 'OTH-1'), (2, 'SHARED-1');`);
    await w.registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    await w.registry.addCollection({ table: name('rules'), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.addCollection({ table: name('other'), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.wire([name('rules'), name('other')]);
    await w.sql(`INSERT INTO ${w.a}.rules (code) VALUES ('DOM-1'), ('DOM-2'), ('DOM-3')`);
    if (keeping) await w.registry.setCensusKeeping(true);
    /** A census, then a full recount: the same numbers. */
    const census = async () => {
      const c = await w.registry.census();
      const full = await w.registry.census([], { recount: true });
      assert.deepEqual(numbers(c), numbers(full), `${c.counted.how} census differs from a recount`);
      return c;
    };
    return { w, name, census };
  };

  test('a new code another table has is a duplicate risk, whichever census finds it', async () => {
    const { w, name, census } = await setup(true);
    assert.equal((await census()).counted.how, 'recount', 'the first census counts');
    assert.equal((await census()).counted.how, 'kept');
    await w.sql(`INSERT INTO ${w.a}.rules (code) VALUES ('SHARED-1')`);
    const risky = (c: Census) =>
      c.collections.filter((r) => r.state === 'DUPLICATE_RISK').map((r) => r.collection);
    const found = await census();
    assert.equal(found.counted.how, 'recount', 'a new code another table has: counted again');
    assert.deepEqual(risky(found), [name('other'), name('rules')]);
    const kept = await census();
    assert.equal(kept.counted.how, 'kept');
    assert.deepEqual(risky(kept), [name('other'), name('rules')]);
  });

  test('census --recount and the counted field (cli)', async () => {
    const target = backend.cliTarget();
    const schema = backend.uniqueName('natal');
    const app = backend.uniqueName('app');
    const run = (...args: string[]) => natal([...target, '--schema', schema, ...args]);
    assert.equal((await run('init')).code, 0);
    // the CLI needs the database to itself (PGlite): set up, then close
    const r = await Registry.open(
      target[0] === '--db' ? { db: target[1], schema } : { dataDir: target[1], schema },
    );
    await r.db.exec(`CREATE SCHEMA ${quoteIdent(app)};
      CREATE TABLE ${quoteIdent(app)}.rules (id serial PRIMARY KEY, code text UNIQUE);
      INSERT INTO ${quoteIdent(app)}.rules (code) VALUES ('DOM-1'), ('DOM-2');`);
    await r.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    await r.addCollection({ table: `${app}.rules`, species: 'SPE-DOM', codeColumn: 'code' });
    await r.wire([`${app}.rules`]);
    await r.close();
    const json = async (...args: string[]) => {
      const res = await run(...args, '--json');
      assert.equal(res.code, 0, res.stderr);
      return (JSON.parse(res.stdout) as Census).counted;
    };
    assert.deepEqual(await json('census'), {
      how: 'recount',
      kept_at: null,
      births_since: null,
      keeping: false,
    });
    assert.match((await run('census')).stdout, /the kept census is off: natal census --keeping on/);
    assert.equal((await run('census', '--keeping', 'maybe')).code, 2);
    assert.match(
      (await run('census', '--keeping', 'on')).stdout,
      /Counted in full; kept for the next census/,
    );
    const kept = await json('census');
    assert.deepEqual([kept.how, kept.births_since, kept.keeping], ['kept', 0, true]);
    assert.match((await run('census')).stdout, /Counted forward from the census kept at/);
    const full = await json('census', '--recount');
    assert.deepEqual([full.how, full.births_since, full.keeping], ['recount', null, true]);
    assert.notEqual(full.kept_at, null, 'a recount of everything is kept');
    const off = await run('census', '--keeping', 'off');
    assert.match(off.stdout, /the kept census is off: natal census --keeping on/);
    assert.deepEqual(await json('census'), {
      how: 'recount',
      kept_at: null,
      births_since: null,
      keeping: false,
    });
  });

  test(
    'births and deletes of transactions open across a census are seen by the next',
    {
      skip:
        backend.name === 'embedded'
          ? 'PGlite has one connection: no transaction can stay open beside it'
          : false,
    },
    async () => {
      const { w, census } = await setup(true);
      await census();
      assert.equal((await census()).counted.how, 'kept');
      const other = new pg.Client({ connectionString: SERVER_URL });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query(`INSERT INTO ${w.a}.rules (code) VALUES ('DOM-700')`);
        // kept while that insert is in flight: its birth is not in the kept snapshot
        const during = await census();
        assert.equal(during.counted.how, 'kept');
        await other.query('COMMIT');
        const afterInsert = await census();
        assert.deepEqual([afterInsert.counted.how, afterInsert.counted.births_since], ['kept', 1]);
        await other.query('BEGIN');
        await other.query(`DELETE FROM ${w.a}.rules WHERE code = 'DOM-700'`);
        assert.equal((await census()).counted.how, 'kept');
        await other.query('COMMIT');
        assert.equal((await census()).counted.how, 'recount');
      } finally {
        await other.end();
      }
    },
  );
});

eachBackend('kept census, kept by a reader', (backend) => {
  let w: World;
  let people: Actors;
  const rules = () => `${w.app}.rules`;
  before(async () => {
    w = await world(backend);
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.rules (id serial PRIMARY KEY, code text UNIQUE);
      INSERT INTO ${w.a}.rules (code) SELECT 'DOM-' || g FROM generate_series(1, 5) g;`);
    await w.registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    await w.registry.addCollection({ table: rules(), species: 'SPE-DOM', codeColumn: 'code' });
    await w.registry.wire([rules()]);
    await w.registry.setCensusKeeping(true);
    people = await actors(backend, w, ['reader']);
  });
  after(async () => {
    await people.cleanup();
  });

  test("a reader's census is kept, and the next starts from it", async () => {
    const reader = await people.as('reader');
    const first = await reader.census();
    assert.equal(first.counted.how, 'recount');
    assert.ok(first.counted.kept_at, "a reader's census of every governed collection is kept");
    await w.sql(`INSERT INTO ${w.a}.rules (code) VALUES ('DOM-6')`);
    const next = await reader.census();
    assert.deepEqual([next.counted.how, next.counted.births_since], ['kept', 1]);
    assert.deepEqual(
      next.collections.map((c) => [c.rows, c.births, c.gap]),
      [[6, 1, 5]],
    );
    // counted forward past the new birth, and kept again there
    const third = await reader.census();
    assert.deepEqual([third.counted.how, third.counted.births_since], ['kept', 0]);
    assert.ok(Date.parse(third.counted.kept_at ?? '') >= Date.parse(first.counted.kept_at ?? ''));
  });

  test(
    'no session keeps numbers of its own',
    { skip: backend.name === 'embedded' ? 'embedded has one database user: no roles to attack with' : false },
    async () => {
      const reader = await people.as('reader');
      const kept = async () =>
        (await w.sql(`SELECT collections FROM ${w.ns}.census_baseline`))[0]?.collections as Record<
          string,
          { rows: number }
        >;
      const before = await kept();
      const forged = { [rules()]: { rows: 999, births: 999, gap: 0, phantoms: 0, deaths: 0 } };
      await reader.db.transaction(async (tx) => {
        await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        const r = await tx.query<{ k: boolean }>(`SELECT ${w.ns}.census_keep($1::jsonb, '[]', 0) AS k`, [
          JSON.stringify(forged),
        ]);
        assert.equal(r.rows[0]?.k, false, 'a forged census is not kept');
      });
      // nor by natal's administrator, who may not write natal's tables either
      const r = await w.registry.db.transaction(async (tx) => {
        await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        await tx.query(`SET LOCAL ROLE ${quoteIdent(`${w.registry.schema}_admin`)}`);
        return tx.query<{ k: boolean }>(`SELECT ${w.ns}.census_keep($1::jsonb, '[]', 0) AS k`, [
          JSON.stringify(forged),
        ]);
      });
      assert.equal(r.rows[0]?.k, false);
      // a recount outside one snapshot (read committed) is counted, not kept
      const rc = await reader.db.query<{ r: { kept_at: string | null } }>(
        `SELECT ${w.ns}.census_recount($1::text[], true) AS r`,
        [[rules()]],
      );
      assert.equal(rc.rows[0]?.r.kept_at, null);
      assert.deepEqual(await kept(), before);
      assert.notEqual(before?.[rules()]?.rows, 999);
    },
  );
});
