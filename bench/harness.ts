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
}

export function report(f: Figure): void {
  console.log(
    `${!f.correct ? 'WRONG' : f.ok ? 'PASS' : 'MISS'}  ${f.name}: ${f.ratio.toFixed(2)}x (target ${f.target}) — ${f.detail}`,
  );
}

/** A fresh natal schema and application schema on the server, dropped by `cleanup`. */
export async function benchRegistry(tag: string): Promise<{
  registry: Registry;
  app: string;
  client: () => Promise<pg.Client>;
  cleanup: () => Promise<void>;
}> {
  const schema = `natal_bench_${tag}`;
  const app = `bench_${tag}`;
  const registry = await Registry.open({ db: BENCH_URL, schema });
  await registry.db.exec(
    `DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE; DROP SCHEMA IF EXISTS ${quoteIdent(app)} CASCADE;
     CREATE SCHEMA ${quoteIdent(app)}`,
  );
  await registry.init();
  const clients: pg.Client[] = [];
  return {
    registry,
    app,
    async client() {
      const c = new pg.Client({ connectionString: BENCH_URL });
      await c.connect();
      clients.push(c);
      return c;
    },
    async cleanup() {
      for (const c of clients) await c.end().catch(() => undefined);
      await registry.db.exec(
        `DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE; DROP SCHEMA IF EXISTS ${quoteIdent(app)} CASCADE`,
      );
      await registry.close();
    },
  };
}
