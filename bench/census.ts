/**
 * `npm run bench -- census`: the cost of the census and of classification.
 *  - one: census of one 1,000,000-row wired collection (90% born, 1,000 phantoms) vs count(*)
 *  - many: census of 100 collections of 20,000 rows (90% born) vs their 100 count(*)s
 *  - classify: identity proposals for those 100 collections, in seconds
 * The figures are the census a person runs again and again: counted forward from the one
 * kept before (0014). The first census, which matches every row, and one counted forward
 * past 10,000 new trigger births (a census a day after a day's inserts) are reported beside.
 */
import type { Census } from '../src/census/census.js';
import type { Registry } from '../src/registry.js';
import { quoteIdent } from '../src/db/ident.js';
import { benchRegistry, type Figure, median, scaled, time } from './harness.js';

const ROUNDS = 5;
/** A census of every collection takes far longer than one; fewer rounds keep the run short. */
const ROUNDS_MANY = 3;

const TABLE = (name: string) =>
  `CREATE TABLE ${name} (id bigint PRIMARY KEY, code text UNIQUE NOT NULL, name text)`;

/** Births for the rows whose id is not a multiple of 10, written as an import would: set-based. */
async function births(registry: Registry, table: string, collection: string, species: string): Promise<void> {
  const { ns } = registry.ctx;
  await registry.db.query(
    `INSERT INTO ${ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
       dot_origin, governance_role, operation)
     SELECT code, $1::text, $2::text, 'atom', 'bench', 'governed', 'import'::${ns}.birth_operation
     FROM ${table} WHERE id % 10 <> 0`,
    [collection, species],
  );
}

/**
 * The 1,000,000-row collection: rows, registration and wiring, births for 90% of them and
 * `phantoms` births of codes no row has. Returns the collection's name.
 */
export async function loadOne(
  registry: Registry,
  app: string,
  rows: number,
  phantoms: number,
): Promise<string> {
  const { ns } = registry.ctx;
  const t = `${quoteIdent(app)}.one`;
  await registry.db.exec(TABLE(t));
  await registry.db.query(
    `INSERT INTO ${t} (id, code, name) SELECT g, 'BEN-' || g, 'n' || g FROM generate_series(1, $1::bigint) g`,
    [rows],
  );
  await registry.addSpecies({ code: 'SPE-BEN', prefix: 'BEN', level: 'atom' });
  const { collection_name: name } = await registry.addCollection({
    table: `${app}.one`,
    species: 'SPE-BEN',
    codeColumn: 'code',
  });
  await registry.wire([name]);
  await births(registry, t, name, 'SPE-BEN');
  await registry.db.query(
    `INSERT INTO ${ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
       dot_origin, governance_role, operation)
     SELECT 'BEN-' || ($1::bigint + g), $2::text, 'SPE-BEN', 'atom', 'bench', 'governed', 'import'::${ns}.birth_operation
     FROM generate_series(1, $3::bigint) g`,
    [rows, name, phantoms],
  );
  await registry.db.exec(`VACUUM ANALYZE ${t}`);
  await registry.db.exec(`VACUUM ANALYZE ${ns}.birth_registry`);
  return name;
}

/** Removes the collection `loadOne` made: its table, births and registration. */
export async function dropOne(registry: Registry, app: string, name: string): Promise<void> {
  const { ns } = registry.ctx;
  await registry.unwire(name);
  await registry.db.exec(`DROP TABLE ${quoteIdent(app)}.one`);
  await registry.db.query(`DELETE FROM ${ns}.birth_registry WHERE collection_name = $1`, [name]);
  await registry.db.query(`DELETE FROM ${ns}.collection_registry WHERE collection_name = $1`, [name]);
  await registry.db.exec(`VACUUM ANALYZE ${ns}.birth_registry`);
}

/**
 * `count` collections of `rows` rows each (codes T<i>-<n>, one species per table so that
 * registration's code-sequence sync reads one table), registered, wired, 90% born.
 * Returns the tables, schema-qualified and quoted.
 */
export async function loadMany(
  registry: Registry,
  app: string,
  count: number,
  rows: number,
): Promise<string[]> {
  const { ns } = registry.ctx;
  const tables = Array.from({ length: count }, (_, i) => `${quoteIdent(app)}.${quoteIdent(`t${i + 1}`)}`);
  await registry.db.exec(tables.map(TABLE).join(';\n'));
  for (const [i, t] of tables.entries()) {
    await registry.db.query(
      `INSERT INTO ${t} (id, code, name) SELECT g, $1::text || g, 'n' || g FROM generate_series(1, $2::bigint) g`,
      [`T${i + 1}-`, rows],
    );
  }
  const names: string[] = [];
  for (let i = 1; i <= count; i++) {
    await registry.addSpecies({ code: `SPE-T${i}`, prefix: `T${i}`, level: 'atom' });
    const c = await registry.addCollection({
      table: `${app}.t${i}`,
      species: `SPE-T${i}`,
      codeColumn: 'code',
    });
    names.push(c.collection_name);
  }
  await registry.wire(names);
  for (const [i, name] of names.entries()) await births(registry, tables[i] as string, name, `SPE-T${i + 1}`);
  await registry.db.exec(`VACUUM ANALYZE ${tables.join(', ')}, ${ns}.birth_registry`);
  return tables;
}

