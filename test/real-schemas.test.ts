import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { quoteIdent } from '../src/db/ident.js';
import type { Registry } from '../src/registry.js';
import { type Actors, actors, throughGate } from './helpers/actors.js';
import { eachBackend } from './helpers/backends.js';
import { rejects, type World, world } from './helpers/setup.js';

const SHOP = readFileSync(
  join(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/schemas/shop.sql'),
  'utf8',
);

/**
 * The whole flow on a schema nobody here designed for natal (test/fixtures/schemas/shop.sql):
 * classify → the owner's keys → wire → plan → rehearse → review → permit → apply → inserts
 * through every path → deletes → census → report. On a server the application writes as a
 * role with only natal's writer role and its rights on the tables.
 */
eachBackend('a real schema, end to end', (backend) => {
  let w: World;
  let people: Actors;
  let sales: string;
  let inventory: string;
  let app: Registry;
  const S = () => quoteIdent(sales);
  const I = () => quoteIdent(inventory);
  before(async () => {
    w = await world(backend);
    sales = backend.uniqueName('Sales');
    inventory = backend.uniqueName('inventory');
    await w.registry.db.exec(SHOP.replaceAll('__SALES__', S()).replaceAll('__INVENTORY__', I()));
    people = await actors(backend, w, ['reviewer', 'owner', 'app']);
    if (backend.name === 'server') {
      const role = quoteIdent(people.name('app'));
      await w.registry.db.exec(`GRANT ${quoteIdent(`${w.registry.schema}_writer`)} TO ${role};
        GRANT USAGE ON SCHEMA ${S()}, ${I()} TO ${role};
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${S()}, ${I()} TO ${role};
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${S()} TO ${role};`);
    }
    app = await people.as('app');
  });
  after(() => people?.cleanup());

  // Collection names as natal writes them: each part quoted only where SQL needs it.
  const tables = () => ({
    customer: `${S()}."Customer"`,
    address: `${S()}.address`,
    coupon: `${S()}.coupon`,
    leg: `${S()}.shipment_leg`,
    order: `${S()}."Order"`,
    day: `${inventory}.price_day`,
    product: `${inventory}.product`,
    stock: `${inventory}.stock`,
    movement: `${inventory}.movement`,
  });

  test('classify → the owner’s keys → wire → the gate → apply → every insert path → deletes → census → report', async () => {
    const t = tables();
    const r = w.registry;
    await r.addSpecies({ code: 'SPE-SHOP', prefix: 'SHOP', level: 'atom' });
    const owner = people.name('owner');
    for (const table of Object.values(t)) await r.addCollection({ table, species: 'SPE-SHOP', owner });
    // a view is named for what it is; a wrong case is refused with the name it may have meant
    await rejects(
      r.addCollection({ table: `${S()}."VipCustomer"`, species: 'SPE-SHOP' }),
      'NOT_A_TABLE',
      /is a view, not a table/,
    );
    await rejects(
      r.addCollection({ table: `${S()}.customer`, species: 'SPE-SHOP' }),
      'NO_TABLE',
      /does not exist \(did you mean .*"Customer"\?/,
    );

    // classify: only what the database declares is certain
    const proposals = new Map((await r.classify([], { apply: true })).map((p) => [p.collection_name, p]));
    const got = (c: string) => {
      const p = proposals.get(c);
      return [p?.strategy, p?.certain, p?.key_columns];
    };
    assert.deepEqual(got(t.customer), ['synthetic_id', true, ['CustomerCode']]);
    assert.deepEqual(got(t.address), ['synthetic_id', true, ['address_id']]);
    assert.match(
      proposals.get(t.address)?.why ?? '',
      /postal_code unique today, but no UNIQUE NOT NULL declares it/,
    );
    assert.deepEqual(got(t.coupon), ['synthetic_id', true, ['coupon_ref']]);
    assert.deepEqual(got(t.leg), ['composite', true, ['shipment', 'leg']]);
    assert.deepEqual(got(t.order), ['composite', true, ['order_id', 'placed_on']]);
    assert.deepEqual(got(t.day), ['synthetic_id', true, ['day']]);
    assert.deepEqual(got(t.product), ['synthetic_id', true, ['sku']]);
    assert.deepEqual(got(t.stock), ['composite', true, ['warehouse', 'sku']]);
    // unique in every partition, not across them: the owner decides
    assert.deepEqual(got(t.movement), ['synthetic_id', false, ['event_id']]);
    await (
      await people.as('author')
    ).setIdentity(t.movement, { strategy: 'synthetic_id', column: 'event_id' });

    await r.wire(Object.values(t));
    const census0 = await r.census(Object.values(t));
    assert.deepEqual(
      census0.collections.map((c) => [c.collection, c.gap, c.state]),
      Object.values(t)
        .sort()
        .map((c) => [
          c,
          {
            [t.customer]: 3,
            [t.address]: 3,
            [t.coupon]: 2,
            [t.leg]: 3,
            [t.order]: 3,
            [t.day]: 5,
            [t.product]: 4,
            [t.stock]: 3,
            [t.movement]: 3,
          }[c],
          'PREFLIGHT_READY',
        ]),
    );
    assert.deepEqual(await r.duplicateRisk(Object.values(t)), []);

    // the gate, in its order, then the apply
    const planId = await throughGate(people, Object.values(t));
    const applied = await r.apply(planId);
    assert.deepEqual([applied.confirmed, applied.gap_after], [true, 0]);
    assert.equal(applied.born, 29);

    // every insert path, as the application
    const db = app.db;
    await db.exec(`INSERT INTO ${t.customer} VALUES ('Initech', 'Initech Ltd', NULL)`);
    await db.exec(
      `INSERT INTO ${t.address} (postal_code, city) VALUES ('75001', 'Paris'), ('2000', 'Antwerp')`,
    );
    await db.exec(
      `INSERT INTO ${t.day} SELECT d::date, 101 FROM generate_series('2026-01-06'::date, '2026-01-08', '1 day') AS d`,
    );
    await db.exec(`INSERT INTO ${t.customer} VALUES ('ACME', 'Acme Ltd', 'new@acme.example'), ('Hooli', 'Hooli', NULL)
                   ON CONFLICT ("CustomerCode") DO UPDATE SET email = EXCLUDED.email`);
    await db.exec(`INSERT INTO ${S()}."VipCustomer" VALUES ('Umbrella', 'Umbrella Ltd', NULL)`);
    await db.exec(`MERGE INTO ${t.product} p USING (VALUES ('CD/2', 'washer'), ('AB/1', 'bolt')) AS v(sku, name) ON p.sku = v.sku
                   WHEN MATCHED THEN UPDATE SET name = v.name WHEN NOT MATCHED THEN INSERT (sku, name) VALUES (v.sku, v.name)`);
    await db.exec(`INSERT INTO ${t.stock} VALUES ('east%', 'CD/2', 1)`);
    await db.exec(
      `INSERT INTO ${t.coupon} VALUES ('WINTER/5', 5); INSERT INTO ${t.leg} VALUES (2, 2, 'rail')`,
    );
    await db.exec(`INSERT INTO ${t.order} VALUES (4, '2026-06-01', 'Hooli', 99)`);
    await db.exec(`INSERT INTO ${S()}."Order_2025" VALUES (5, '2025-06-01', 'ACME', 1)`);
    await db.exec(`INSERT INTO ${t.movement} VALUES (4, 'us', 'CD/2', 3)`);
    await db.exec(`INSERT INTO ${I()}.movement_eu VALUES (5, 'eu', 'CD/2', -3)`);
    // a key update that moves an order to the other partition: its new code is born, the old
    // one dies re-keyed to it
    await db.exec(`UPDATE ${t.order} SET placed_on = '2026-01-02' WHERE order_id = 2`);
    // deletes: their births stay, dead
    await db.exec(
      `DELETE FROM ${t.address} WHERE city = 'Brussels'; DELETE FROM ${t.stock} WHERE warehouse = 'south'`,
    );

    const census1 = await r.census(Object.values(t));
    const by = new Map(census1.collections.map((c) => [c.collection, c]));
    for (const c of Object.values(t)) {
      assert.equal(by.get(c)?.gap, 0, `${c}: every row has its birth`);
      assert.equal(by.get(c)?.phantoms, 0, `${c}: every birth without its row has a recorded death`);
      assert.equal(by.get(c)?.state, 'COMPLETE', c);
    }
    assert.deepEqual(
      Object.values(t)
        .filter((c) => (by.get(c)?.deaths ?? 0) > 0)
        .sort()
        .map((c) => [c, by.get(c)?.deaths]),
      [
        [t.order, 1],
        [t.address, 1],
        [t.stock, 1],
      ].sort(),
    );
    assert.deepEqual(
      (await r.deaths(t.stock, 10)).map((d) => [d.entity_code, d.how]),
      [[`${t.stock}::south/50%25OFF`, 'delete']],
    );
    const [moved] = await r.deaths(t.order, 10);
    assert.equal(moved?.how, 'rekey');
    assert.equal((await r.show(moved?.rekeyed_to as string)).status, 'alive');
    assert.deepEqual(
      (await w.births(t.movement)).map((b) => b.entity_code),
      [1, 2, 3, 4, 5].map((n) => `${t.movement}::${n}`),
    );
    const report = await r.report({ plan: planId });
    assert.equal(report.status, 'VERIFIED');
    assert.deepEqual(
      report.outcome.map((o) => [o.collection, o.before, o.gap_at_plan, o.gap_after]).sort(),
      census0.collections.map((c) => [c.collection, 'PREFLIGHT_READY', c.gap, 0]).sort(),
    );
    assert.equal(report.chain.ok, true);
  });
});
