import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quoteIdent } from '../src/db/ident.js';
import { eachBackend, SERVER_URL } from './helpers/backends.js';
import { natal } from './helpers/cli.js';
import { rejects } from './helpers/setup.js';

eachBackend('migrations', (backend) => {
  test('init applies every migration once; a second init is a no-op', async () => {
    const registry = await backend.open();
    const first = await registry.init();
    assert.deepEqual(first.applied, [
      '0001_registry',
      '0002_catalog',
      '0003_gateway',
      '0004_wiring',
      '0005_inspect',
      '0006_identity',
      '0007_backfill',
      '0008_duplicate_risk',
      '0009_identity_takeover',
      '0010_key_text',
      '0011_owner',
      '0012_gateway_fast',
      '0013_small_statements',
      '0014_census_kept',
      '0015_trust',
      '0016_inspection',
      '0017_deaths',
      '0018_rollback_history',
      '0019_wiring_record',
      '0020_citus_gateway',
      'definitions',
    ]);
    assert.equal(first.upToDate, false);
    const q = quoteIdent(registry.schema);
    const before = await registry.db.query(`SELECT id, applied_at FROM ${q}.natal_migrations`);
    const second = await registry.init();
    assert.deepEqual(second, { applied: [], upToDate: true });
    const after = await registry.db.query(`SELECT id, applied_at FROM ${q}.natal_migrations`);
    assert.deepEqual(after.rows, before.rows);
    await registry.assertReady();
  });

  test('commands refuse a schema where natal is not installed', async () => {
    const registry = await backend.open();
    await rejects(registry.assertReady(), 'NOT_INITIALIZED', /run natal init/);
  });

  test('an edited, already-applied migration is refused', async () => {
    const registry = await backend.open();
    await registry.init();
    const q = quoteIdent(registry.schema);
    // What an edit of 0001 looks like to natal: the recorded checksum no longer matches.
    await registry.db.query(`UPDATE ${q}.natal_migrations SET checksum = repeat('0', 64) WHERE id = 1`);
    await rejects(registry.init(), 'MIGRATION_TAMPERED', /0001_registry was edited/);
    await rejects(registry.assertReady(), 'MIGRATION_TAMPERED');
    const report = await registry.doctor();
    assert.equal(report.clean, false);
    assert.ok(report.findings.some((f) => f.problem === 'tampered'));
  });

  test('a schema newer than the code is refused', async () => {
    const registry = await backend.open();
    await registry.init();
    const q = quoteIdent(registry.schema);
    await registry.db.query(
      `INSERT INTO ${q}.natal_migrations (id, name, checksum, natal_version) VALUES (9999, '9999_future', repeat('a', 64), '99.0.0')`,
    );
    await rejects(registry.init(), 'SCHEMA_TOO_NEW', /9999_future.*upgrade natal/);
    await rejects(registry.assertReady(), 'SCHEMA_TOO_NEW');
    const report = await registry.doctor();
    assert.deepEqual(
      report.findings.map((f) => f.problem),
      ['too-new'],
    );
  });

  test('doctor is clean after init and finds a dropped index and a dropped function', async () => {
    const registry = await backend.open();
    const missing = await registry.doctor();
    assert.equal(missing.clean, false);
    assert.equal(missing.findings[0]?.kind, 'schema');
    await registry.init();
    assert.deepEqual(await registry.doctor(), {
      schema: registry.schema,
      clean: true,
      findings: [],
    });
    const q = quoteIdent(registry.schema);
    await registry.db.exec(`DROP INDEX ${q}.birth_backfill_ledger_plan_idx`);
    await registry.db.exec(`DROP FUNCTION ${q}.collection_name_of(name, name)`);
    await registry.db.exec(`ALTER TABLE ${q}.entity_species ADD COLUMN stray integer`);
    const report = await registry.doctor();
    assert.equal(report.clean, false);
    const seen = report.findings.map((f) => `${f.problem} ${f.kind} ${f.name}`).sort();
    assert.deepEqual(seen, [
      'missing function collection_name_of(table_schema name, table_name name)',
      'missing index birth_backfill_ledger_plan_idx',
      'unexpected column entity_species.stray',
    ]);
  });

  test(
    'natal init run by several processes at once on one schema: all succeed, each migration applied once, doctor clean',
    {
      skip:
        backend.name === 'embedded'
          ? 'server only: an embedded data directory is held by one process at a time (the data-dir lock refuses the others; lock.test)'
          : false,
    },
    async () => {
      const schema = backend.uniqueName('racing');
      const inits = await Promise.all(
        [1, 2, 3, 4].map(() => natal(['init', '--db', SERVER_URL as string, '--schema', schema, '--json'])),
      );
      for (const r of inits) assert.equal(r.code, 0, r.stderr);
      const applied = inits.flatMap((r) => (JSON.parse(r.stdout) as { applied: string[] }).applied);
      const migrations = applied.filter((m) => m !== 'definitions');
      assert.equal(new Set(migrations).size, migrations.length, `applied once each: ${applied.join(', ')}`);
      assert.equal(migrations.length, 20);
      assert.equal(applied.filter((m) => m === 'definitions').length, 1);
      const registry = await backend.open({ schema });
      const { rows } = await registry.db.query<{ n: number; ids: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM ${quoteIdent(schema)}.natal_migrations`,
      );
      assert.deepEqual(rows[0], { n: 20, ids: 20 });
      assert.deepEqual(await registry.doctor(), { schema, clean: true, findings: [] });
      assert.deepEqual(await registry.init(), { applied: [], upToDate: true });
    },
  );

  test(
    "a reader's doctor, who may not build a scratch schema, compares with what natal init recorded",
    { skip: backend.name === 'embedded' ? 'embedded has one database user, who may build it' : false },
    async () => {
      const registry = await backend.open();
      await registry.init();
      const q = quoteIdent(registry.schema);
      const reader = `natal_t_doc_${registry.schema.slice(-8)}`;
      await registry.db.exec(`CREATE ROLE ${quoteIdent(reader)} NOLOGIN`);
      try {
        await registry.grantAccess(reader, ['reader']);
        const asReader = await backend.open({ schema: registry.schema, as: reader });
        try {
          const { rows } = await asReader.db.query<{ ok: boolean }>(
            `SELECT has_database_privilege(current_database(), 'CREATE') AS ok`,
          );
          assert.equal(rows[0]?.ok, false, 'the reader may not create a schema here');
          assert.deepEqual(await asReader.doctor(), { schema: registry.schema, clean: true, findings: [] });
          await registry.db.exec(`DROP INDEX ${q}.birth_backfill_ledger_plan_idx`);
          const seen = (await asReader.doctor()).findings.map((f) => `${f.problem} ${f.kind} ${f.name}`);
          assert.deepEqual(seen, ['missing index birth_backfill_ledger_plan_idx']);
          // with nothing recorded, it says what to run, and natal init records it again
          await registry.db.exec(`DELETE FROM ${q}.natal_expected_catalog`);
          const none = await asReader.doctor();
          assert.deepEqual(
            none.findings.map((f) => [f.problem, f.kind, /run natal init/.test(f.expected ?? '')]),
            [['pending', 'expectation', true]],
          );
          await registry.init();
          assert.deepEqual(
            (await asReader.doctor()).findings.map((f) => `${f.problem} ${f.kind} ${f.name}`),
            ['missing index birth_backfill_ledger_plan_idx'],
          );
        } finally {
          await asReader.close();
        }
      } finally {
        await registry.db.exec(`DROP OWNED BY ${quoteIdent(reader)}; DROP ROLE ${quoteIdent(reader)}`);
      }
    },
  );

  test('doctor sees a changed trigger, a changed type and a changed constraint', async () => {
    const registry = await backend.open();
    await registry.init();
    const q = quoteIdent(registry.schema);
    // natal's owner guard, made to fire on every update instead of on UPDATE OF owner
    await registry.db.exec(`DROP TRIGGER natal_owner_guard ON ${q}.collection_registry;
      CREATE TRIGGER natal_owner_guard BEFORE UPDATE ON ${q}.collection_registry
        FOR EACH ROW EXECUTE FUNCTION ${q}.owner_change_guard();`);
    await registry.db.exec(`ALTER TYPE ${q}.plan_status ADD VALUE 'abandoned'`);
    await registry.db.exec(`ALTER TABLE ${q}.backfill_plan DROP CONSTRAINT backfill_plan_expected_total_check,
      ADD CONSTRAINT backfill_plan_expected_total_check CHECK (expected_total >= -1)`);
    const report = await registry.doctor();
    assert.equal(report.clean, false);
    assert.deepEqual(report.findings.map((f) => `${f.problem} ${f.kind} ${f.name}`).sort(), [
      'changed constraint backfill_plan.backfill_plan_expected_total_check',
      'changed trigger collection_registry.natal_owner_guard',
      'changed type plan_status',
    ]);
    const byKind = new Map(report.findings.map((f) => [f.kind, f]));
    assert.match(byKind.get('type')?.actual ?? '', /superseded,abandoned$/);
    assert.match(byKind.get('constraint')?.actual ?? '', />= '?-1/);
    assert.match(byKind.get('trigger')?.actual ?? '', /BEFORE UPDATE ON/);
    assert.match(byKind.get('trigger')?.who ?? '', /a superuser/, 'who can have changed a trigger of natal');
  });

  test('doctor sees a changed definition', async () => {
    const registry = await backend.open();
    await registry.init();
    const q = quoteIdent(registry.schema);
    await registry.db.exec(`ALTER TABLE ${q}.birth_registry ALTER COLUMN dot_origin DROP NOT NULL`);
    const report = await registry.doctor();
    assert.ok(report.findings.some((f) => f.problem === 'changed' && f.name === 'birth_registry.dot_origin'));
    // PostgreSQL 18 also lists the NOT NULL constraint itself as missing; nothing else moved.
    assert.ok(report.findings.every((f) => f.name.includes('dot_origin')));
  });

  test('a schema name with spaces, capitals and quotes works', async () => {
    const schema = backend.uniqueName('My Natal "Schema"');
    const registry = await backend.open({ schema });
    await registry.init();
    assert.equal((await registry.doctor()).clean, true);
    const { rows } = await registry.db.query<{ t: string }>(
      'SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY tablename COLLATE "C"',
      [schema],
    );
    assert.deepEqual(
      rows.map((r) => r.t),
      [
        'apply_lock',
        'backfill_approval',
        'backfill_plan',
        'backfill_plan_item',
        'backfill_range',
        'backfill_run',
        'birth_backfill_ledger',
        'birth_registry',
        'census_baseline',
        'census_change',
        'chain_head',
        'collection_registry',
        'entity_death',
        'entity_death_code',
        'entity_species',
        'natal_definitions',
        'natal_expected_catalog',
        'natal_migrations',
        'operation_freeze',
        'species_collection_map',
        'wired_trigger',
      ],
    );
    assert.deepEqual(await registry.init(), { applied: [], upToDate: true });
  });

  test('a schema name over 63 bytes is refused before anything is written', async () => {
    await rejects(backend.open({ schema: 'x'.repeat(64) }), 'INVALID_IDENTIFIER', /63-byte/);
  });

  test('a schema that already holds a table of the same name fails cleanly and writes nothing', async () => {
    const schema = backend.uniqueName('occupied');
    const registry = await backend.open({ schema });
    await registry.db.exec(
      `CREATE SCHEMA ${quoteIdent(schema)}; CREATE TABLE ${quoteIdent(schema)}.birth_registry (id int)`,
    );
    await rejects(registry.init(), 'MIGRATION_FAILED', /choose another --schema/);
    const { rows } = await registry.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1',
      [schema],
    );
    assert.equal(rows[0]?.n, 1, 'only the pre-existing table remains');
  });

  test('a closed registry says so', async () => {
    const registry = await backend.open();
    await registry.close();
    await rejects(registry.init(), 'DATABASE_CLOSED');
  });
});
