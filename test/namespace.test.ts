/**
 * A keyed collection's namespace ('<collection>::…') is looked up through the registry's
 * primary key where its codes sort in code-point order (namespace_born): a plan of a
 * collection nobody has born yet reads no birth. The probe must say exactly what reading
 * every birth says, at the edges of the range too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eachBackend } from './helpers/backends.js';
import { world } from './helpers/setup.js';

eachBackend('namespaces', (backend) => {
  test('namespace_born says what a pass over the registry says, at the range’s edges too', async () => {
    const w = await world(backend);
    const [order] = await w.sql(`SELECT ${w.ns}.codes_in_code_point_order() AS c`);
    const birth = (code: string) =>
      w.sql(
        `INSERT INTO ${w.ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
           dot_origin, governance_role, operation) VALUES ($1, 'x', 'SPE-X', 'atom', 'test', 'governed', 'import')`,
        [code],
      );
    // around the namespace 'ns::': its own codes, and codes just outside it on both sides
    for (const code of [
      'ns:',
      'ns:9',
      'ns:;',
      'ns:;a',
      'nsa::1',
      'ns::',
      'ns::é',
      'Ns::1',
      'n::1',
      'ns::\u{1F600}',
    ])
      await birth(code);
    const prefixes = ['ns::', 'ns:', 'n::', 'Ns::', 'nsa::', 'ns;::', 'o::', 'ns:::', 'ns::é', 'é::'];
    const same = async (when: string) => {
      for (const prefix of prefixes) {
        const [got] = await w.sql(
          `SELECT ${w.ns}.namespace_born($1) AS probe,
                  EXISTS (SELECT 1 FROM ${w.ns}.birth_registry b WHERE starts_with(b.entity_code, $1)) AS pass`,
          [prefix],
        );
        assert.equal(
          got?.probe,
          got?.pass,
          `namespace ${prefix}, ${when} (code-point order: ${String(order?.c)})`,
        );
      }
    };
    await same('all births');
    // the namespace's only codes now past ASCII, then none
    await w.sql(`DELETE FROM ${w.ns}.birth_registry WHERE entity_code = 'ns::'`);
    await same('without ns::');
    await w.sql(`DELETE FROM ${w.ns}.birth_registry WHERE entity_code IN ('ns::é', 'ns::\u{1F600}')`);
    await same('its codes gone');
    const [empty] = await w.sql(`SELECT ${w.ns}.namespace_born('ns::') AS probe`);
    assert.equal(empty?.probe, false);
  });
});
