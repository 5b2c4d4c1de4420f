/**
 * `natal census --check` for cron and CI, the lists `natal plans` and `natal runs`, and
 * `natal ledger --limit`, run the way a user runs them (a subprocess each time). The checks
 * and the lists are read, on a server, as a role that holds only natal's reader role; plans
 * are made, reviewed, permitted, applied and rolled back by the people whose job it is.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { dropNatalRoles, eachBackend, SERVER_URL } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

interface CheckJson {
  collections: { collection: string; state: string }[];
  totals: { gap: number };
  state: string;
  check: {
    ok: boolean;
    failing: { collection: string; state: string; reasons: string[]; next: string }[];
  };
}

interface PlanItem {
  plan_id: number;
  state: string;
  author: string;
  reviewed_by: string[];
  permitted_by: string[];
  expected: number;
  written: number;
  removed: number;
  runs: number[];
  created_at: string;
}

interface RunItem {
  run_id: number;
  plan_id: number;
  state: string;
  actor: string;
  expected: number;
  written: number;
  removed: number;
  started_at: string;
  finished_at: string | null;
}

eachBackend('cli lists and the census check', (backend) => {
  test('census --check passes and fails with one line per collection; plans, runs, ledger --limit', async () => {
    const target = backend.cliTarget();
    const schema = backend.uniqueName('natal');
    const app = backend.uniqueName('app');
    const a = quoteIdent(app);
    const server = backend.name === 'server';
    const people = server
      ? { op: `${schema}_op`, rv: `${schema}_rv`, ow: `${schema}_ow`, rd: `${schema}_rd` }
      : { op: 'oscar', rv: 'rita', ow: 'olga', rd: 'rhea' };
    const as =
      (who: string) =>
      (...args: string[]) =>
        natal([...args, ...target, '--schema', schema, '--as', who]);
    const reader = as(people.rd);
    const operator = as(people.op);
    const opts = target[0] === '--db' ? { db: target[1], schema } : { dataDir: target[1], schema };
    // The library, between CLI runs (the CLI holds an embedded data directory while it runs).
    const lib = async (fn: (r: Registry) => Promise<unknown>) => {
      const r = await Registry.open({ ...opts, create: true });
      try {
        await fn(r);
      } finally {
        await r.close();
      }
    };
    const ok = async (run: (...args: string[]) => ReturnType<typeof natal>, ...args: string[]) => {
      const r = await run(...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      return r;
    };
    const json = async <T>(run: (...args: string[]) => ReturnType<typeof natal>, ...args: string[]) =>
      JSON.parse((await ok(run, ...args, '--json')).stdout) as T;

    const admin = server ? new pg.Client({ connectionString: SERVER_URL }) : undefined;
    try {
      await admin?.connect();
      await lib(async (r) => {
        await r.init();
        if (admin) {
          for (const role of Object.values(people))
            await admin.query(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`);
          await r.grantAccess(people.op, ['operator']);
          await r.grantAccess(people.rv, ['reviewer']);
          await r.grantAccess(people.ow, ['reader']);
          await r.grantAccess(people.rd, ['reader']);
        }
        await r.db.exec(`CREATE SCHEMA ${a};
          CREATE TABLE ${a}.done (id int PRIMARY KEY, v text);
          CREATE TABLE ${a}.skip (id int PRIMARY KEY, v text);
          INSERT INTO ${a}.skip SELECT g, 's' FROM generate_series(1, 2) g;
          GRANT USAGE ON SCHEMA ${a} TO PUBLIC; GRANT SELECT ON ALL TABLES IN SCHEMA ${a} TO PUBLIC;`);
        await r.addSpecies({ code: 'SPE-L', prefix: 'L', level: 'atom' });
        await r.addCollection({ table: `${app}.done`, species: 'SPE-L' });
        // not governed: its rows without births fail nothing
        await r.addCollection({ table: `${app}.skip`, species: 'SPE-L', role: 'excluded' });
        await r.wire([`${app}.done`]);
        await r.db.exec(`INSERT INTO ${a}.done SELECT g, 'd' FROM generate_series(1, 3) g`);
      });

      // every governed collection complete: exit 0, one line
      let check = await reader('census', '--check');
      assert.deepEqual(
        [check.code, check.stdout, check.stderr],
        [0, 'ok: 1 governed collection complete\n', ''],
      );
      let checked = await reader('census', '--check', '--json');
      assert.equal(checked.code, 0, checked.stderr);
      let body = JSON.parse(checked.stdout) as CheckJson;
      assert.deepEqual(body.check, { ok: true, governed: 1, failing: [], frozen: [] });
      assert.equal(body.state, 'COMPLETE', 'the census JSON is still there, unchanged');
      assert.deepEqual(
        body.collections.map((c) => [c.collection, c.state]),
        [
          [`${app}.done`, 'COMPLETE'],
          [`${app}.skip`, 'EXCLUDED'],
        ],
      );

      // each way a governed collection can fail
      await lib(async (r) => {
        await r.db.exec(`
          CREATE TABLE ${a}.gapped (id int PRIMARY KEY, v text);
          INSERT INTO ${a}.gapped SELECT g, 'g' FROM generate_series(1, 2) g;
          CREATE TABLE ${a}.unwired (id int PRIMARY KEY, v text);
          INSERT INTO ${a}.unwired SELECT g, 'u' FROM generate_series(1, 3) g;
          CREATE TABLE ${a}.lost (id int PRIMARY KEY, v text);
          CREATE TABLE ${a}.dup1 (id int PRIMARY KEY, code text NOT NULL UNIQUE);
          CREATE TABLE ${a}.dup2 (id int PRIMARY KEY, code text NOT NULL UNIQUE);
          INSERT INTO ${a}.dup1 VALUES (1, 'L-001');
          INSERT INTO ${a}.dup2 VALUES (1, 'L-001');
          CREATE TABLE ${a}.nokey (v text);
          INSERT INTO ${a}.nokey VALUES ('n');
          GRANT SELECT ON ALL TABLES IN SCHEMA ${a} TO PUBLIC;`);
        await r.addCollection({ table: `${app}.gapped`, species: 'SPE-L', owner: people.ow });
        await r.addCollection({ table: `${app}.unwired`, species: 'SPE-L' });
        await r.addCollection({ table: `${app}.lost`, species: 'SPE-L' });
        await r.addCollection({ table: `${app}.nokey`, species: 'SPE-L' });
        await r.addCollection({ table: `${app}.ghost`, species: 'SPE-L', noTable: true });
        // two collections whose rows would produce one code
        for (const t of ['dup1', 'dup2'])
          await r.addCollection({ table: `${app}.${t}`, species: 'SPE-L', codeColumn: 'code' });
        await r.wire([`${app}.gapped`, `${app}.lost`, `${app}.dup1`, `${app}.dup2`]);
        // a row born, then gone where natal does not see it (replica mode): a phantom
        await r.db.exec(
          `INSERT INTO ${a}.lost VALUES (1, 'l'), (2, 'l'); SET session_replication_role = replica; DELETE FROM ${a}.lost WHERE id = 2; SET session_replication_role = DEFAULT;`,
        );
      });
      const failing = [
        `${app}.dup1 DUPLICATE_RISK: duplicate risk, 1 orphan; next: natal preflight shows the colliding codes`,
        `${app}.dup2 DUPLICATE_RISK: duplicate risk, 1 orphan; next: natal preflight shows the colliding codes`,
        `${app}.gapped PREFLIGHT_READY: 2 orphans; next: natal plan ${app}.gapped`,
        `${app}.ghost NO_TABLE: no table; next: create the table, or register the right one`,
        `${app}.lost COMPLETE_WITH_PHANTOMS: 1 phantom; next: natal census ${app}.lost --phantoms lists them`,
        `${app}.nokey UNCLASSIFIED: identity unclassified; next: natal classify --apply, or the owner: natal identity set`,
        `${app}.unwired NOT_WIRED: not wired, 3 orphans; next: natal wire ${app}.unwired`,
      ];
      check = await reader('census', '--check');
      assert.deepEqual([check.code, check.stdout, check.stderr], [1, `${failing.join('\n')}\n`, '']);
      checked = await reader('census', '--check', '--json');
      assert.equal(checked.code, 1, checked.stderr);
      body = JSON.parse(checked.stdout) as CheckJson;
      assert.equal(body.check.ok, false);
      assert.deepEqual(
        body.check.failing.map((f) => [f.collection, f.state, f.reasons]),
        [
          [`${app}.dup1`, 'DUPLICATE_RISK', ['duplicate_risk', 'orphans']],
          [`${app}.dup2`, 'DUPLICATE_RISK', ['duplicate_risk', 'orphans']],
          [`${app}.gapped`, 'PREFLIGHT_READY', ['orphans']],
          [`${app}.ghost`, 'NO_TABLE', ['no_table']],
          [`${app}.lost`, 'COMPLETE_WITH_PHANTOMS', ['phantoms']],
          [`${app}.nokey`, 'UNCLASSIFIED', ['unclassified']],
          [`${app}.unwired`, 'NOT_WIRED', ['not_wired', 'orphans']],
        ],
      );
      assert.equal(body.check.failing[2]?.next, `natal plan ${app}.gapped`);
      assert.equal(body.totals.gap, 7, 'the census numbers beside the check');
      // the named collections only
      check = await reader('census', `${app}.done`, '--check');
      assert.deepEqual([check.code, check.stdout], [0, 'ok: 1 governed collection complete\n']);
      check = await reader('census', `${app}.done`, `${app}.lost`, '--check');
      assert.deepEqual([check.code, check.stdout], [1, `${failing[4]}\n`]);

      // lists: nothing yet
      assert.deepEqual(await json(reader, 'plans'), []);
      assert.deepEqual(await json(reader, 'runs'), []);
      assert.equal((await ok(reader, 'plans')).stdout, 'no plan is recorded yet; natal plan makes one\n');
      assert.equal((await ok(reader, 'runs')).stdout, 'no run is recorded yet; natal apply PLAN makes one\n');

      // a plan, through the gate
      const plan = JSON.parse((await ok(operator, 'plan', `${app}.gapped`, '--json')).stdout) as {
        plan_id: number;
      };
      const p1 = plan.plan_id;
      let plans = await json<PlanItem[]>(reader, 'plans');
      assert.deepEqual(
        plans.map((p) => [
          p.plan_id,
          p.state,
          p.author,
          p.reviewed_by,
          p.permitted_by,
          p.expected,
          p.written,
        ]),
        [[p1, 'PLANNED', people.op, [], [], 2, 0]],
      );
      await ok(operator, 'rehearse', String(p1));
      assert.equal((await json<PlanItem[]>(reader, 'plans'))[0]?.state, 'DRYRUN_PROVEN');
      await ok(as(people.rv), 'approve', String(p1), '--review');
      await ok(as(people.ow), 'approve', String(p1), '--permit');
      plans = await json<PlanItem[]>(reader, 'plans');
      assert.deepEqual(
        plans.map((p) => [p.plan_id, p.state, p.reviewed_by, p.permitted_by, p.written]),
        [[p1, 'APPLY_READY', [people.rv], [people.ow], 0]],
      );
      const text = (await ok(reader, 'plans')).stdout.split('\n');
      assert.match(
        text[0] ?? '',
        /^Plan +State +Author +Reviewed by +Permitted by +Expected +Written +Created$/,
      );
      assert.match(
        text[2] ?? '',
        new RegExp(
          `^${p1} +APPLY_READY +${people.op} +${people.rv} +${people.ow} +2 +0 +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`,
        ),
      );

      // applied, then rolled back
      const applied = JSON.parse((await ok(operator, 'apply', String(p1), '--json')).stdout) as {
        run_id: number;
      };
      const r1 = applied.run_id;
      check = await reader('census', `${app}.gapped`, '--check');
      assert.deepEqual([check.code, check.stdout], [0, 'ok: 1 governed collection complete\n']);
      let runs = await json<RunItem[]>(reader, 'runs');
      assert.deepEqual(
        runs.map((r) => [r.run_id, r.plan_id, r.state, r.actor, r.expected, r.written, r.removed]),
        [[r1, p1, 'VERIFIED', people.op, 2, 2, 0]],
      );
      assert.ok(runs[0]?.finished_at, 'a finished run says when');
      assert.deepEqual(
        (await json<PlanItem[]>(reader, 'plans')).map((p) => [p.state, p.written, p.runs]),
        [['VERIFIED', 2, [r1]]],
      );
      await ok(operator, 'rollback', String(r1));
      runs = await json<RunItem[]>(reader, 'runs');
      assert.deepEqual(
        runs.map((r) => [r.run_id, r.state, r.written, r.removed]),
        [[r1, 'ROLLED_BACK', 2, 2]],
      );
      assert.deepEqual(
        (await json<PlanItem[]>(reader, 'plans')).map((p) => [p.state, p.removed]),
        [['ROLLED_BACK', 2]],
      );
      const runText = (await ok(reader, 'runs')).stdout.split('\n');
      assert.match(
        runText[0] ?? '',
        /^Run +Plan +State +Actor +Expected +Written +Removed +Started +Finished$/,
      );
      assert.match(
        runText[2] ?? '',
        new RegExp(`^${r1} +${p1} +ROLLED_BACK +${people.op} +2 +2 +2 +\\d{4}-`),
      );

      // a second plan, applied: newest first, --limit, --plan
      const p2 = (
        JSON.parse((await ok(operator, 'plan', `${app}.gapped`, '--json')).stdout) as { plan_id: number }
      ).plan_id;
      await ok(operator, 'rehearse', String(p2));
      await ok(as(people.rv), 'approve', String(p2), '--review');
      await ok(as(people.ow), 'approve', String(p2), '--permit');
      const r2 = (
        JSON.parse((await ok(operator, 'apply', String(p2), '--json')).stdout) as { run_id: number }
      ).run_id;
      assert.deepEqual(
        (await json<PlanItem[]>(reader, 'plans')).map((p) => [p.plan_id, p.state]),
        [
          [p2, 'VERIFIED'],
          [p1, 'ROLLED_BACK'],
        ],
      );
      assert.deepEqual(
        (await json<PlanItem[]>(reader, 'plans', '--limit', '1')).map((p) => p.plan_id),
        [p2],
      );
      assert.deepEqual(
        (await json<RunItem[]>(reader, 'runs')).map((r) => [r.run_id, r.state]),
        [
          [r2, 'VERIFIED'],
          [r1, 'ROLLED_BACK'],
        ],
      );
      assert.deepEqual(
        (await json<RunItem[]>(reader, 'runs', '--plan', String(p1))).map((r) => r.run_id),
        [r1],
      );
      assert.deepEqual(
        (await json<RunItem[]>(reader, 'runs', '--limit', '1')).map((r) => r.run_id),
        [r2],
      );
      const unknown = await reader('runs', '--plan', '9999');
      assert.deepEqual(
        [unknown.code, unknown.stderr],
        [1, 'natal: plan 9999 does not exist; natal plans lists the plans\n'],
      );

      // ledger --limit: the newest rows, in time order
      const all = (await json<{ ledger: { ledger_id: number }[] }>(reader, 'ledger')).ledger.map(
        (l) => l.ledger_id,
      );
      assert.ok(all.length > 3);
      const last = (
        await json<{ ledger: { ledger_id: number }[] }>(reader, 'ledger', '--limit', '3')
      ).ledger.map((l) => l.ledger_id);
      assert.deepEqual(last, all.slice(-3));
      const limitedText = (await ok(reader, 'ledger', '--limit', '2')).stdout.trimEnd().split('\n');
      assert.deepEqual(
        limitedText.slice(2).map((l) => Number(l.split(/ +/)[0])),
        all.slice(-2),
      );
      const ofPlan = (
        await json<{ ledger: { ledger_id: number; plan_id: number }[] }>(
          reader,
          'ledger',
          '--plan',
          String(p1),
          '--limit',
          '1',
        )
      ).ledger;
      assert.deepEqual(
        ofPlan.map((l) => l.plan_id),
        [p1],
      );

      // bad flags: usage errors, exit 2, one line
      for (const args of [
        ['plans', '--limit', '0'],
        ['plans', '--limit', '-3'],
        ['plans', '--limit', 'ten'],
        ['runs', '--limit', '1.5'],
        ['runs', '--plan', '0'],
        ['ledger', '--limit', '0'],
        ['ledger', '--limit', 'x'],
        ['ledger', '--verify', '--limit', '2'],
        ['census', '--check', '--orphans', `${app}.gapped`],
        ['census', '--check', '--limit', '5'],
      ]) {
        const r = await reader(...args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      }
    } finally {
      if (admin) {
        await admin.query(
          `DROP SCHEMA IF EXISTS ${a} CASCADE; DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`,
        );
        for (const role of Object.values(people)) {
          await admin.query(`DROP OWNED BY ${quoteIdent(role)}; DROP ROLE ${quoteIdent(role)}`);
        }
        await dropNatalRoles(admin, schema);
        await admin.end();
      }
    }
  });
});
