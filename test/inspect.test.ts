import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quoteIdent } from '../src/db/ident.js';
import type { InspectionResult } from '../src/inspect/inspect.js';
import type { Registry } from '../src/registry.js';
import { eachBackend, SERVER_URL, type TestBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

interface BirthState {
  entity_code: string;
  inspection_status: 'pending' | 'passed' | 'failed';
  inspected: boolean;
  inspection_note: string | null;
}

async function births(registry: Registry, collection: string): Promise<BirthState[]> {
  const { rows } = await registry.db.query<BirthState>(
    `SELECT entity_code, inspection_status, inspected_at IS NOT NULL AS inspected, inspection_note
     FROM ${quoteIdent(registry.schema)}.birth_registry
     WHERE collection_name = $1 ORDER BY entity_code`,
    [collection],
  );
  return rows;
}

/** Species SPE-DOM, a wired collection `<app>.domains` with a code column, and its rows. */
async function setup(
  backend: TestBackend,
  registry: Registry,
): Promise<{ table: string; collection: string }> {
  await registry.init();
  await registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom', name: 'domain' });
  const app = backend.uniqueName('app');
  const table = `${quoteIdent(app)}.domains`;
  await registry.db.exec(
    `CREATE SCHEMA ${quoteIdent(app)};
     CREATE TABLE ${table} (id int PRIMARY KEY, code text UNIQUE, name text)`,
  );
  const c = await registry.addCollection({ table, species: 'SPE-DOM', codeColumn: 'code' });
  await registry.wire([table]);
  await registry.db.exec(
    `INSERT INTO ${table} (id, code, name) VALUES
       (1, 'DOM-001', 'one'), (2, 'DOM-002', 'two'), (3, 'DOM-003', 'three'),
       (4, 'ZZZ-1', 'wrong prefix')`,
  );
  return { table, collection: c.collection_name };
}

function only(results: InspectionResult[], collection: string): InspectionResult {
  const r = results.filter((x) => x.collection_name === collection);
  assert.equal(r.length, 1, `one result for ${collection}`);
  return r[0] as InspectionResult;
}

eachBackend('inspect', (backend) => {
  test('inspection marks passing births, fails a wrong prefix, a phantom and a wrong level', async () => {
    const registry = await backend.open();
    const { table, collection } = await setup(backend, registry);
    const ns = quoteIdent(registry.schema);
    const prefixReason = `code does not match the column identity (expected a prefix of DOM- or ${collection}::)`;

    const before = await births(registry, collection);
    assert.deepEqual(
      before.map((b) => [b.entity_code, b.inspection_status, b.inspected]),
      [
        // the trigger judged each birth as it wrote it: a code of no accepted prefix waits
        ['DOM-001', 'passed', true],
        ['DOM-002', 'passed', true],
        ['DOM-003', 'passed', true],
        ['ZZZ-1', 'pending', false],
      ],
    );

    // All collections: natal's own catalog collections are inspected too. Of their births,
    // the two natal init seeds in each wait for inspection, and pass; those the catalog's
    // trigger wrote since (SPE-DOM, the collection's COL-) passed as they were written, and
    // pass when judged again.
    const all = await registry.inspect();
    assert.equal(all.length, 3);
    const catalog = all.filter((x) => x.collection_name !== collection);
    for (const r of catalog) assert.deepEqual([r.checked, r.failed], [2, 0], r.collection_name);
    for (const r of await registry.inspect(
      catalog.map((x) => x.collection_name),
      { recheck: true },
    )) {
      assert.equal(r.failed, 0, `${r.collection_name}: ${JSON.stringify(r.failures)}`);
      assert.equal(r.passed, r.checked);
      assert.ok(r.checked >= 1, r.collection_name);
    }
    assert.deepEqual(only(all, collection), {
      collection_name: collection,
      checked: 1,
      passed: 0,
      failed: 1,
      failures: [{ entity_code: 'ZZZ-1', reason: prefixReason }],
      known_failures: 0,
    });
    const judged = await births(registry, collection);
    for (const b of judged.filter((x) => x.entity_code !== 'ZZZ-1')) {
      assert.equal(b.inspection_status, 'passed', b.entity_code);
      assert.equal(b.inspected, true, b.entity_code);
      assert.equal(b.inspection_note, null, b.entity_code);
    }
    assert.deepEqual(
      judged.find((b) => b.entity_code === 'ZZZ-1'),
      {
        entity_code: 'ZZZ-1',
        inspection_status: 'failed',
        inspected: true,
        inspection_note: prefixReason,
      },
    );

    // Without --recheck only what is new is judged: nothing; the failure is known.
    assert.deepEqual(await registry.inspect([table]), [
      { collection_name: collection, checked: 0, passed: 0, failed: 0, failures: [], known_failures: 1 },
    ]);

    // A deleted entity leaves a phantom birth; it passed before, so only a recheck sees it.
    await registry.db.exec(`DELETE FROM ${table} WHERE code = 'DOM-002'`);
    assert.equal(only(await registry.inspect([table]), collection).checked, 0);
    assert.deepEqual(await registry.inspect([table], { recheck: true }), [
      {
        collection_name: collection,
        checked: 4,
        passed: 2,
        failed: 2,
        failures: [
          { entity_code: 'DOM-002', reason: 'entity does not exist' },
          { entity_code: 'ZZZ-1', reason: prefixReason },
        ],
        known_failures: 0,
      },
    ]);
    const phantom = (await births(registry, collection)).find((b) => b.entity_code === 'DOM-002');
    assert.equal(phantom?.inspection_status, 'failed');
    assert.equal(phantom?.inspection_note, 'entity does not exist');

    // A composition level that is not the species' is a failure.
    await registry.db.exec(
      `UPDATE ${ns}.birth_registry SET composition_level = 'molecule' WHERE entity_code = 'DOM-003'`,
    );
    const level = only(await registry.inspect([table], { recheck: true }), collection);
    assert.equal(level.checked, 4);
    assert.equal(level.passed, 1);
    assert.equal(level.failed, 3);
    assert.deepEqual(
      level.failures.find((f) => f.entity_code === 'DOM-003'),
      {
        entity_code: 'DOM-003',
        reason: "composition level molecule is not the species' atom",
      },
    );

    const after = await births(registry, collection);
    assert.deepEqual(
      after.map((b) => [b.entity_code, b.inspection_status, b.inspected]),
      [
        ['DOM-001', 'passed', true],
        ['DOM-002', 'failed', true],
        ['DOM-003', 'failed', true],
        ['ZZZ-1', 'failed', true],
      ],
    );
  });

  test('an empty code written by hand is stored (no CHECK since 0012) and fails inspection', async () => {
    const registry = await backend.open();
    const { table, collection } = await setup(backend, registry);
    const ns = quoteIdent(registry.schema);
    await registry.db.query(
      `INSERT INTO ${ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
         dot_origin, governance_role, operation)
       VALUES ('', $1, 'SPE-DOM', 'atom', '', 'governed', 'import')`,
      [collection],
    );
    const [r] = await registry.inspect([table]);
    assert.deepEqual(
      r?.failures.find((f) => f.entity_code === ''),
      {
        entity_code: '',
        reason: `code does not match the column identity (expected a prefix of DOM- or ${collection}::)`,
      },
    );
    await registry.close();
  });

  test('a run id on a birth no backfill made, a backfill birth without one and an empty origin fail inspection', async () => {
    const registry = await backend.open();
    const { table, collection } = await setup(backend, registry);
    const ns = quoteIdent(registry.schema);
    // No CHECK refuses these on write since 0013: inspection is where they are caught.
    await registry.db.query(
      `INSERT INTO ${ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
         dot_origin, governance_role, operation, run_id)
       VALUES ('DOM-101', $1, 'SPE-DOM', 'atom', 'by hand', 'governed', 'trigger', 999),
              ('DOM-102', $1, 'SPE-DOM', 'atom', 'by hand', 'governed', 'backfill', NULL),
              ('DOM-103', $1, 'SPE-DOM', 'atom', '', 'governed', 'import', NULL)`,
      [collection],
    );
    const [r] = await registry.inspect([table]);
    assert.deepEqual(
      r?.failures.filter((f) => f.entity_code.startsWith('DOM-1')),
      [
        {
          entity_code: 'DOM-101',
          reason: "run id 999 on a trigger birth (only a backfill's births carry one)",
        },
        { entity_code: 'DOM-102', reason: 'backfill birth without a run id' },
        { entity_code: 'DOM-103', reason: 'empty dot_origin' },
      ],
    );
    await registry.close();
  });

  test('a birth made by the gateway passes a recheck; a fixed one passes again', async () => {
    const registry = await backend.open();
    const { table, collection } = await setup(backend, registry);
    const ns = quoteIdent(registry.schema);
    const born = await registry.create(table, { id: 10, name: 'gateway' }, 'inspect-test');
    assert.equal(born.entity_code, 'DOM-004');
    assert.equal(born.inspection_status, 'passed');

    // the gateway's birth is recorded as passed already, as are the trigger's that passed: a
    // plain inspect judges ZZZ-1 only
    assert.equal(only(await registry.inspect([table]), collection).checked, 1);
    const recheck = only(await registry.inspect([table], { recheck: true }), collection);
    assert.equal(recheck.checked, 5);
    assert.equal(recheck.passed, 4);
    assert.deepEqual(
      recheck.failures.map((f) => f.entity_code),
      ['ZZZ-1'],
    );

    // a birth whose species does not exist, and one that is not the mapped species
    await registry.addSpecies({ code: 'SPE-OTHER', prefix: 'OTH', level: 'atom' });
    await registry.db.exec(
      `UPDATE ${ns}.birth_registry SET species_code = 'SPE-GONE' WHERE entity_code = 'DOM-001';
       UPDATE ${ns}.birth_registry SET species_code = 'SPE-OTHER' WHERE entity_code = 'DOM-002'`,
    );
    const wrong = only(await registry.inspect([collection], { recheck: true }), collection);
    assert.deepEqual(
      wrong.failures.filter((f) => f.entity_code !== 'ZZZ-1'),
      [
        { entity_code: 'DOM-001', reason: 'species SPE-GONE does not exist' },
        { entity_code: 'DOM-002', reason: 'species SPE-OTHER is not the mapped species SPE-DOM' },
      ],
    );

    // once the bad records are put right, a plain inspect has nothing to judge (renaming the
    // code births DOM-099 through the update trigger, passed as it is written; the old birth
    // goes) and still counts the two put right as known failures; a recheck judges them again
    await registry.db.exec(
      `UPDATE ${ns}.birth_registry SET species_code = 'SPE-DOM' WHERE entity_code IN ('DOM-001', 'DOM-002');
       UPDATE ${table} SET code = 'DOM-099' WHERE code = 'ZZZ-1';
       DELETE FROM ${ns}.birth_registry WHERE entity_code = 'ZZZ-1'`,
    );
    assert.deepEqual(await registry.inspect([table]), [
      { collection_name: collection, checked: 0, passed: 0, failed: 0, failures: [], known_failures: 2 },
    ]);
    assert.deepEqual(await registry.inspect([table], { recheck: true }), [
      { collection_name: collection, checked: 5, passed: 5, failed: 0, failures: [], known_failures: 0 },
    ]);
    const states = await births(registry, collection);
    assert.ok(states.every((b) => b.inspection_status === 'passed' && b.inspected));
    assert.ok(states.every((b) => b.inspection_note === null));
  });
});

eachBackend('natal inspect (CLI)', (backend) => {
  test('exits 1 with failures and 0 without; --json has the totals', async () => {
    const dataDir = backend.name === 'embedded' ? backend.freshDataDir() : undefined;
    const target = dataDir ? ['--data-dir', dataDir] : ['--db', SERVER_URL as string];
    const schema = backend.uniqueName('natal');
    const open = () => backend.open({ schema, ...(dataDir ? { dataDir } : {}) });

    let registry = await open();
    const { table, collection } = await setup(backend, registry);
    // the CLI opens the data directory itself: it must not be held open here
    await registry.close();

    const text = await natal(['inspect', table, ...target, '--schema', schema]);
    assert.equal(text.code, 1, text.stderr);
    assert.match(text.stdout, /inspected 1: 0 passed, 1 failed/);
    assert.match(
      text.stdout,
      new RegExp(
        `^failures:\\n\\s+${collection.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+ZZZ-1: code does not match the column identity`,
        'm',
      ),
    );

    const failing = await natal(['inspect', ...target, '--schema', schema, '--json']);
    assert.equal(failing.code, 1, failing.stderr);
    const body = JSON.parse(failing.stdout) as {
      collections: InspectionResult[];
      checked: number;
      passed: number;
      failed: number;
      known_failures: number;
    };
    // all collections: natal's catalog births that natal init seeded (2 species, 2
    // collections) are seen for the first time, those its trigger wrote passed as they were
    // written; the collection's failed birth is a known failure, not judged again (no
    // --recheck) and not counted as failed, but the exit code still says it fails
    assert.equal(body.collections.length, 3);
    assert.deepEqual([body.checked, body.passed, body.failed, body.known_failures], [4, 4, 0, 1]);
    const sum = (k: 'checked' | 'passed' | 'failed' | 'known_failures') =>
      body.collections.reduce((n, c) => n + c[k], 0);
    assert.deepEqual([sum('checked'), sum('passed'), sum('failed'), sum('known_failures')], [4, 4, 0, 1]);
    const mine = only(body.collections, collection);
    assert.deepEqual([mine.checked, mine.passed, mine.failed, mine.known_failures], [0, 0, 0, 1]);
    assert.deepEqual(mine.failures, []);

    const known = await natal(['inspect', table, ...target, '--schema', schema]);
    assert.equal(known.code, 1, known.stderr);
    assert.match(
      known.stdout,
      /nothing new to inspect: every birth was judged when it was written or by an earlier inspection/,
    );
    assert.match(
      known.stdout,
      /^known failures: 1 birth\(s\) failed an earlier inspection .*natal inspect --recheck/m,
    );
    assert.doesNotMatch(known.stdout, /^failures:/m);

    // remove the bad entity and its birth: nothing fails any more
    registry = await open();
    await registry.db.exec(
      `DELETE FROM ${table} WHERE code = 'ZZZ-1';
       DELETE FROM ${quoteIdent(schema)}.birth_registry WHERE entity_code = 'ZZZ-1'`,
    );
    await registry.close();

    const clean = await natal(['inspect', table, '--recheck', '--json', ...target, '--schema', schema]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.deepEqual(JSON.parse(clean.stdout), {
      collections: [
        { collection_name: collection, checked: 3, passed: 3, failed: 0, failures: [], known_failures: 0 },
      ],
      checked: 3,
      passed: 3,
      failed: 0,
      known_failures: 0,
    });

    const cleanText = await natal(['inspect', ...target, '--schema', schema]);
    assert.equal(cleanText.code, 0, cleanText.stderr);
    assert.match(cleanText.stdout, /nothing new to inspect/);
    assert.doesNotMatch(cleanText.stdout, /failures:/);
  });

  test('inspect of an unregistered table exits 1 and says how to register it', async () => {
    const dataDir = backend.name === 'embedded' ? backend.freshDataDir() : undefined;
    const target = dataDir ? ['--data-dir', dataDir] : ['--db', SERVER_URL as string];
    const schema = backend.uniqueName('natal');
    const init = await natal(['init', ...target, '--schema', schema]);
    assert.equal(init.code, 0, init.stderr);
    const r = await natal(['inspect', 'nowhere.nothing', ...target, '--schema', schema, '--json']);
    assert.equal(r.code, 1);
    const body = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'COLLECTION_UNKNOWN');
    assert.match(body.error.message, /natal collection add nowhere\.nothing/);
  });
});

/**
 * One identity strategy's fixture: a wired table of `rows` rows (all born by its trigger),
 * how to add a row, and the entity code of a row.
 */
interface Shape {
  name: string;
  /** CREATE TABLE … for `t` (schema-qualified, quoted). */
  create(t: string): string;
  /** The row of number n, as a VALUES tuple of the table's columns. */
  row(n: number): string;
  /** Makes the collection's identity what the case is about. */
  identity(registry: Registry, table: string): Promise<void>;
  /** The entity code of row n. */
  code(collection: string, n: number): string;
}

const SHAPES: Shape[] = [
  {
    name: 'column',
    create: (t) => `CREATE TABLE ${t} (id int PRIMARY KEY, code text UNIQUE, name text)`,
    // row 7 has no code: its code is the synthetic one, collection::7, found by the key
    row: (n) => `(${n}, ${n === 7 ? 'NULL' : `'INS-${n}'`}, 'n${n}')`,
    identity: async () => undefined,
    code: (c, n) => (n === 7 ? `${c}::7` : `INS-${n}`),
  },
  {
    name: 'legacy',
    create: (t) => `CREATE TABLE ${t} (id int PRIMARY KEY, ref text UNIQUE NOT NULL, name text)`,
    row: (n) => `(${n}, 'r/${n}%', 'n${n}')`,
    identity: async (registry, table) => {
      await registry.setIdentity(table, { strategy: 'legacy', column: 'ref' });
    },
    code: (c, n) => `${c}~r/${n}%`,
  },
  {
    name: 'synthetic_id',
    create: (t) => `CREATE TABLE ${t} (id bigint PRIMARY KEY, name text)`,
    row: (n) => `(${n}, 'n${n}')`,
    identity: async (registry, table) => {
      await registry.setIdentity(table, { strategy: 'synthetic_id' });
    },
    code: (c, n) => `${c}::${n}`,
  },
  {
    name: 'composite',
    // a text part with / and % in it (escaped in the code) and a date part
    create: (t) => `CREATE TABLE ${t} (region text, day date, name text, PRIMARY KEY (region, day))`,
    row: (n) => `('a/b%${n % 3}', DATE '2020-01-01' + ${n}, 'n${n}')`,
    identity: async (registry, table) => {
      await registry.setIdentity(table, { strategy: 'composite' });
    },
    code: (c, n) => {
      const day = new Date(Date.UTC(2020, 0, 1 + n)).toISOString().slice(0, 10);
      return `${c}::a%2Fb%25${n % 3}/${day}`;
    },
  },
  {
    name: 'partitioned',
    create: (t) =>
      `CREATE TABLE ${t} (id bigint PRIMARY KEY, name text) PARTITION BY RANGE (id);
       ${[0, 1, 2, 3]
         .map(
           (p) =>
             `CREATE TABLE ${t.replace(/"?$/, '')}_p${p}${t.endsWith('"') ? '"' : ''} PARTITION OF ${t} FOR VALUES FROM (${p * 1000}) TO (${(p + 1) * 1000})`,
         )
         .join(';\n')}`,
    row: (n) => `(${n}, 'n${n}')`,
    identity: async (registry, table) => {
      await registry.setIdentity(table, { strategy: 'synthetic_id' });
    },
    code: (c, n) => `${c}::${n}`,
  },
];

eachBackend('inspect what is new', (backend) => {
  for (const shape of SHAPES) {
    test(`${shape.name}: a new birth is looked up by its key, a known failure is not judged again`, async () => {
      const registry = await backend.open();
      await registry.init();
      const ns = quoteIdent(registry.schema);
      await registry.addSpecies({ code: 'SPE-INS', prefix: 'INS', level: 'atom' });
      const app = backend.uniqueName('app');
      const table = `${quoteIdent(app)}.${quoteIdent('things')}`;
      await registry.db.exec(`CREATE SCHEMA ${quoteIdent(app)}; ${shape.create(table)}`);
      const { collection_name: collection } = await registry.addCollection({
        table,
        species: 'SPE-INS',
        ...(shape.name === 'column' ? { codeColumn: 'code' } : {}),
      });
      await shape.identity(registry, table);
      await registry.wire([table]);
      // 3,000 rows, born by the trigger: enough that a lookup by key beats reading them all
      const rows = 3000;
      const values = Array.from({ length: rows }, (_, i) => shape.row(i + 10)).join(', ');
      await registry.db.exec(`INSERT INTO ${table} VALUES ${values}; ANALYZE ${table}`);
      // a birth made by hand with a code no identity of this collection makes: it fails
      await registry.db.query(
        `INSERT INTO ${ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
           dot_origin, governance_role, operation)
         VALUES ('WRONG-1', $1, 'SPE-INS', 'atom', 'by hand', 'governed', 'import')`,
        [collection],
      );

      const operator = await operatorOf(backend, registry);
      try {
        // (the trigger's births passed as they were written)
        const first = only(await operator.registry.inspect([table]), collection);
        assert.deepEqual([first.checked, first.passed, first.failed], [1, 0, 1]);
        assert.deepEqual(
          first.failures.map((f) => f.entity_code),
          ['WRONG-1'],
        );

        // a new row (row 7 of the column case has no code: its synthetic code), and a row
        // inserted and deleted: its birth is a phantom. Both births are made first by hand
        // (an import's, which waits for inspection; the trigger leaves them so).
        const born = shape.code(collection, 7);
        const gone = shape.code(collection, 5);
        await registry.db.query(
          `INSERT INTO ${ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
             dot_origin, governance_role, operation)
           SELECT code, $1, 'SPE-INS', 'atom', 'by hand', 'governed', 'import' FROM unnest($2::text[]) AS code`,
          [collection, [born, gone]],
        );
        await registry.db.exec(`INSERT INTO ${table} VALUES ${shape.row(7)}, ${shape.row(5)}`);
        await registry.db.exec(
          `DELETE FROM ${table} WHERE ${shape.name === 'composite' ? `day = DATE '2020-01-06'` : 'id = 5'}`,
        );
        const pending = await births(registry, collection);
        assert.deepEqual(
          pending.filter((b) => b.inspection_status === 'pending').map((b) => b.entity_code),
          [born, gone].sort(),
        );

        // judged in one transaction that reads no row of the table but by an index
        const { rows: relations } = await registry.db.query<{ oid: number }>(
          `SELECT $1::regclass::oid AS oid UNION ALL SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::regclass`,
          [table],
        );
        const { result, scans } = await operator.registry.db.transaction(async (tx) => {
          // (the session's counts since it last reported them: the difference is this call's)
          const counts = async () =>
            (
              await tx.query<{ seq: number; idx: number }>(
                `SELECT COALESCE(sum(seq_scan), 0)::int AS seq, COALESCE(sum(idx_scan), 0)::int AS idx
                 FROM pg_stat_xact_user_tables WHERE relid = ANY ($1::oid[])`,
                [relations.map((r) => r.oid)],
              )
            ).rows[0] as { seq: number; idx: number };
          const before = await counts();
          const { rows: r } = await tx.query<InspectionResult>(`SELECT * FROM ${ns}.inspect($1::text[])`, [
            [collection],
          ]);
          const now = await counts();
          return { result: r, scans: { seq: now.seq - before.seq, idx: now.idx - before.idx } };
        });
        assert.deepEqual(result, [
          {
            collection_name: collection,
            checked: 2,
            passed: 1,
            failed: 1,
            failures: [{ entity_code: gone, reason: 'entity does not exist' }],
            known_failures: 1,
          },
        ]);
        assert.equal(scans.seq, 0, 'no row of the table read but through an index');
        assert.ok(scans.idx >= 2, `each new birth looked up by its key (${scans.idx})`);
        const after = await births(registry, collection);
        assert.equal(after.find((b) => b.entity_code === born)?.inspection_status, 'passed');
        assert.deepEqual(
          after.find((b) => b.entity_code === gone),
          {
            entity_code: gone,
            inspection_status: 'failed',
            inspected: true,
            inspection_note: 'entity does not exist',
          },
        );

        // nothing new: nothing judged, both failures known
        assert.deepEqual(await operator.registry.inspect([table]), [
          { collection_name: collection, checked: 0, passed: 0, failed: 0, failures: [], known_failures: 2 },
        ]);
        // the row comes back: a recheck judges every birth again, and it passes
        await registry.db.exec(`INSERT INTO ${table} VALUES ${shape.row(5)}`);
        const again = only(await operator.registry.inspect([table], { recheck: true }), collection);
        assert.deepEqual(
          [again.checked, again.passed, again.failed, again.known_failures],
          [rows + 3, rows + 2, 1, 0],
        );
        assert.deepEqual(
          again.failures.map((f) => f.entity_code),
          ['WRONG-1'],
        );
      } finally {
        await operator.close();
      }
    });
  }

  test('many new births are matched against every row at once, with the same answer', async () => {
    const registry = await backend.open();
    await registry.init();
    await registry.addSpecies({ code: 'SPE-INS', prefix: 'INS', level: 'atom' });
    const app = backend.uniqueName('app');
    const table = `${quoteIdent(app)}.things`;
    await registry.db.exec(
      `CREATE SCHEMA ${quoteIdent(app)}; CREATE TABLE ${table} (id int PRIMARY KEY, code text UNIQUE, name text)`,
    );
    const { collection_name: collection } = await registry.addCollection({
      table,
      species: 'SPE-INS',
      codeColumn: 'code',
    });
    await registry.wire([table]);
    // 500 births that wait for inspection (made by hand first: the trigger's would pass as
    // they are written), their rows, and 5 of the rows deleted
    const ns = quoteIdent(registry.schema);
    await registry.db.query(
      `INSERT INTO ${ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
         dot_origin, governance_role, operation)
       SELECT 'INS-' || g, $1, 'SPE-INS', 'atom', 'by hand', 'governed', 'import' FROM generate_series(1, 500) g`,
      [collection],
    );
    await registry.db.exec(
      `INSERT INTO ${table} SELECT g, 'INS-' || g, 'n' FROM generate_series(1, 500) g;
       DELETE FROM ${table} WHERE id % 100 = 0`,
    );
    const r = only(await registry.inspect([table]), collection);
    assert.deepEqual([r.checked, r.passed, r.failed, r.known_failures], [500, 495, 5, 0]);
    assert.deepEqual(
      r.failures.map((f) => f.entity_code),
      ['INS-100', 'INS-200', 'INS-300', 'INS-400', 'INS-500'],
    );
  });
});

/**
 * The registry as an operator acts on it: on a server a role made for the test that holds
 * natal's operator role and nothing else (natal access grant), embedded the registry itself.
 */
async function operatorOf(
  backend: TestBackend,
  registry: Registry,
): Promise<{ registry: Registry; close(): Promise<void> }> {
  if (backend.name === 'embedded') return { registry, close: async () => undefined };
  const role = backend.uniqueName('natal_t_op');
  await registry.db.exec(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`);
  await registry.grantAccess(role, ['operator']);
  const operator = await backend.open({ schema: registry.schema, as: role });
  return {
    registry: operator,
    async close() {
      await operator.close();
      await registry.db.exec(`DROP OWNED BY ${quoteIdent(role)}; DROP ROLE ${quoteIdent(role)}`);
    },
  };
}
