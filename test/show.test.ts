/**
 * natal show (issue 15, section 1): the birth certificate of one entity, by its code and by
 * its row's key, for every way a birth is made (trigger, gateway, backfill, catalog, import)
 * and every identity (column, legacy, synthetic_id, composite). On a server every lookup is
 * made as a role holding only natal's reader role (and SELECT on the application's tables),
 * through the library and through the CLI.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { quoteIdent } from '../src/db/ident.js';
import type { Registry } from '../src/registry.js';
import { type Entity, SHOW_FIELDS } from '../src/show/show.js';
import { type Actors, actors, throughGate } from './helpers/actors.js';
import { eachBackend, SERVER_URL } from './helpers/backends.js';
import { natal } from './helpers/cli.js';
import type { World } from './helpers/setup.js';
import { rejects } from './helpers/setup.js';

eachBackend('natal show', (backend) => {
  const schema = backend.uniqueName('natal');
  const app = backend.uniqueName('app');
  const a = quoteIdent(app);
  const dataDir = backend.name === 'embedded' ? backend.freshDataDir() : undefined;
  let registry: Registry;
  let people: Actors;
  /** The registry as the reader (on a server: a role with only natal's reader role). */
  let reader: Registry;
  let ns: string;
  const codes: Record<string, string> = {};
  let planId = 0;
  let runId = 0;

  const sql = async (text: string, params?: unknown[]) => (await registry.db.query(text, params)).rows;

  before(async () => {
    registry = await backend.open({ schema, dataDir });
    await registry.init();
    ns = registry.ctx.ns;
    people = await actors(backend, { registry } as World, ['reviewer', 'owner', 'reader']);
    const owner = people.name('owner');
    await registry.db.exec(`CREATE SCHEMA ${a};
      CREATE TABLE ${a}.rules (id int PRIMARY KEY, code text UNIQUE, name text);
      CREATE TABLE ${a}.legacy (id int PRIMARY KEY, old_code text NOT NULL UNIQUE, note text);
      CREATE TABLE ${a}.events (id bigint PRIMARY KEY, kind text);
      CREATE TABLE ${a}.film_actor (film_id text, actor_id int, role text, PRIMARY KEY (film_id, actor_id));
      CREATE TABLE ${a}.imported (id int PRIMARY KEY, v text);
      INSERT INTO ${a}.legacy VALUES (1, 'L-1', 'old one'), (2, 'L-2', 'old two');
      INSERT INTO ${a}.events VALUES (10, 'old'), (11, 'old');
      INSERT INTO ${a}.imported VALUES (1, 'imp')`);
    if (backend.name === 'server') {
      const r = quoteIdent(people.name('reader'));
      await registry.db.exec(`GRANT USAGE ON SCHEMA ${a} TO ${r};
        GRANT SELECT ON ${a}.rules, ${a}.legacy, ${a}.events, ${a}.film_actor TO ${r}`);
    }
    const species = await registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    codes.catalog = species.entity_code as string;
    for (const t of ['rules', 'legacy', 'events', 'film_actor', 'imported']) {
      await registry.addCollection({ table: `${app}.${t}`, species: 'SPE-DOM', owner });
    }
    await registry.setIdentity(`${app}.rules`, { strategy: 'column', column: 'code' });
    await registry.setIdentity(`${app}.legacy`, { strategy: 'legacy', column: 'old_code' });
    await registry.setIdentity(`${app}.events`, { strategy: 'synthetic_id' });
    await registry.setIdentity(`${app}.film_actor`, {
      strategy: 'composite',
      columns: ['film_id', 'actor_id'],
    });
    await registry.setIdentity(`${app}.imported`, { strategy: 'synthetic_id' });

    // backfill: the rows of legacy and events that were there before, through the gate
    await registry.wire([`${app}.rules`, `${app}.legacy`, `${app}.events`, `${app}.film_actor`]);
    planId = await throughGate(people, [`${app}.legacy`, `${app}.events`]);
    runId = (await registry.apply(planId)).run_id;
    // trigger births
    await registry.db
      .exec(`INSERT INTO ${a}.rules VALUES (1, 'DOM-068', 'rule 68'), (2, 'DOM-070', 'rule 70'), (3, NULL, 'no code');
      INSERT INTO ${a}.events VALUES (12, 'new');
      INSERT INTO ${a}.film_actor VALUES ('a/b%c', 2, 'lead'), ('plain', 1, 'extra')`);
    // the gateway
    codes.gateway = (
      await registry.create(`${app}.rules`, { id: 9, name: 'born first' }, 'app:form')
    ).entity_code;
    // import: a birth brought in as another system made it
    await sql(
      `INSERT INTO ${ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
         dot_origin, governance_role, operation)
       VALUES ($1 || '::1', $1, 'SPE-DOM', 'atom', 'old-platform', 'governed', 'import')`,
      [`${app}.imported`],
    );
    Object.assign(codes, {
      trigger: 'DOM-068',
      column: 'DOM-068',
      synthetic_key: `${app}.rules::3`,
      legacy: `${app}.legacy~L-1`,
      synthetic: `${app}.events::10`,
      synthetic_trigger: `${app}.events::12`,
      composite: `${app}.film_actor::a%2Fb%25c/2`,
      import: `${app}.imported::1`,
    });
    await registry.inspect([`${app}.rules`]);
    reader = await people.as('reader');
  });

  after(async () => {
    await people?.cleanup();
  });

  const born = (e: Entity) => e.history.find((h) => h.event === 'born') as Record<string, unknown>;

  test('each way of being born is on the certificate: trigger, gateway, backfill, catalog, import', async () => {
    const trigger = await reader.show(codes.trigger as string);
    assert.equal(trigger.operation, 'trigger');
    assert.equal(trigger.collection_name, `${app}.rules`);
    assert.equal(trigger.species_code, 'SPE-DOM');
    assert.equal(trigger.composition_level, 'atom');
    assert.equal(trigger.dot_origin, 'PG:trg_birth_rules');
    assert.equal(trigger.status, 'alive');
    assert.deepEqual(trigger.row, { id: 1, code: 'DOM-068', name: 'rule 68' });
    assert.equal(trigger.inspection_status, 'passed');
    assert.deepEqual(
      trigger.history.map((h) => [h.event, (h as { result?: string }).result ?? null]),
      [
        ['born', null],
        ['inspected', 'passed'],
      ],
    );

    const gateway = await reader.show(codes.gateway as string);
    assert.equal(gateway.operation, 'gateway');
    assert.equal(gateway.dot_origin, 'app:form');
    assert.deepEqual(gateway.row, { id: 9, code: codes.gateway, name: 'born first' });

    const backfill = await reader.show(codes.legacy as string);
    assert.equal(backfill.operation, 'backfill');
    assert.equal(backfill.run_id, runId);
    assert.equal(backfill.plan_id, planId);
    assert.equal(backfill.inspection_status, 'passed');
    const b = born(backfill);
    assert.equal(b.actor, people.name('author'));
    assert.deepEqual(
      (b.review as { actor: string }[]).map((r) => r.actor),
      [people.name('reviewer')],
    );
    assert.deepEqual(
      (b.permit as { actor: string }[]).map((r) => r.actor),
      [people.name('owner')],
    );

    const catalog = await reader.show(codes.catalog as string);
    assert.equal(catalog.operation, 'catalog');
    assert.equal(catalog.status, 'alive');
    assert.equal((catalog.row as { species_code: string }).species_code, 'SPE-DOM');
    assert.equal(born(catalog).actor, people.name('author'));

    const imported = await reader.show(codes.import as string);
    assert.equal(imported.operation, 'import');
    assert.equal(imported.dot_origin, 'old-platform');
    assert.equal(imported.inspection_status, 'pending');
    if (backend.name === 'server') {
      // alive, but the reader may not read this table: the row is not shown
      assert.equal(imported.status, 'alive');
      assert.equal(imported.row, null);
    } else {
      assert.deepEqual(imported.row, { id: 1, v: 'imp' });
    }
  });

  test('each identity, found by code and by TABLE KEY: column, legacy, synthetic_id, composite with / and %', async () => {
    const cases: [string, string, Parameters<Registry['showRow']>[1], Record<string, unknown>][] = [
      ['column', `${app}.rules`, '1', { id: 1, code: 'DOM-068', name: 'rule 68' }],
      ['synthetic_key', `${app}.rules`, 3, { id: 3, code: null, name: 'no code' }],
      ['legacy', `${app}.legacy`, 1, { id: 1, old_code: 'L-1', note: 'old one' }],
      ['synthetic', `${app}.events`, '10', { id: 10, kind: 'old' }],
      ['synthetic_trigger', `${app}.events`, 12, { id: 12, kind: 'new' }],
      [
        'composite',
        `${app}.film_actor`,
        { film_id: 'a/b%c', actor_id: 2 },
        { film_id: 'a/b%c', actor_id: 2, role: 'lead' },
      ],
    ];
    for (const [kind, table, key, row] of cases) {
      const byCode = await reader.show(codes[kind] as string);
      assert.equal(byCode.entity_code, codes[kind], kind);
      assert.equal(byCode.status, 'alive', kind);
      assert.deepEqual(byCode.row, row, kind);
      const byKey = await reader.showRow(table, key);
      assert.deepEqual(byKey, byCode, kind);
    }
    // a catalog row, by the key of natal's own table (a column identity: entity_code)
    assert.deepEqual(
      await reader.showRow(`${schema}.entity_species`, 'SPE-DOM'),
      await reader.show(codes.catalog as string),
    );
    // the columns of the row in the table's order
    assert.deepEqual(Object.keys((await reader.show(codes.composite as string)).row ?? {}), [
      'film_id',
      'actor_id',
      'role',
    ]);
  });

  test('alive, then a phantom once its row is gone', async () => {
    await reader.show(`${app}.film_actor::plain/1`).then((e) => assert.equal(e.status, 'alive'));
    // a delete that no trigger sees (replica mode): the birth stays, its row is gone
    await registry.db.exec(`SET session_replication_role = replica;
      DELETE FROM ${a}.film_actor WHERE film_id = 'plain';
      DELETE FROM ${a}.events WHERE id = 11;
      SET session_replication_role = origin`);
    for (const [code, table, key] of [
      [`${app}.film_actor::plain/1`, `${app}.film_actor`, { film_id: 'plain', actor_id: 1 }],
      [`${app}.events::11`, `${app}.events`, 11],
    ] as const) {
      const e = await reader.show(code);
      assert.equal(e.status, 'phantom');
      assert.equal(e.row, null);
      assert.equal(e.died_at, null);
      assert.equal(e.death, null);
      // a synthetic or composite code is made from the key: the gone row still leads to it
      assert.deepEqual(await reader.showRow(table, key), e);
    }
    // a column identity reads the code from the row: no row, nothing to show
    await rejects(reader.showRow(`${app}.rules`, 404), 'ENTITY_UNKNOWN', /has no row with key 404/);
  });

  test('SQL: natal.show(code) has exactly the contract fields; NULL for an unknown code', async () => {
    const db = backend.name === 'server' ? reader.db : registry.db;
    const { rows } = await db.query<{ e: Record<string, unknown> | null; u: unknown }>(
      `SELECT ${ns}.show($1) AS e, ${ns}.show('NOPE-1') AS u`,
      [codes.legacy],
    );
    assert.deepEqual(Object.keys(rows[0]?.e ?? {}).sort(), [...SHOW_FIELDS].sort());
    assert.equal(rows[0]?.u, null);
  });

  test('unknown codes: the closest that exist; bad keys refused', async () => {
    await rejects(
      reader.show('DOM-069'),
      'ENTITY_UNKNOWN',
      /^no birth has code DOM-069; closest: DOM-068, DOM-070/,
    );
    await rejects(reader.show('dom-068'), 'ENTITY_UNKNOWN', /closest: DOM-068/);
    await rejects(
      reader.show(`${app}.events::1`),
      'ENTITY_UNKNOWN',
      new RegExp(`closest: ${app}\\.events::1[012]`),
    );
    await rejects(reader.show('QQQQ'), 'ENTITY_UNKNOWN', /^no birth has code QQQQ$/);
    await rejects(reader.showRow(`${app}.film_actor`, 'a'), 'USAGE', /give it as a JSON object/);
    await rejects(
      reader.showRow(`${app}.film_actor`, { film_id: 'x' }),
      'USAGE',
      /the key of .* is film_id, actor_id/,
    );
    await rejects(reader.showRow(`${app}.events`, 'ten'), 'USAGE', /is not a key of/);
    await rejects(reader.showRow(`${app}.nothing`, 1), 'COLLECTION_UNKNOWN');
    // an orphan (a row with no birth) is named as one
    await registry.db.exec(`SET session_replication_role = replica;
      INSERT INTO ${a}.events VALUES (99, 'orphan'); SET session_replication_role = origin`);
    await rejects(reader.showRow(`${app}.events`, 99), 'ENTITY_UNKNOWN', /has no birth \(it is an orphan/);
  });

  test('the CLI: text, --json, unknown code, usage', async () => {
    let target: string[];
    if (backend.name === 'server') {
      target = ['--db', SERVER_URL as string, '--schema', schema, '--as', people.name('reader')];
    } else {
      await registry.close();
      target = ['--data-dir', dataDir as string, '--schema', schema, '--as', 'reader'];
    }
    const run = (args: string[], env?: NodeJS.ProcessEnv) => natal([...args, ...target], { env });

    const json = await run(['show', codes.legacy as string, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const e = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(e), [...SHOW_FIELDS]);
    assert.equal(e.entity_code, codes.legacy);

    const byKey = await run(['show', `${app}.film_actor`, '{"film_id": "a/b%c", "actor_id": 2}', '--json']);
    assert.equal(byKey.code, 0, byKey.stderr);
    assert.equal((JSON.parse(byKey.stdout) as Entity).entity_code, codes.composite);

    const text = await run(['show', codes.legacy as string]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^code {8}${codes.legacy?.replace(/[.]/g, '\\.')}$`, 'm'));
    assert.match(
      text.stdout,
      new RegExp(
        `^how {9}by backfill run ${runId} of plan ${planId}, by ${people.name('author')}; reviewed by ${people.name('reviewer')}, permitted by ${people.name('owner')}$`,
        'm',
      ),
    );
    assert.match(text.stdout, /^inspection {2}passed/m);
    assert.match(text.stdout, /^exists {6}yes, its row:\nid +old_code +note\n-+ +-+ +-+\n1 +L-1 +old one$/m);
    for (const [code, how] of [
      ['trigger', /^how +by the auto-birth trigger/m],
      ['gateway', /^how +birth-first, by the gateway/m],
      ['catalog', /^how +by natal's catalog/m],
      ['import', /^how +imported/m],
    ] as const) {
      const r = await run(['show', codes[code] as string]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, how);
    }
    const phantom = await run(['show', `${app}.events::11`]);
    assert.match(phantom.stdout, /^exists {6}no: a phantom/m);

    // a narrow terminal: the columns that fit, the others named
    const narrow = await run(['show', codes.composite as string], { COLUMNS: '20' });
    assert.match(narrow.stdout, /^film_id +actor_id$/m);
    assert.match(narrow.stdout, /^\(1 more column\(s\): role; natal show --json shows them\)$/m);

    const unknown = await run(['show', 'DOM-069']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.equal(
      unknown.stderr,
      `natal: no birth has code DOM-069; closest: DOM-068, DOM-070, ${codes.gateway}\n`,
    );
    const unknownJson = await run(['show', 'DOM-069', '--json']);
    assert.equal(unknownJson.code, 1);
    assert.equal(
      (JSON.parse(unknownJson.stdout) as { error: { code: string } }).error.code,
      'ENTITY_UNKNOWN',
    );

    for (const [args, code, message] of [
      [['show'], 2, /^natal: missing required argument 'code\|table'/],
      [['show', 'a', 'b', 'c'], 2, /^natal: too many arguments for 'show'/],
      [
        ['show', `${app}.film_actor`, '{"film_id": '],
        2,
        /^natal: the key \{"film_id": is not valid JSON; write a composite key as a JSON object/,
      ],
      [
        ['show', `${app}.film_actor`, '7'],
        2,
        /give it as a JSON object, e\.g\. \{"film_id": 1, "actor_id": 1\}/,
      ],
      [['show', `${app}.nothing`, '1'], 1, /^natal: collection .*nothing is not registered/],
    ] as const) {
      const r = await run([...args]);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.split('\n').length, 2, 'one line');
    }
  });
});
