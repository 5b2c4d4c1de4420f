import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { quoteIdent } from '../src/db/ident.js';
import type { LedgerRow } from '../src/backfill/ledger.js';
import { describeOperation } from '../src/report/operation.js';
import { type PlanRecord, readRecords } from '../src/report/records.js';
import { renderMarkdown } from '../src/report/report.js';
import type { Report } from '../src/report/types.js';
import { Registry } from '../src/registry.js';
import { type Actors, actors } from './helpers/actors.js';
import { eachBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';
import { rejects, type World, world } from './helpers/setup.js';

const SECTIONS = [
  '## What changed (one line)',
  '## Outcome vs goal',
  '## Key numbers',
  'backfill target(s)',
  '## Steps, in order',
  '## Rollback',
  '## Not done, and why',
];

const key = (r: Report, item: string) => r.key_numbers.find((k) => k.item === item)?.value;
const ids = (rows: LedgerRow[]) => rows.map((l) => l.ledger_id);
const perCollection = (rows: LedgerRow[], step: LedgerRow['step']) =>
  rows.filter((l) => l.step === step && l.collection !== null);

eachBackend('report', (backend) => {
  let w: World;
  let people: Actors;
  let planId: number;
  let runId: number;
  const t = (table: string) => `${w.app}.${table}`;

  before(async () => {
    w = await world(backend);
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.rules (id int PRIMARY KEY, code text UNIQUE);
      INSERT INTO ${w.a}.rules SELECT g, 'DOM-' || lpad(g::text, 3, '0') FROM generate_series(1, 7) g;
      CREATE TABLE ${w.a}.items (id int PRIMARY KEY, v text);
      INSERT INTO ${w.a}.items SELECT g, 'v' FROM generate_series(1, 5) g;
      CREATE TABLE ${w.a}.spare (id int PRIMARY KEY);
      INSERT INTO ${w.a}.spare SELECT generate_series(1, 6);
      CREATE TABLE ${w.a}.heap (v text);
      INSERT INTO ${w.a}.heap VALUES ('x');`);
    people = await actors(backend, w, ['reviewer', 'owner']);
    await w.registry.addSpecies({ code: 'SPE-DOM', prefix: 'DOM', level: 'atom' });
    const owner = people.name('owner');
    await w.registry.addCollection({ table: t('rules'), species: 'SPE-DOM', codeColumn: 'code', owner });
    await w.registry.addCollection({ table: t('items'), species: 'SPE-DOM', owner });
    await w.registry.addCollection({ table: t('heap'), species: 'SPE-DOM', owner });
    await w.registry.addCollection({ table: t('spare'), species: 'SPE-DOM', owner });
    await w.registry.classify([t('items'), t('spare')], { apply: true });
    await w.registry.wire([t('rules'), t('items'), t('spare')]);
  });
  after(() => people?.cleanup());

  test('a plan: DRY RUN, the PLAN rows, the gate and the not-eligible collection as not done', async () => {
    const plan = await (await people.as('author')).plan([t('rules'), t('items'), t('heap')]);
    planId = plan.plan_id;
    const ledger = await w.registry.ledger({ plan: planId });
    const r = await w.registry.report({ plan: planId });
    assert.equal(r.title, `Birth backfill — plan ${planId} — PLANNED`);
    assert.deepEqual([r.mode, r.status], ['DRY RUN', 'PLANNED']);
    assert.deepEqual(
      [
        r.live_mutation.live,
        r.live_mutation.births_written,
        r.live_mutation.net_births,
        r.live_mutation.additive,
      ],
      [false, 0, 0, true],
    );
    assert.deepEqual(
      r.targets.map((x) => [x.collection, x.expected, x.rehearsed, x.born, x.removed]),
      perCollection(ledger, 'PLAN').map((l) => [l.collection, l.expected, null, null, null]),
    );
    assert.deepEqual(
      r.targets.map((x) => [x.collection, x.expected]),
      [
        [t('items'), 5],
        [t('rules'), 7],
      ],
    );
    const summary = ledger.find((l) => l.collection === null);
    assert.equal(key(r, 'Total expected new births'), summary?.expected);
    assert.equal(key(r, 'Total expected new births'), 12);
    assert.equal(key(r, 'Collections not eligible'), 1);
    assert.equal(key(r, 'Real backfill committed'), 0);
    assert.deepEqual(
      r.steps.map((s) => [s.step, s.ledger_ids]),
      [['PLAN', ids(ledger)]],
    );
    assert.deepEqual(
      r.not_done.map((d) => `${d.what}: ${d.why.split(': ')[0]}`),
      [
        'apply not committed: rehearsal missing',
        'apply not committed: review missing',
        'apply not committed: permit missing',
        `${t('heap')} not planned: failed preflight`,
      ],
    );
    // what is next, in the gate's order: the rehearsal; review and permit only after it
    assert.deepEqual(
      r.not_done.slice(0, 3).map((d) => d.next),
      [
        `natal rehearse ${planId}`,
        `natal approve ${planId} --review, once a rehearsal passes`,
        `natal approve ${planId} --permit, once a rehearsal passes`,
      ],
    );
    assert.equal(
      r.status_note,
      'dry run only; apply not committed: rehearsal missing, review missing, permit missing',
    );
    assert.deepEqual(r.rollback_commands, []);
    const md = renderMarkdown(r);
    for (const s of SECTIONS) assert.ok(md.includes(s), `missing ${s}`);
    assert.match(md, new RegExp(`^Date: \\d{4}-\\d{2}-\\d{2} · Mode: DRY RUN · Status: PLANNED`, 'm'));
    assert.match(md, /Live mutation: NO .*net births 0/);
    assert.match(
      md,
      new RegExp(`1\\. PLAN — ledger #${ledger[0]?.ledger_id}–#${ledger.at(-1)?.ledger_id} — `),
    );
  });

  test('a rehearsal: net births 0, rehearsed births as the REHEARSAL rows recorded them', async () => {
    await w.registry.rehearse(planId);
    const ledger = await w.registry.ledger({ plan: planId });
    const rows = perCollection(ledger, 'REHEARSAL');
    const summary = ledger.find((l) => l.step === 'REHEARSAL' && l.collection === null);
    const r = await w.registry.report({ plan: planId });
    assert.deepEqual([r.mode, r.status], ['REHEARSAL (rolled back)', 'DRYRUN_PROVEN']);
    assert.equal(r.live_mutation.net_births, 0);
    assert.equal(summary?.detail.net_births, 0);
    assert.equal(key(r, 'Rehearsed births'), summary?.actual);
    assert.equal(key(r, 'Rehearsed births'), 12);
    assert.equal(key(r, 'Net births'), 0);
    assert.deepEqual(
      r.targets.map((x) => [x.collection, x.rehearsed, x.rerun_delta]),
      rows.map((l) => [l.collection, l.actual, l.rerun_delta]),
    );
    assert.deepEqual(
      r.targets.map((x) => [x.rehearsed, x.rerun_delta]),
      [
        [5, 0],
        [7, 0],
      ],
    );
    assert.deepEqual(
      r.steps.map((s) => [s.step, s.ledger_ids]),
      [
        ['PLAN', ids(ledger.filter((l) => l.step === 'PLAN'))],
        ['REHEARSAL', ids(ledger.filter((l) => l.step === 'REHEARSAL'))],
      ],
    );
    assert.ok(r.live_mutation.not_committed.some((s) => s.startsWith("the rehearsal's 12 birth(s)")));
    assert.match(renderMarkdown(r), /Mode: REHEARSAL \(rolled back\).*\n\nLive mutation: NO .*net births 0/);
  });

  test('an apply: the gate as it fills, then births, gap and ledger ids as the APPLY rows recorded them', async () => {
    const review = await (await people.as('reviewer')).approve(planId, 'review');
    const author = await people.as('author');
    let r = await author.report({ plan: planId });
    assert.deepEqual(
      r.not_done.filter((d) => d.what === 'apply not committed').map((d) => d.why.split(':')[0]),
      ['permit missing'],
    );
    const permit = await (await people.as('owner')).approve(planId, 'permit');
    r = await (await people.as('author')).report({ plan: planId });
    assert.equal(r.status, 'APPLY_READY');
    assert.deepEqual(
      r.not_done.map((d) => d.next),
      [
        `natal apply ${planId}`,
        'natal classify ' +
          t('heap') +
          ' --apply, or the owner: ' +
          `natal identity set ${t('heap')} --strategy …`,
      ],
    );

    const applied = await author.apply(planId, { batchSize: 2 });
    runId = applied.run_id;
    const ledger = await w.registry.ledger({ plan: planId });
    const rows = perCollection(ledger, 'APPLY');
    r = await w.registry.report({ plan: planId });
    assert.equal(r.title, `Birth backfill — plan ${planId} — VERIFIED`);
    assert.deepEqual([r.mode, r.status], ['LIVE APPLY', 'VERIFIED']);
    const sum = rows.reduce((a, l) => a + (l.actual ?? 0), 0);
    assert.deepEqual(
      [
        r.live_mutation.births_written,
        r.live_mutation.net_births,
        r.live_mutation.additive,
        r.live_mutation.reversible,
      ],
      [sum, sum, true, true],
    );
    assert.equal(sum, 12);
    assert.deepEqual(
      r.targets.map((x) => [x.collection, x.born, x.gap_after, x.inspection_failed]),
      rows.map((l) => [l.collection, l.actual, l.detail.gap_after, l.detail.inspection_failed]),
    );
    assert.deepEqual(
      r.targets.map((x) => [x.born, x.gap_after]),
      [
        [5, 0],
        [7, 0],
      ],
    );
    assert.deepEqual(
      r.steps.map((s) => [s.step, s.ledger_ids, s.approval_id, s.actor]),
      [
        ['PLAN', ids(ledger.filter((l) => l.step === 'PLAN')), null, people.name('author')],
        ['REHEARSAL', ids(ledger.filter((l) => l.step === 'REHEARSAL')), null, people.name('author')],
        ['REVIEW', [], review.approval_id, people.name('reviewer')],
        ['PERMIT', [], permit.approval_id, people.name('owner')],
        ['APPLY', ids(rows), null, people.name('author')],
      ],
    );
    assert.equal(r.steps.at(-1)?.run_id, runId);
    assert.deepEqual(r.rollback_commands, [`natal rollback ${runId}`]);
    assert.equal(key(r, 'Real backfill committed'), 12);
    assert.equal(key(r, 'Gap after'), 0);
    const md = renderMarkdown(r);
    assert.match(
      md,
      new RegExp(`Live mutation: YES, additive \\+ reversible \\(\`natal rollback ${runId}\`\\)`),
    );
    assert.match(md, new RegExp(`REVIEW — approval #${review.approval_id} — ${people.name('reviewer')} — `));

    // The run's report: the same numbers, named by its run.
    const byRun = await w.registry.report({ run: runId });
    assert.equal(byRun.title, `Birth backfill — plan ${planId}, run ${runId} — VERIFIED`);
    assert.deepEqual(byRun.targets, r.targets);
  });

  test('a rollback: removed births and gap as the ROLLBACK rows recorded them; net births 0', async () => {
    await w.registry.rollback(runId);
    const ledger = await w.registry.ledger({ plan: planId });
    const rows = perCollection(ledger, 'ROLLBACK');
    const r = await w.registry.report({ run: runId });
    assert.deepEqual([r.mode, r.status], ['ROLLBACK', 'ROLLED_BACK']);
    const removed = rows.reduce((a, l) => a + (l.actual ?? 0), 0);
    assert.equal(removed, 12);
    assert.deepEqual(
      [r.live_mutation.births_written, r.live_mutation.births_removed, r.live_mutation.net_births],
      [12, removed, 0],
    );
    assert.equal(r.live_mutation.additive, false);
    assert.deepEqual(
      r.targets.map((x) => [x.collection, x.removed, x.gap_after]),
      rows.map((l) => [l.collection, l.actual, l.detail.gap_after]),
    );
    assert.deepEqual(
      r.targets.map((x) => [x.removed, x.gap_after]),
      [
        [5, 5],
        [7, 7],
      ],
    );
    assert.deepEqual(r.steps.at(-1)?.ledger_ids, ids(rows));
    assert.deepEqual(r.rollback_commands, []);
    assert.equal(key(r, 'Births removed by rollback'), 12);
    assert.ok(r.not_done.some((d) => d.what === 'backfill undone'));
    assert.match(renderMarkdown(r), /Mode: ROLLBACK · Status: ROLLED_BACK/);
  });

  test('an interrupted run, a freeze, a resumed run; --since covers every plan; bad selections', async () => {
    const author = await people.as('author');
    const plan = (await author.plan([t('rules'), t('items')])).plan_id;
    await author.rehearse(plan);
    await (await people.as('reviewer')).approve(plan, 'review');
    await (await people.as('owner')).approve(plan, 'permit');
    await (await people.as('author')).freeze(t('rules'), 'audit');
    let r = await w.registry.report({});
    assert.equal(r.plans[0]?.plan_id, plan, 'no selection: the latest plan');
    assert.ok(r.not_done.some((d) => d.why.startsWith(`collection ${t('rules')} is frozen by`)));
    await w.registry.unfreeze(t('rules'));

    // A run that committed one batch of 4 and died, as a kill leaves it.
    const run = await w.registry.db.session(async (s) => {
      const { rows } = await s.query<{ id: number }>(`SELECT ${w.ns}.apply_begin($1, 4) AS id`, [plan]);
      const id = Number(rows[0]?.id);
      await s.query(`SELECT * FROM ${w.ns}.apply_batch($1, 4)`, [id]);
      await s.query(`SELECT ${w.ns}.apply_release()`);
      return id;
    });
    r = await w.registry.report({ run });
    assert.deepEqual([r.mode, r.status], ['LIVE APPLY', 'APPLY_INTERRUPTED']);
    assert.deepEqual(
      r.targets.map((x) => x.born),
      [4, 0],
    );
    assert.equal(r.live_mutation.births_written, 4);
    assert.deepEqual(r.rollback_commands, [`natal rollback ${run}`]);
    assert.deepEqual(r.steps.at(-1)?.ledger_ids, []);
    assert.ok(r.not_done.some((d) => d.what === `run ${run} not finished`));

    await (await people.as('author')).apply(plan, { resume: run, batchSize: 3 });
    const ledger = (await w.registry.ledger({ plan })).filter((l) => l.step === 'APPLY');
    r = await w.registry.report({ plan });
    assert.equal(r.status, 'VERIFIED');
    assert.deepEqual(
      r.steps.filter((s) => s.step === 'APPLY').map((s) => s.ledger_ids),
      [[ledger[0]?.ledger_id], ids(ledger.slice(1))],
    );
    assert.match(
      r.steps.filter((s) => s.step === 'APPLY')[0]?.summary ?? '',
      /part 1 interrupted after 4 births/,
    );
    assert.deepEqual(
      r.targets.map((x) => x.born),
      [5, 7],
    );

    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const all = await w.registry.report({ since: yesterday });
    assert.deepEqual(
      all.plans.map((p) => [p.plan_id, p.state]),
      [
        [planId, 'ROLLED_BACK'],
        [plan, 'VERIFIED'],
      ],
    );
    assert.equal(all.title, `Birth backfill — 2 plans since ${yesterday} — 1 ROLLED_BACK, 1 VERIFIED`);
    assert.deepEqual(
      [all.live_mutation.births_written, all.live_mutation.births_removed, all.live_mutation.net_births],
      [24, 12, 12],
    );
    assert.equal(all.mode, 'ROLLBACK + LIVE APPLY');
    assert.match(renderMarkdown(all), /\| Plan \| Collection \| Expected \|/);

    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await rejects(w.registry.report({ since: tomorrow }), 'PLAN_UNKNOWN', /no plan was made since/);
    await rejects(w.registry.report({ since: '2026-02-30' }), 'INVALID_ARGUMENT', /not an ISO date/);
    await rejects(w.registry.report({ plan: 999_999 }), 'PLAN_UNKNOWN', /plan 999999 does not exist/);
    await rejects(w.registry.report({ run: 999_999 }), 'RUN_UNKNOWN', /run 999999 does not exist/);
    await rejects(w.registry.report({ plan, run }), 'INVALID_ARGUMENT', /one of plan, run or since/);
  });

  test('a plan applied without a passing rehearsal (an earlier natal allowed it) says so: not every step was done', async () => {
    const [applied] = await w.sql(
      `SELECT max(plan_id)::int AS p FROM ${w.ns}.backfill_plan WHERE status = 'applied'`,
    );
    const plan = Number(applied?.p);
    const records = await readRecords(w.registry.ctx, [plan]);
    const record = records.plans[0] as PlanRecord;
    const as = (ledger: LedgerRow[]) => describeOperation({ ...records, ledger }, record, null);
    assert.deepEqual(as(records.ledger).not_done, [], 'rehearsed, reviewed, permitted, applied: all done');
    // the same history without its REHEARSAL rows, as an older natal could leave it
    const unrehearsed = as(records.ledger.filter((l) => l.step !== 'REHEARSAL'));
    assert.equal(unrehearsed.summary.state, 'VERIFIED');
    assert.deepEqual(unrehearsed.not_done, [
      {
        plan_id: plan,
        what: 'rehearsal not recorded',
        why: `plan ${plan} was applied without a rehearsal`,
        next: null,
      },
    ]);
    // … and with a rehearsal that failed
    const failed = as(
      records.ledger.map((l) =>
        l.step === 'REHEARSAL' && l.collection === null
          ? { ...l, detail: { ...l.detail, ok: false, why: 'x: 1 born of 2 expected' } }
          : l,
      ),
    );
    assert.deepEqual(
      failed.not_done.map((d) => [d.what, d.why]),
      [
        [
          'rehearsal not passed',
          `plan ${plan} was applied although its latest rehearsal failed: x: 1 born of 2 expected`,
        ],
      ],
    );
  });

  test('a rehearsal that does not match its plan: REHEARSAL_FAILED, its numbers as recorded', async () => {
    const plan = (await w.registry.plan([t('spare')])).plan_id;
    // A row deleted after planning: the rehearsal births 5 where the plan expects 6.
    await w.registry.db.exec(`DELETE FROM ${w.a}.spare WHERE id = 6`);
    await w.registry.rehearse(plan);
    const rows = perCollection(await w.registry.ledger({ plan }), 'REHEARSAL');
    const r = await w.registry.report({ plan });
    assert.deepEqual([r.mode, r.status], ['REHEARSAL (rolled back)', 'REHEARSAL_FAILED']);
    assert.deepEqual(
      r.targets.map((x) => [x.expected, x.rehearsed, x.rerun_delta]),
      rows.map((l) => [l.expected, l.actual, l.rerun_delta]),
    );
    assert.deepEqual(
      r.targets.map((x) => [x.expected, x.rehearsed]),
      [[6, 5]],
    );
    assert.deepEqual(
      [key(r, 'Rehearsed births'), r.live_mutation.net_births, r.outcome[0]?.after],
      [5, 0, 'REHEARSAL_FAILED'],
    );
    assert.match(
      r.steps.at(-1)?.summary ?? '',
      new RegExp(`5 births rehearsed of 6 expected.*FAILED: ${t('spare')}: 5 born of 6 expected$`),
    );
    // what is next is what the rehearsal said: a new plan; review and permit wait for it
    assert.deepEqual(
      r.not_done.map((d) => [d.why, d.next]),
      [
        [
          `rehearsal failed: ${t('spare')}: 5 born of 6 expected`,
          `the rows of ${t('spare')} without a birth are not those planned (rows added or removed since): make a new plan (natal plan), then rehearse it`,
        ],
        [
          `review missing: someone other than its author, ${r.plans[0]?.author}, reviews it`,
          `natal approve ${plan} --review, once a rehearsal passes`,
        ],
        [
          `permit missing: no permit from the owner (${people.name('owner')})`,
          `natal approve ${plan} --permit, once a rehearsal passes`,
        ],
      ],
    );
    assert.equal(
      r.status_note,
      `the rehearsal failed (${t('spare')}: 5 born of 6 expected); review, permit and apply are refused until a rehearsal of the plan passes`,
    );
    assert.doesNotMatch(renderMarkdown(r), /every step of the backfill is recorded as done/);
  });

  test('the CLI: --format json, Markdown by default, --out, bad flags', async () => {
    let target: string[];
    let table: string;
    let plan: number;
    if (backend.name === 'server') {
      target = ['--db', process.env.NATAL_TEST_SERVER_URL as string, '--schema', w.registry.schema];
      await w.registry.db.exec(`CREATE TABLE ${w.a}.cli_items (id int PRIMARY KEY);
        INSERT INTO ${w.a}.cli_items SELECT generate_series(1, 12);`);
      table = (await w.registry.addCollection({ table: t('cli_items'), species: 'SPE-DOM', owner: 'o' }))
        .collection_name;
      await w.registry.wire([table]);
      plan = (await w.registry.plan([table])).plan_id;
    } else {
      // Embedded: a data directory of its own (the suite's registry holds its own one).
      const dir = backend.freshDataDir();
      const r = await Registry.open({ dataDir: dir });
      try {
        await r.init();
        await r.db.exec(`CREATE TABLE public.items (id int PRIMARY KEY);
          INSERT INTO public.items SELECT generate_series(1, 12);`);
        await r.addSpecies({ code: 'SPE-ROW', prefix: 'ROW', level: 'atom' });
        await r.addCollection({ table: 'items', species: 'SPE-ROW', owner: 'o' });
        await r.wire(['items']);
        plan = (await r.plan(['items'])).plan_id;
      } finally {
        await r.close();
      }
      target = ['--data-dir', dir];
      table = 'items';
    }
    const cli = (...args: string[]) => natal([...args, ...target]);
    const ok = async (...args: string[]) => {
      const res = await cli(...args);
      assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
      return res.stdout;
    };
    const fails = async (code: 1 | 2, pattern: RegExp, ...args: string[]) => {
      const res = await cli(...args);
      assert.equal(res.code, code, `${args.join(' ')} exited ${res.code}: ${res.stdout}${res.stderr}`);
      assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
      assert.match(res.stderr, pattern);
    };

    const json = JSON.parse(await ok('report', '--plan', String(plan), '--format', 'json')) as Report;
    const ledger = (
      JSON.parse(await ok('ledger', '--plan', String(plan), '--json')) as { ledger: LedgerRow[] }
    ).ledger;
    assert.deepEqual([json.title, json.mode], [`Birth backfill — plan ${plan} — PLANNED`, 'DRY RUN']);
    assert.deepEqual(
      json.targets.map((x) => [x.collection, x.expected]),
      [[table, 12]],
    );
    assert.deepEqual(json.steps[0]?.ledger_ids, ids(ledger));
    assert.equal(json.live_mutation.net_births, 0);
    const viaJson = JSON.parse(await ok('report', '--plan', String(plan), '--json')) as Report;
    assert.deepEqual(viaJson.targets, json.targets);

    const md = await ok('report');
    assert.ok(md.startsWith(`# Birth backfill — plan ${plan} — PLANNED\n`), md);
    for (const s of SECTIONS) assert.ok(md.includes(s), `missing ${s}`);

    const dir = mkdtempSync(join(process.env.NATAL_TEST_TMP ?? tmpdir(), 'report-'));
    const file = join(dir, 'plan.md');
    assert.equal((await ok('report', '--plan', String(plan), '--out', file)).trim(), file);
    const written = readFileSync(file, 'utf8');
    assert.ok(written.startsWith(`# Birth backfill — plan ${plan} — PLANNED\n`));
    for (const s of SECTIONS) assert.ok(written.includes(s), `missing ${s} in ${file}`);
    const jsonFile = join(dir, 'plan.json');
    await ok('report', '--format', 'json', '--out', jsonFile);
    assert.equal((JSON.parse(readFileSync(jsonFile, 'utf8')) as Report).plans[0]?.plan_id, plan);

    await fails(
      1,
      /cannot write the report to .*nothing was written/,
      'report',
      '--out',
      join(dir, 'no/such/dir.md'),
    );
    mkdirSync(join(dir, 'taken.md'));
    await fails(1, /cannot write the report to/, 'report', '--out', join(dir, 'taken.md'));
    const unwritable = await cli('report', '--out', join(dir, 'taken.md'), '--json');
    assert.equal((JSON.parse(unwritable.stdout) as { error: { code: string } }).error.code, 'WRITE_FAILED');
    assert.deepEqual(readdirSync(dir).sort(), ['plan.json', 'plan.md', 'taken.md']);
    assert.equal(existsSync(join(dir, 'no')), false);

    await fails(2, /argument 'xml' is invalid/, 'report', '--format', 'xml');
    await fails(2, /give one of --plan, --run or --since/, 'report', '--plan', '1', '--run', '1');
    await fails(2, /not an ISO date/, 'report', '--since', '2026-02-30');
    await fails(2, /whole number/, 'report', '--plan', '0');
    await fails(1, /plan 999999 does not exist/, 'report', '--plan', '999999');
    await fails(1, /run 999999 does not exist/, 'report', '--run', '999999');
  });

  test('text people typed (a note, a freeze reason, an owner) is text in the Markdown, never structure', async () => {
    const owner = `*ops* | [team] ${w.app}`;
    // (on a server an owner is a database role: one with that name, for this test)
    if (backend.name === 'server') await w.sql(`CREATE ROLE ${quoteIdent(owner)} NOLOGIN`);
    try {
      await textIsText(owner);
    } finally {
      if (backend.name === 'server') {
        await w.registry.setCollection(t('spare'), { owner: people.name('owner') });
        await w.sql(`DROP OWNED BY ${quoteIdent(owner)}`);
        await w.sql(`DROP ROLE ${quoteIdent(owner)}`);
      }
    }
  });

  async function textIsText(owner: string): Promise<void> {
    const note = 'fine\n# Approved by the board\n- [x] signed';
    const reason = 'audit | week *urgent*\n1. stop';
    await w.registry.setCollection(t('spare'), { owner });
    const plan = (await (await people.as('author')).plan([t('spare')])).plan_id;
    await (await people.as('author')).rehearse(plan);
    await (await people.as('reviewer')).approve(plan, 'review', note);
    await (await people.as('author')).freeze(t('spare'), reason);
    try {
      const r = await w.registry.report({ plan });
      assert.ok(
        r.steps.some((s) => s.summary.includes(note)),
        'the JSON report keeps the note as typed',
      );
      assert.ok(r.not_done.some((d) => d.why.endsWith(`: ${reason}`)));
      assert.ok(r.not_done.some((d) => d.why.includes(`(${owner})`)));
      const md = renderMarkdown(r);
      const lines = md.split('\n');

      // Headings: exactly the report's own, in order.
      const headings = lines.filter((l) => /^ {0,3}#/.test(l));
      assert.equal(headings.length, 1 + SECTIONS.length, headings.join('\n'));
      assert.equal(headings[0], `# ${r.title}`);
      SECTIONS.forEach((s, i) =>
        assert.ok(headings[i + 1]?.startsWith('## ') && headings[i + 1]?.includes(s)),
      );
      // List items: one per step (ordered) and one per thing not done (bullets), nothing else.
      const items = lines.filter((l) => /^ {0,3}([-+*]|\d+[.)])( |$)/.test(l));
      assert.deepEqual(
        items.map((l) => (l.startsWith('- ') ? '-' : '1.')),
        [...r.steps.map(() => '1.'), ...r.not_done.map(() => '-')],
        items.join('\n'),
      );
      // No block quote, thematic break or setext underline.
      assert.deepEqual(
        lines.filter((l) => /^ {0,3}(>|(=+|-+|\*+|_+) *$)/.test(l)),
        [],
      );
      // Tables: every row has its header's cells (escaped pipes are text, not cell borders).
      const cells = (l: string) => l.replace(/\\./g, '').split('|').length;
      const rows = lines.filter((l) => l.startsWith('|'));
      assert.equal(rows.length, r.outcome.length + r.key_numbers.length + r.targets.length + 6);
      lines.forEach((l, i) => {
        if (l.startsWith('|') && lines[i - 1]?.startsWith('|'))
          assert.equal(cells(l), cells(lines[i - 1] as string), l);
      });
      // No emphasis, link or HTML opened by the text: every *, [, <, ` and | outside a table is escaped.
      const bare = lines
        .filter((l) => !l.startsWith('|'))
        .join('\n')
        .replace(/\\./g, '');
      assert.doesNotMatch(bare, /[*[\]<`|]/);

      // Still readable: the text as typed, its line breaks shown as ⏎.
      const text = md.replace(/\\(.)/g, '$1');
      assert.ok(text.includes(`"${note.replace(/\n/g, ' ⏎ ')}"`), 'the note is readable in the Markdown');
      assert.ok(text.includes(reason.replace(/\n/g, ' ⏎ ')), 'the freeze reason is readable in the Markdown');
      assert.ok(text.includes(`(${owner})`), 'the owner is readable in the Markdown');
    } finally {
      await w.registry.unfreeze(t('spare'));
    }
  }
});
