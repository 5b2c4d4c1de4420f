/**
 * natal prints nothing on stderr when nothing went wrong: commands that take several
 * tables resolve them one query at a time on a client (several at once on one client is
 * deprecated by the driver, which says so on stderr).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eachBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';
import { world } from './helpers/setup.js';

eachBackend('no warnings', (backend) => {
  test('commands over three tables print nothing on stderr', async () => {
    const w = await world(backend);
    const tables: string[] = [];
    await w.registry.addSpecies({ code: 'SPE-WRN', prefix: 'WRN', level: 'atom' });
    for (const t of ['one', 'two', 'three']) {
      await w.registry.db.exec(
        `CREATE TABLE ${w.a}.${t} (id int PRIMARY KEY); INSERT INTO ${w.a}.${t} VALUES (1)`,
      );
      tables.push(
        (await w.registry.addCollection({ table: `${w.app}.${t}`, species: 'SPE-WRN' })).collection_name,
      );
    }
    await w.registry.wire(tables);
    const target =
      backend.name === 'server'
        ? ['--db', process.env.NATAL_TEST_SERVER_URL as string, '--schema', w.registry.schema]
        : null;
    if (!target) {
      // embedded, the registry's own process holds the data directory: the library, in-process
      const warnings: string[] = [];
      const listen = (warning: Error) => warnings.push(warning.message);
      process.on('warning', listen);
      try {
        await w.registry.census(tables);
        await w.registry.preflight(tables);
        await w.registry.classify(tables);
        await w.registry.inspect(tables);
        await w.registry.listCollections(tables);
      } finally {
        process.off('warning', listen);
      }
      assert.deepEqual(warnings, []);
      return;
    }
    for (const args of [['census'], ['preflight'], ['classify'], ['inspect'], ['collection', 'list']]) {
      const r = await natal([...args, ...tables, ...target]);
      assert.equal(r.stderr, '', `natal ${args.join(' ')}`);
    }
  });
});
