/**
 * Refusals that had no test: the gateway's match check (MATCH_FAILED), both refusals of
 * rollback_run (ROLLBACK_REFUSED), and a rehearsal that sees rows or births outside its
 * plan move (outside_moved).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { quoteIdent } from '../src/db/ident.js';
import { type Actors, actors, throughGate } from './helpers/actors.js';
import { eachBackend } from './helpers/backends.js';
import { rejects, type World, world } from './helpers/setup.js';

eachBackend('refusals', (backend) => {
  let w: World;
  let people: Actors;
  let n = 0;

  const count = async (sql: string, params?: unknown[]) =>
    Number((await w.sql(`SELECT count(*)::int AS n FROM ${sql}`, params))[0]?.n);
  /** Every birth, as code and run, for comparing the registry before and after. */
  const everyBirth = async () =>
    (await w.sql(`SELECT entity_code, run_id FROM ${w.ns}.birth_registry ORDER BY entity_code`)).map(
      (r) => `${String(r.entity_code)} ${String(r.run_id)}`,
    );

  /** A wired collection whose `rows` rows predate the registry (no births), owned by 'owner'. */
  async function collection(rows: number): Promise<{ name: string; table: string }> {
    n += 1;
    const table = `${w.a}.${quoteIdent(`r${n}`)}`;
    await w.registry.db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY, v text);
      INSERT INTO ${table} SELECT g, 'v' || g FROM generate_series(1, ${rows}) g;`);
    const c = await w.registry.addCollection({
      table: `${w.app}.${quoteIdent(`r${n}`)}`,
      species: 'SPE-REF',
      owner: people.name('owner'),
    });
    await w.registry.wire([c.collection_name]);
    return { name: c.collection_name, table };
  }

  /** A plan of `collections`, rehearsed, reviewed and permitted; the author acts again after. */
  const approved = (collections: string[]) => throughGate(people, collections);

  before(async () => {
    w = await world(backend);
    await w.registry.addSpecies({ code: 'SPE-REF', prefix: 'REF', level: 'atom' });
    people = await actors(backend, w, ['reviewer', 'owner']);
  });
  after(() => people?.cleanup());

  test('the gateway refuses with MATCH_FAILED when a trigger changes the code, and keeps nothing', async () => {
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.recoded (id serial PRIMARY KEY, code text UNIQUE, name text);
      CREATE FUNCTION ${w.a}.recode() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN NEW.code := 'XYZ-' || NEW.id; RETURN NEW; END $$;
      CREATE TRIGGER recode BEFORE INSERT ON ${w.a}.recoded FOR EACH ROW EXECUTE FUNCTION ${w.a}.recode();`);
    await w.registry.addSpecies({ code: 'SPE-MAT', prefix: 'MAT', level: 'atom' });
    const c = await w.registry.addCollection({
      table: `${w.app}.recoded`,
      species: 'SPE-MAT',
      codeColumn: 'code',
    });
    await w.registry.wire([c.collection_name]);
    const births = await everyBirth();
    await rejects(
      w.registry.create(c.collection_name, { name: 'x' }),
      'MATCH_FAILED',
      /match check failed: MAT-001 was born but the row holds XYZ-1/,
    );
    assert.deepEqual(await everyBirth(), births, 'no birth is kept (nor the trigger birth of XYZ-1)');
    assert.equal(await count(`${w.a}.recoded`), 0, 'no row is kept');
  });

  test('rollback_run refuses a run already rolled back (ROLLBACK_REFUSED), changing nothing', async () => {
    const a = await collection(8);
    const run = (await (await people.as('author')).apply(await approved([a.name]))).run_id;
    await w.registry.rollback(run);
    const births = await everyBirth();
    const ledgerRows = await count(`${w.ns}.birth_backfill_ledger`);
    await rejects(
      w.registry.rollback(run),
      'ROLLBACK_REFUSED',
      new RegExp(`run ${run} was already rolled back`),
    );
    assert.deepEqual(await everyBirth(), births);
    assert.equal(await count(`${w.ns}.birth_backfill_ledger`), ledgerRows, 'no ROLLBACK row is written');
  });

  test('rollback_run refuses a run whose recorded births differ from those carrying its id; nothing is removed', async () => {
    const a = await collection(10);
    const run = (await (await people.as('author')).apply(await approved([a.name]))).run_id;
    // What only a superuser can do behind natal's back: one of the run's births goes.
    await w.sql(
      `DELETE FROM ${w.ns}.birth_registry
       WHERE entity_code = (SELECT min(entity_code) FROM ${w.ns}.birth_registry WHERE run_id = $1)`,
      [run],
    );
    const births = await everyBirth();
    assert.equal(await count(`${w.ns}.birth_registry WHERE run_id = $1`, [run]), 9);
    const ledgerRows = await count(`${w.ns}.birth_backfill_ledger`);
    await rejects(
      w.registry.rollback(run),
      'ROLLBACK_REFUSED',
      new RegExp(
        `run ${run} recorded 10 births of .* but 9 backfill births carry its id; nothing was removed`,
      ),
    );
    assert.deepEqual(await everyBirth(), births, 'nothing was removed');
    assert.equal(await count(`${w.ns}.birth_backfill_ledger`), ledgerRows, 'no ROLLBACK row is written');
    const [status] = await w.sql(`SELECT status::text AS s FROM ${w.ns}.backfill_run WHERE run_id = $1`, [
      run,
    ]);
    assert.notEqual(status?.s, 'rolled_back');
  });

  test('a rehearsal during which rows of another governed collection change says outside_moved, and is not ok', async () => {
    const a = await collection(5);
    const other = await collection(3);
    const plan = await (await people.as('author')).plan([a.name]);
    // A trigger the test installs: each backfill birth (a run id) adds a row to the other table.
    // SECURITY DEFINER as the test's own session, which may insert there.
    await w.registry.db.exec(`
      CREATE FUNCTION ${w.a}.spill() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      BEGIN INSERT INTO ${other.table} (id, v) SELECT max(id) + 1, 'spilled' FROM ${other.table}; RETURN NULL; END $$;
      CREATE TRIGGER zz_spill AFTER INSERT ON ${w.ns}.birth_registry
        FOR EACH ROW WHEN (NEW.run_id IS NOT NULL) EXECUTE FUNCTION ${w.a}.spill();`);
    let rehearsal;
    try {
      rehearsal = await (await people.as('author')).rehearse(plan.plan_id);
    } finally {
      await w.registry.db.exec(`DROP TRIGGER zz_spill ON ${w.ns}.birth_registry`);
    }
    assert.equal(rehearsal.outside_moved, true);
    assert.equal(rehearsal.ok, false);
    assert.equal(rehearsal.net_births, 0, 'rolled back all the same');
    assert.equal(await count(other.table), 3, 'the spilled rows went with the rehearsal');
    const summary = (await w.registry.ledger({ plan: plan.plan_id })).find(
      (l) => l.step === 'REHEARSAL' && l.collection === null,
    );
    assert.equal(summary?.detail.outside_moved, true);
    assert.equal(summary?.detail.ok, false);
    // why, what to do, and the review it holds back until a rehearsal passes
    assert.equal(rehearsal.why, 'rows or births outside the plan moved while it ran');
    await rejects(
      (await people.as('reviewer')).approve(plan.plan_id, 'review'),
      'REHEARSAL_REQUIRED',
      new RegExp(
        `^plan ${plan.plan_id}'s rehearsal failed \\(rows or births outside the plan moved while it ran\\), so it cannot be reviewed; ` +
          `something else wrote while it ran: rehearse again when it is quiet: natal rehearse ${plan.plan_id}$`,
      ),
    );
    // nothing outside moved: the same plan rehearses ok
    const again = await (await people.as('author')).rehearse(plan.plan_id);
    assert.equal(again.outside_moved, false);
    assert.equal(again.ok, true);
    // the latest rehearsal is the one that counts
    await (await people.as('reviewer')).approve(plan.plan_id, 'review');
  });
});
