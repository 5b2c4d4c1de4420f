/**
 * `npm run bench -- NAME [--scale S] [--smoke] [--keeping]`: runs one benchmark (or `all`) and prints its
 * ratios. Exit 1 when a target is missed, except with --smoke (CI's small run, which checks
 * that the benchmark works, not what a tiny size measures).
 */
import { benchBackfill } from './backfill.js';
import { benchCensus } from './census.js';
import { benchCitus, CITUS_URL } from './citus.js';
import { benchDashboard } from './dashboard.js';
import { benchDeaths } from './deaths.js';
import { type Figure, report } from './harness.js';
import { benchInspect } from './inspect.js';
import { benchScale } from './scale.js';
import { benchShow } from './show.js';
import { benchTriggers } from './triggers.js';
import pg from 'pg';

const BENCHMARKS: Record<string, () => Promise<Figure[]>> = {
  triggers: benchTriggers,
  census: benchCensus,
  backfill: benchBackfill,
  inspect: benchInspect,
  show: benchShow,
  deaths: benchDeaths,
  dashboard: benchDashboard,
  scale: benchScale,
  citus: benchCitus,
};

/** Whether a Citus cluster answers at CITUS_URL (`all` runs the citus benchmark only then). */
async function clusterAnswers(): Promise<boolean> {
  const c = new pg.Client({ connectionString: CITUS_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    const { rows } = await c.query(
      `SELECT count(*)::int AS n FROM pg_dist_node WHERE groupid > 0 AND isactive`,
    );
    return (rows[0]?.n ?? 0) > 0;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

const name = process.argv[2];
if (!name || (name !== 'all' && !BENCHMARKS[name])) {
  console.error(`usage: npm run bench -- <${Object.keys(BENCHMARKS).join('|')}|all> [--scale S]`);
  process.exit(2);
}
let missed = 0;
let wrong = 0;
for (const [key, bench] of Object.entries(BENCHMARKS)) {
  if (name !== 'all' && key !== name) continue;
  if (key === 'citus' && name === 'all' && !(await clusterAnswers())) {
    console.log(`== citus: not run (no Citus cluster answers at ${CITUS_URL}: ../shared/citus/cluster up)`);
    continue;
  }
  console.log(`== ${key}`);
  for (const figure of await bench()) {
    report(figure);
    if (!figure.ok) missed++;
    if (!figure.correct) wrong++;
  }
}
process.exitCode = wrong > 0 || (missed > 0 && !process.argv.includes('--smoke')) ? 1 : 0;
