/**
 * `npm run test:citus`: natal on a Citus coordinator (issue 19). Runs test/citus.test.ts and
 * the server half of the suites that make natal's whole flow — roles and the gate, the
 * gateway, the backfill, lookups, deaths, the census — against the coordinator of the
 * cluster at NATAL_TEST_CITUS_URL (default: the one `../shared/citus/cluster up` starts,
 * postgres://postgres@127.0.0.1:5441/test). Their tables are the coordinator's local tables,
 * which natal governs as on any server: the suites' own statements (making application
 * tables and roles) do not propagate to the workers either. Fails when no cluster answers.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const url = process.env.NATAL_TEST_CITUS_URL || 'postgres://postgres@127.0.0.1:5441/test';
const SUITES = ['citus', 'trust', 'gateway', 'backfill-server', 'show', 'deaths', 'census-sums'];

async function workers(): Promise<number> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_dist_node WHERE groupid > 0 AND isactive`,
    );
    return rows[0]?.n ?? 0;
  } catch {
    return 0;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const n = await workers();
if (n === 0) {
  console.error(
    `natal tests: no Citus cluster with workers answers at ${url}; start one with ../shared/citus/cluster up (or set NATAL_TEST_CITUS_URL)`,
  );
  process.exit(1);
}
console.log(`natal tests on Citus: the coordinator at ${url}, ${n} workers`);
const local = new URL(url);
local.searchParams.set('options', '-c citus.enable_ddl_propagation=off');
const child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'run.js'), ...SUITES], {
  stdio: 'inherit',
  env: {
    ...process.env,
    NATAL_TEST_CITUS_URL: url,
    NATAL_TEST_DATABASE_URL: local.toString(),
    NATAL_TEST_REQUIRE_SERVER: '1',
    NATAL_TEST_SERVER_ONLY: '1',
  },
});
child.on('exit', (code) => process.exit(code ?? 1));
