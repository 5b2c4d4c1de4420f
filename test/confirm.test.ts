/**
 * An apply ends by confirming its collections (confirm_counts): rows, and the gap left. For a
 * keyed collection the table and its namespace are first compared by count and sum of hashes;
 * only when they differ are the rows matched one by one. Whatever the path, the gap is exact.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eachBackend } from './helpers/backends.js';
import { world } from './helpers/setup.js';

eachBackend('confirm', (backend) => {
  test('confirm counts the gap exactly: all born, one unborn beside a phantom of the same count, a phantom alone', async () => {
    const w = await world(backend);
    await w.registry.db.exec(`CREATE TABLE ${w.a}.things (id bigint PRIMARY KEY);
      INSERT INTO ${w.a}.things SELECT generate_series(1, 50)`);
    await w.registry.addSpecies({ code: 'SPE-THG', prefix: 'THG', level: 'atom' });
    const things = (await w.registry.addCollection({ table: `${w.app}.things`, species: 'SPE-THG' }))
      .collection_name;
    const birth = (code: string) =>
      w.sql(
        `INSERT INTO ${w.ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
           dot_origin, governance_role, operation) VALUES ($1, $2, 'SPE-THG', 'atom', 'test', 'governed', 'import')`,
        [code, things],
      );
    for (let id = 1; id <= 50; id++) await birth(`${things}::${id}`);
    const confirm = async () => {
      const [row] = await w.sql(
        `SELECT c.rows, c.gap FROM ${w.ns}.collection_registry r, ${w.ns}.confirm_counts(r) AS c
         WHERE r.collection_name = $1`,
        [things],
      );
      return [Number(row?.rows), Number(row?.gap)];
    };
    assert.deepEqual(await confirm(), [50, 0], 'every row born');
    // row 7 unborn and a birth without a row: the same counts on both sides, other codes
    await w.sql(`DELETE FROM ${w.ns}.birth_registry WHERE entity_code = $1`, [`${things}::7`]);
    await birth(`${things}::999`);
    assert.deepEqual(await confirm(), [50, 1], 'one row unborn, though the counts agree');
    // row 7 born again: every row born, and one birth more than rows
    await birth(`${things}::7`);
    assert.deepEqual(await confirm(), [50, 0], 'a birth without its row is no gap');
  });
});
