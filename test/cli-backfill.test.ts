/**
 * The CLI as a user runs it (a subprocess each time), for flags that had no test:
 * census --phantoms, collection set --strict/--no-strict, identity set (and --force),
 * approve --note read back, ledger's filters and unknown ids, report --run/--since/--out,
 * a bad --lanes, and the gate's order (no review before a rehearsal that passes).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { Registry } from '../src/registry.js';
import { eachBackend, SERVER_URL } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

const json = <T>(r: { stdout: string }) => JSON.parse(r.stdout) as T;

eachBackend('cli backfill flags', (backend) => {
  const cwds: string[] = [];
  const roles: string[] = [];
  after(async () => {
    for (const d of cwds) rmSync(d, { recursive: true, force: true });
    if (roles.length === 0) return;
    const c = new pg.Client({ connectionString: SERVER_URL });
    await c.connect();
    try {
      for (const r of roles) {
        await c.query(`DROP OWNED BY ${r}`).catch(() => undefined);
        await c.query(`DROP ROLE IF EXISTS ${r}`);
      }
    } finally {
      await c.end();
    }
  });

  test('as a user runs them: phantoms, strict, identity, notes, ledger, report, lanes', async () => {
    const app = backend.uniqueName('app');
    let target: string[];
    let sql: (text: string) => Promise<void>;
    if (backend.name === 'server') {
      const schema = backend.uniqueName('natal');
      target = ['--db', SERVER_URL as string, '--schema', schema];
      const r = await backend.open({ schema });
      sql = async (text) => {
        await r.db.exec(text);
      };
    } else {
      const dir = backend.freshDataDir();
      target = ['--data-dir', dir];
      // the CLI holds the directory while it runs: open it only in between
      sql = async (text) => {
        const r = await Registry.open({ dataDir: dir });
        try {
          await r.db.exec(text);
        } finally {
          await r.close();
        }
      };
    }
    const cli = (...args: string[]) => natal([...args, ...target]);
    const ok = async (...args: string[]) => {
      const r = await cli(...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r;
    };
    const refused = async (code: number, ...args: string[]) => {
      const r = await cli(...args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      return r;
    };

    await ok('init');
    await sql(`CREATE SCHEMA ${app};
      CREATE TABLE ${app}.rules (id int PRIMARY KEY, code text UNIQUE, v text);
      INSERT INTO ${app}.rules SELECT g, 'RUL-' || lpad(g::text, 3, '0'), 'v' FROM generate_series(1, 4) g;
      CREATE TABLE ${app}.items (id int PRIMARY KEY, v text);
      INSERT INTO ${app}.items SELECT g, 'v' FROM generate_series(1, 6) g;`);
    const rules = `${app}.rules`;
    const items = `${app}.items`;
    // on a server the reviewer and the owner are roles of this test's own, given natal's roles
    let reviewer = 'reviewer';
    let owner = 'owner';
    if (backend.name === 'server') {
      reviewer = `${app}_reviewer`;
      owner = `${app}_owner`;
      await sql(`CREATE ROLE ${reviewer} NOLOGIN; CREATE ROLE ${owner} NOLOGIN`);
      roles.push(reviewer, owner);
      await ok('access', 'grant', reviewer, 'reviewer');
      await ok('access', 'grant', owner, 'reader');
    }
    await ok('species', 'add', 'SPE-RUL', '--prefix', 'RUL', '--level', 'atom');
    await ok('species', 'add', 'SPE-ITM', '--prefix', 'ITM', '--level', 'atom');
    await ok('collection', 'add', rules, '--species', 'SPE-RUL', '--code-column', 'code');
    await ok('collection', 'add', items, '--species', 'SPE-ITM', '--owner', owner);

    // identity set: the owner's decision, recorded
    const id = await ok(
      'identity',
      'set',
      items,
      '--strategy',
      'synthetic_id',
      '--reason',
      'the id is it',
      '--json',
    );
    assert.equal(json<{ birth_code_strategy: string }>(id).birth_code_strategy, 'synthetic_id');
    await ok('identity', 'set', rules, '--strategy', 'column', '--column', 'code');
    await ok('wire', rules, items);

    // collection set --strict: a direct insert with no prior birth fails; --no-strict: born again
    const strict = await ok('collection', 'set', rules, '--strict');
    assert.match(strict.stdout, /, strict$/m);
    const listed = async () =>
      json<{ collection_name: string; strict_mode: boolean }[]>(
        await ok('collection', 'list', rules, '--json'),
      )[0]?.strict_mode;
    assert.equal(await listed(), true);
    await assert.rejects(
      sql(`INSERT INTO ${app}.rules VALUES (900, 'RUL-900', 'direct')`),
      /prior birth|strict/i,
    );
    const loose = await ok('collection', 'set', rules, '--no-strict');
    assert.doesNotMatch(loose.stdout, /strict/);
    assert.equal(await listed(), false);
    await sql(`INSERT INTO ${app}.rules VALUES (900, 'RUL-900', 'direct')`);

    // census --deaths: the born row is deleted, its birth stays, dead; --phantoms: a row
    // deleted where natal does not see it (replica mode) leaves a phantom
    await sql(`INSERT INTO ${app}.rules VALUES (901, 'RUL-901', 'direct')`);
    await sql(`DELETE FROM ${app}.rules WHERE id = 900`);
    await sql(`SET session_replication_role = replica; DELETE FROM ${app}.rules WHERE id = 901;
               SET session_replication_role = DEFAULT`);
    const deaths = await ok('census', rules, '--deaths', '--json');
    assert.deepEqual(
      json<{ entity_code: string; how: string }[]>(deaths).map((d) => [d.entity_code, d.how]),
      [['RUL-900', 'delete']],
    );
    assert.match(
      (await ok('census', rules, '--deaths')).stdout,
      /^RUL-900 {2}delete {2}PG:trg_death_rules /m,
    );
    const phantoms = await ok('census', rules, '--phantoms', '--json');
    assert.deepEqual(
      json<{ entity_code: string }[]>(phantoms).map((p) => p.entity_code),
      ['RUL-901'],
    );
    assert.match((await ok('census', rules, '--phantoms')).stdout, /^RUL-901 /m);
    assert.match((await ok('census', items, '--phantoms')).stdout, /no phantoms/);
    assert.match((await ok('census', items, '--deaths')).stdout, /no deaths/);
    await refused(2, 'census', rules, '--deaths', '--phantoms');

    // a backfill of items, approved with notes
    const plan = json<{ plan_id: number }>(await ok('plan', items, '--json')).plan_id;
    await ok('rehearse', String(plan));
    const review = await ok(
      'approve',
      String(plan),
      '--review',
      '--note',
      'looked at all 6',
      '--as',
      reviewer,
      '--json',
    );
    assert.equal(json<{ note: string }>(review).note, 'looked at all 6');
    await ok('approve', String(plan), '--permit', '--note', 'fine by the owner', '--as', owner);
    for (const lanes of ['0', '9', 'two', '1.5']) {
      const bad = await refused(2, 'apply', String(plan), '--lanes', lanes);
      assert.match(bad.stderr, /--lanes.*whole number from 1 to 8/);
    }
    const run = json<{ run_id: number }>(await ok('apply', String(plan), '--lanes', '1', '--json')).run_id;

    // the notes, read back: the report (Markdown and JSON)
    const md = (await ok('report', '--plan', String(plan))).stdout;
    assert.match(md, /looked at all 6/);
    assert.match(md, /fine by the owner/);
    const reportJson = (await ok('report', '--plan', String(plan), '--format', 'json')).stdout;
    assert.match(reportJson, /looked at all 6/);
    assert.match(reportJson, /fine by the owner/);

    // ledger: --plan and --run together keep the rows matching both; unknown ids exit 1
    const steps = async (...args: string[]) =>
      json<{ ledger: { step: string; run_id: number | null }[] }>(await ok('ledger', '--json', ...args))
        .ledger;
    assert.deepEqual(
      [...new Set((await steps('--plan', String(plan))).map((l) => l.step))],
      ['PLAN', 'REHEARSAL', 'APPLY'],
    );
    const both = await steps('--plan', String(plan), '--run', String(run));
    assert.ok(both.length > 0);
    assert.ok(both.every((l) => l.step === 'APPLY' && l.run_id === run));
    const other = json<{ plan_id: number }>(await ok('plan', rules, '--json')).plan_id;
    assert.deepEqual(await steps('--plan', String(other), '--run', String(run)), []);
    assert.match((await refused(1, 'ledger', '--run', '999999')).stderr, /^natal: run 999999 does not exist/);
    assert.match(
      (await refused(1, 'ledger', '--plan', '999999')).stderr,
      /^natal: plan 999999 does not exist/,
    );
    const unknownJson = await refused(1, 'ledger', '--run', '999999', '--json');
    assert.equal(json<{ error: { code: string } }>(unknownJson).error.code, 'RUN_UNKNOWN');

    // report --run and --since
    const byRun = json<{ title: string; selection: { run: number } }>(
      await ok('report', '--run', String(run), '--json'),
    );
    assert.match(byRun.title, new RegExp(`plan ${plan}, run ${run}`));
    assert.deepEqual(byRun.selection, { run });
    const since = json<{ title: string; plans: { plan_id: number }[] }>(
      await ok('report', '--since', '2000-01-01', '--json'),
    );
    assert.deepEqual(
      since.plans.map((p) => p.plan_id),
      [plan, other],
    );
    assert.match(since.title, /2 plans since 2000-01-01/);
    assert.match(
      (await refused(1, 'report', '--since', '2999-01-01')).stderr,
      /no plan was made since 2999-01-01/,
    );

    // the gate's order, as the CLI says it: no review before a rehearsal that passes; a
    // failed rehearsal says why and what to do, and so does the review it holds back
    const early = await refused(1, 'approve', String(other), '--review', '--as', reviewer);
    assert.equal(
      early.stderr,
      `natal: plan ${other} has not been rehearsed, so it cannot be reviewed; rehearse it first: natal rehearse ${other}\n`,
    );
    await sql(`DELETE FROM ${app}.rules WHERE id = 4`);
    const failed = await cli('rehearse', String(other));
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stdout, /^rehearsal of plan \d+: 3 births, .* — FAILED$/m);
    assert.match(failed.stdout, new RegExp(`^why: ${rules}: 3 born of 4 expected$`, 'm'));
    assert.match(
      failed.stdout,
      new RegExp(
        `^next: the rows of ${rules} without a birth are not those planned .*: make a new plan \\(natal plan\\), then rehearse it$`,
        'm',
      ),
    );
    const late = await refused(1, 'approve', String(other), '--review', '--as', reviewer);
    assert.match(
      late.stderr,
      new RegExp(
        `^natal: plan ${other}'s rehearsal failed \\(${rules}: 3 born of 4 expected\\), so it cannot be reviewed; the rows of`,
      ),
    );

    // report --out with a relative path: written relative to the working directory
    const cwd = mkdtempSync(join(process.env.NATAL_TEST_TMP ?? '/tmp', 'cwd-'));
    cwds.push(cwd);
    const out = await natal(['report', '--plan', String(plan), '--out', 'qt-001.md', ...target], { cwd });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout.trim(), join(cwd, 'qt-001.md'));
    assert.match(readFileSync(join(cwd, 'qt-001.md'), 'utf8'), /looked at all 6/);
    const summary = await natal(
      ['report', '--plan', String(plan), '--out', 'r.json', '--format', 'json', '--json', ...target],
      {
        cwd,
      },
    );
    assert.equal(summary.code, 0, summary.stderr);
    assert.deepEqual(Object.keys(json(summary)).sort(), ['format', 'path', 'title']);
    assert.ok(existsSync(join(cwd, 'r.json')));

    // identity set once births were made under the identity: refused, then --force
    const no = await refused(
      1,
      'identity',
      'set',
      items,
      '--strategy',
      'unclassified',
      '--reason',
      'needs-owner',
    );
    assert.match(no.stderr, /--force/);
    assert.equal(
      json<{ birth_code_strategy: string }[]>(await ok('collection', 'list', items, '--json'))[0]
        ?.birth_code_strategy,
      'synthetic_id',
      'a refused change changes nothing',
    );
    await ok('identity', 'set', items, '--strategy', 'unclassified', '--reason', 'needs-owner', '--force');
    assert.equal(
      json<{ birth_code_strategy: string }[]>(await ok('collection', 'list', items, '--json'))[0]
        ?.birth_code_strategy,
      'unclassified',
    );
  });
});