export async function benchCensus(): Promise<Figure[]> {
  const bench = await benchRegistry('census');
  const { registry, app } = bench;
  const figures: Figure[] = [];
  const count = async (t: string) => registry.db.query(`SELECT count(*) FROM ${t}`);
  try {
    // -- one collection ------------------------------------------------------------------
    // The kept census is the owner's choice (it costs the insert path); this measures it on.
    await registry.setCensusKeeping(true);
    const rows = scaled(1_000_000);
    const phantoms = scaled(1000);
    const gap = Math.floor(rows / 10);
    const one = await loadOne(registry, app, rows, phantoms);
    const t = `${quoteIdent(app)}.one`;
    // The first census matches every row (and is kept); it warms caches and plans too.
    const first = await time(() => registry.census([one]));
    await count(t);
    const oc: number[] = [];
    const ob: number[] = [];
    // Interleaved, the order alternating, so drift on a shared machine hits both alike.
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        oc.push(await time(() => registry.census([one])));
        ob.push(await time(() => count(t)));
      } else {
        ob.push(await time(() => count(t)));
        oc.push(await time(() => registry.census([one])));
      }
    }
    const whole = await registry.census([one]);
    const c1 = whole.collections[0];
    // A day's inserts through the trigger, then the census that counts forward past them.
    const added = scaled(10_000);
    await registry.db.query(
      `INSERT INTO ${t} (id, code, name) SELECT g, 'BEN-' || g, 'new' FROM generate_series($1::bigint, $2::bigint) g`,
      [2 * rows + 1, 2 * rows + added],
    );
    let forward: Census | undefined;
    const grown = await time(async () => {
      forward = await registry.census([one]);
    });
    const c2 = await registry.census([one]);
    const recount = (await registry.census([one], { recount: true })).collections[0];
    const oneRatio = median(oc) / median(ob);
    figures.push({
      name: `census of one ${rows.toLocaleString('en-US')}-row collection`,
      ratio: oneRatio,
      target: '<= 3',
      ok: oneRatio <= 3,
      correct:
        whole.counted.how === 'kept' &&
        c1?.rows === rows &&
        c1.gap === gap &&
        c1.phantoms === phantoms &&
        forward?.counted.how === 'kept' &&
        forward.counted.births_since === added &&
        c2.collections[0]?.rows === rows + added &&
        JSON.stringify(c2.collections[0]) === JSON.stringify(recount),
      detail: `census ${median(oc).toFixed(0)} ms (${whole.counted.how}), count(*) ${median(ob).toFixed(1)} ms (median of ${ROUNDS}); rows ${c1?.rows}, births ${c1?.births}, gap ${c1?.gap} (want ${gap}), phantoms ${c1?.phantoms} (want ${phantoms}); first census ${first.toFixed(0)} ms (${(first / median(ob)).toFixed(1)}x); after ${added} new rows ${grown.toFixed(0)} ms (${(grown / median(ob)).toFixed(1)}x), equal to a recount: ${JSON.stringify(c2.collections[0]) === JSON.stringify(recount)}`,
    });
    await dropOne(registry, app, one);

    // -- many collections ----------------------------------------------------------------
    const k = scaled(100);
    const per = scaled(20_000);
    const tables = await loadMany(registry, app, k, per);
    const total = k * per;
    const wantGap = k * Math.floor(per / 10);
    const countAll = async () => {
      for (const tb of tables) await count(tb);
    };
    const firstMany = await time(() => registry.census());
    await countAll();
    const mc: number[] = [];
    const mb: number[] = [];
    for (let round = 0; round < ROUNDS_MANY; round++) {
      if (round % 2 === 0) {
        mc.push(await time(() => registry.census()));
        mb.push(await time(countAll));
      } else {
        mb.push(await time(countAll));
        mc.push(await time(() => registry.census()));
      }
    }
    const all = await registry.census();
    const manyRatio = median(mc) / median(mb);
    figures.push({
      name: `census of ${k} collections, ${total.toLocaleString('en-US')} rows`,
      ratio: manyRatio,
      target: '<= 3',
      ok: manyRatio <= 3,
      correct:
        all.counted.how === 'kept' &&
        all.collections.length === k &&
        all.totals.rows === total &&
        all.totals.gap === wantGap &&
        all.totals.phantoms === 0,
      detail: `census ${median(mc).toFixed(0)} ms, ${k} count(*)s ${median(mb).toFixed(0)} ms (median of ${ROUNDS_MANY}); ${all.collections.length} collections, rows ${all.totals.rows}, gap ${all.totals.gap} (want ${wantGap}), phantoms ${all.totals.phantoms}; first census ${firstMany.toFixed(0)} ms (${(firstMany / median(mb)).toFixed(1)}x)`,
    });

    // -- classification --------------------------------------------------------------------
    const cl: number[] = [];
    for (let round = 0; round < ROUNDS_MANY; round++) cl.push(await time(() => registry.classify()));
    const proposals = await registry.classify();
    const seconds = median(cl) / 1000;
    const columns = proposals.filter(
      (p) => p.strategy === 'column' && p.certain && p.column === 'code',
    ).length;
    figures.push({
      name: `classification of ${k} collections (seconds)`,
      ratio: seconds,
      target: '<= 10 s',
      ok: seconds <= 10,
      correct: proposals.length === k && columns === k,
      detail: `classify ${median(cl).toFixed(0)} ms (median of ${ROUNDS_MANY}; ${per} rows each); ${proposals.length} proposals, ${columns} certain column(code)`,
    });
  } finally {
    await bench.cleanup();
  }
  return figures;
}
