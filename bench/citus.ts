/**
 * `npm run bench -- citus` (issue 19, on demand; the cluster of `../shared/citus/cluster up`,
 * NATAL_BENCH_CITUS_URL, default postgres://postgres@127.0.0.1:5441/test): one collection of
 * 10,000,000 rows that predate the registry, on the cluster a distributed table, on the
 * single server (the benchmarks' server) a plain table; on each the gated backfill (plan,
 * rehearsal, review, permit, `natal apply` as a process) and a census counted in full.
 *  - the apply's births a second on the cluster ÷ on the single server (no target: on one
 *    2-core machine three nodes share the cores, and the cluster is not faster);
 *  - the census of the distributed collection ÷ its count(*) on the cluster, with the tasks
 *    Citus ran for a read of the table (EXPLAIN: the work is done on the workers).
 * Figures are INFO lines (the issue asks for the numbers, with no target); WRONG when a row
 * was not born or the census is not complete.
 */
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { runNatal } from './backfill.js';
import { BENCH_URL, dropRoles, type Figure, median, scaled, time } from './harness.js';

export const CITUS_URL = process.env.NATAL_BENCH_CITUS_URL || 'postgres://postgres@127.0.0.1:5441/test';
const SCHEMA = 'natal_bench_cit';
const APP = 'bench_cit';
const OWNER = 'natal_bench_citus_owner';
const REVIEWER = 'natal_bench_citus_reviewer';

/** One statement as postgres, sent on to the workers by Citus where it is Citus DDL. */
async function onNode(url: string, sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

async function dropAll(url: string, registry: Registry): Promise<void> {
  await onNode(url, `DROP SCHEMA IF EXISTS ${quoteIdent(APP)} CASCADE`);
  await registry.db.exec(`DROP SCHEMA IF EXISTS ${quoteIdent(SCHEMA)} CASCADE`);
  await dropRoles(registry, SCHEMA, REVIEWER);
  // (the owner is a role of every node on the cluster: dropped with Citus's propagation)
  const { rows } = await registry.db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [OWNER]);
  if (rows.length)
    await onNode(url, `DROP OWNED BY ${quoteIdent(OWNER)} CASCADE; DROP ROLE ${quoteIdent(OWNER)}`);
}

interface Measured {
  applyMs: number;
  censusMs: number;
  countMs: number;
  tasks: number | null;
  correct: boolean;
}

/** The gated backfill and a census of one collection of `rows` rows at `url`. */
async function measure(url: string, rows: number, distributed: boolean): Promise<Measured> {
  const registry = await Registry.open({ db: url, schema: SCHEMA });
  const t = `${quoteIdent(APP)}.rows`;
  try {
    await dropAll(url, registry);
    await onNode(
      url,
      `CREATE ROLE ${quoteIdent(OWNER)} LOGIN; CREATE SCHEMA ${quoteIdent(APP)} AUTHORIZATION ${quoteIdent(OWNER)}`,
    );
    const owner = new URL(url);
    owner.username = OWNER;
    await onNode(
      owner.toString(),
      `CREATE TABLE ${t} (id bigint PRIMARY KEY, name text);
       ${distributed ? `SELECT create_distributed_table('${APP}.rows', 'id');` : ''}
       INSERT INTO ${t} SELECT g, 'n' || g FROM generate_series(1, ${rows}) g`,
    );
    await onNode(owner.toString(), `VACUUM ANALYZE ${t}`);
    await registry.init();
    await registry.db.exec(`CREATE ROLE ${quoteIdent(REVIEWER)} NOLOGIN`);
    await registry.addSpecies({ code: 'SPE-CIT', prefix: 'CIT', level: 'atom' });
    const { collection_name: name } = await registry.addCollection({
      table: `${APP}.rows`,
      species: 'SPE-CIT',
      owner: OWNER,
    });
    await registry.wire([name]);
    await registry.grantAccess(REVIEWER, ['reviewer']);
    await registry.grantAccess(OWNER, ['reader']);
    const { plan_id: planId } = await registry.plan([name]);
    await registry.rehearse(planId);
    for (const [who, kind] of [
      [REVIEWER, 'review'],
      [OWNER, 'permit'],
    ] as const) {
      const r = await Registry.open({ db: url, schema: SCHEMA, as: who });
      await r.approve(planId, kind);
      await r.close();
    }
    const applied = await runNatal(['apply', String(planId), '--json', '--db', url, '--schema', SCHEMA]);
    const result = JSON.parse(applied.stdout) as { born: number; gap_after: number; seconds: number };
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) counts.push(await time(() => registry.db.query(`SELECT count(*) FROM ${t}`)));
    let complete = false;
    const censusRuns: number[] = [];
    for (let i = 0; i < 3; i++) {
      censusRuns.push(
        await time(async () => {
          const c = await registry.census([name], { recount: true });
          complete = c.collections[0]?.state === 'COMPLETE' && c.collections[0]?.births === rows;
        }),
      );
    }
    let tasks: number | null = null;
    if (distributed) {
      const { rows: plan } = await registry.db.query<{ p: string }>(`EXPLAIN SELECT count(*) FROM ${t}`);
      const m = /Task Count: (\d+)/.exec(plan.map((r) => Object.values(r)[0]).join('\n'));
      tasks = m ? Number(m[1]) : null;
    }
    return {
      applyMs: result.seconds * 1000,
      censusMs: median(censusRuns),
      countMs: median(counts),
      tasks,
      correct: applied.code === 0 && result.born === rows && result.gap_after === 0 && complete,
    };
  } finally {
    await dropAll(url, registry).catch(() => undefined);
    await registry.close();
  }
}

export async function benchCitus(): Promise<Figure[]> {
  const rows = scaled(10_000_000);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const rate = (m: Measured) => rows / (m.applyMs / 1000);
  const single = await measure(BENCH_URL, rows, false);
  const cluster = await measure(CITUS_URL, rows, true);
  const n = rows.toLocaleString('en-US');
  return [
    {
      name: `apply of ${n} births on the Citus cluster (a distributed table) ÷ on the single server (a plain table), births a second`,
      ratio: rate(cluster) / rate(single),
      target: 'none: the numbers',
      ok: true,
      info: true,
      correct: single.correct && cluster.correct,
      detail: `cluster ${Math.round(rate(cluster)).toLocaleString('en-US')}/s (${s(cluster.applyMs)}), single server ${Math.round(rate(single)).toLocaleString('en-US')}/s (${s(single.applyMs)}); every row born and both censuses complete: ${single.correct && cluster.correct}`,
    },
    {
      name: `census counted in full of the ${n}-row distributed collection ÷ its count(*) on the cluster`,
      ratio: cluster.censusMs / cluster.countMs,
      target: 'none: the numbers',
      ok: true,
      info: true,
      correct: cluster.correct,
      detail: `census ${s(cluster.censusMs)} vs count(*) ${s(cluster.countMs)} (Citus: ${cluster.tasks ?? '?'} tasks on the workers for a read of the table); on the single server ${s(single.censusMs)} vs ${s(single.countMs)}`,
    },
  ];
}
