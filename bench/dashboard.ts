/**
 * `npm run bench -- dashboard`: natal serve's overview page on a registry of 100 collections
 * and 1,000,000 births (issue 18), each a wired table of 10,000 rows born by its trigger,
 * ten of them with 100 orphans. A login with only natal's reader role asks for the page
 * (server time to the last byte, the page's own queries included) over HTTP on this machine;
 * interleaved with the baseline: the same role's census with births per day through the
 * library, the query the page is made of. The target is absolute: a median of at most 1 s.
 */
import { performance } from 'node:perf_hooks';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { serveDashboard } from '../src/serve/server.js';
import { WebClient } from '../test/helpers/web.js';
import { BENCH_URL, benchRegistry, type Figure, median, scaled, time } from './harness.js';

const COLLECTIONS = 100;
const ROUNDS = 7;

export async function benchDashboard(): Promise<Figure[]> {
  const bench = await benchRegistry('dash');
  const { registry, app, appRole } = bench;
  const a = quoteIdent(app);
  const rows = scaled(10_000);
  const figures: Figure[] = [];
  try {
    const t0 = performance.now();
    await registry.addSpecies({ code: 'SPE-DSH', prefix: 'DSH', level: 'atom' });
    const tables: string[] = [];
    for (let i = 0; i < COLLECTIONS; i++) {
      const t = `t${String(i).padStart(3, '0')}`;
      tables.push(`${app}.${t}`);
      await registry.db.exec(`CREATE TABLE ${a}.${t} (id bigint PRIMARY KEY, v text)`);
      await registry.addCollection({ table: `${app}.${t}`, species: 'SPE-DSH' });
    }
    await registry.wire(tables);
    for (const [i, t] of tables.entries()) {
      const q = `${a}.${quoteIdent(t.slice(app.length + 1))}`;
      await registry.db.exec(`INSERT INTO ${q} SELECT g, 'v' FROM generate_series(1, ${rows}) g`);
      if (i % 10 === 0) {
        // 100 orphans: rows inserted while the trigger was off
        await registry.db.exec(`ALTER TABLE ${q} DISABLE TRIGGER natal_birth_auto;
          INSERT INTO ${q} SELECT g, 'o' FROM generate_series(${rows + 1}, ${rows + 100}) g;
          ALTER TABLE ${q} ENABLE TRIGGER natal_birth_auto`);
      }
    }
    await registry.db.exec(`VACUUM ANALYZE`);
    const setup = (performance.now() - t0) / 1000;
    await registry.grantAccess(appRole, ['reader']);

    const served = await serveDashboard({ db: BENCH_URL, schema: registry.schema, port: 0 });
    const url = new URL(BENCH_URL);
    url.username = appRole;
    url.password = '';
    const reader = await Registry.open({ db: url.toString(), schema: registry.schema });
    try {
      const web = new WebClient(served.url);
      const login = await web.login(appRole, 'trusted'); // (the bench server trusts 127.0.0.1: any password)
      if (login.status !== 302) throw new Error(`login failed: ${login.body.slice(0, 200)}`);
      let right = true;
      const getPage = async () => {
        const r = await web.get('/');
        if (
          r.status !== 200 ||
          !r.body.includes(`<td>Gap (orphans)</td><td class="n">${(10 * 100).toLocaleString('en-US')}</td>`)
        )
          right = false;
      };
      const queries = () => reader.census([], { birthsPerDay: { days: 30, top: 6 } });
      const { rows: n } = await registry.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${registry.ctx.ns}.birth_registry`,
      );
      const births = (n[0]?.n ?? 0).toLocaleString('en-US');
      // The default (every census counts in full), then with the kept census on (natal
      // census --keeping on: a census counts forward from the last one).
      for (const kept of [false, true]) {
        if (kept) await registry.setCensusKeeping(true);
        await getPage(); // warm (kept: the census that is kept)
        await queries();
        const page: number[] = [];
        const base: number[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          if (i % 2 === 0) {
            page.push(await time(getPage));
            base.push(await time(queries));
          } else {
            base.push(await time(queries));
            page.push(await time(getPage));
          }
        }
        const ms = median(page);
        const b = median(base);
        figures.push({
          name: `the overview page of ${COLLECTIONS} collections and ${births} births, as a natal reader${kept ? ', the kept census on' : ''}, ÷ its queries through the library`,
          ratio: ms / b,
          target: '≤ 1 s absolute',
          ok: ms <= 1000,
          correct: right,
          detail: `page ${ms.toFixed(0)} ms (median of ${ROUNDS}, to the last byte), census with births per day ${b.toFixed(0)} ms (same role, interleaved); the page showed the gap of 1,000: ${right}; setup ${setup.toFixed(1)} s`,
        });
      }
    } finally {
      await reader.close();
      await served.close();
    }
  } finally {
    await bench.cleanup();
  }
  return figures;
}
