import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import type { Census } from '../src/census/census.js';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { dropNatalRoles, eachBackend, SERVER_URL } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

/**
 * A collection's state says what is true: complete with phantoms is not "ready for a
 * backfill"; a plan with nothing to birth is not recorded; status names the next step of a
 * plan in progress; a report's "before" is the state the plan found. Run on a server as a
 * role that holds only natal's operator role.
 */
eachBackend('readiness', (backend) => {
  test('complete with phantoms, nothing to plan, a plan in progress, the real before', async () => {
    const target = backend.cliTarget();
    const schema = backend.uniqueName('natal');
    const app = backend.uniqueName('app');
    const a = quoteIdent(app);
    const operator = backend.name === 'server' ? `${schema}_op` : 'oscar';
    const run = (...args: string[]) => natal([...args, ...target, '--schema', schema, '--as', operator]);
    const opts = target[0] === '--db' ? { db: target[1], schema } : { dataDir: target[1], schema };
    const setup = await Registry.open({ ...opts, create: true });
    let admin: pg.Client | undefined;
    try {
      await setup.init();
      if (backend.name === 'server') {
        admin = new pg.Client({ connectionString: SERVER_URL });
        await admin.connect();
        await admin.query(`CREATE ROLE ${quoteIdent(operator)} NOLOGIN`);
        await setup.grantAccess(operator, ['operator']);
      }
      await setup.db.exec(`CREATE SCHEMA ${a};
        CREATE TABLE ${a}.done (id int PRIMARY KEY, v text);
        INSERT INTO ${a}.done SELECT g, 'x' FROM generate_series(1, 3) g;
        CREATE TABLE ${a}.gapped (id int PRIMARY KEY, v text);
        INSERT INTO ${a}.gapped SELECT g, 'y' FROM generate_series(1, 2) g;
        GRANT USAGE ON SCHEMA ${a} TO PUBLIC; GRANT SELECT ON ALL TABLES IN SCHEMA ${a} TO PUBLIC;`);
      await setup.addSpecies({ code: 'SPE-R', prefix: 'R', level: 'atom' });
      for (const t of ['done', 'gapped'])
        await setup.addCollection({ table: `${app}.${t}`, species: 'SPE-R' });
      await setup.wire([`${app}.done`, `${app}.gapped`]);
      // every row of done has its birth, and one birth has no row: a phantom, no gap
      await setup.db.query(
        `INSERT INTO ${setup.ctx.ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
           dot_origin, governance_role, operation)
         SELECT $1 || '::' || g, $1, 'SPE-R', 'atom', 'test', 'governed', 'import' FROM generate_series(1, 4) g`,
        [`${app}.done`],
      );
    } finally {
      await setup.close();
    }
    try {
      const census = async () => {
        const r = await run('census', '--json');
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as Census;
      };
      const row = (c: Census, t: string) => c.collections.find((x) => x.collection === `${app}.${t}`);
      let c = await census();
      assert.deepEqual(
        [row(c, 'done')?.gap, row(c, 'done')?.phantoms, row(c, 'done')?.state],
        [0, 1, 'COMPLETE_WITH_PHANTOMS'],
      );
      assert.deepEqual([row(c, 'gapped')?.gap, row(c, 'gapped')?.state], [2, 'PREFLIGHT_READY']);
      let status = await run('status');
      assert.equal(status.code, 0, status.stderr);
      assert.match(
        status.stdout,
        /Nothing blocks: 1 collection\(s\) with a gap, ready for a backfill plan: natal plan/,
      );
      assert.match(
        status.stdout,
        new RegExp(
          `Complete, with phantoms \\(1\\):\\n  COMPLETE_WITH_PHANTOMS +${app}\\.done: no gap; 1 birth\\(s\\) whose rows are gone: natal census ${app}\\.done --phantoms`,
        ),
      );

      // nothing to birth: exit 0, no plan recorded
      const nothing = await run('plan', `${app}.done`);
      assert.equal(nothing.code, 0, nothing.stderr);
      assert.match(
        nothing.stdout,
        /^nothing to plan: 1 eligible collection\(s\) with no gap, every row has its birth/,
      );
      const json = await run('plan', `${app}.done`, '--json');
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(JSON.parse(json.stdout).plan_id, null);
      assert.equal(JSON.parse(json.stdout).nothing_to_plan, true);

      // a plan in progress: status says its next step, the census names the plan
      const made = await run('plan', '--json');
      assert.equal(made.code, 0, made.stderr);
      const plan = JSON.parse(made.stdout) as { plan_id: number; collections: { collection: string }[] };
      const ledger = await run('ledger', '--json');
      assert.equal(ledger.code, 0, ledger.stderr);
      assert.deepEqual(
        [
          ...new Set(
            (JSON.parse(ledger.stdout) as { ledger: { plan_id: number }[] }).ledger.map((l) =>
              Number(l.plan_id),
            ),
          ),
        ],
        [plan.plan_id],
        'the refused plans left nothing behind',
      );
      assert.deepEqual(
        plan.collections.map((x) => x.collection),
        [`${app}.done`, `${app}.gapped`],
      );
      c = await census();
      assert.deepEqual([row(c, 'gapped')?.state, row(c, 'gapped')?.plan_id], ['PLANNED', plan.plan_id]);
      assert.deepEqual([row(c, 'done')?.state, row(c, 'done')?.plan_id], ['COMPLETE_WITH_PHANTOMS', null]);
      status = await run('status');
      assert.match(
        status.stdout,
        new RegExp(
          `In a backfill plan \\(1\\):\\n  PLANNED +${app}\\.gapped: in plan ${plan.plan_id}: natal rehearse ${plan.plan_id}`,
        ),
      );
      assert.doesNotMatch(status.stdout, /What blocks progress/);

      // inspection: what is new, then nothing new (the phantom's birth stays a known failure)
      const first = await run('inspect', `${app}.done`);
      assert.match(first.stdout, /inspected 4: 3 passed, 1 failed/);
      const second = await run('inspect', `${app}.done`);
      assert.equal(second.code, 1, 'a known failure still fails');
      assert.match(
        second.stdout,
        /nothing new to inspect: every birth was judged when it was written or by an earlier inspection/,
      );
      assert.match(second.stdout, /known failures: 1 birth\(s\) failed an earlier inspection/);

      // the report's before is the state the plan found
      const report = await run('report', '--plan', String(plan.plan_id), '--json');
      assert.equal(report.code, 0, report.stderr);
      const outcome = (JSON.parse(report.stdout) as { outcome: { collection: string; before: string }[] })
        .outcome;
      assert.deepEqual(
        outcome.map((o) => [o.collection, o.before]),
        [
          [`${app}.done`, 'COMPLETE'],
          [`${app}.gapped`, 'PREFLIGHT_READY'],
        ],
      );
    } finally {
      if (admin) {
        await admin.query(
          `DROP SCHEMA IF EXISTS ${a} CASCADE; DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`,
        );
        await admin.query(`DROP OWNED BY ${quoteIdent(operator)}; DROP ROLE ${quoteIdent(operator)}`);
        await dropNatalRoles(admin, schema);
        await admin.end();
      }
    }
  });
});
