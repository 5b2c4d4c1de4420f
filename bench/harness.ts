/**
 * The benchmark harness: a server to measure on, timing helpers, and the report format.
 * Every benchmark prints its figure as a ratio against a baseline measured in the same run.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';

export const BENCH_URL =
  process.env.NATAL_BENCH_DATABASE_URL ||
  process.env.NATAL_TEST_DATABASE_URL ||
  'postgres://postgres@127.0.0.1:5432/test';

/** The size knob: `--scale 0.01` runs a smoke-sized version (CI does). */
export function scale(): number {
  const i = process.argv.indexOf('--scale');
  const v = i >= 0 ? Number(process.argv[i + 1]) : 1;
  if (!(v > 0)) throw new Error('--scale takes a positive number');
  return v;
}

export function scaled(n: number): number {
  return Math.max(10, Math.round(n * scale()));
}

export async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export interface Figure {
  name: string;
  ratio: number;
  target: string;
  /** The ratio meets its target. */
  ok: boolean;
  /** What was measured is right (every row born, no duplicate code, …), whatever the speed. */
  correct: boolean;
  detail: string;
  /** A figure printed to explain another, with no target of its own (INFO). */
  info?: boolean;
}

export function report(f: Figure): void {
  console.log(
    `${!f.correct ? 'WRONG' : f.info ? 'INFO' : f.ok ? 'PASS' : 'MISS'}  ${f.name}: ${f.ratio.toFixed(2)}x (target ${f.target}) — ${f.detail}`,
  );
}

/** Drops natal's roles for `schema` (init made them) and `appRole`, the bench's own role. */
export async function dropRoles(registry: Registry, schema: string, appRole: string): Promise<void> {
  for (const role of [
    appRole,
    ...['writer', 'reader', 'reviewer', 'operator', 'admin', 'definer'].map((s) => `${schema}_${s}`),
  ]) {
    const { rows } = await registry.db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    if (rows.length)
      await registry.db.exec(`DROP OWNED BY ${quoteIdent(role)} CASCADE; DROP ROLE ${quoteIdent(role)}`);
  }
}

/**
 * A fresh natal schema and application schema on the server, dropped by `cleanup`. The
 * registry acts as the DBA; `client()` connects as the application: a login role with only
 * natal_writer and its own rights on the application's tables (the same on a plain table
 * and a wired one), as an application runs in production.
 */
export async function benchRegistry(tag: string): Promise<{
  registry: Registry;
  app: string;
  /** The application's login role. */
  appRole: string;
  client: () => Promise<pg.Client>;
  cleanup: () => Promise<void>;
}> {
  const schema = `natal_bench_${tag}`;
  const app = `bench_${tag}`;
  const appRole = `${schema}_app`;
  const registry = await Registry.open({ db: BENCH_URL, schema });
  await registry.db.exec(
    `DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE; DROP SCHEMA IF EXISTS ${quoteIdent(app)} CASCADE`,
  );
  await dropRoles(registry, schema, appRole);
  await registry.db.exec(`CREATE SCHEMA ${quoteIdent(app)}; CREATE ROLE ${quoteIdent(appRole)} LOGIN;
    GRANT USAGE ON SCHEMA ${quoteIdent(app)} TO ${quoteIdent(appRole)};
    ALTER DEFAULT PRIVILEGES IN SCHEMA ${quoteIdent(app)} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${quoteIdent(appRole)};
    ALTER DEFAULT PRIVILEGES IN SCHEMA ${quoteIdent(app)} GRANT USAGE, SELECT ON SEQUENCES TO ${quoteIdent(appRole)}`);
  await registry.init();
  await registry.grantAccess(appRole, ['writer']);
  const clients: pg.Client[] = [];
  const url = new URL(BENCH_URL);
  url.username = appRole;
  url.password = '';
  return {
    registry,
    app,
    appRole,
    async client() {
      const c = new pg.Client({ connectionString: url.toString() });
      await c.connect();
      // --async-commit: commits do not wait for the WAL flush, so a figure shows the CPU natal
      // adds rather than the disk (with fsync on, a single-row commit is mostly its flush).
      if (process.argv.includes('--async-commit')) await c.query('SET synchronous_commit = off');
      clients.push(c);
      return c;
    },
    async cleanup() {
      for (const c of clients) await c.end().catch(() => undefined);
      await registry.db.exec(
        `DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE; DROP SCHEMA IF EXISTS ${quoteIdent(app)} CASCADE`,
      );
      await dropRoles(registry, schema, appRole);
      await registry.close();
    },
  };
}
