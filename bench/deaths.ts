/**
 * `npm run bench -- deaths`: the cost of recording deaths (issue 15).
 *  - bulk: DELETE of 200,000 rows from a wired collection vs an identical unwired table
 *    (one entity_death row for the statement, its codes in an array)
 *  - single: 4 clients, one DELETE of one row per statement, wired vs unwired throughput
 *    (each files its code at once, for lookups by code)
 * Every deleted row of the wired table must have its death recorded (WRONG if not). Beside
 * each, its floor (bench/floor.ts): a third twin whose minimal definer trigger writes one row
 * of a copy of entity_death per statement, measured in the same rounds (INFO).
 */
import { quoteIdent } from '../src/db/ident.js';
import { floorFigure, floorTrigger, interleaved, makeFloor } from './floor.js';
import { benchRegistry, type Figure, median, scaled, time } from './harness.js';

const ROUNDS = 5;
const ROUNDS_THROUGHPUT = 7;

const TABLE = (name: string) => `CREATE TABLE ${name} (
  id bigint PRIMARY KEY, code text UNIQUE, name text NOT NULL, created_at timestamptz DEFAULT now())`;

export async function benchDeaths(): Promise<Figure[]> {
  const bench = await benchRegistry('deaths');
  const { registry, app } = bench;
  const a = quoteIdent(app);
  const ns = registry.ctx.ns;
  const figures: Figure[] = [];
  try {
    await registry.db.exec(`${TABLE(`${a}.plain`)}; ${TABLE(`${a}.wired`)}; ${TABLE(`${a}.floor`)};`);
    await makeFloor(registry, app);
    await floorTrigger(registry, app, 'floor', true);
    await registry.addSpecies({ code: 'SPE-BEN', prefix: 'BEN', level: 'atom' });
    await registry.addCollection({ table: `${app}.wired`, species: 'SPE-BEN', codeColumn: 'code' });
    await registry.wire([`${app}.wired`]);
    const application = await bench.client();
    const rows = scaled(200_000);
    /** Both tables filled with the same rows (the wired one's births made too), then vacuumed. */
    const fill = async (n: number) => {
      await registry.db.exec(`TRUNCATE ${a}.plain, ${a}.wired, ${a}.floor, ${a}.floor_deaths`);
      await registry.db.query(`DELETE FROM ${ns}.birth_registry WHERE collection_name = $1`, [
        `${app}.wired`,
      ]);
      await registry.db.exec(`TRUNCATE ${ns}.entity_death, ${ns}.entity_death_code`);
      for (const t of ['plain', 'wired', 'floor'])
        await registry.db.query(
          `INSERT INTO ${a}.${t} (id, code, name) SELECT g, 'BEN-' || g, 'n' || g FROM generate_series(1, $1::int) g`,
          [n],
        );
      await registry.db.exec(
        `VACUUM ANALYZE ${a}.plain, ${a}.wired, ${a}.floor, ${ns}.birth_registry, ${ns}.entity_death, ${a}.floor_deaths`,
      );
    };
    const dead = async () =>
      (
        await registry.db.query<{ n: number }>(
          `SELECT count(DISTINCT entity_code)::int AS n FROM ${ns}.recorded_deaths(ARRAY[$1])`,
          [`${app}.wired`],
        )
      ).rows[0]?.n;

    // -- bulk ---------------------------------------------------------------------------
    const plain: number[] = [];
    const wired: number[] = [];
    const floor: number[] = [];
    let bulkCorrect = true;
    for (let round = 0; round < ROUNDS; round++) {
      await fill(rows);
      const del = (t: string) => () => time(() => application.query(`DELETE FROM ${a}.${t}`));
      await interleaved(round, [
        { run: del('plain'), into: plain },
        { run: del('wired'), into: wired },
        { run: del('floor'), into: floor },
      ]);
      if ((await dead()) !== rows) bulkCorrect = false;
    }
    const bulk = median(wired) / median(plain);
    figures.push({
      name: 'bulk delete (deaths recorded)',
      ratio: bulk,
      target: '<= 2.5',
      ok: bulk <= 2.5,
      correct: bulkCorrect,
      detail: `${rows} rows: wired ${median(wired).toFixed(0)} ms, unwired ${median(plain).toFixed(0)} ms (median of ${ROUNDS}, interleaved); every deleted row's death recorded: ${bulkCorrect}`,
    });
    figures.push(
      floorFigure(
        'bulk delete',
        median(floor) / median(plain),
        '<= 2.5',
        `${median(floor).toFixed(0)} ms`,
        'death',
      ),
    );

    // -- single rows, 4 clients -------------------------------------------------------
    const perClient = scaled(2000);
    let singleCorrect = true;
    const single = async (t: string) => {
      await fill(4 * perClient);
      const cs = await Promise.all(Array.from({ length: 4 }, () => bench.client()));
      const ms = await time(() =>
        Promise.all(
          cs.map(async (c, ci) => {
            for (let i = 0; i < perClient; i++) {
              await c.query(`DELETE FROM ${a}.${quoteIdent(t)} WHERE id = $1`, [ci * perClient + i + 1]);
            }
          }),
        ),
      );
      await Promise.all(cs.map((c) => c.end()));
      if (t === 'wired' && (await dead()) !== 4 * perClient) singleCorrect = false;
      return (4 * perClient) / (ms / 1000);
    };
    const sp: number[] = [];
    const sw: number[] = [];
    const sf: number[] = [];
    for (let round = 0; round < ROUNDS_THROUGHPUT; round++) {
      await interleaved(round, [
        { run: () => single('plain'), into: sp },
        { run: () => single('wired'), into: sw },
        { run: () => single('floor'), into: sf },
      ]);
    }
    const singleRatio = median(sw) / median(sp);
    figures.push({
      name: 'single-row deletes, 4 clients',
      ratio: singleRatio,
      target: '>= 0.8',
      ok: singleRatio >= 0.8,
      correct: singleCorrect,
      detail: `wired ${median(sw).toFixed(0)} rows/s, unwired ${median(sp).toFixed(0)} rows/s (median of ${ROUNDS_THROUGHPUT}); every death recorded: ${singleCorrect}`,
    });
    figures.push(
      floorFigure(
        'single-row deletes, 4 clients',
        median(sf) / median(sp),
        '>= 0.8',
        `${median(sf).toFixed(0)} rows/s`,
        'death',
      ),
    );
  } finally {
    await bench.cleanup();
  }
  return figures;
}
