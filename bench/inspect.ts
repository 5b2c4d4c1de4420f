/**
 * `npm run bench -- inspect`: inspection of what is new (0016).
 *  - one: inspection of 1 new birth (made by hand, as an import's, then its row inserted
 *    through the trigger, which leaves it pending) in a 2,000,000-row
 *    collection, partitioned in 4 (synthetic id), whose other births all passed before and
 *    3 failed: the target is absolute, ≤ 0.1 s of server time (timed from a client on the
 *    same machine, one round trip). Printed beside it, measured in the same run: a
 *    primary-key lookup of one row, and what inspection did before 0016 for the same one
 *    birth: every row's code, joined against the births not passed (the failed ones too).
 */
import { quoteIdent } from '../src/db/ident.js';
import { benchRegistry, type Figure, median, scaled, time } from './harness.js';

const ROUNDS = 5;
/** The old method reads the whole table each time: fewer rounds keep the run short. */
const ROUNDS_OLD = 3;
const PARTITIONS = 4;

export async function benchInspect(): Promise<Figure[]> {
  const bench = await benchRegistry('inspect');
  const { registry, app } = bench;
  const ns = registry.ctx.ns;
  const t = `${quoteIdent(app)}.events`;
  const figures: Figure[] = [];
  try {
    const rows = scaled(2_000_000);
    const per = Math.ceil(rows / PARTITIONS);
    await registry.db.exec(
      `CREATE TABLE ${t} (id bigint PRIMARY KEY, kind text NOT NULL, at timestamptz NOT NULL DEFAULT now())
         PARTITION BY RANGE (id);
       ${Array.from(
         { length: PARTITIONS },
         (_, p) =>
           `CREATE TABLE ${quoteIdent(app)}.${quoteIdent(`events_p${p}`)} PARTITION OF ${t}
              FOR VALUES FROM (${p === 0 ? 'MINVALUE' : p * per + 1}) TO (${p === PARTITIONS - 1 ? 'MAXVALUE' : (p + 1) * per + 1})`,
       ).join(';\n')}`,
    );
    await registry.db.query(
      `INSERT INTO ${t} (id, kind) SELECT g, 'k' || (g % 7) FROM generate_series(1, $1::bigint) g`,
      [rows],
    );
    await registry.addSpecies({ code: 'SPE-EVT', prefix: 'EVT', level: 'atom' });
    const { collection_name: name } = await registry.addCollection({
      table: `${app}.events`,
      species: 'SPE-EVT',
    });
    await registry.setIdentity(`${app}.events`, { strategy: 'synthetic_id' });
    await registry.wire([`${app}.events`]);
    // Every row born and inspected before (as a backfill leaves them), and 3 births that
    // failed an earlier inspection (no such row).
    await registry.db.query(
      `INSERT INTO ${ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
         dot_origin, governance_role, operation, inspection_status, inspected_at)
       SELECT $1::text || '::' || id, $1::text, 'SPE-EVT', 'atom', 'bench', 'governed', 'import', 'passed', now()
       FROM ${t}`,
      [name],
    );
    await registry.db.query(
      `INSERT INTO ${ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
         dot_origin, governance_role, operation)
       SELECT $1::text || '::' || (-g), $1::text, 'SPE-EVT', 'atom', 'bench', 'governed', 'import'
       FROM generate_series(1, 3) g`,
      [name],
    );
    await registry.db.exec(`VACUUM ANALYZE ${t}, ${ns}.birth_registry`);
    const inspect = () =>
      registry.db.query<{ checked: number; passed: number; failed: number; known_failures: number }>(
        `SELECT * FROM ${ns}.inspect(ARRAY[$1::text])`,
        [name],
      );
    const setup = (await inspect()).rows[0];

    // What inspect() did before 0016, for the same births: every row's code, matched.
    const { rows: code } = await registry.db.query<{ sql: string }>(
      `SELECT ${ns}.entity_code_sql(r, 't') AS sql FROM ${ns}.collection_registry r WHERE collection_name = $1`,
      [name],
    );
    const old = () =>
      registry.db.query(
        `SELECT count(*), count(e.code) FROM ${ns}.birth_registry b
         LEFT JOIN (SELECT ${code[0]?.sql} AS code FROM ${t} AS t) AS e ON e.code = b.entity_code
         WHERE b.collection_name = $1 AND b.inspection_status <> 'passed'`,
        [name],
      );
    const lookup = (id: number) => registry.db.query(`SELECT * FROM ${t} WHERE id = $1`, [id]);

    const application = await bench.client();
    const fresh: number[] = [];
    const idle: number[] = [];
    const pk: number[] = [];
    const before: number[] = [];
    let right = setup?.checked === 3 && setup.failed === 3;
    await lookup(1);
    // A birth made by hand waits for inspection; a trigger's birth passes as it is written.
    const pending = (id: number) =>
      registry.db.query(
        `INSERT INTO ${ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
           dot_origin, governance_role, operation)
         VALUES ($1::text || '::' || $2, $1::text, 'SPE-EVT', 'atom', 'bench', 'governed', 'import')`,
        [name, id],
      );
    for (let round = 0; round < ROUNDS; round++) {
      // one new birth, pending, and its row as the application inserts it
      await pending(rows + round + 1);
      await application.query(`INSERT INTO ${t} (id, kind) VALUES ($1, 'new')`, [rows + round + 1]);
      if (round < ROUNDS_OLD) before.push(await time(old));
      let r: Awaited<ReturnType<typeof inspect>>['rows'][number] | undefined;
      fresh.push(
        await time(async () => {
          r = (await inspect()).rows[0];
        }),
      );
      right &&= r?.checked === 1 && r.passed === 1 && r.failed === 0 && r.known_failures === 3;
      idle.push(await time(() => inspect()));
      pk.push(await time(() => lookup(1 + ((round * 7919) % rows))));
    }
    // and a new birth whose row is gone: a new failure, found the same way
    await pending(rows + ROUNDS + 1);
    await application.query(`INSERT INTO ${t} (id, kind) VALUES ($1, 'gone')`, [rows + ROUNDS + 1]);
    await application.query(`DELETE FROM ${t} WHERE id = $1`, [rows + ROUNDS + 1]);
    const gone = (await inspect()).rows[0];
    right &&= gone?.checked === 1 && gone.failed === 1 && gone.known_failures === 3;

    const ms = median(fresh);
    figures.push({
      name: `inspection of 1 new birth in a ${rows.toLocaleString('en-US')}-row collection, ${PARTITIONS} partitions (seconds)`,
      ratio: ms / 1000,
      target: '<= 0.1 s',
      ok: ms <= 100,
      correct: right,
      detail: `inspect ${ms.toFixed(1)} ms (median of ${ROUNDS}) = ${(ms / median(pk)).toFixed(1)}x a primary-key lookup of one row (${median(pk).toFixed(2)} ms) and ${(ms / median(before)).toFixed(4)}x the method before 0016 (every row's code: ${median(before).toFixed(0)} ms, median of ${ROUNDS_OLD}); with nothing new ${median(idle).toFixed(1)} ms; 3 known failures not judged again; a new birth whose row is gone failed: ${gone?.failed === 1}`,
    });
  } finally {
    await bench.cleanup();
  }
  return figures;
}
