import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { eachBackend } from './helpers/backends.js';
import { rejects, type World, world } from './helpers/setup.js';

eachBackend('catalog', (backend) => {
  let w: World;
  before(async () => {
    w = await world(backend);
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.rules (id serial PRIMARY KEY, code text UNIQUE, name text);
      CREATE TABLE ${w.a}."Odd ""Table"" Name" (id bigint PRIMARY KEY, v text);
      CREATE TABLE ${w.a}.pairs (a int, b text, PRIMARY KEY (a, b));
      CREATE TABLE ${w.a}.heap (v text);
      INSERT INTO ${w.a}.rules (code, name) VALUES ('DOM-001', 'one'), ('DOM-002', 'two');`);
    await w.registry.addSpecies({
      code: 'SPE-DOM',
      prefix: 'DOM',
      level: 'atom',
      name: 'domain rule',
    });
  });

  test('species: add births the catalog row; list shows it; duplicates and bad codes are refused', async () => {
    const s = await w.registry.addSpecies({ code: 'SPE-APR', prefix: 'APR', level: 'molecule' });
    assert.match(s.entity_code ?? '', /^SPE-\d{3,}$/);
    const [birth] = await w.sql(`SELECT * FROM ${w.ns}.birth_registry WHERE entity_code = $1`, [
      s.entity_code,
    ]);
    assert.equal(birth?.species_code, 'SPE-SPE');
    assert.equal(birth?.operation, 'catalog');
    assert.ok((await w.registry.listSpecies()).some((x) => x.species_code === 'SPE-APR'));
    await rejects(
      w.registry.addSpecies({ code: 'SPE-APR', prefix: 'APX', level: 'x' }),
      'SPECIES_EXISTS',
      /already exists/,
    );
    await rejects(
      w.registry.addSpecies({ code: 'SPE-XXX', prefix: 'APR', level: 'x' }),
      'SPECIES_EXISTS',
      /prefix APR/,
    );
    await rejects(w.registry.addSpecies({ code: 'lower', prefix: 'LOW', level: 'x' }), 'INVALID_ARGUMENT');
    await rejects(w.registry.addSpecies({ code: 'SPE-EMP', prefix: 'EMP', level: ' ' }), 'INVALID_ARGUMENT');
  });

  test('collection add: identity from the table; the catalog row is born, data rows are not (Case 3)', async () => {
    const before = await w.sql(`SELECT count(*)::int AS n FROM ${w.ns}.birth_registry`);
    const rules = await w.registry.addCollection({
      table: `${w.app}.rules`,
      species: 'SPE-DOM',
      codeColumn: 'code',
      owner: 'alice',
    });
    assert.equal(rules.collection_name, `${w.app}.rules`);
    assert.equal(rules.birth_code_strategy, 'column');
    assert.equal(rules.birth_code_column, 'code');
    assert.deepEqual(rules.birth_code_key_columns, ['id']);
    assert.equal(rules.owner, 'alice');
    assert.match(rules.entity_code ?? '', /^COL-\d{3,}$/);
    const after = await w.sql(`SELECT count(*)::int AS n FROM ${w.ns}.birth_registry`);
    assert.equal((after[0]?.n as number) - (before[0]?.n as number), 1, 'only the catalog row is born');
    const [catalog] = await w.sql(`SELECT * FROM ${w.ns}.birth_registry WHERE entity_code = $1`, [
      rules.entity_code,
    ]);
    assert.equal(catalog?.species_code, 'SPE-COL');
    assert.equal((await w.births(rules.collection_name)).length, 0, 'no data-row births');

    const odd = await w.registry.addCollection({
      table: `${w.app}."Odd ""Table"" Name"`,
      species: 'SPE-DOM',
    });
    assert.equal(odd.table_name, 'Odd "Table" Name');
    assert.equal(odd.birth_code_strategy, 'synthetic_id');
    assert.equal(odd.collection_name, `${w.app}."Odd ""Table"" Name"`);

    const pairs = await w.registry.addCollection({ table: `${w.app}.pairs`, species: 'SPE-DOM' });
    assert.deepEqual([pairs.birth_code_strategy, pairs.birth_code_reason], ['unclassified', 'needs-owner']);
    const heap = await w.registry.addCollection({ table: `${w.app}.heap`, species: 'SPE-DOM' });
    assert.deepEqual([heap.birth_code_strategy, heap.birth_code_reason], ['unclassified', 'no-id']);
    const ghost = await w.registry.addCollection({
      table: `${w.app}.ghost`,
      species: 'SPE-DOM',
      role: 'staging',
      noTable: true,
    });
    assert.deepEqual(
      [ghost.has_table, ghost.birth_code_reason, ghost.governance_role],
      [false, 'no-table', 'staging'],
    );
  });

  test('collection add refuses bad input and writes nothing', async () => {
    const count = async () =>
      (await w.sql(`SELECT count(*)::int AS n FROM ${w.ns}.collection_registry`))[0]?.n;
    const before = await count();
    await rejects(
      w.registry.addCollection({ table: `${w.app}.rules`, species: 'SPE-DOM' }),
      'COLLECTION_EXISTS',
    );
    await rejects(
      w.registry.addCollection({ table: `${w.app}.other`, species: 'SPE-NOPE' }),
      'SPECIES_UNKNOWN',
    );
    await rejects(
      w.registry.addCollection({ table: `${w.app}."Odd ""Table"" Name"x`, species: 'SPE-DOM' }),
      'INVALID_ARGUMENT',
    );
    await rejects(w.registry.addCollection({ table: `a.b.c`, species: 'SPE-DOM' }), 'INVALID_ARGUMENT');
    await rejects(
      w.registry.addCollection({ table: 'x'.repeat(64), species: 'SPE-DOM' }),
      'INVALID_IDENTIFIER',
    );
    await w.registry.db.exec(`CREATE TABLE ${w.a}.nocode (id int PRIMARY KEY)`);
    await rejects(
      w.registry.addCollection({
        table: `${w.app}.nocode`,
        species: 'SPE-DOM',
        codeColumn: 'code',
      }),
      'BAD_ENTITY_DATA',
      /has no column/,
    );
    assert.equal(await count(), before);
  });

  test('collection set changes role, owner, species and strictness', async () => {
    await w.registry.addSpecies({ code: 'SPE-REL', prefix: 'REL', level: 'atom' });
    const c = await w.registry.setCollection(`${w.app}.pairs`, {
      owner: 'bob',
      species: 'SPE-REL',
      role: 'excluded',
    });
    assert.deepEqual([c.owner, c.species_code, c.governance_role], ['bob', 'SPE-REL', 'excluded']);
    await rejects(
      w.registry.setCollection(`${w.app}.pairs`, { strict: true }),
      'INVALID_ARGUMENT',
      /no code column/,
    );
    const s = await w.registry.setCollection(`${w.app}.rules`, { strict: true });
    assert.equal(s.strict_mode, true);
    await w.registry.setCollection(`${w.app}.rules`, { strict: false });
    await rejects(w.registry.setCollection(`${w.app}.pairs`, {}), 'INVALID_ARGUMENT', /nothing to set/);
    await rejects(w.registry.setCollection(`${w.app}.nothing`, { owner: 'x' }), 'COLLECTION_UNKNOWN');
    await rejects(w.registry.setCollection(`${w.app}.pairs`, { species: 'SPE-NONE' }), 'SPECIES_UNKNOWN');
    const list = await w.registry.listCollections([`${w.app}.pairs`]);
    assert.equal(list[0]?.species_code, 'SPE-REL', 'a refused change leaves the collection as it was');
  });
});
