/**
 * `natal serve`: the registry on a web page. Pages are rendered on the server (their numbers
 * are in the HTML); a little client code sorts tables, draws the charts and follows a
 * running apply. Every read and every approval goes through the same library calls, and so
 * the same SQL gate, as the CLI, as the logged-in database role.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { errorMessage, NatalError } from '../errors.js';
import { WEB_DIR } from '../paths.js';
import { Registry } from '../registry.js';
import { type App, type Dash, makePage } from './dash.js';
import { guard } from './guards.js';
import { apiRoutes } from './routes/api.js';
import { authRoutes } from './routes/auth.js';
import { pageRoutes } from './routes/pages.js';
import { planRoutes } from './routes/plans.js';
import { Sessions } from './sessions.js';

export interface ServeOptions {
  /** A PostgreSQL URL: people log in as database roles. Else the embedded data directory. */
  db?: string | undefined;
  dataDir?: string | undefined;
  schema?: string | undefined;
  /** Embedded: who the one user is. */
  as?: string | undefined;
  port?: number | undefined;
  host?: string | undefined;
  /** Idle minutes after which a session ends (default 30). */
  sessionMinutes?: number | undefined;
  wait?: number | undefined;
  onWait?: ((why: string) => void) | undefined;
}

export interface Served {
  url: string;
  /** Where the registry is: `natal at postgres://…` or the data directory. */
  where: string;
  embedded: boolean;
  close(): Promise<void>;
}

/** The static files: natal's own (web/) and Chart.js's built bundle. */
async function staticFiles(): Promise<Map<string, { body: string; type: string }>> {
  const chart = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');
  return new Map([
    ['natal.js', { body: await readFile(join(WEB_DIR, 'natal.js'), 'utf8'), type: 'text/javascript' }],
    ['natal.css', { body: await readFile(join(WEB_DIR, 'natal.css'), 'utf8'), type: 'text/css' }],
    ['chart.umd.min.js', { body: await readFile(chart, 'utf8'), type: 'text/javascript' }],
  ]);
}

export async function serveDashboard(o: ServeOptions): Promise<Served> {
  const embedded = !o.db;
  const files = await staticFiles();
  const ttl = (o.sessionMinutes ?? 30) * 60_000;
  // The process's own registry: embedded, the one user's; on a server, the URL's role,
  // which answers /metrics (give it natal's reader role) and checks natal is there.
  const own = await Registry.open({
    db: o.db,
    dataDir: o.dataDir,
    schema: o.schema,
    as: embedded ? o.as : undefined,
    wait: o.wait,
    onWait: o.onWait,
  });
  try {
    await own.assertReady();
  } catch (err) {
    await own.close();
    throw err;
  }
  const oneUser = embedded ? await own.actor() : '';
  const where = `${own.schema} at ${own.db.location}`;
  const sessions = new Sessions(ttl, !embedded);
  // Embedded: PGlite is one connection; every request takes its turn on one lane.
  let lane: Promise<unknown> = Promise.resolve();
  const onLane = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = lane.then(fn);
    lane = next.catch(() => undefined);
    return next;
  };
  const d: Dash = {
    embedded,
    where,
    own,
    dbUrl: o.db,
    sessions,
    oneUser,
    run: (s, fn) => (embedded ? onLane(() => fn(s.registry)) : sessions.run(s, fn)),
    onOwn: (fn) => (embedded ? onLane(fn) : fn()),
    ...makePage(embedded, where),
  };

  const app: App = new Hono();
  guard(app, o.host ?? '127.0.0.1');
  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.get('/static/:file', (c) => {
    const f = files.get(c.req.param('file'));
    if (!f) return c.text('not found', 404);
    return c.body(f.body, 200, {
      'content-type': `${f.type}; charset=utf-8`,
      'cache-control': 'max-age=3600',
    });
  });
  authRoutes(app, d);
  pageRoutes(app, d);
  planRoutes(app, d);
  apiRoutes(app, d);
  app.notFound((c) => c.text('not found', 404));

  let server: ServerType;
  try {
    server = await new Promise((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: o.port ?? 8787, hostname: o.host ?? '127.0.0.1' }, () =>
        resolve(s),
      );
      s.once('error', reject);
    });
  } catch (err) {
    await sessions.closeAll();
    await own.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw new NatalError(
      'USAGE',
      code === 'EADDRINUSE'
        ? `port ${o.port ?? 8787} on ${o.host ?? '127.0.0.1'} is in use; give another with --port (0: any free one)`
        : `cannot listen on ${o.host ?? '127.0.0.1'}:${o.port ?? 8787}: ${errorMessage(err)}`,
    );
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (o.port ?? 8787);
  const host = o.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    where,
    embedded,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await sessions.closeAll();
      // (an apply still running ends with the database: its run is resumable, natal apply --resume)
      await lane;
      await own.close();
    },
  };
}
