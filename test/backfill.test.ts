import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { quoteIdent } from '../src/db/ident.js';
import { NatalError } from '../src/errors.js';
import { Registry } from '../src/registry.js';
import { type Actors, actors, throughGate } from './helpers/actors.js';
import { eachBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';
import { rejects, type World, world } from './helpers/setup.js';

eachBackend('backfill', (backend) => {
  let w: World;
  let people: Actors;
  let n = 0;

  const births = async () => Number((await w.sql(`SELECT count(*) AS n FROM ${w.ns}.birth_registry`))[0]?.n);
  const runs = async () => Number((await w.sql(`SELECT count(*) AS n FROM ${w.ns}.backfill_run`))[0]?.n);
  /** Every birth code, for comparing the registry before and after. */
  const codes = async () =>
    (await w.sql(`SELECT entity_code FROM ${w.ns}.birth_registry ORDER BY entity_code`)).map(
      (r) => r.entity_code,
    );

  /** A wired collection whose `rows` rows predate the registry (no births), owned by 'owner'. */
  async function collection(rows: number, options: { name?: string } = {}): Promise<string> {
    n += 1;
    const table = options.name ?? `t${n}`;
    const q = `${w.a}.${quoteIdent(table)}`;
    await w.registry.db.exec(`CREATE TABLE ${q} (id int PRIMARY KEY, v text);
      INSERT INTO ${q} SELECT g, 'v' || g FROM generate_series(1, ${rows}) g;`);
    const name = `${w.app}.${quoteIdent(table)}`;
    const c = await w.registry.addCollection({
      table: name,
      species: 'SPE-ROW',
      owner: people.name('owner'),
    });
    await w.registry.wire([c.collection_name]);
    return c.collection_name;
  }

  /** A plan of `collections`, rehearsed, reviewed and permitted by the right people. */
  const approved = (collections: string[]) => throughGate(people, collections);

  async function author(): Promise<Registry> {
    return people.as('author');
  }

  before(async () => {
    w = await world(backend);
    await w.registry.addSpecies({ code: 'SPE-ROW', prefix: 'ROW', level: 'atom' });
    people = await actors(backend, w, ['reviewer', 'owner', 'stranger']);
  });
  after(() => people?.cleanup());

  test('the full sequence: plan, rehearse, review, permit, apply, confirm, replan: nothing to plan, rollback', async () => {
    const a = await collection(250);
    const b = await collection(40, { name: 'Odd "Name" Here' });
    const before0 = await codes();
    const r = await author();
    const states = async () => (await r.census([a, b])).collections.map((c) => c.state);
    assert.deepEqual(await states(), ['PREFLIGHT_READY', 'PREFLIGHT_READY']);
    const plan = await r.plan([a, b]);
    assert.equal(plan.expected_total, 290);
    assert.deepEqual(await states(), ['PLANNED', 'PLANNED']);
    assert.equal((await r.census([a, b])).state, 'PLANNED');
    assert.deepEqual(
      plan.collections.map((c) => `${c.collection}=${c.expected}`).sort(),
      [`${a}=250`, `${b}=40`].sort(),
    );
    assert.match(plan.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(plan.author, people.name('author'));
    assert.deepEqual(await codes(), before0, 'planning writes no birth');

    const rehearsal = await r.rehearse(plan.plan_id);
    assert.equal(rehearsal.ok, true);
    assert.equal(rehearsal.net_births, 0);
    assert.equal(rehearsal.outside_moved, false);
    for (const c of rehearsal.collections) {
      assert.equal(c.born, c.expected);
      assert.equal(c.rerun_delta, 0);
      assert.equal(c.inspection_failed, 0);
    }
    assert.deepEqual(await codes(), before0, 'a rehearsal leaves no birth');
    assert.deepEqual(await states(), ['DRYRUN_PROVEN', 'DRYRUN_PROVEN']);

    await (await people.as('reviewer')).approve(plan.plan_id, 'review', 'looked at it');
    assert.deepEqual(await states(), ['DRYRUN_PROVEN', 'DRYRUN_PROVEN'], 'a review alone is not the gate');
    await (await people.as('owner')).approve(plan.plan_id, 'permit');
    assert.deepEqual(await states(), ['APPLY_READY', 'APPLY_READY']);
    const applied = await (await author()).apply(plan.plan_id, { batchSize: 64 });
    assert.equal(applied.confirmed, true);
    assert.equal(applied.born, 290);
    assert.equal(applied.gap_after, 0);
    assert.ok(applied.batches >= 5, `keyset batches of 64: ${applied.batches}`);
    for (const c of applied.collections) assert.equal(c.born, c.expected);
    const census = await r.census([a, b]);
    assert.deepEqual(
      census.collections.map((c) => [c.gap, c.phantoms, c.state]),
      [
        [0, 0, 'COMPLETE'],
        [0, 0, 'COMPLETE'],
      ],
    );
    const made = await w.sql(
      `SELECT count(*) AS n, count(*) FILTER (WHERE inspection_status = 'passed') AS passed,
              count(DISTINCT run_id) AS runs, min(operation::text) AS op
       FROM ${w.ns}.birth_registry WHERE run_id IS NOT NULL`,
    );
    assert.deepEqual(made[0], { n: 290, passed: 290, runs: 1, op: 'backfill' });

    // Replanning after the apply finds nothing to birth, and records no plan.
    const plans = async () =>
      Number((await w.sql(`SELECT count(*)::int AS n FROM ${w.ns}.backfill_plan`))[0]?.n);
    const before = await plans();
    await rejects(
      r.plan([a, b]),
      'NOTHING_TO_BIRTH',
      /^nothing to plan: 2 eligible collection\(s\) with no gap, every row has its birth/,
    );
    assert.equal(await plans(), before, 'no plan of 0 births is recorded');

    const ledger = await r.ledger({ plan: plan.plan_id });
    assert.deepEqual(
      [...new Set(ledger.map((l) => l.step))],
      ['PLAN', 'REHEARSAL', 'APPLY'],
      'the ledger holds every step in order',
    );
    assert.ok(ledger.filter((l) => l.step === 'APPLY').every((l) => l.actor === people.name('author')));

    const dry = await r.rollback(applied.run_id, { dryRun: true });
    assert.equal(dry.removed, 290);
    assert.equal(await births(), before0.length + 290, 'a dry run removes nothing');
    const undone = await r.rollback(applied.run_id);
    assert.equal(undone.removed, 290);
    assert.deepEqual(await codes(), before0, 'rollback restores the registry exactly');
    assert.deepEqual(
      undone.collections.map((c) => c.gap_after),
      plan.collections.map((c) => c.expected),
    );
    const rolled = await r.ledger({ run: applied.run_id });
    assert.equal(rolled.filter((l) => l.step === 'ROLLBACK').length, 2);
    await rejects(r.rollback(applied.run_id), 'ROLLBACK_REFUSED', /already rolled back/);
  });

  test('rollback removes only the run’s births, not those triggers made meanwhile', async () => {
    const a = await collection(30);
    const plan = await approved([a]);
    const applied = await (await author()).apply(plan);
    await w.registry.db.exec(`INSERT INTO ${a} SELECT g, 'new' FROM generate_series(1001, 1005) g`);
    // A hand-written birth that carries the run's id but no backfill made (no CHECK refuses
    // it since 0013): rollback takes a run's births by id and operation, so it stays.
    await w.registry.db.query(
      `INSERT INTO ${w.ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
         dot_origin, governance_role, operation, run_id)
       VALUES ($1 || '::0', $1, 'SPE-ROW', 'atom', 'by hand', 'governed', 'import', $2)`,
      [a, applied.run_id],
    );
    // and a trigger birth given the run's id by hand: a resumed apply's measure, which counts
    // the run's own births as missing, must not take it for one (30, not 31)
    await w.registry.db.query(
      `UPDATE ${w.ns}.birth_registry SET run_id = $2 WHERE entity_code = $1 || '::1001'`,
      [a, applied.run_id],
    );
    const [measured] = await w.sql(
      `SELECT (${w.ns}.backfill_measure(r, $2)).expected::int AS n
       FROM ${w.ns}.collection_registry r WHERE r.collection_name = $1`,
      [a, applied.run_id],
    );
    assert.equal(measured?.n, 30);
    const dry = await w.registry.rollback(applied.run_id, { dryRun: true });
    assert.equal(dry.removed, 30);
    assert.ok(!dry.sample.includes(`${a}::0`), 'the dry run does not list the hand-written birth');
    const removed = await w.registry.rollback(applied.run_id);
    assert.equal(removed.removed, 30);
    const left = await w.sql(
      `SELECT operation::text AS op, count(*)::int AS n FROM ${w.ns}.birth_registry
       WHERE collection_name = $1 GROUP BY 1 ORDER BY 1`,
      [a],
    );
    assert.deepEqual(
      left.map((r) => [r.op, r.n]),
      [
        ['import', 1],
        ['trigger', 5],
      ],
      'the five trigger births and the hand-written one stay',
    );
  });

  test('refused: no review (nothing written)', async () => {
    const a = await collection(10);
    const plan = await (await author()).plan([a]);
    await (await author()).rehearse(plan.plan_id);
    await (await people.as('owner')).approve(plan.plan_id, 'permit');
    const [b0, r0] = [await births(), await runs()];
    await rejects((await author()).apply(plan.plan_id), 'APPLY_REFUSED', /no review/);
    assert.deepEqual([await births(), await runs()], [b0, r0]);
  });

  test('refused: no permit (nothing written)', async () => {
    const a = await collection(10);
    const plan = await (await author()).plan([a]);
    await (await author()).rehearse(plan.plan_id);
    await (await people.as('reviewer')).approve(plan.plan_id, 'review');
    const [b0, r0] = [await births(), await runs()];
    await rejects((await author()).apply(plan.plan_id), 'APPLY_REFUSED', /no permit/);
    assert.deepEqual([await births(), await runs()], [b0, r0]);
  });

  test('refused: the reviewer is the author, at approval and at apply', async () => {
    const a = await collection(10);
    const plan = await (await author()).plan([a]);
    await (await author()).rehearse(plan.plan_id);
    await rejects((await author()).approve(plan.plan_id, 'review'), 'APPROVAL_REFUSED', /cannot review/);
    // A review row written around approve_plan() is still not a review by someone else.
    await w.sql(
      `INSERT INTO ${w.ns}.backfill_approval (plan_id, kind, actor, fingerprint) VALUES ($1, 'review', $2, $3)`,
      [plan.plan_id, people.name('author'), plan.fingerprint],
    );
    await (await people.as('owner')).approve(plan.plan_id, 'permit');
    const b0 = await births();
    await rejects((await author()).apply(plan.plan_id), 'APPLY_REFUSED', /reviewed only by its author/);
    assert.equal(await births(), b0);
  });

  test('refused: a permit not from the owner, at approval and at apply', async () => {
    const a = await collection(10);
    const plan = await (await author()).plan([a]);
    await (await author()).rehearse(plan.plan_id);
    await (await people.as('reviewer')).approve(plan.plan_id, 'review');
    await rejects(
      (await people.as('stranger')).approve(plan.plan_id, 'permit'),
      'APPROVAL_REFUSED',
      /a permit comes from an owner of the plan's collections/,
    );
    await w.sql(
      `INSERT INTO ${w.ns}.backfill_approval (plan_id, kind, actor, fingerprint) VALUES ($1, 'permit', $2, $3)`,
      [plan.plan_id, people.name('stranger'), plan.fingerprint],
    );
    const b0 = await births();
    await rejects((await author()).apply(plan.plan_id), 'APPLY_REFUSED', /no permit from the owner of/);
    assert.equal(await births(), b0);
  });

  test('the gate’s order: review, permit and apply need a passing rehearsal of the plan', async () => {
    const a = await collection(10);
    const plan = (await (await author()).plan([a])).plan_id;
    const [b0, r0] = [await births(), await runs()];
    // never rehearsed: review and permit are refused, saying what to do
    await rejects(
      (await people.as('reviewer')).approve(plan, 'review'),
      'REHEARSAL_REQUIRED',
      new RegExp(
        `^plan ${plan} has not been rehearsed, so it cannot be reviewed; rehearse it first: natal rehearse ${plan}$`,
      ),
    );
    await rejects(
      (await people.as('owner')).approve(plan, 'permit'),
      'REHEARSAL_REQUIRED',
      new RegExp(
        `^plan ${plan} has not been rehearsed, so it cannot be permitted; rehearse it first: natal rehearse ${plan}$`,
      ),
    );
    // approvals written around approve_plan(), in the right names (only a superuser can,
    // with natal's actor stamp off) do not open it either
    const fp = (await w.sql(`SELECT fingerprint FROM ${w.ns}.backfill_plan WHERE plan_id = $1`, [plan]))[0]
      ?.fingerprint;
    await w.registry.db.exec(`ALTER TABLE ${w.ns}.backfill_approval DISABLE TRIGGER natal_stamp_actor`);
    try {
      await w.sql(
        `INSERT INTO ${w.ns}.backfill_approval (plan_id, kind, actor, fingerprint)
         VALUES ($1, 'review', $2, $4), ($1, 'permit', $3, $4)`,
        [plan, people.name('reviewer'), people.name('owner'), fp],
      );
    } finally {
      await w.registry.db.exec(`ALTER TABLE ${w.ns}.backfill_approval ENABLE TRIGGER natal_stamp_actor`);
    }
    await rejects(
      (await author()).apply(plan),
      'REHEARSAL_REQUIRED',
      new RegExp(`^plan ${plan} has not been rehearsed, so it cannot be applied; rehearse it first`),
    );
    assert.deepEqual([await births(), await runs()], [b0, r0], 'a refused apply writes nothing');
    assert.deepEqual(
      (await (await author()).census([a])).collections.map((c) => c.state),
      ['PLANNED'],
      'approvals without a rehearsal are not APPLY_READY',
    );

    // a failed rehearsal (a row deleted since the plan): it says why and what to do, and
    // review, permit and apply are refused with the same words
    await w.registry.db.exec(`DELETE FROM ${a} WHERE id = 10`);
    const failed = await (await author()).rehearse(plan);
    assert.equal(failed.ok, false);
    assert.equal(failed.why, `${a}: 9 born of 10 expected`);
    assert.match(failed.next ?? '', /make a new plan \(natal plan\), then rehearse it/);
    const why = `plan ${plan}'s rehearsal failed \\(${a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 9 born of 10 expected\\)`;
    for (const [person, kind, doing] of [
      ['reviewer', 'review', 'reviewed'],
      ['owner', 'permit', 'permitted'],
    ] as const) {
      await rejects(
        (await people.as(person)).approve(plan, kind),
        'REHEARSAL_REQUIRED',
        new RegExp(`^${why}, so it cannot be ${doing}; the rows of .* without a birth are not those planned`),
      );
    }
    await rejects(
      (await author()).apply(plan),
      'REHEARSAL_REQUIRED',
      new RegExp(`^${why}, so it cannot be applied; .*make a new plan \\(natal plan\\)`),
    );
    assert.deepEqual([await births(), await runs()], [b0, r0]);

    // the next plan, rehearsed: then review, permit and apply, in that order
    const next = (await (await author()).plan([a])).plan_id;
    await rejects(
      (await people.as('reviewer')).approve(next, 'review'),
      'REHEARSAL_REQUIRED',
      /not been rehearsed/,
    );
    assert.equal((await (await author()).rehearse(next)).ok, true);
    await (await people.as('reviewer')).approve(next, 'review');
    await (await people.as('owner')).approve(next, 'permit');
    assert.equal((await (await author()).apply(next)).born, 9);

    // a plan rewritten since its rehearsal (as only a superuser could: items and fingerprint
    // together, so it is intact) is not the plan rehearsed
    const b = await collection(4);
    const third = (await (await author()).plan([b])).plan_id;
    assert.equal((await (await author()).rehearse(third)).ok, true);
    await w.sql(
      `UPDATE ${w.ns}.backfill_plan_item SET codes_checksum = codes_checksum || '0' WHERE plan_id = $1`,
      [third],
    );
    await w.sql(
      `UPDATE ${w.ns}.backfill_plan p
       SET fingerprint = ${w.ns}.backfill_fingerprint(p.plan_id, p.author, p.natal_version, ${w.ns}.stored_items(p.plan_id))
       WHERE plan_id = $1`,
      [third],
    );
    await rejects(
      (await people.as('reviewer')).approve(third, 'review'),
      'REHEARSAL_REQUIRED',
      new RegExp(
        `^plan ${third} changed since its rehearsal .*; rehearse it again: natal rehearse ${third}$`,
      ),
    );
  });

  test('ranges pinned in key order for every key type the index gives them by: uuid, text, date, numeric, varchar', async () => {
    // 13 rows each, in ranges of 4: three full ranges and a last one of 1; in the last three,
    // 2 rows inserted once wired (born by the trigger: their namespace is not empty, so the
    // ranges look each row up instead of counting it)
    const sql = (table: string, from: number, to: number) =>
      ({
        by_uuid: `INSERT INTO ${w.a}.by_uuid SELECT md5(g::text)::uuid FROM generate_series(${from}, ${to}) g`,
        by_text: `INSERT INTO ${w.a}.by_text SELECT 'k/' || g || '%é' FROM generate_series(${from}, ${to}) g`,
        by_date: `INSERT INTO ${w.a}.by_date SELECT date '2026-01-01' + g FROM generate_series(${from}, ${to}) g`,
        by_numeric: `INSERT INTO ${w.a}.by_numeric SELECT g / 7.0 FROM generate_series(${from}, ${to}) g`,
        by_varchar: `INSERT INTO ${w.a}.by_varchar SELECT 'v' || g FROM generate_series(${from}, ${to}) g`,
      })[table] as string;
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.by_uuid (k uuid PRIMARY KEY); CREATE TABLE ${w.a}.by_text (k text PRIMARY KEY);
      CREATE TABLE ${w.a}.by_date (k date PRIMARY KEY); CREATE TABLE ${w.a}.by_numeric (k numeric PRIMARY KEY);
      CREATE TABLE ${w.a}.by_varchar (k varchar(20) PRIMARY KEY);`);
    const tables = ['by_uuid', 'by_text', 'by_date', 'by_numeric', 'by_varchar'];
    const names: string[] = [];
    for (const t of tables) {
      await w.registry.db.exec(sql(t, 1, t === 'by_uuid' || t === 'by_text' ? 13 : 11));
      names.push(
        (
          await w.registry.addCollection({
            table: `${w.app}.${t}`,
            species: 'SPE-ROW',
            owner: people.name('owner'),
          })
        ).collection_name,
      );
    }
    await w.registry.wire(names);
    for (const t of tables.slice(2)) await w.registry.db.exec(sql(t, 12, 13));
    const plan = await approved(names);
    const applied = await (await author()).apply(plan, { batchSize: 4 });
    assert.deepEqual(
      applied.collections.map((c) => [c.collection, c.expected, c.born, c.gap_after]).sort(),
      names.map((name, i) => [name, i < 2 ? 13 : 11, i < 2 ? 13 : 11, 0]).sort(),
    );
    const [ranges] = await w.sql(
      `SELECT count(*) AS n, count(*) FILTER (WHERE upto_key IS NULL) AS open FROM ${w.ns}.backfill_range WHERE run_id = $1`,
      [applied.run_id],
    );
    assert.deepEqual(
      [Number(ranges?.n), Number(ranges?.open)],
      [20, 5],
      'four ranges a collection, the last open',
    );
  });

  test('ranges pinned in key order: a last range of fewer rows, a table ending where a range ends, a namespace with births', async () => {
    // Ranges of 2 rows: 25 rows make 12 full ranges and one of 1; 20 rows make 10 full ranges
    // and an empty last one (it runs to the end of the table, for the rows that come); 23 rows
    // of which the last 3 came once wired (born by the trigger: each row is looked up) make 11
    // full ranges and one of 1.
    const made: string[] = [];
    for (const [table, rows, late] of [
      ['pin_a', 25, 0],
      ['pin_b', 20, 0],
      ['pin_c', 23, 3],
    ] as const) {
      await w.registry.db.exec(`CREATE TABLE ${w.a}.${table} (id int PRIMARY KEY);
        INSERT INTO ${w.a}.${table} SELECT g FROM generate_series(1, ${rows - late}) g`);
      const c = await w.registry.addCollection({
        table: `${w.app}.${table}`,
        species: 'SPE-ROW',
        owner: people.name('owner'),
      });
      await w.registry.wire([c.collection_name]);
      if (late > 0)
        await w.registry.db.exec(
          `INSERT INTO ${w.a}.${table} SELECT g FROM generate_series(${rows - late + 1}, ${rows}) g`,
        );
      made.push(c.collection_name);
    }
    const applied = await (await author()).apply(await approved(made), { batchSize: 2 });
    assert.deepEqual(
      applied.collections.map((c) => [c.collection, c.expected, c.born, c.gap_after]),
      [
        [made[0], 25, 25, 0],
        [made[1], 20, 20, 0],
        [made[2], 20, 20, 0],
      ],
    );
    const ranges = await w.sql(
      `SELECT collection_name AS c, count(*)::int AS n, count(*) FILTER (WHERE upto_key IS NULL)::int AS open,
              sum(expected)::int AS expected, max(seq)::int AS last
       FROM ${w.ns}.backfill_range WHERE run_id = $1 GROUP BY 1 ORDER BY 1`,
      [applied.run_id],
    );
    assert.deepEqual(
      ranges.map((r) => [r.c, r.n, r.open, r.expected, r.last]),
      [
        [made[0], 13, 1, 25, 13],
        [made[1], 11, 1, 20, 11],
        [made[2], 12, 1, 20, 12],
      ],
    );
  });

  test('keyset batches over keys of every kind: composite with text, arrays, timestamps', async () => {
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.arrays (k int[] PRIMARY KEY, v text);
      INSERT INTO ${w.a}.arrays SELECT ARRAY[g, g * 2], 'v' FROM generate_series(1, 30) g;
      CREATE TABLE ${w.a}.pairs (a text, b timestamptz, PRIMARY KEY (a, b));
      INSERT INTO ${w.a}.pairs SELECT 'x/' || (g % 3), timestamptz '2026-01-01 00:00:00+00' + g * interval '1 hour'
        FROM generate_series(1, 25) g;`);
    const arrays = (
      await w.registry.addCollection({
        table: `${w.app}.arrays`,
        species: 'SPE-ROW',
        owner: people.name('owner'),
      })
    ).collection_name;
    const pairs = (
      await w.registry.addCollection({
        table: `${w.app}.pairs`,
        species: 'SPE-ROW',
        owner: people.name('owner'),
      })
    ).collection_name;
    await w.registry.setIdentity(pairs, { strategy: 'composite' });
    // Keys with no finite text (infinity) or no short one (a float only 17 digits tell apart).
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.edges (at timestamptz PRIMARY KEY);
      INSERT INTO ${w.a}.edges VALUES ('infinity'), ('-infinity'), ('2026-11-21 10:00:00+00');
      CREATE TABLE ${w.a}.floats (x float8 PRIMARY KEY);
      INSERT INTO ${w.a}.floats VALUES (0.3), (0.30000000000000004), ('Infinity'), ('NaN'), (1e300);`);
    const edges = (
      await w.registry.addCollection({
        table: `${w.app}.edges`,
        species: 'SPE-ROW',
        owner: people.name('owner'),
      })
    ).collection_name;
    const floats = (
      await w.registry.addCollection({
        table: `${w.app}.floats`,
        species: 'SPE-ROW',
        owner: people.name('owner'),
      })
    ).collection_name;
    await w.registry.wire([arrays, pairs, edges, floats]);
    const before = await births();
    await (await author()).plan([edges, floats]).then(async (p) => {
      assert.deepEqual(
        p.collections.map((c) => c.expected),
        [3, 5],
      );
    });
    const late = await approved([edges, floats]);
    const edged = await (await author()).apply(late);
    assert.deepEqual(
      edged.collections.map((c) => [c.born, c.gap_after]),
      [
        [3, 0],
        [5, 0],
      ],
    );
    assert.equal(await births(), before + 8);
    const plan = await approved([arrays, pairs]);
    const applied = await (await author()).apply(plan, { batchSize: 7, lanes: 3 });
    assert.deepEqual(
      applied.collections.map((c) => [c.expected, c.born, c.gap_after]),
      [
        [30, 30, 0],
        [25, 25, 0],
      ],
    );
  });

  test('a plan over collections of two owners needs a permit from each', async () => {
    const a = await collection(4);
    const b = await collection(6);
    await w.registry.setCollection(b, { owner: people.name('stranger') });
    const plan = await (await author()).plan([a, b]);
    await (await author()).rehearse(plan.plan_id);
    await (await people.as('reviewer')).approve(plan.plan_id, 'review');
    await (await people.as('owner')).approve(plan.plan_id, 'permit');
    const b0 = await births();
    await rejects(
      (await author()).apply(plan.plan_id),
      'APPLY_REFUSED',
      new RegExp(`no permit from the owner of .*${people.name('stranger')}`),
    );
    assert.equal(await births(), b0);
    await (await people.as('stranger')).approve(plan.plan_id, 'permit');
    assert.equal((await (await author()).apply(plan.plan_id)).born, 10);
  });

  test('only the owner or natal’s administrator gives a collection another owner', async () => {
    const a = await collection(1);
    const stranger = await people.as('stranger');
    await rejects(
      stranger.setCollection(a, { owner: people.name('stranger') }),
      'OWNER_CHANGE_REFUSED',
      new RegExp(`only ${people.name('owner')}, the owner of`),
    );
    const owner = await people.as('owner');
    assert.equal(
      (await owner.setCollection(a, { owner: people.name('reviewer') })).owner,
      people.name('reviewer'),
    );
    // the administrator (the session's own superuser role, with no --as) can too
    const admin = await people.as('author');
    assert.equal((await admin.setCollection(a, { owner: people.name('owner') })).owner, people.name('owner'));
  });

  test('refused: the owner changed since planning (the plan pins who may permit)', async () => {
    const a = await collection(4);
    const plan = await approved([a]);
    await w.registry.setCollection(a, { owner: people.name('author') });
    const b0 = await births();
    await rejects((await author()).apply(plan), 'PLAN_STALE', /identity or species of .* changed/);
    assert.equal(await births(), b0);
  });

  test('approvals cannot be changed, and a plan cannot go back to planned', async () => {
    const a = await collection(4);
    const plan = await approved([a]);
    await rejects(
      w.sql(`UPDATE ${w.ns}.backfill_approval SET note = 'edited' WHERE plan_id = $1`, [plan]),
      'LEDGER_APPEND_ONLY',
      /backfill_approval is append-only/,
    );
    await rejects(
      w.sql(`DELETE FROM ${w.ns}.backfill_approval WHERE plan_id = $1`, [plan]),
      'LEDGER_APPEND_ONLY',
      /append-only: .* \(DELETE\)/,
    );
    await rejects(w.sql(`TRUNCATE ${w.ns}.backfill_approval CASCADE`), 'LEDGER_APPEND_ONLY', /TRUNCATE/);
    const applied = await (await author()).apply(plan);
    await w.registry.rollback(applied.run_id);
    await rejects(
      w.sql(`UPDATE ${w.ns}.backfill_plan SET status = 'planned' WHERE plan_id = $1`, [plan]),
      'APPLY_REFUSED',
      /cannot go from superseded to planned/,
    );
  });

  test('refused: a stale plan (the gap changed since planning)', async () => {
    const a = await collection(20);
    const plan = await approved([a]);
    // One row gets a birth some other way (as an import would): the gap is now 19.
    await w.sql(
      `INSERT INTO ${w.ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
         dot_origin, governance_role, operation)
       VALUES ($1 || '::1', $1, 'SPE-ROW', 'atom', 'test', 'governed', 'import')`,
      [a],
    );
    const b0 = await births();
    await rejects((await author()).apply(plan), 'PLAN_STALE', /planned 20 births, its gap is now 19/);
    assert.equal(await births(), b0);
  });

  test('refused: a stale plan (same count, other codes)', async () => {
    const a = await collection(20);
    const plan = await approved([a]);
    await w.registry.db.exec(`ALTER TABLE ${a} DISABLE TRIGGER USER`);
    await w.registry.db.exec(`DELETE FROM ${a} WHERE id = 1; INSERT INTO ${a} VALUES (99, 'swapped')`);
    await w.registry.db.exec(`ALTER TABLE ${a} ENABLE TRIGGER USER`);
    const b0 = await births();
    await rejects((await author()).apply(plan), 'PLAN_STALE', /missing codes .* changed/);
    assert.equal(await births(), b0);
  });

  test('an apply births exactly the approved set: a row that appears without its trigger stops it as stale', async () => {
    const a = await collection(30);
    const plan = await approved([a]);
    const b0 = await births();
    // On one session, as natal apply does: begin (the ranges are pinned), then in the last
    // range a row goes and another comes with the triggers off, then the ranges are written.
    const outcome = await w.registry.db.session(async (s) => {
      const one = async (sql: string, params: unknown[] = []) =>
        (await s.query<Record<string, unknown>>(sql, params)).rows[0];
      const run = Number((await one(`SELECT ${w.ns}.apply_begin($1, 10) AS r`, [plan]))?.r);
      await s.exec(`ALTER TABLE ${a} DISABLE TRIGGER USER; DELETE FROM ${a} WHERE id = 25;
                    INSERT INTO ${a} VALUES (1000, 'unapproved'); ALTER TABLE ${a} ENABLE TRIGGER USER`);
      try {
        for (;;) {
          const next = await one(
            `SELECT collection_name AS c, after_key::text AS f, upto_key::text AS u FROM ${w.ns}.apply_next($1, 10, 1)`,
            [run],
          );
          if (!next) return { run, error: undefined };
          await s.query(`SELECT ${w.ns}.apply_range($1, $2, $3::jsonb, $4::jsonb)`, [
            run,
            next.c,
            next.f,
            next.u,
          ]);
          await s.query(`SELECT ${w.ns}.apply_advance($1, $2, $3::jsonb)`, [run, next.c, next.u]);
        }
      } catch (err) {
        return { run, error: err };
      } finally {
        await s.query(`SELECT ${w.ns}.apply_stop($1, 'stale')`, [run]);
      }
    });
    assert.ok(outcome.error instanceof NatalError, String(outcome.error));
    assert.equal((outcome.error as NatalError).code, 'PLAN_STALE');
    assert.match(
      (outcome.error as NatalError).message,
      /range \d+ of .* would birth 9 rows where 10 were approved; rows appeared without their trigger or vanished/,
    );
    // The ranges before the changed one keep their births; the run ended, and said why.
    assert.equal(await births(), b0 + 20);
    const run = (
      await w.sql(`SELECT status::text FROM ${w.ns}.backfill_run WHERE run_id = $1`, [outcome.run])
    )[0];
    assert.equal(run?.status, 'failed');
    const ledger = await w.registry.ledger({ run: outcome.run });
    assert.equal(ledger.at(-1)?.detail.ended, 'stale');
    // A new plan takes the rest, the unapproved row with it, once approved.
    const again = await approved([a]);
    assert.equal((await w.registry.getPlan(again)).expected_total, 10);
    assert.equal((await (await author()).apply(again)).gap_after, 0);
  });

  test('each backfilled birth records its row’s origin, and passes inspection', async () => {
    // A table with _dot_origin (each row's own, the trigger's name where it is empty), one
    // without (the trigger's name), and a code column (its codes checked for their prefix).
    // (A code without its prefix fails the rehearsal: rehearsal.test, inspect.test.)
    await w.registry.db.exec(`
      CREATE TABLE ${w.a}.origins (id int PRIMARY KEY, _dot_origin text);
      INSERT INTO ${w.a}.origins VALUES (1, 'etl-2019'), (2, ''), (3, NULL), (4, 'import');
      CREATE TABLE ${w.a}.plain_rows (id int PRIMARY KEY);
      INSERT INTO ${w.a}.plain_rows VALUES (1), (2);
      CREATE TABLE ${w.a}.coded (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      INSERT INTO ${w.a}.coded VALUES (1, 'ROW-901'), (2, 'ROW-902')`);
    const names: string[] = [];
    for (const [table, codeColumn] of [
      ['origins', undefined],
      ['plain_rows', undefined],
      ['coded', 'code'],
    ] as const) {
      const c = await w.registry.addCollection({
        table: `${w.app}.${table}`,
        species: 'SPE-ROW',
        owner: people.name('owner'),
        ...(codeColumn ? { codeColumn } : {}),
      });
      await w.registry.wire([c.collection_name]);
      names.push(c.collection_name);
    }
    const [origins, plainRows, coded] = names as [string, string, string];
    const applied = await (await author()).apply(await approved(names), { batchSize: 3 });
    assert.equal(applied.born, 8);
    const got = await w.sql(
      `SELECT entity_code, dot_origin, inspection_status::text AS status, inspection_note IS NOT NULL AS noted
       FROM ${w.ns}.birth_registry WHERE run_id = $1 ORDER BY entity_code`,
      [applied.run_id],
    );
    const fallback = (t: string) => `PG:trg_birth_${t}`;
    assert.deepEqual(
      got.map((r) => [r.entity_code, r.dot_origin, r.status, r.noted]),
      [
        ['ROW-901', fallback('coded'), 'passed', false],
        ['ROW-902', fallback('coded'), 'passed', false],
        [`${origins}::1`, 'etl-2019', 'passed', false],
        [`${origins}::2`, fallback('origins'), 'passed', false],
        [`${origins}::3`, fallback('origins'), 'passed', false],
        [`${origins}::4`, 'import', 'passed', false],
        [`${plainRows}::1`, fallback('plain_rows'), 'passed', false],
        [`${plainRows}::2`, fallback('plain_rows'), 'passed', false],
      ].sort((x, y) => ((x[0] as string) < (y[0] as string) ? -1 : 1)),
    );
    assert.equal(applied.collections.find((c) => c.collection === coded)?.inspection_failed, 0);
    // A code column's code without its species' prefix fails inspection: the rehearsal says so.
    await w.registry.db.exec(`CREATE TABLE ${w.a}.badly_coded (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      INSERT INTO ${w.a}.badly_coded VALUES (1, 'ROW-903'), (2, 'XYZ-9')`);
    const bad = await w.registry.addCollection({
      table: `${w.app}.badly_coded`,
      species: 'SPE-ROW',
      owner: people.name('owner'),
      codeColumn: 'code',
    });
    await w.registry.wire([bad.collection_name]);
    const r = await author();
    const rehearsal = await r.rehearse((await r.plan([bad.collection_name])).plan_id);
    assert.equal(rehearsal.ok, false);
    assert.equal(rehearsal.why, `${bad.collection_name}: 1 birth(s) failed inspection`);
    assert.equal(rehearsal.collections[0]?.inspection_failed, 1);
  });

  test('a key whose type’s name holds a % is applied in batches', async () => {
    await w.registry.db.exec(`CREATE DOMAIN ${w.a}."per%cent" AS int;
      CREATE TABLE ${w.a}.pct (id ${w.a}."per%cent" PRIMARY KEY, v text);
      INSERT INTO ${w.a}.pct SELECT g, 'v' FROM generate_series(1, 25) g`);
    const c = (
      await w.registry.addCollection({
        table: `${w.app}.pct`,
        species: 'SPE-ROW',
        owner: people.name('owner'),
      })
    ).collection_name;
    await w.registry.wire([c]);
    const plan = await approved([c]);
    const applied = await (await author()).apply(plan, { batchSize: 10 });
    assert.deepEqual([applied.born, applied.gap_after, applied.batches], [25, 0, 3]);
  });

  test('refused: a plan already applied', async () => {
    const a = await collection(5);
    const plan = await approved([a]);
    await (await author()).apply(plan);
    const b0 = await births();
    await rejects((await author()).apply(plan), 'APPLY_REFUSED', /already applied/);
    assert.equal(await births(), b0);
  });

  test('refused: a plan altered after it was made', async () => {
    const a = await collection(5);
    const plan = await approved([a]);
    await w.sql(`UPDATE ${w.ns}.backfill_plan_item SET expected = 4 WHERE plan_id = $1`, [plan]);
    const b0 = await births();
    await rejects((await author()).apply(plan), 'APPLY_REFUSED', /altered/);
    assert.equal(await births(), b0);
    // Re-signing the plan row does not help: the approvals are bound to the old fingerprint.
    await w.sql(
      `UPDATE ${w.ns}.backfill_plan p SET expected_total = 4,
         fingerprint = ${w.ns}.backfill_fingerprint(p.plan_id, p.author, p.natal_version, ${w.ns}.stored_items(p.plan_id))
       WHERE plan_id = $1`,
      [plan],
    );
    // … nor does it keep its rehearsal: the plan rehearsed had the old fingerprint
    await rejects((await author()).apply(plan), 'REHEARSAL_REQUIRED', /changed since its rehearsal/);
    assert.equal(await births(), b0);
  });

  test('refused: backfill frozen (plan, apply, rollback), with who and why', async () => {
    const a = await collection(5);
    const plan = await approved([a]);
    const r = await author();
    const applied0 = await approved([await collection(2)]);
    const done = await r.apply(applied0);
    await r.freeze('backfill', 'audit week');
    const b0 = await births();
    await rejects(r.apply(plan), 'COLLECTION_FROZEN', /backfill is frozen by .*: audit week/);
    await rejects(r.plan([a]), 'COLLECTION_FROZEN', /backfill is frozen/);
    await rejects(r.rollback(done.run_id), 'COLLECTION_FROZEN', /backfill is frozen/);
    assert.equal(await births(), b0);
    await r.unfreeze('backfill');
    assert.equal((await r.apply(plan)).born, 5);
  });

  test('refused: a collection frozen (plan, apply, rollback), with who and why', async () => {
    const a = await collection(5);
    const plan = await approved([a]);
    const r = await author();
    await r.freeze(a, 'owner is migrating it');
    const b0 = await births();
    await rejects(r.apply(plan), 'COLLECTION_FROZEN', /collection .* is frozen by .*: owner is migrating it/);
    await rejects(r.plan([a]), 'COLLECTION_FROZEN');
    assert.equal(await births(), b0);
    await r.unfreeze(a);
    const applied = await r.apply(plan);
    await r.freeze(a, 'hold');
    await rejects(r.rollback(applied.run_id), 'COLLECTION_FROZEN', /hold/);
    assert.equal(await births(), b0 + 5, 'a refused rollback removes nothing');
    await r.unfreeze(a);
    assert.equal((await r.rollback(applied.run_id)).removed, 5);
  });

  test('refused: another apply is running (the lock), on this backend too', async () => {
    const a = await collection(5);
    const b = await collection(5);
    const first = await approved([a]);
    const second = await approved([b]);
    // One session begins an apply and holds the lock; a second apply is refused and writes
    // nothing. (Embedded there is one session and one process: the data directory's lock
    // keeps other processes out, and within the process the session lock does.)
    await w.registry.db.session(async (s) => {
      await s.query(`SELECT ${w.ns}.apply_begin($1, 100)`, [first]);
      const [b0, r0] = [await births(), await runs()];
      await assert.rejects(
        s.query(`SELECT ${w.ns}.apply_begin($1, 100)`, [second]),
        /already applying|another apply/,
      );
      assert.deepEqual([await births(), await runs()], [b0, r0]);
      await s.query(`SELECT ${w.ns}.apply_release()`);
    });
    const stuck = Number(
      (await w.sql(`SELECT max(run_id) AS id FROM ${w.ns}.backfill_run WHERE plan_id = $1`, [first]))[0]?.id,
    );
    assert.equal((await (await author()).apply(first, { resume: stuck })).born, 5);
    assert.equal((await (await author()).apply(second)).born, 5);
  });

  test('refused: an interrupted run must be resumed, not restarted', async () => {
    const a = await collection(50);
    const plan = await approved([a]);
    // A run that began and committed one batch, then died (as a kill -9 leaves it).
    const runId = Number((await w.sql(`SELECT ${w.ns}.apply_begin($1, 20) AS id`, [plan]))[0]?.id);
    await w.sql(`SELECT * FROM ${w.ns}.apply_batch($1, 20)`, [runId]);
    await w.sql(`SELECT ${w.ns}.apply_release()`);
    const b0 = await births();
    await rejects((await author()).apply(plan), 'APPLY_REFUSED', new RegExp(`--resume ${runId}`));
    assert.equal(await births(), b0);
    const resumed = await (await author()).apply(plan, { resume: runId, batchSize: 7 });
    assert.equal(resumed.born, 50, 'both parts together birth exactly the plan');
    assert.equal(resumed.confirmed, true);
    const parts = (await w.registry.ledger({ run: runId })).filter((l) => l.step === 'APPLY');
    assert.deepEqual(
      parts.map((l) => [l.collection, l.actual, l.detail.part]),
      [
        [null, 20, 1],
        [a, 50, 2],
      ],
    );
  });

  test('SQL callers meet the same gate: apply_begin and apply_batch refuse without approvals', async () => {
    const a = await collection(5);
    const plan = await (await author()).plan([a]);
    const b0 = await births();
    await rejects(
      w.sql(`SELECT ${w.ns}.apply_begin($1, 100)`, [plan.plan_id]),
      'REHEARSAL_REQUIRED',
      /has not been rehearsed, so it cannot be applied/,
    );
    await (await author()).rehearse(plan.plan_id);
    await rejects(w.sql(`SELECT ${w.ns}.apply_begin($1, 100)`, [plan.plan_id]), 'APPLY_REFUSED', /no review/);
    // A run row written around apply_begin does not commit: the run gate checks it at commit.
    const forge = (tx: {
      db: { query: (q: string, p?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }> };
    }) =>
      tx.db
        .query(
          `INSERT INTO ${w.ns}.backfill_run (plan_id, batch_size, cursor)
           VALUES ($1, 100, jsonb_build_object('collection', $2::text, 'after', NULL, 'done', '[]'::jsonb,
                                               'born', '{}'::jsonb, 'failed', '{}'::jsonb)) RETURNING run_id`,
          [plan.plan_id, a],
        )
        .then((r) => Number(r.rows[0]?.run_id));
    await rejects(
      w.registry.transaction((tx) => forge(tx)),
      'APPLY_REFUSED',
      /no review/,
    );
    // Inside that transaction, a normal batch is refused (no lock) …
    await rejects(
      w.registry.transaction(async (tx) => {
        const run = await forge(tx);
        await tx.db.query(`SELECT * FROM ${w.ns}.apply_batch($1, 100)`, [run]);
      }),
      'APPLY_RUNNING',
      /does not hold/,
    );
    // … a "rehearsal" batch on it is refused (it is not a rehearsal's run) …
    await rejects(
      w.registry.transaction(async (tx) => {
        const run = await forge(tx);
        await tx.db.query(`SELECT * FROM ${w.ns}.apply_batch($1, NULL, true)`, [run]);
      }),
      'APPLY_REFUSED',
      /run \d+ is not a rehearsal/,
    );
    // … and a run marked as a rehearsal writes births that the commit refuses, with the run.
    await rejects(
      w.registry.transaction(async (tx) => {
        const run = await forge(tx);
        await tx.db.query(`UPDATE ${w.ns}.backfill_run SET rehearsal = true WHERE run_id = $1`, [run]);
        await tx.db.query(`SELECT * FROM ${w.ns}.apply_batch($1, NULL, true)`, [run]);
      }),
      'APPLY_REFUSED',
      /is a rehearsal, and a rehearsal is never committed/,
    );
    // A run another transaction can see is never a rehearsal.
    const applied = await approved([a]);
    const real = await (await author()).apply(applied);
    await rejects(
      w.sql(`SELECT * FROM ${w.ns}.apply_batch($1, NULL, true)`, [real.run_id]),
      'RUN_UNKNOWN',
      /is completed/,
    );
    assert.equal(await births(), b0 + 5);
  });

  test('plan lists collections that are not eligible, with their failed checks', async () => {
    const a = await collection(3);
    await w.registry.db.exec(`CREATE TABLE ${w.a}.loose (v text); INSERT INTO ${w.a}.loose VALUES ('x')`);
    const loose = (await w.registry.addCollection({ table: `${w.app}.loose`, species: 'SPE-ROW' }))
      .collection_name;
    const plan = await (await author()).plan([a, loose]);
    assert.deepEqual(
      plan.collections.map((c) => c.collection),
      [a],
    );
    assert.equal(plan.not_eligible[0]?.collection, loose);
    assert.deepEqual(
      plan.not_eligible[0]?.failed.map((f) => f.check),
      ['identity classified', 'trigger wired and functional'],
    );
    const summary = (await w.registry.ledger({ plan: plan.plan_id })).find((l) => l.collection === null);
    assert.equal((summary?.detail.not_eligible as unknown[]).length, 1);
    await rejects((await author()).plan([loose]), 'NOTHING_TO_PLAN', /nothing to plan/);
  });

  test('the CLI: contract JSON of plan, rehearse, approve, apply, ledger, rollback; bad input', async () => {
    let target: string[];
    let a: string;
    if (backend.name === 'server') {
      target = ['--db', process.env.NATAL_TEST_SERVER_URL as string, '--schema', w.registry.schema];
      a = await collection(12);
    } else {
      // Embedded: a data directory of its own (the suite's registry holds its own one).
      const dir = backend.freshDataDir();
      const r = await Registry.open({ dataDir: dir });
      try {
        await r.init();
        await r.db.exec(`CREATE TABLE public.items (id int PRIMARY KEY, v text);
          INSERT INTO public.items SELECT g, 'v' FROM generate_series(1, 12) g;`);
        await r.addSpecies({ code: 'SPE-ROW', prefix: 'ROW', level: 'atom' });
        await r.addCollection({ table: 'items', species: 'SPE-ROW', owner: 'owner' });
        await r.wire(['items']);
      } finally {
        await r.close();
      }
      target = ['--data-dir', dir];
      a = 'items';
    }
    const cli = (...args: string[]) => natal([...args, ...target]);
    const approve = async (id: number) => {
      if (backend.name === 'server') {
        await (await people.as('reviewer')).approve(id, 'review');
        await (await people.as('owner')).approve(id, 'permit');
        return;
      }
      const rv = await cli('approve', String(id), '--review', '--as', 'reviewer');
      assert.equal(rv.code, 0, rv.stderr);
      assert.match(rv.stdout, /review of plan \d+ recorded by reviewer/);
      const self = await cli('approve', String(id), '--review');
      assert.equal(self.code, 1);
      assert.match(self.stderr, /cannot review it/);
      const pm = await cli('approve', String(id), '--permit', '--as', 'owner', '--json');
      assert.equal(pm.code, 0, pm.stderr);
      assert.equal((JSON.parse(pm.stdout) as { actor: string }).actor, 'owner');
    };
    const plan = await cli('plan', a, '--json');
    assert.equal(plan.code, 0, plan.stderr);
    const p = JSON.parse(plan.stdout) as {
      plan_id: number;
      collections: { collection: string; expected: number }[];
    };
    assert.equal(typeof p.plan_id, 'number');
    assert.deepEqual(
      p.collections.map((c) => c.expected),
      [12],
    );
    const reh = JSON.parse((await cli('rehearse', String(p.plan_id), '--json')).stdout) as {
      collections: { expected: number; born: number; rerun_delta: number }[];
      net_births: number;
    };
    assert.deepEqual(
      [
        reh.collections[0]?.expected,
        reh.collections[0]?.born,
        reh.collections[0]?.rerun_delta,
        reh.net_births,
      ],
      [12, 12, 0, 0],
    );
    const refused = await cli('apply', String(p.plan_id), '--json');
    assert.equal(refused.code, 1);
    assert.equal((JSON.parse(refused.stdout) as { error: { code: string } }).error.code, 'APPLY_REFUSED');
    await approve(p.plan_id);
    const applied = await cli('apply', String(p.plan_id), '--batch-size', '5', '--json');
    assert.equal(applied.code, 0, applied.stderr);
    const ap = JSON.parse(applied.stdout) as {
      run_id: number;
      collections: { expected: number; born: number; gap_after: number }[];
    };
    assert.deepEqual(
      ap.collections.map((c) => [c.expected, c.born, c.gap_after]),
      [[12, 12, 0]],
    );
    const led = JSON.parse((await cli('ledger', '--run', String(ap.run_id), '--json')).stdout) as {
      ledger: { step: string }[];
    };
    assert.deepEqual(
      led.ledger.map((l) => l.step),
      ['APPLY'],
    );
    const rb = await cli('rollback', String(ap.run_id), '--dry-run');
    assert.match(rb.stdout, /would remove 12 births/);
    // a dry run measures no gap after: no column of dashes for it
    assert.match(rb.stdout, /\nCollection +Born by run +Would remove\n/);
    assert.doesNotMatch(rb.stdout, /Gap after| -\n/);
    const frozen = await cli('freeze', 'backfill', '--reason', 'audit');
    assert.equal(frozen.code, 0, frozen.stderr);
    const held = await cli('rollback', String(ap.run_id));
    assert.equal(held.code, 1);
    assert.match(
      held.stderr,
      /^natal: backfill is frozen by .*: audit; ask them, then: natal unfreeze backfill\n$/,
    );
    assert.equal((await cli('unfreeze', 'backfill')).code, 0);
    const done = await cli('rollback', String(ap.run_id), '--json');
    assert.equal((JSON.parse(done.stdout) as { removed: number }).removed, 12);
    for (const bad of [
      ['apply', 'x1'],
      ['apply', '1', '--batch-size', '0'],
      ['approve', '1'],
      ['approve', '1', '--review', '--permit'],
      ['rollback', '-3'],
      ['freeze', 'backfill'],
      ['ledger', '--plan', 'abc'],
    ]) {
      const r = await cli(...bad);
      assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
    const unknown = await cli('rehearse', '999999');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /plan 999999 does not exist/);
    if (backend.name === 'server') {
      const asOther = await cli('ledger', '--as', 'nobody_like_this');
      assert.equal(asOther.code, 1);
      assert.match(asOther.stderr, /cannot act as nobody_like_this/);
    }
  });
});
