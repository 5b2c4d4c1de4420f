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
        ['DOM-001', 'pending', false],
        ['DOM-002', 'pending', false],
        ['DOM-003', 'pending', false],
        ['ZZZ-1', 'pending', false],
      ],
    );

    // All collections: natal's own catalog collections are inspected too, and pass.
    const all = await registry.inspect();
    assert.equal(all.length, 3);
    for (const r of all.filter((x) => x.collection_name !== collection)) {
      assert.equal(r.failed, 0, `${r.collection_name}: ${JSON.stringify(r.failures)}`);
      assert.equal(r.passed, r.checked);
      assert.ok(r.checked >= 1, r.collection_name);
    }
    assert.deepEqual(only(all, collection), {
      collection_name: collection,
      checked: 4,
      passed: 3,
      failed: 1,
      failures: [{ entity_code: 'ZZZ-1', reason: prefixReason }],
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

    // Without --recheck only what has not passed is looked at again.
    assert.deepEqual(await registry.inspect([table]), [
      {
        collection_name: collection,
        checked: 1,
        passed: 0,
        failed: 1,
        failures: [{ entity_code: 'ZZZ-1', reason: prefixReason }],
      },
    ]);

    // A deleted entity leaves a phantom birth; it passed before, so only a recheck sees it.
    await registry.db.exec(`DELETE FROM ${table} WHERE code = 'DOM-002'`);
    assert.equal(only(await registry.inspect([table]), collection).checked, 1);
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

    // the gateway's birth is recorded as passed already: a plain inspect skips it
    assert.equal(only(await registry.inspect([table]), collection).checked, 4);
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

    // once the bad records are put right, a plain inspect re-checks the failed ones only
    // (renaming the code births DOM-099 through the update trigger; the old birth goes)
    await registry.db.exec(
      `UPDATE ${ns}.birth_registry SET species_code = 'SPE-DOM' WHERE entity_code IN ('DOM-001', 'DOM-002');
       UPDATE ${table} SET code = 'DOM-099' WHERE code = 'ZZZ-1';
       DELETE FROM ${ns}.birth_registry WHERE entity_code = 'ZZZ-1'`,
    );
    assert.deepEqual(await registry.inspect([table]), [
      { collection_name: collection, checked: 3, passed: 3, failed: 0, failures: [] },
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
    assert.match(text.stdout, /inspected 4: 3 passed, 1 failed/);
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
    };
    // all collections: natal's catalog births (3 species, 3 collections) are seen for the
    // first time; of the collection, only the failed birth is looked at again (no --recheck)
    assert.equal(body.collections.length, 3);
    assert.deepEqual([body.checked, body.passed, body.failed], [7, 6, 1]);
    const sum = (k: 'checked' | 'passed' | 'failed') => body.collections.reduce((n, c) => n + c[k], 0);
    assert.deepEqual([sum('checked'), sum('passed'), sum('failed')], [7, 6, 1]);
    const mine = only(body.collections, collection);
    assert.deepEqual([mine.checked, mine.passed, mine.failed], [1, 0, 1]);
    assert.deepEqual(
      mine.failures.map((f) => f.entity_code),
      ['ZZZ-1'],
    );

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
      collections: [{ collection_name: collection, checked: 3, passed: 3, failed: 0, failures: [] }],
      checked: 3,
      passed: 3,
      failed: 0,
    });

    const cleanText = await natal(['inspect', ...target, '--schema', schema]);
    assert.equal(cleanText.code, 0, cleanText.stderr);
    assert.match(cleanText.stdout, /inspected 0: 0 passed, 0 failed/);
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
