/**
 * The JSON API, in the shapes of the CLI's --json (a logged-in session's), and /metrics in
 * Prometheus' text format (the process's own registry: no login).
 */
import type { Context } from 'hono';
import { NatalError } from '../../errors.js';
import type { Registry } from '../../registry.js';
import { type App, type Dash, firstLine, positiveInt, statusOf } from '../dash.js';
import { metricsText } from '../metrics.js';
import type { Session } from '../sessions.js';

/** How long /metrics answers from its last census (a scrape costs a census otherwise). */
const METRICS_TTL_MS = 15_000;

export function apiRoutes(app: App, d: Dash): void {
  const { own, run } = d;
  // -- the JSON API: the shapes of the CLI's --json -------------------------------------
  const api = (fn: (r: Registry, c: Context) => Promise<unknown>) => async (c: Context) => {
    const s = c.get('session') as Session;
    try {
      return c.json(await run(s, (r) => fn(r, c)));
    } catch (err) {
      const code = err instanceof NatalError ? err.code : 'QUERY_FAILED';
      return c.json({ error: { code, message: firstLine(err) } }, statusOf(err));
    }
  };
  const idParam = (c: Context, name: string): number => {
    const id = positiveInt(c.req.param(name));
    if (id === undefined) throw new NatalError('USAGE', `${name} is a number`);
    return id;
  };
  app.get(
    '/api/census',
    api((r) => r.census()),
  );
  app.get(
    '/api/plans',
    api((r) => r.plans({ limit: 100 })),
  );
  app.get(
    '/api/plans/:id',
    api((r, c) => r.report({ plan: idParam(c, 'id') })),
  );
  app.get(
    '/api/ledger',
    api(async (r) => ({ ledger: await r.ledger() })),
  );
  app.get(
    '/api/ledger/verify',
    api((r) => r.verifyLedger()),
  );
  app.get(
    '/api/entities/:code',
    api((r, c) => r.show(c.req.param('code') ?? '')),
  );
  // A run's progress, for the plan page's live bar: rows, rate (births a second) and ETA.
  app.get(
    '/api/runs/:id',
    api(async (r, c) => {
      const id = idParam(c, 'id');
      const [found] = await r.runs({ run: id, limit: 1 });
      if (!found) throw new NatalError('RUN_UNKNOWN', `run ${id} does not exist`);
      const seconds = Math.max(
        0.001,
        ((found.finished_at ? Date.parse(found.finished_at) : Date.now()) - Date.parse(found.started_at)) /
          1000,
      );
      const rate = found.written / seconds;
      const left = Math.max(0, found.expected - found.written);
      return {
        ...found,
        rate: Math.round(rate),
        eta_seconds: found.run_status === 'running' && rate > 0 ? Math.round(left / rate) : null,
      };
    }),
  );

  // One census at a time for every scraper, reused for METRICS_TTL_MS.
  let metrics: { at: number; text: Promise<string> } | undefined;
  const metricsNow = (): Promise<string> => {
    if (metrics && Date.now() - metrics.at < METRICS_TTL_MS) return metrics.text;
    const text = d.onOwn(async () =>
      metricsText(await own.census(), await own.plans({ limit: 100 }), await own.runs({ limit: 100 })),
    );
    metrics = { at: Date.now(), text };
    text.catch(() => {
      metrics = undefined;
    });
    return text;
  };
  app.get('/metrics', async (c) => {
    try {
      const text = await metricsNow();
      return c.body(text, 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    } catch (err) {
      return c.text(`# natal: ${firstLine(err)}\n`, statusOf(err));
    }
  });
}
