/**
 * A rehearsal leaves the registry's index as the apply needs it: the index entries of the
 * births it rolled back are marked dead, so the apply's unique checks pass over them
 * instead of visiting each dead row (docs/BENCHMARKS.md, backfill). Seen from outside as an
 * index-only scan over those codes that fetches no heap row: an entry not yet known to be
 * dead sends the scan to the heap to look.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Actors, actors } from './helpers/actors.js';
import { eachBackend } from './helpers/backends.js';
import { type World, world } from './helpers/setup.js';

eachBackend('rehearsal tidies after itself', (backend) => {
  let w: World;
  let people: Actors;
  before(async () => {
    w = await world(backend);
    people = await actors(backend, w, ['author']);
    await w.registry.addSpecies({ code: 'SPE-ROW', prefix: 'ROW', level: 'atom' });
  });
  after(async () => {
    await people.cleanup();
  });

  /** Heap rows an index-only scan of the registry fetches for `where` (0: every entry known). */
  async function heapFetches(where: string, params: unknown[]): Promise<number> {
    return w.registry.db.transaction(async (tx) => {
      await tx.exec('SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off');
      const { rows } = await tx.query<{ 'QUERY PLAN': [{ Plan: Record<string, unknown> }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM ${w.ns}.birth_registry b WHERE ${where}`,
        params,
      );
      const plan = rows[0]?.['QUERY PLAN'][0].Plan as {
        Plans?: { 'Node Type': string; 'Heap Fetches': number }[];
      };
      const scan = plan.Plans?.[0];
      assert.equal(scan?.['Node Type'], 'Index Only Scan');
      return scan?.['Heap Fetches'] ?? -1;
    });
  }

  test('a keyed collection: the range of its codes holds no entry the apply would visit', async () => {
    await w.registry.db.exec(`CREATE TABLE ${w.a}.k (id int PRIMARY KEY, v text);
      INSERT INTO ${w.a}.k SELECT g, 'v' FROM generate_series(1, 3000) g;`);
    const { collection_name: name } = await w.registry.addCollection({
      table: `${w.app}.k`,
      species: 'SPE-ROW',
    });
    await w.registry.wire([name]);
    const range = `b.entity_code >= $1 AND b.entity_code < $2`;
    const bounds = [`${name}::`, `${name}:;`];
    const author = await people.as('author');
    const plan = await author.plan([name]);
    // what a rolled-back write of the same births leaves behind, untidied: 3,000 heap visits
    await w.registry.db
      .transaction(async (tx) => {
        await tx.query(
          `INSERT INTO ${w.ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
             dot_origin, governance_role, operation) SELECT $1 || id, $2, 'SPE-ROW', 'atom', 'x', 'governed', 'import'
           FROM ${w.a}.k`,
          [`${name}::`, name],
        );
        throw new Error('roll back');
      })
      .catch(() => undefined);
    assert.equal(await heapFetches(range, bounds), 3000);
    // (that scan marked them; a second rolled-back write makes 3,000 new ones)
    assert.equal(await heapFetches(range, bounds), 0);
    const r = await author.rehearse(plan.plan_id);
    assert.equal(r.ok, true);
    assert.equal(await heapFetches(range, bounds), 0);
  });

  test('a code column: each of its codes is looked up once', async () => {
    await w.registry.db.exec(`CREATE TABLE ${w.a}.c (id int PRIMARY KEY, code text UNIQUE NOT NULL);
      INSERT INTO ${w.a}.c SELECT g, 'ROW-' || g FROM generate_series(1, 2000) g;`);
    const { collection_name: name } = await w.registry.addCollection({
      table: `${w.app}.c`,
      species: 'SPE-ROW',
      codeColumn: 'code',
    });
    await w.registry.wire([name]);
    const author = await people.as('author');
    const plan = await author.plan([name]);
    assert.equal((await author.rehearse(plan.plan_id)).ok, true);
    const codes = Array.from({ length: 2000 }, (_, i) => `ROW-${i + 1}`);
    assert.equal(await heapFetches('b.entity_code = ANY ($1::text[])', [codes]), 0);
  });
});
