/**
 * A rollback is an event in the history of the births it removed (issue 15): `natal show`
 * of a code whose birth a rollback removed says so (status rolled_back, born by run N,
 * rolled back), a code born again since shows both, and a rollback after deaths keeps the
 * deaths in that history. The census counts none of it as a death or a phantom. On a
 * server the people are natal's roles: the author applies and rolls back, a reader shows.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Entity } from '../src/show/show.js';
import { type Actors, actors, throughGate } from './helpers/actors.js';
import { eachBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';
import { type World, world } from './helpers/setup.js';

eachBackend('rollback in the history', (backend) => {
  let w: World;
  let people: Actors;
  let name: string;
  const events = (e: Entity) =>
    e.history.map((h) => `${h.event}${'run_id' in h && h.run_id ? ` ${String(h.run_id)}` : ''}`);
  before(async () => {
    w = await world(backend);
    people = await actors(backend, w, ['author', 'reviewer', 'owner', 'reader']);
    await w.registry.db.exec(`CREATE TABLE ${w.a}.items (id int PRIMARY KEY, v text);
      INSERT INTO ${w.a}.items SELECT g, 'v' FROM generate_series(1, 6) g;`);
    await w.registry.addSpecies({ code: 'SPE-ITM', prefix: 'ITM', level: 'atom' });
    ({ collection_name: name } = await w.registry.addCollection({
      table: `${w.app}.items`,
      species: 'SPE-ITM',
      owner: people.name('owner'),
    }));
    await w.registry.wire([name]);
  });
  after(async () => {
    await people.cleanup();
  });

  test('show of a rolled-back code, of one born again since, and after deaths; the census unmoved', async () => {
    const author = await people.as('author');
    const first = await author.apply(await throughGate(people, [name]));
    assert.equal(first.born, 6);
    // a death before the rollback: row 2 deleted (its death recorded)
    await w.sql(`DELETE FROM ${w.a}.items WHERE id = 2`);
    await author.rollback(first.run_id);
    const reader = await people.as('reader');
    const one = await reader.show(`${name}::1`);
    assert.equal(one.status, 'rolled_back');
    assert.deepEqual([one.run_id, one.operation, one.row_exists], [first.run_id, 'backfill', true]);
    assert.deepEqual(events(one), [`born ${first.run_id}`, `rolled back ${first.run_id}`]);
    const two = await reader.show(`${name}::2`);
    assert.equal(two.status, 'rolled_back');
    assert.deepEqual(events(two), [`born ${first.run_id}`, 'died', `rolled back ${first.run_id}`]);
    assert.equal(two.row_exists, false);
    // the census: 5 rows, no births, a gap of 5; no death, no phantom counted for what was rolled back
    const c = (await reader.census([name])).collections[0];
    assert.deepEqual([c?.rows, c?.births, c?.gap, c?.phantoms, c?.deaths], [5, 0, 5, 0, 0]);
    // born again by a second run: alive, with the whole story
    const second = await author.apply(await throughGate(people, [name]));
    assert.equal(second.born, 5);
    const again = await reader.show(`${name}::1`);
    assert.equal(again.status, 'alive');
    assert.deepEqual(events(again), [
      `born ${first.run_id}`,
      `rolled back ${first.run_id}`,
      `born ${second.run_id}`,
      'inspected',
    ]);
    // the same through the CLI: exit 0, and it says so
    await people.as('author');
    const target = backend.name === 'embedded' ? null : backend.cliTarget();
    if (target) {
      const r = await natal([
        'show',
        `${name}::2`,
        ...target,
        '--schema',
        w.registry.schema,
        '--as',
        people.name('reader'),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        new RegExp(`how +born by backfill run ${first.run_id} of plan \\d+, which was rolled back`),
      );
      assert.match(r.stdout, /exists +no birth now, and no row/);
    }
  });

  test('an unknown code is still unknown', async () => {
    await assert.rejects((await people.as('reader')).show(`${name}::99`), /no birth has code/);
  });
});
