/**
 * Upgrading a populated registry made by natal 0.1.0 (its 14 migrations, kept as they
 * shipped in test/fixtures/natal-0.1.0): commands refuse it until natal init, which applies
 * only what changed since; then doctor finds it equal to a fresh install, and its births,
 * wiring and numbers carry on.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { quoteIdent } from '../src/db/ident.js';
import { checksum } from '../src/schema/migrations.js';
import { eachBackend } from './helpers/backends.js';
import { rejects } from './helpers/setup.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/natal-0.1.0/migrations');

/** natal 0.1.0's bootstrap: the migrations table, before its first migration. */
const BOOTSTRAP_0_1_0 = `CREATE TABLE IF NOT EXISTS natal_migrations (
  id            integer PRIMARY KEY,
  name          text NOT NULL,
  checksum      text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
  natal_version text NOT NULL,
  applied_at    timestamptz NOT NULL DEFAULT now(),
  applied_by    text NOT NULL DEFAULT session_user
);`;

eachBackend('upgrade from natal 0.1.0', (backend) => {
  test('a populated 0.1.0 registry is refused until init, then upgraded in place', async () => {
    const registry = await backend.open();
    const q = quoteIdent(registry.schema);
    const appName = backend.uniqueName('app');
    const app = quoteIdent(appName);
    // The schema as natal 0.1.0 made it, migration by migration.
    for (const file of readdirSync(FIXTURE).sort()) {
      const sql = readFileSync(join(FIXTURE, file), 'utf8');
      await registry.transaction(async (tx) => {
        await tx.db.exec(
          `CREATE SCHEMA IF NOT EXISTS ${q}; SET LOCAL search_path TO ${q}; ${BOOTSTRAP_0_1_0}`,
        );
        await tx.db.exec(sql);
        await tx.db.query(
          `INSERT INTO natal_migrations (id, name, checksum, natal_version) VALUES ($1, $2, $3, '0.1.0')`,
          [Number(file.slice(0, 4)), file.replace(/\.sql$/, ''), checksum(sql)],
        );
      });
    }
    // Used as 0.1.0 would have been: a species, a wired collection, rows born by its trigger.
    await registry.db.exec(`
      CREATE SCHEMA ${app};
      CREATE TABLE ${app}.rules (id serial PRIMARY KEY, code text UNIQUE, name text);
      INSERT INTO ${q}.entity_species (species_code, code_prefix, composition_level) VALUES ('SPE-DOM', 'DOM', 'atom');
    `);
    await registry.db.query(
      `SELECT ${q}.register_collection($1, 'rules', 'SPE-DOM', 'governed', NULL, 'code')`,
      [appName],
    );
    const name = `${appName}.rules`;
    await registry.db.query(`SELECT ${q}.wire($1)`, [name]);
    await registry.db.exec(
      `INSERT INTO ${app}.rules (code, name) SELECT 'DOM-' || lpad(g::text, 3, '0'), 'r' FROM generate_series(1, 5) g`,
    );
    const births = async () =>
      Number(
        (
          await registry.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM ${q}.birth_registry WHERE collection_name = $1`,
            [name],
          )
        ).rows[0]?.n,
      );
    assert.equal(await births(), 5);

    await rejects(registry.assertReady(), 'SCHEMA_OUTDATED', /run natal init/);
    const doctorBefore = await registry.doctor();
    assert.equal(doctorBefore.clean, false);
    assert.ok(doctorBefore.findings.every((f) => f.problem === 'pending'));

    const upgraded = await registry.init();
    assert.deepEqual(upgraded, {
      applied: [
        '0015_trust',
        '0016_inspection',
        '0017_deaths',
        '0018_rollback_history',
        '0019_wiring_record',
        '0020_citus_gateway',
        'definitions',
      ],
      upToDate: false,
    });
    await registry.assertReady();
    assert.deepEqual((await registry.doctor()).findings, []);
    // What it held is still there, and still works.
    assert.equal(await births(), 5);
    await registry.db.exec(`INSERT INTO ${app}.rules (code, name) VALUES ('DOM-006', 'after')`);
    assert.equal(await births(), 6);
    const census = await registry.census([name]);
    assert.deepEqual(
      [census.collections[0]?.rows, census.collections[0]?.births, census.collections[0]?.gap],
      [6, 6, 0],
    );
    assert.equal((await registry.create(name, { name: 'first-born' })).entity_code, 'DOM-007');
    assert.deepEqual(await registry.init(), { applied: [], upToDate: true });
    await registry.db.exec(`DROP SCHEMA ${app} CASCADE`);
  });
});
