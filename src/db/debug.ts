/**
 * NATAL_DEBUG=1 (or `--verbose`): every statement natal sends, with its time, on standard
 * error — what an operator needs to see where a slow command spends its time.
 */
import { performance } from 'node:perf_hooks';

export function debugOn(): boolean {
  const v = process.env.NATAL_DEBUG;
  return v !== undefined && v !== '' && v !== '0';
}

/** Runs `run`, and with NATAL_DEBUG on writes how long `sql` took (one line, shortened). */
export async function traced<T>(sql: string, run: () => Promise<T>): Promise<T> {
  if (!debugOn()) return run();
  const t0 = performance.now();
  const line = sql.replace(/\s+/g, ' ').trim();
  const shown = line.length > 160 ? `${line.slice(0, 157)}...` : line;
  try {
    return await run();
  } finally {
    process.stderr.write(`natal debug: ${(performance.now() - t0).toFixed(1).padStart(8)} ms  ${shown}\n`);
  }
}
