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

eachBackend('no warnings', (backend) => {
  // On a server, `as` makes each new pooled client act as that role first (SET SESSION
  // AUTHORIZATION in the pool's connect hook): a statement sent before it finished ran
  // beside it, which the driver deprecates on stderr. Several statements at once open
  // several clients.
  test('a registry acting as a role prints no warning when it opens several clients', async (t) => {
    if (backend.name !== 'server') return t.skip('roles exist on a server only');
    const w = await world(backend);
    const me = (await w.registry.db.query<{ u: string }>('SELECT session_user AS u')).rows[0]?.u as string;
    const acting = await backend.open({ schema: w.registry.schema, as: me });
    const warnings: string[] = [];
    const listen = (warning: Error) => warnings.push(warning.message);
    process.on('warning', listen);
    try {
      const users = await Promise.all(
        Array.from({ length: 4 }, () =>
          acting.db.query<{ u: string }>('SELECT session_user AS u, pg_sleep(0.05)'),
        ),
      );
      assert.deepEqual(
        users.map((r) => r.rows[0]?.u),
        [me, me, me, me],
      );
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', listen);
    }
    assert.deepEqual(warnings, []);
  });
});
