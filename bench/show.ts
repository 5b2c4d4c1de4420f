/**
 * `npm run bench -- show`: natal.show(code) on a registry of 10,000,000 births (issue 15).
 * The births are made with one INSERT … SELECT into birth_registry as the DBA, from a table
 * with as many rows (synthetic_id identity), so every code leads to a row. Each round calls
 * natal.show for a random code, as a role with only natal's reader role, from a client on the
 * same machine (the server's time plus one round trip), interleaved with the baseline: a
 * primary-key lookup of one birth_registry row by the same client. The target is absolute:
 * a median under 5 ms. Printed beside it: how long the setup took, and the closest codes of
 * an unknown one (natal show's suggestions).
 */
import { performance } from 'node:perf_hooks';
import { quoteIdent } from '../src/db/ident.js';
import { benchRegistry, type Figure, median, scaled, time } from './harness.js';

const CALLS = 2000;
const NEARBY = 200;

export async function benchShow(): Promise<Figure[]> {
  const bench = await benchRegistry('show');
  const { registry, app, appRole } = bench;
  const ns = registry.ctx.ns;
  const t = `${quoteIdent(app)}.things`;
  const figures: Figure[] = [];
  try {
    const births = scaled(10_000_000);
    const t0 = performance.now();
    await registry.db.exec(`CREATE TABLE ${t} (id bigint PRIMARY KEY, kind text NOT NULL, note text)`);
    await registry.addSpecies({ code: 'SPE-THG', prefix: 'THG', level: 'atom' });
    const { collection_name: name } = await registry.addCollection({
      table: `${app}.things`,
      species: 'SPE-THG',
    });
    await registry.setIdentity(`${app}.things`, { strategy: 'synthetic_id' });
    await registry.db.query(
      `INSERT INTO ${t} (id, kind, note) SELECT g, 'k' || (g % 7), 'thing number ' || g FROM generate_series(1, $1::bigint) g`,
      [births],
    );
    const tRows = performance.now();
    await registry.db.query(
      `INSERT INTO ${ns}.birth_registry (entity_code, collection_name, species_code, composition_level,
         dot_origin, governance_role, operation, inspection_status, inspected_at)
       SELECT $1::text || '::' || id, $1::text, 'SPE-THG', 'atom', 'bench', 'governed', 'import', 'passed', now()
       FROM ${t}`,
      [name],
    );
    const tBirths = performance.now();
    await registry.db.exec(`VACUUM ANALYZE ${t}, ${ns}.birth_registry`);
    const tReady = performance.now();
    await registry.grantAccess(appRole, ['reader']);
    await registry.db.exec(`GRANT SELECT ON ${t} TO ${quoteIdent(appRole)}`);

    const reader = await bench.client();
    // a fixed sequence of random ids (the same in every run)
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return 1 + (seed % births);
    };
    const show = (code: string) =>
      reader.query<{ e: { entity_code: string; status: string; row: { id: number } | null } }>(
        `SELECT ${ns}.show($1) AS e`,
        [code],
      );
    const pk = (code: string) =>
      reader.query(`SELECT * FROM ${ns}.birth_registry WHERE entity_code = $1`, [code]);
    const total = (await reader.query<{ n: string }>(`SELECT count(*) AS n FROM ${ns}.birth_registry`))
      .rows[0]?.n;
    await show(`${name}::1`);
    await pk(`${name}::1`);
    const shown: number[] = [];
    const looked: number[] = [];
    let right = Number(total) >= births;
    for (let i = 0; i < CALLS; i++) {
      const id = random();
      const code = `${name}::${id}`;
      let e: Awaited<ReturnType<typeof show>>['rows'][number]['e'] | undefined;
      shown.push(
        await time(async () => {
          e = (await show(code)).rows[0]?.e;
        }),
      );
      right &&= e?.entity_code === code && e.status === 'alive' && Number(e.row?.id) === id;
      looked.push(await time(() => pk(`${name}::${random()}`)));
    }
    // the closest codes of an unknown one: a number past the last
    const nearby: number[] = [];
    for (let i = 0; i < NEARBY; i++) {
      const code = `${name}::${births + 1 + (i % 5)}`;
      let found: string[] = [];
      nearby.push(
        await time(async () => {
          found = (
            await reader.query<{ c: string }>(`SELECT c FROM ${ns}.show_nearby($1, 5) AS c`, [code])
          ).rows.map((r) => r.c);
        }),
      );
      right &&= found.includes(`${name}::${births}`);
    }
    const ms = median(shown);
    const base = median(looked);
    const s = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
    figures.push({
      name: `natal.show(code) on a registry of ${births.toLocaleString('en-US')} births, as a natal reader, ÷ a primary-key lookup of one birth`,
      ratio: ms / base,
      target: '< 5 ms absolute',
      ok: ms < 5,
      correct: right,
      detail: `show ${ms.toFixed(2)} ms (median of ${CALLS}, p95 ${p95(shown).toFixed(2)} ms); a primary-key lookup of one birth_registry row (${base.toFixed(2)} ms, same client, interleaved); closest codes of an unknown one ${median(nearby).toFixed(2)} ms (median of ${NEARBY}); setup: ${s(t0, tRows)} s for the table's rows, ${s(tRows, tBirths)} s for the births (one INSERT … SELECT), ${s(tBirths, tReady)} s for VACUUM ANALYZE`,
    });
  } finally {
    await bench.cleanup();
  }
  return figures;
}

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] as number;
}
