import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { eachBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

/** Every catalog and wiring command, as a user runs it: happy path and bad input. */
eachBackend('cli catalog commands', (backend) => {
  test('species, collection, wire, unwire, triggers: happy paths and refusals', async () => {
    const target = backend.cliTarget();
    const schema = backend.uniqueName('natal');
    const app = backend.uniqueName('Cli App');
    const run = (...args: string[]) => natal([...args, ...target, '--schema', schema]);
    const ok = async (...args: string[]) => {
      const r = await run(...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const fails = async (code: 1 | 2, pattern: RegExp, ...args: string[]) => {
      const r = await run(...args);
      assert.equal(r.code, code, `${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.match(lines[lines.length - 1] ?? '', pattern);
      return r;
    };
    await ok('init');
    const opts = target[0] === '--db' ? { db: target[1], schema } : { dataDir: target[1], schema };
    const r = await Registry.open(opts);
    const a = quoteIdent(app);
    await r.db.exec(`CREATE SCHEMA ${a};
      CREATE TABLE ${a}."Orders" (id int PRIMARY KEY, code text);
      CREATE TABLE ${a}.staging (id int PRIMARY KEY);
      CREATE VIEW ${a}.order_view AS SELECT * FROM ${a}."Orders";`);
    await r.close();
    const orders = `"${app}"."Orders"`;

    assert.match(
      await ok('species', 'add', 'SPE-ORD', '--prefix', 'ORD', '--level', 'atom', '--name', 'order'),
      /SPE-ORD added/,
    );
    await fails(1, /already exists/, 'species', 'add', 'SPE-ORD', '--prefix', 'ORX', '--level', 'atom');
    await fails(1, /must be upper-case/, 'species', 'add', 'spe-bad', '--prefix', 'BAD', '--level', 'atom');
    await fails(
      2,
      /required option '--prefix <prefix>' not specified/,
      'species',
      'add',
      'SPE-X',
      '--level',
      'a',
    );
    await fails(2, /missing required argument 'code'/, 'species', 'add', '--prefix', 'X', '--level', 'a');
    const species = JSON.parse(await ok('species', 'list', '--json')) as { species_code: string }[];
    assert.deepEqual(
      species.map((s) => s.species_code),
      ['SPE-COL', 'SPE-ORD', 'SPE-SPE'],
    );

    const added = JSON.parse(
      await ok(
        'collection',
        'add',
        orders,
        '--species',
        'SPE-ORD',
        '--code-column',
        'code',
        '--owner',
        'ann',
        '--json',
      ),
    ) as { collection_name: string; birth_code_strategy: string };
    assert.deepEqual(added, { ...added, collection_name: orders, birth_code_strategy: 'column' });
    await ok('collection', 'add', `"${app}".staging`, '--species', 'SPE-ORD', '--role', 'staging');
    await fails(1, /already registered/, 'collection', 'add', orders, '--species', 'SPE-ORD');
    await fails(
      1,
      /species SPE-NOPE does not exist/,
      'collection',
      'add',
      `"${app}".other`,
      '--species',
      'SPE-NOPE',
    );
    await fails(
      2,
      /argument 'boss' is invalid/,
      'collection',
      'add',
      `"${app}".other`,
      '--species',
      'SPE-ORD',
      '--role',
      'boss',
    );
    await fails(1, /unclosed quote/, 'collection', 'add', '"unclosed', '--species', 'SPE-ORD');
    // A missing table is refused (a typo, a wrong case), unless registered ahead of its
    // table with --no-table; then it is flagged. Unquoted names fold as in SQL.
    await fails(
      1,
      /table .*\.ghost does not exist; check the name; to register the collection ahead of its table, add --no-table/,
      'collection',
      'add',
      `"${app}".ghost`,
      '--species',
      'SPE-ORD',
    );
    await fails(
      1,
      /table .*\.orders does not exist \(did you mean .*\."Orders"\? unquoted names fold to lower case, as in SQL\)/,
      'collection',
      'add',
      `"${app}".Orders`,
      '--species',
      'SPE-ORD',
    );
    await fails(
      1,
      /is a view, not a table: natal births the rows of tables; register the table the view reads from/,
      'collection',
      'add',
      `"${app}".order_view`,
      '--species',
      'SPE-ORD',
    );
    assert.match(
      await ok('collection', 'add', `"${app}".ghost`, '--species', 'SPE-ORD', '--no-table'),
      /no-table\), no table/,
    );
    await fails(1, /has no table/, 'wire', `"${app}".ghost`);
    assert.match(await ok('collection', 'list'), /Orders/);
    const set = JSON.parse(await ok('collection', 'set', orders, '--owner', 'bob', '--json')) as {
      owner: string;
    };
    assert.equal(set.owner, 'bob');
    // the text says what was set, the owner too
    assert.match(
      await ok('collection', 'set', orders, '--owner', 'ann'),
      /collection updated: .*Orders.*, owner ann,/,
    );
    await ok('collection', 'set', orders, '--owner', 'bob');
    await fails(2, /nothing to set/, 'collection', 'set', orders);
    await fails(1, /not registered/, 'collection', 'set', `"${app}".nothing`, '--owner', 'x');

    assert.match(await ok('wire', orders), /wired .*Orders.* \(statement trigger\)/);
    await fails(1, /staging, not governed/, 'wire', `"${app}".staging`);
    await fails(2, /name the tables to wire, or give --all/, 'wire');
    await fails(2, /not both/, 'wire', orders, '--all');
    const all = JSON.parse(await ok('wire', '--all', '--json')) as {
      wired: { collection_name: string }[];
      not_wired: { collection_name: string }[];
    };
    assert.deepEqual(
      all.wired.map((x) => x.collection_name),
      [orders, `${schema}.collection_registry`, `${schema}.entity_species`],
    );
    assert.deepEqual(
      all.not_wired.map((x) => x.collection_name),
      [`${a}.ghost`],
    );
    const inventory = JSON.parse(await ok('triggers', '--json')) as {
      collection_name: string;
      functional: boolean;
    }[];
    assert.equal(inventory.find((t) => t.collection_name === orders)?.functional, true);
    assert.match(await ok('unwire', orders), /unwired/);
    assert.match(await ok('unwire', orders), /was not wired; nothing changed/);
    await fails(1, /not registered/, 'unwire', `"${app}".nothing`);
    assert.match(await ok('triggers'), /missing: run natal wire/);
    // A registration with no births is undone; one with births stays, and says what to do.
    assert.match(
      await ok('collection', 'remove', `"${app}".ghost`),
      /collection removed: .*ghost \(it had no births\)/,
    );
    await fails(1, /not registered/, 'collection', 'remove', `"${app}".ghost`);
    await ok('wire', orders);
    const db = await Registry.open(opts);
    await db.db.exec(`INSERT INTO ${a}."Orders" VALUES (1, 'ORD-001')`);
    await db.close();
    await fails(
      1,
      /collection .*Orders.* has 1 births: a registry never forgets them; to stop governing it: natal collection set .* --role excluded/,
      'collection',
      'remove',
      orders,
    );
    await fails(1, /did you mean .*"Orders"\?/, 'collection', 'remove', `"${app}".orders`);
    assert.match(await ok('collection', 'list'), /Orders/);
  });

  test('commands refuse a database where natal is not installed', async () => {
    const r = await natal([
      'species',
      'list',
      ...backend.cliTarget(),
      '--schema',
      backend.uniqueName('none'),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not installed in schema .*; run natal init/);
  });
});
