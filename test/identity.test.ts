import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Census } from '../src/census/census.js';
import { eachBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';
import { rejects, type World, world } from './helpers/setup.js';

eachBackend('identity classification', (backend) => {
  let w: World;
  const name = (t: string) => `${w.app}.${t}`;
  before(async () => {
    w = await world(backend);
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.rules (id serial PRIMARY KEY, code text NOT NULL UNIQUE, name text);
      INSERT INTO ${w.a}.rules (code, name) SELECT 'DOM-' || lpad(g::text, 3, '0'), 'r' FROM generate_series(1, 10) g;
      CREATE TABLE ${w.a}.old_rules (id serial PRIMARY KEY, legacy_code text NOT NULL UNIQUE, name text);
      INSERT INTO ${w.a}.old_rules (legacy_code) SELECT 'R/' || g FROM generate_series(1, 4) g;
      CREATE TABLE ${w.a}.items (id int PRIMARY KEY, v text);
      INSERT INTO ${w.a}.items SELECT g, 'x' FROM generate_series(1, 6) g;
      CREATE TABLE ${w.a}.pairs (a text, b text, PRIMARY KEY (a, b));
      INSERT INTO ${w.a}.pairs VALUES ('x/y', '1'), ('x', 'y/1'), ('%2F', 'z'), ('50%', '/');
      CREATE TABLE ${w.a}.heap (v text);
      CREATE TABLE ${w.a}.dups (a int, b int, code text);
      INSERT INTO ${w.a}.dups VALUES (1, 1, 'DOM-900'), (2, 2, 'DOM-900');
      CREATE TABLE ${w.a}.nulls (a int, b int, code text);
      INSERT INTO ${w.a}.nulls VALUES (1, 1, 'DOM-901'), (2, 2, NULL);
      CREATE TABLE ${w.a}.two (id int PRIMARY KEY, code text NOT NULL UNIQUE, alt_code text NOT NULL UNIQUE);
      INSERT INTO ${w.a}.two VALUES (1, 'DOM-950', 'A-1');
      CREATE TABLE ${w.a}."Odd ""Name"" Here" (id int PRIMARY KEY, v text);
      -- an address: its postal code is unique in these rows by accident, and nothing declares it
      CREATE TABLE ${w.a}.addresses (id int PRIMARY KEY, postal_code text, street text);
      INSERT INTO ${w.a}.addresses SELECT g, 'P' || (1000 + g), 'street ' || g FROM generate_series(1, 8) g;
      -- no key at all, a code column unique today only
      CREATE TABLE ${w.a}.loose (code text, v text);
      INSERT INTO ${w.a}.loose VALUES ('DOM-970', 'x'), ('DOM-971', 'y');
      -- no primary key; a UNIQUE NOT NULL pair, and a UNIQUE NOT NULL column
      CREATE TABLE ${w.a}.ukey (a int NOT NULL, b int NOT NULL, v text, UNIQUE (a, b));
      INSERT INTO ${w.a}.ukey VALUES (1, 1, 'x'), (1, 2, 'y');
      CREATE TABLE ${w.a}.ucol (ref text NOT NULL UNIQUE, v text NOT NULL, maybe int UNIQUE);
      INSERT INTO ${w.a}.ucol VALUES ('r1', 'same', 1), ('r2', 'same', NULL);`);
    await w.registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    for (const t of [
      'rules',
      'old_rules',
      'items',
      'pairs',
      'heap',
      'dups',
      'nulls',
      'two',
      'ghost',
      '"Odd ""Name"" Here"',
      'addresses',
      'loose',
      'ukey',
      'ucol',
    ]) {
      await w.registry.addCollection({ table: `${w.app}.${t}`, species: 'SPE-DOM', noTable: t === 'ghost' });
    }
  });

  test('one proposal per strategy and per unclassified reason, with evidence', async () => {
    const proposals = await w.registry.classify();
    const by = new Map(proposals.map((p) => [p.collection_name, p]));
    const summary = (t: string) => {
      const p = by.get(name(t));
      return [p?.strategy, p?.column ?? p?.reason ?? null, p?.certain];
    };
    assert.deepEqual(summary('rules'), ['column', 'code', true]);
    assert.deepEqual(summary('old_rules'), ['legacy', 'legacy_code', true]);
    assert.deepEqual(summary('items'), ['synthetic_id', null, true]);
    assert.deepEqual(summary('pairs'), ['composite', null, true]);
    assert.deepEqual(summary('heap'), ['unclassified', 'no-id', true]);
    assert.deepEqual(summary('dups'), ['unclassified', 'duplicate-codes', false]);
    assert.deepEqual(summary('nulls'), ['unclassified', 'null-codes', false]);
    assert.deepEqual(summary('two'), ['unclassified', 'needs-owner', false]);
    assert.deepEqual(summary('ghost'), ['unclassified', 'no-table', true]);
    assert.deepEqual(by.get(`${w.app}."Odd ""Name"" Here"`)?.strategy, 'synthetic_id');
    // only what the database declares is certain: a column unique by accident never
    // replaces a key, and without a key it is a proposal for the owner
    assert.deepEqual(summary('addresses'), ['synthetic_id', null, true]);
    assert.match(
      by.get(name('addresses'))?.why ?? '',
      /postal_code unique today, but no UNIQUE NOT NULL declares it/,
    );
    assert.deepEqual(summary('loose'), ['column', 'code', false]);
    assert.equal(by.get(name('loose'))?.reason, 'needs-owner');
    // a lone UNIQUE NOT NULL key is proposed by itself
    assert.deepEqual(summary('ukey'), ['composite', null, true]);
    assert.deepEqual(by.get(name('ukey'))?.key_columns, ['a', 'b']);
    assert.deepEqual(summary('ucol'), ['synthetic_id', null, true]);
    assert.deepEqual(by.get(name('ucol'))?.key_columns, ['ref']);
    const rules = by.get(name('rules'));
    assert.equal(rules?.evidence.rows, 10);
    assert.deepEqual(rules?.evidence.columns?.code, {
      distinct: 10,
      nulls: 0,
      empties: 0,
      prefixed: 10,
      declared_unique: true,
      not_null: true,
    });
    assert.match(rules?.why ?? '', /UNIQUE NOT NULL, 10 rows, none empty, all DOM-NNN/);
    assert.deepEqual(by.get(name('dups'))?.evidence.columns?.code, {
      distinct: 1,
      nulls: 0,
      empties: 0,
      prefixed: 2,
      declared_unique: false,
      not_null: false,
    });
    assert.deepEqual(by.get(name('pairs'))?.key_columns, ['a', 'b']);
    assert.equal(
      proposals.some((p) => p.collection_name.includes('collection_registry')),
      false,
    );
  });

  test('--apply records the certain proposals only, and leaves the rest for the owner', async () => {
    const proposals = await w.registry.classify([], { apply: true });
    const recorded = proposals
      .filter((p) => p.applied)
      .map((p) => p.collection_name)
      .sort();
    // heap was registered unclassified (no-id) already: nothing to record; dups and nulls
    // were registered unclassified too, and their reason is now known (duplicate-codes,
    // null-codes): that is recorded
    assert.deepEqual(
      recorded,
      [
        name('dups'),
        name('nulls'),
        name('old_rules'),
        name('pairs'),
        name('rules'),
        name('ucol'),
        name('ukey'),
      ].sort(),
    );
    const reasons = await w.registry.listCollections([name('dups'), name('nulls')]);
    assert.deepEqual(
      reasons.map((c) => [c.birth_code_strategy, c.birth_code_reason]),
      [
        ['unclassified', 'duplicate-codes'],
        ['unclassified', 'null-codes'],
      ],
    );
    const list = await w.registry.listCollections([name('rules'), name('two'), name('pairs')]);
    assert.deepEqual(
      list.map((c) => [c.birth_code_strategy, c.birth_code_column]),
      [
        ['composite', null],
        ['column', 'code'],
        ['synthetic_id', null],
      ],
    );
    const [rules] = await w.sql(
      `SELECT birth_code_set_by IS NOT NULL AS by, birth_code_evidence ? 'columns' AS ev FROM ${w.ns}.collection_registry WHERE collection_name = $1`,
      [name('rules')],
    );
    assert.deepEqual(rules, { by: true, ev: true });
  });

  test('composite and legacy codes: unambiguous, born by the trigger, accepted by inspection', async () => {
    await w.registry.wire([name('pairs'), name('old_rules')]);
    await w.registry.db.exec(`INSERT INTO ${w.a}.pairs VALUES ('a/b', 'c'), ('a', 'b/c');
                               INSERT INTO ${w.a}.old_rules (legacy_code) VALUES ('R/99'), ('')`);
    const pairs = (await w.births(name('pairs'))).map((b) => b.entity_code);
    assert.deepEqual(pairs, [`${name('pairs')}::a%2Fb/c`, `${name('pairs')}::a/b%2Fc`]);
    const old = (await w.births(name('old_rules'))).map((b) => b.entity_code);
    assert.deepEqual(old, [`${name('old_rules')}::6`, `${name('old_rules')}~R/99`]);
    // the trigger wrote them as passed (a keyed or legacy code is always the collection's
    // own), and inspection, judging them again, agrees
    const statuses = [...(await w.births(name('pairs'))), ...(await w.births(name('old_rules')))];
    assert.ok(statuses.every((b) => b.inspection_status === 'passed'));
    const inspected = await w.registry.inspect([name('pairs'), name('old_rules')], { recheck: true });
    assert.deepEqual(
      inspected.map((r) => [r.checked, r.failed]),
      [
        [2, 0],
        [2, 0],
      ],
    );
  });

  test('the owner decides; a change is refused while births exist, unless forced, and re-wires', async () => {
    const two = await w.registry.setIdentity(name('two'), {
      strategy: 'column',
      column: 'alt_code',
      reason: 'owner: alt_code is the real code',
    });
    assert.deepEqual([two.birth_code_strategy, two.birth_code_column], ['column', 'alt_code']);
    await rejects(
      w.registry.setIdentity(name('pairs'), { strategy: 'synthetic_id' }),
      'BAD_ENTITY_DATA',
      /a synthetic id is one column; .* has a key over a, b/,
    );
    await rejects(
      w.registry.setIdentity(name('pairs'), { strategy: 'column' }),
      'BAD_ENTITY_DATA',
      /needs a column/,
    );
    await rejects(
      w.registry.setIdentity(name('heap'), { strategy: 'unclassified', reason: 'because' }),
      'BAD_ENTITY_DATA',
    );
    await rejects(
      w.registry.setIdentity(name('heap'), { strategy: 'column', column: 'nope' }),
      'BAD_ENTITY_DATA',
      /no column/,
    );
    // pairs has births under its composite identity
    await rejects(
      w.registry.setIdentity(name('pairs'), { strategy: 'unclassified', reason: 'needs-owner' }),
      'IDENTITY_HAS_BIRTHS',
      /2 births .*--force/,
    );
    const forced = await w.registry.setIdentity(name('pairs'), {
      strategy: 'unclassified',
      reason: 'needs-owner',
      force: true,
    });
    assert.equal(forced.birth_code_strategy, 'unclassified');
    const state = (await w.registry.triggers()).find((t) => t.collection_name === name('pairs'));
    assert.deepEqual(
      [state?.present, state?.problem],
      [
        false,
        'cannot be wired: collection ' + name('pairs') + ' has no identity (unclassified: needs-owner)',
      ],
    );
    // Unclassified, it has no identity its births were made under: the owner's new one is
    // not refused for them (a platform's old births are taken over this way).
    const taken = await w.registry.setIdentity(name('pairs'), { strategy: 'composite' });
    assert.equal(taken.birth_code_strategy, 'composite');
    await w.registry.wire([name('pairs')]);
    const pairs = (await w.registry.census([name('pairs')])).collections[0];
    assert.equal(pairs?.births, 2, 'the two births made under its composite identity');
    assert.equal(pairs?.phantoms, 0, 'the births made before are its births again');
    // classify --apply never overrides the owner
    await w.registry.setIdentity(name('items'), { strategy: 'unclassified', reason: 'needs-owner' });
    const [again] = await w.registry.classify([name('items')], { apply: true });
    assert.deepEqual(
      [again?.strategy, again?.applied, again?.not_applied],
      ['synthetic_id', false, "the owner's decision stands"],
    );
    assert.equal((await w.registry.listCollections([name('items')]))[0]?.birth_code_strategy, 'unclassified');
    await w.registry.setIdentity(name('items'), { strategy: 'synthetic_id' });
    assert.equal(
      (await w.registry.triggers()).find((t) => t.collection_name === name('pairs'))?.functional,
      true,
    );
  });

  test('a column unique by accident is not an identity: the next row at an existing postal code is born', async () => {
    // classify --apply left addresses on its key (the postal code was only a proposal)
    const [addresses] = await w.registry.listCollections([name('addresses')]);
    assert.deepEqual(
      [addresses?.birth_code_strategy, addresses?.birth_code_key_columns],
      ['synthetic_id', ['id']],
    );
    await w.registry.wire([name('addresses')]);
    await w.registry.db.exec(`INSERT INTO ${w.a}.addresses VALUES (9, 'P1001', 'another street')`);
    assert.deepEqual(
      (await w.births(name('addresses'))).map((b) => b.entity_code),
      [`${name('addresses')}::9`],
    );
    // and it can no longer be made the identity: its codes are not unique
    await rejects(
      w.registry.setIdentity(name('addresses'), { strategy: 'legacy', column: 'postal_code', force: true }),
      'IDENTITY_NOT_UNIQUE',
      /column postal_code of .*addresses has duplicate codes: 2 rows share 1 codes \('P1001' is in 2 rows\)/,
    );
    await rejects(
      w.registry.setIdentity(name('dups'), { strategy: 'column', column: 'code' }),
      'IDENTITY_NOT_UNIQUE',
      /'DOM-900' is in 2 rows/,
    );
    assert.equal((await w.registry.listCollections([name('dups')]))[0]?.birth_code_strategy, 'unclassified');
  });

  test('the owner names the key: --column for a synthetic id, --columns for a composite, when declared', async () => {
    // ucol: no primary key, and only ref is UNIQUE NOT NULL
    await rejects(
      w.registry.setIdentity(name('ucol'), { strategy: 'synthetic_id', column: 'v', force: true }),
      'IDENTITY_NOT_UNIQUE',
      /nothing keeps \(v\) unique in .*ucol: a second row .*; declare it: ALTER TABLE .* ADD UNIQUE \(v\)/,
    );
    await rejects(
      w.registry.setIdentity(name('ucol'), { strategy: 'synthetic_id', column: 'maybe', force: true }),
      'IDENTITY_NOT_UNIQUE',
      /maybe of .*ucol may be NULL/,
    );
    await rejects(
      w.registry.setIdentity(name('ucol'), { strategy: 'synthetic_id', column: 'nope', force: true }),
      'BAD_ENTITY_DATA',
      /has no column nope/,
    );
    const ucol = await w.registry.setIdentity(name('ucol'), { strategy: 'synthetic_id', column: 'ref' });
    assert.deepEqual(ucol.birth_code_key_columns, ['ref']);
    await rejects(
      w.registry.setIdentity(name('heap'), { strategy: 'synthetic_id' }),
      'BAD_ENTITY_DATA',
      /has no primary key: name the column .*--strategy synthetic_id --column COL/,
    );
    await rejects(
      w.registry.setIdentity(name('heap'), { strategy: 'composite' }),
      'BAD_ENTITY_DATA',
      /has no primary key: name the columns .*--strategy composite --columns A,B/,
    );
    await rejects(
      w.registry.setIdentity(name('ukey'), { strategy: 'composite', columns: ['a', 'v'], force: true }),
      'IDENTITY_NOT_UNIQUE',
      /v of .*ukey may be NULL/,
    );
    const ukey = await w.registry.setIdentity(name('ukey'), { strategy: 'composite', columns: ['b', 'a'] });
    assert.deepEqual(ukey.birth_code_key_columns, ['b', 'a']);
    await w.registry.wire([name('ucol'), name('ukey')]);
    await w.registry.db.exec(
      `INSERT INTO ${w.a}.ucol VALUES ('r3', 'x', 3); INSERT INTO ${w.a}.ukey VALUES (2, 5, 'z')`,
    );
    assert.deepEqual(
      (await w.births(name('ucol'))).map((b) => b.entity_code),
      [`${name('ucol')}::r3`],
    );
    assert.deepEqual(
      (await w.births(name('ukey'))).map((b) => b.entity_code),
      [`${name('ukey')}::5/2`],
    );
  });

  test('a partitioned table keyed in every partition: its key is accepted, and keys shared across partitions are duplicate risk', async () => {
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.parts (id int NOT NULL, region text NOT NULL, v text) PARTITION BY LIST (region);
      CREATE TABLE ${w.a}.parts_a PARTITION OF ${w.a}.parts (PRIMARY KEY (id)) FOR VALUES IN ('a');
      CREATE TABLE ${w.a}.parts_b PARTITION OF ${w.a}.parts (PRIMARY KEY (id)) FOR VALUES IN ('b');
      INSERT INTO ${w.a}.parts VALUES (1, 'a', 'x'), (2, 'a', 'y'), (3, 'b', 'z');`);
    await w.registry.addCollection({ table: name('parts'), species: 'SPE-DOM' });
    const [proposal] = await w.registry.classify([name('parts')]);
    assert.deepEqual(
      [proposal?.strategy, proposal?.certain, proposal?.key_columns],
      ['synthetic_id', false, ['id']],
    );
    await rejects(
      w.registry.setIdentity(name('parts'), { strategy: 'synthetic_id' }),
      'BAD_ENTITY_DATA',
      /has no primary key/,
    );
    const parts = await w.registry.setIdentity(name('parts'), { strategy: 'synthetic_id', column: 'id' });
    assert.deepEqual([parts.birth_code_strategy, parts.birth_code_key_columns], ['synthetic_id', ['id']]);
    assert.deepEqual(await w.registry.duplicateRisk([name('parts')]), []);
    await w.registry.db.exec(`INSERT INTO ${w.a}.parts VALUES (1, 'b', 'again')`);
    assert.deepEqual(
      (await w.registry.duplicateRisk([name('parts')])).map((r) => [r.entity_code, r.collections]),
      [[`${name('parts')}::1`, [name('parts')]]],
    );
    await w.registry.db.exec(`DELETE FROM ${w.a}.parts WHERE region = 'b' AND id = 1`);
  });

  test('census: orphans after deleting births, phantoms after deleting rows; lists of both', async () => {
    await w.registry.wire([name('rules'), name('items')]);
    let c = await w.registry.census([name('rules'), name('items')]);
    assert.deepEqual(
      c.collections.map((r) => [r.collection, r.rows, r.births, r.gap, r.phantoms, r.state]),
      [
        [name('items'), 6, 0, 6, 0, 'PREFLIGHT_READY'],
        [name('rules'), 10, 0, 10, 0, 'PREFLIGHT_READY'],
      ],
    );
    // A birth for every rule, as a backfill would make them, then damage both ways.
    await w.sql(
      `INSERT INTO ${w.ns}.birth_registry (entity_code, collection_name, species_code, composition_level, dot_origin, governance_role, operation)
       SELECT code, $1, 'SPE-DOM', 'atom', 'test', 'governed', 'import' FROM ${w.a}.rules`,
      [name('rules')],
    );
    await w.sql(`DELETE FROM ${w.ns}.birth_registry WHERE entity_code IN ('DOM-001', 'DOM-002')`);
    // a row deleted where natal does not see it (replica mode) leaves a phantom; one deleted
    // through its wired table, a death
    await w.registry.db.exec(`SET session_replication_role = replica;
      DELETE FROM ${w.a}.rules WHERE code = 'DOM-010'; SET session_replication_role = DEFAULT`);
    await w.sql(`DELETE FROM ${w.a}.rules WHERE code = 'DOM-009'`);
    c = await w.registry.census([name('rules')]);
    assert.deepEqual(
      [
        c.collections[0]?.rows,
        c.collections[0]?.births,
        c.collections[0]?.gap,
        c.collections[0]?.phantoms,
        c.collections[0]?.deaths,
      ],
      [8, 8, 2, 1, 1],
    );
    assert.deepEqual(
      (await w.registry.deaths(name('rules'), 10)).map((d) => [d.entity_code, d.how]),
      [['DOM-009', 'delete']],
    );
    assert.deepEqual(
      (await w.registry.orphans(name('rules'), 10)).map((o) => o.entity_code),
      ['DOM-001', 'DOM-002'],
    );
    assert.deepEqual(
      (await w.registry.orphans(name('rules'), 1)).map((o) => o.entity_code),
      ['DOM-001'],
    );
    assert.deepEqual(
      (await w.registry.phantoms(name('rules'), 10)).map((p) => p.entity_code),
      ['DOM-010'],
    );
  });

  test('duplicate risk: the same code from two collections, or born under another', async () => {
    await w.registry.db.exec(`CREATE TABLE ${w.a}.copies (id int PRIMARY KEY, code text UNIQUE);
                               INSERT INTO ${w.a}.copies VALUES (1, 'DOM-003'), (2, 'DOM-999')`);
    await w.registry.addCollection({ table: name('copies'), species: 'SPE-DOM', codeColumn: 'code' });
    const risks = await w.registry.duplicateRisk([name('copies')]);
    assert.deepEqual(
      risks.map((r) => [r.entity_code, r.collections, r.born_as]),
      [['DOM-003', [name('copies'), name('rules')], name('rules')]],
    );
    const pre = (await w.registry.preflight([name('copies')]))[0];
    assert.equal(pre?.result, 'NOT_READY');
    assert.ok(pre?.failed.some((f) => f.check === 'no duplicate risk' && /DOM-003/.test(f.fix ?? '')));
    const ready = (await w.registry.preflight([name('items')]))[0];
    assert.deepEqual([ready?.result, ready?.failed], ['READY', []]);
  });

  test('duplicate risk: a free code in a keyed collection’s namespace, or a keyed code born elsewhere', async () => {
    const items = name('items');
    await w.registry.db.exec(`CREATE TABLE ${w.a}.lookalike (id int PRIMARY KEY, code text UNIQUE);
      INSERT INTO ${w.a}.lookalike VALUES (1, '${items}::2'), (2, '${items}::77')`);
    await w.registry.addCollection({ table: name('lookalike'), species: 'SPE-DOM', codeColumn: 'code' });
    const birth = (code: string) =>
      w.sql(
        `INSERT INTO ${w.ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
           dot_origin, governance_role, operation) VALUES ($1, $2, 'SPE-DOM', 'atom', 'test', 'governed', 'import')`,
        [code, name('rules')],
      );
    await birth(`${items}::3`); // items has a row 3: its code is taken by another collection
    await birth(`${items}::99`); // no row 99: nothing to collide with
    const risks = await w.registry.duplicateRisk([items]);
    assert.deepEqual(
      risks.map((r) => [r.entity_code, r.collections, r.born_as]),
      [
        [`${items}::2`, [items, name('lookalike')], null],
        [`${items}::3`, [items], name('rules')],
      ],
    );
    const pre = (await w.registry.preflight([items]))[0];
    assert.equal(pre?.result, 'NOT_READY');
    await w.sql(`DELETE FROM ${w.ns}.birth_registry WHERE entity_code LIKE $1`, [`${items}::%`]);
    await w.registry.db.exec(`DELETE FROM ${w.a}.lookalike`);
    assert.deepEqual(await w.registry.duplicateRisk([items]), []);
  });

  test('preflight of everything covers the collections that require birth; a staging one only when named', async () => {
    // a registry of its own: what "everything" is does not depend on the tests before
    const v = await world(backend);
    const at = (t: string) => `${v.app}.${t}`;
    await v.registry.db.exec(`CREATE TABLE ${v.a}.rules (id int PRIMARY KEY, code text UNIQUE);
      CREATE TABLE ${v.a}.items (id int PRIMARY KEY);
      CREATE TABLE ${v.a}.staged (id int PRIMARY KEY)`);
    await v.registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    await v.registry.addCollection({ table: at('rules'), species: 'SPE-DOM', codeColumn: 'code' });
    await v.registry.addCollection({ table: at('items'), species: 'SPE-DOM' });
    await v.registry.addCollection({ table: at('ghost'), species: 'SPE-DOM', noTable: true });
    await v.registry.addCollection({ table: at('staged'), species: 'SPE-DOM', role: 'staging' });
    const all = await v.registry.preflight();
    assert.deepEqual(
      all.map((p) => p.collection),
      [at('ghost'), at('items'), at('rules')],
    );
    const named = await v.registry.preflight([at('staged')]);
    assert.deepEqual(
      named[0]?.failed.map((f) => f.check),
      ['governed', 'trigger wired and functional'],
    );
  });
});

function checkCensusJson(c: Census): void {
  // The contract's fields, and how the numbers were counted (0014).
  assert.deepEqual(Object.keys(c).sort(), ['collections', 'counted', 'state', 'totals']);
  assert.ok(['recount', 'kept'].includes(c.counted.how), `counted.how ${c.counted.how}`);
  for (const row of c.collections) {
    for (const k of [
      'collection',
      'governance_role',
      'strategy',
      'rows',
      'births',
      'gap',
      'phantoms',
      'deaths',
      'state',
    ]) {
      assert.ok(k in row, `collections[].${k}`);
    }
  }
  for (const k of [
    'collections',
    'birth_required',
    'resolvable',
    'unclassified',
    'no_table',
    'rows',
    'births',
    'gap',
    'phantoms',
    'deaths',
    'registry_births',
  ]) {
    assert.ok(k in c.totals, `totals.${k}`);
  }
  assert.deepEqual(Object.keys(c.totals.resolvable).sort(), [
    'column',
    'composite',
    'legacy',
    'synthetic_id',
  ]);
}

eachBackend('census and status (cli)', (backend) => {
  test('status shows the key numbers and what blocks; census --json has the contract fields', async () => {
    const target = backend.cliTarget();
    const schema = backend.uniqueName('natal');
    const run = (...args: string[]) => natal([...args, ...target, '--schema', schema]);
    assert.equal((await run('init')).code, 0);
    const { Registry } = await import('../src/registry.js');
    const { quoteIdent } = await import('../src/db/ident.js');
    const app = backend.uniqueName('app');
    const opts = target[0] === '--db' ? { db: target[1], schema } : { dataDir: target[1], schema };
    const r = await Registry.open(opts);
    await r.db.exec(`CREATE SCHEMA ${quoteIdent(app)};
      CREATE TABLE ${quoteIdent(app)}.rules (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      INSERT INTO ${quoteIdent(app)}.rules SELECT g, 'DOM-' || g FROM generate_series(1, 5) g;
      CREATE TABLE ${quoteIdent(app)}.heap (v text)`);
    await r.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    await r.addCollection({ table: `${app}.rules`, species: 'SPE-DOM' });
    await r.addCollection({ table: `${app}.heap`, species: 'SPE-DOM' });
    await r.addCollection({ table: `${app}.ghost`, species: 'SPE-DOM', noTable: true });
    await r.close();
    const status = await run('status');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /BIRTH_REQUIRED\s+3/);
    assert.match(status.stdout, /Identity unclassified\s+2/);
    assert.match(status.stdout, /No-table REQUIRED\s+1/);
    assert.match(status.stdout, /State\s+BLOCKED_UNTIL_2_IDENTITIES_RESOLVED/);
    assert.match(status.stdout, /What blocks progress \(3\):/);
    assert.match(status.stdout, /NOT_WIRED\s+.*rules: natal wire/);
    assert.equal((await run('classify', '--apply')).code, 0);
    assert.equal((await run('wire', '--all')).code, 0);
    const census = await run('census', '--json');
    const c = JSON.parse(census.stdout) as Census;
    checkCensusJson(c);
    // the kept census is off by default: counted in full, nothing kept
    assert.deepEqual(c.counted, { how: 'recount', kept_at: null, births_since: null, keeping: false });
    assert.deepEqual(c.totals, {
      collections: 3,
      birth_required: 3,
      resolvable: { column: 1, synthetic_id: 0, legacy: 0, composite: 0 },
      unclassified: 2,
      no_table: 1,
      rows: 5,
      births: 0,
      gap: 5,
      phantoms: 0,
      deaths: 0,
      // init's catalog births (species SPE-COL and SPE-SPE, collections collection_registry
      // and entity_species), then SPE-DOM and the three collections; none for the rules yet
      registry_births: 8,
    });
    const rules = c.collections.find((x) => x.collection === `${app}.rules`);
    assert.deepEqual(
      [rules?.strategy, rules?.rows, rules?.gap, rules?.state],
      ['column', 5, 5, 'PREFLIGHT_READY'],
    );
    const ghost = c.collections.find((x) => x.collection === `${app}.ghost`);
    assert.deepEqual([ghost?.rows, ghost?.gap, ghost?.state], [null, null, 'NO_TABLE']);
    assert.deepEqual(c.totals.resolvable, { column: 1, synthetic_id: 0, legacy: 0, composite: 0 });
    const orphans = await run('census', `${app}.rules`, '--orphans', '--limit', '2');
    assert.deepEqual(orphans.stdout.trim().split('\n'), ['DOM-1', 'DOM-2']);
    assert.equal((await run('census', '--orphans')).code, 2);
    assert.equal((await run('census', `${app}.rules`, '--limit', '0', '--orphans')).code, 2);
    const pre = await run('preflight', '--json');
    assert.equal(pre.code, 1, 'heap and ghost are not ready');
    const results = JSON.parse(pre.stdout) as { collection: string; result: string }[];
    assert.equal(results.find((x) => x.collection === `${app}.rules`)?.result, 'READY');
    const id = await run('identity', 'set', `${app}.heap`, '--strategy', 'bogus');
    assert.equal(id.code, 2);
    const noColumn = await run('identity', 'set', `${app}.heap`, '--strategy', 'column');
    assert.equal(noColumn.code, 2);
    assert.equal(noColumn.stderr, 'natal: --strategy column needs --column COL\n');
    // turned on: this census is counted in full and kept; the next starts from it
    const since = Date.now();
    const on = JSON.parse((await run('census', '--keeping', 'on', '--json')).stdout) as Census;
    checkCensusJson(on);
    assert.deepEqual([on.counted.how, on.counted.births_since, on.counted.keeping], ['recount', null, true]);
    const keptAt = Date.parse(on.counted.kept_at ?? '');
    assert.ok(keptAt >= since - 1000 && keptAt <= Date.now() + 1000, `kept_at ${on.counted.kept_at}`);
    const census2 = async () => {
      const res = await run('census', '--json');
      assert.equal(res.code, 0, res.stderr);
      const parsed = JSON.parse(res.stdout) as Census;
      checkCensusJson(parsed);
      return parsed;
    };
    const same = await census2();
    assert.deepEqual(same.counted, {
      how: 'kept',
      kept_at: on.counted.kept_at,
      births_since: 0,
      keeping: true,
    });
    assert.deepEqual(same.totals, c.totals);
    // one birth since: counted forward, and kept again (kept_at moves on)
    const made = await run('create', `${app}.rules`, '--data', '{"id": 6}');
    assert.equal(made.code, 0, made.stderr);
    const next = await census2();
    assert.deepEqual([next.counted.how, next.counted.births_since, next.counted.keeping], ['kept', 1, true]);
    const movedAt = Date.parse(next.counted.kept_at ?? '');
    assert.ok(movedAt > keptAt && movedAt <= Date.now() + 1000, `kept_at ${next.counted.kept_at}`);
    assert.deepEqual(next.totals, { ...c.totals, rows: 6, births: 1, registry_births: 9 });
    const after = await census2();
    assert.deepEqual(after.counted, {
      how: 'kept',
      kept_at: next.counted.kept_at,
      births_since: 0,
      keeping: true,
    });
  });
});

eachBackend('codes do not depend on session settings', (backend) => {
  test('a timestamptz, date or float key gives the same code under any TimeZone and DateStyle', async () => {
    const w = await world(backend);
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.events (at timestamptz PRIMARY KEY, v text);
      CREATE TABLE ${w.a}.readings (day date, level float8, PRIMARY KEY (day, level));`);
    await w.registry.addSpecies({ code: 'SPE-EVT', prefix: 'EVT', level: 'atom' });
    await w.registry.addCollection({ table: `${w.app}.events`, species: 'SPE-EVT' });
    await w.registry.addCollection({ table: `${w.app}.readings`, species: 'SPE-EVT' });
    await w.registry.setIdentity(`${w.app}.readings`, { strategy: 'composite' });
    await w.registry.wire([`${w.app}.events`, `${w.app}.readings`]);
    await w.registry.transaction(async (tx) => {
      await tx.db
        .exec(`SET LOCAL TimeZone = 'Asia/Tokyo'; SET LOCAL DateStyle = 'SQL, DMY'; SET LOCAL extra_float_digits = 3;
        INSERT INTO ${w.a}.events VALUES ('2024-01-01 10:00:00+00', 'x');
        INSERT INTO ${w.a}.readings VALUES ('2024-02-03', 0.1)`);
    });
    assert.deepEqual(
      [...(await w.births(`${w.app}.events`)), ...(await w.births(`${w.app}.readings`))].map(
        (b) => b.entity_code,
      ),
      [`${w.app}.events::2024-01-01T10:00:00.000000Z`, `${w.app}.readings::2024-02-03/0.1`],
    );
    for (const tz of ['UTC', 'America/New_York']) {
      const c = await w.registry.transaction(async (tx) => {
        await tx.db.exec(`SET LOCAL TimeZone = '${tz}'; SET LOCAL DateStyle = 'German'`);
        return (
          await tx.db.query<{ gap: number; phantoms: number }>(
            `SELECT gap::int, phantoms::int FROM ${w.ns}.census($1::text[])`,
            [[`${w.app}.events`, `${w.app}.readings`]],
          )
        ).rows;
      });
      assert.deepEqual(
        c,
        [
          { gap: 0, phantoms: 0 },
          { gap: 0, phantoms: 0 },
        ],
        tz,
      );
    }
  });
});
