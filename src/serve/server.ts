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
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { secureHeaders } from 'hono/secure-headers';
import { html } from 'hono/html';
import { errorMessage, NatalError } from '../errors.js';
import { WEB_DIR } from '../paths.js';
import { Registry } from '../registry.js';
import { parseKey } from '../show/show.js';
import { type Html, layout, type Viewer } from './layout.js';
import { metricsText } from './metrics.js';
import { collectionPage, collectionsPage } from './pages/collections.js';
import { entityPage, searchHelp } from './pages/entity.js';
import { ledgerPage } from './pages/ledger.js';
import { loginPage } from './pages/login.js';
import { overviewPage } from './pages/overview.js';
import { planPage, plansPage } from './pages/plans.js';
import { sameToken, type Session, Sessions, token } from './sessions.js';

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

const SESSION_COOKIE = 'natal_session';
const LOGIN_COOKIE = 'natal_login';
const COOKIE = { httpOnly: true, sameSite: 'Strict', path: '/' } as const;
/** The names a browser on this machine reaches a loopback address by. */
const LOOPBACK = ['127.0.0.1', 'localhost', '::1', '[::1]'];
/** How long /metrics answers from its last census (a scrape costs a census otherwise). */
const METRICS_TTL_MS = 15_000;
/** A database role's name: what PostgreSQL takes (63 bytes), no control characters. */
function badRoleName(login: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(login)) return 'a role name has no control characters';
  if (Buffer.byteLength(login) > 63) return 'a role name has at most 63 bytes';
  return undefined;
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

/** An HTTP status for a refusal of the library's. */
function statusOf(err: unknown): 400 | 403 | 404 | 409 | 500 | 503 {
  const code = err instanceof NatalError ? err.code : undefined;
  if (code === undefined) return 500;
  if (code === 'NOT_PERMITTED' || code === 'ACTOR_REFUSED') return 403;
  if (/UNKNOWN$/.test(code)) return 404;
  if (code === 'USAGE' || code === 'INVALID_ARGUMENT' || code === 'INVALID_IDENTIFIER') return 400;
  if (code === 'CONNECTION_LOST' || code === 'DATABASE_CLOSED' || code === 'CONNECT_FAILED') return 503;
  return 409;
}

function firstLine(err: unknown): string {
  return (errorMessage(err).split('\n')[0] ?? '').trim() || 'unknown error';
}

function positiveInt(s: string | undefined): number | undefined {
  return s !== undefined && /^\d{1,15}$/.test(s) ? Number(s) : undefined;
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

  const app = new Hono<{ Variables: { session: Session } }>();
  /** Embedded: the applies this process is running, by plan, and how the last one of a plan failed. */
  const applying = new Map<number, Promise<void>>();
  const lastApplyError = new Map<number, string>();

  // Requests that name another host are refused while natal listens on a loopback address (a
  // web page elsewhere must not reach it through a DNS name it points at 127.0.0.1); a form
  // posted from another origin is refused everywhere.
  const loopbackOnly = LOOPBACK.includes(o.host ?? '127.0.0.1');
  app.use('*', async (c, next) => {
    const host = c.req.header('host') ?? '';
    if (loopbackOnly && !LOOPBACK.includes(host.replace(/:\d+$/, ''))) {
      return c.text(`natal serve answers to localhost only, not to ${host || 'no host'}\n`, 403);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const origin = c.req.header('origin');
      if ((origin && origin !== `http://${host}`) || c.req.header('sec-fetch-site') === 'cross-site') {
        return c.text('a form posted from another site is refused\n', 403);
      }
    }
    return next();
  });
  app.use('*', bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.text('the request is too large\n', 413) }));
  app.use(
    '*',
    secureHeaders({
      // (same-origin, not no-referrer: with no referrer the browser posts the page's forms
      // with `Origin: null`, which the check above refuses)
      referrerPolicy: 'same-origin',
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    }),
  );
  app.use('*', async (c, next) => {
    await next();
    if (!c.req.path.startsWith('/static/')) c.header('cache-control', 'no-store');
  });

  const viewerOf = (s: Session): Viewer => ({ login: s.login, csrf: s.csrf, embedded, where });
  const run = <T>(s: Session, fn: (r: Registry) => Promise<T>): Promise<T> =>
    embedded ? onLane(() => fn(s.registry)) : sessions.run(s, fn);
  const page = (c: Context, s: Session | null, title: string, active: string, body: Html, status = 200) =>
    c.html(layout(title, s ? viewerOf(s) : null, active, body), status as 200);
  const failure = (c: Context, s: Session, title: string, active: string, err: unknown) =>
    page(c, s, title, active, html`<p class="flash bad" role="alert">${firstLine(err)}</p>`, statusOf(err));

  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.get('/static/:file', (c) => {
    const f = files.get(c.req.param('file'));
    if (!f) return c.text('not found', 404);
    return c.body(f.body, 200, {
      'content-type': `${f.type}; charset=utf-8`,
      'cache-control': 'max-age=3600',
    });
  });

  // -- who you are ----------------------------------------------------------------------
  app.get('/login', (c) => {
    if (embedded) return c.redirect('/');
    // (the same token while it lasts: another tab, or the browser's own requests, must not
    // make an open login form stale)
    const t = getCookie(c, LOGIN_COOKIE) ?? token();
    setCookie(c, LOGIN_COOKIE, t, { ...COOKIE, maxAge: 600 });
    const why = c.req.query('expired') ? 'Your session expired: log in again.' : null;
    return page(c, null, 'Log in', '', loginPage(t, why, where));
  });

  app.post('/login', async (c) => {
    if (embedded) return c.redirect('/');
    const body = await c.req.parseBody();
    const login = String(body.role ?? '').trim();
    const password = String(body.password ?? '');
    const t = token();
    setCookie(c, LOGIN_COOKIE, t, { ...COOKIE, maxAge: 600 });
    if (!sameToken(String(body._csrf ?? ''), getCookie(c, LOGIN_COOKIE))) {
      return page(c, null, 'Log in', '', loginPage(t, 'The login form was stale: try again.', where), 403);
    }
    const refused = !login
      ? 'Give a database role.'
      : (badRoleName(login) ??
        // (an empty password would let the server's own stored one answer: PGPASSWORD, .pgpass)
        (password === '' ? "Give the role's password." : undefined));
    if (refused) return page(c, null, 'Log in', '', loginPage(t, refused, where, login), 400);
    let registry: Registry | undefined;
    let actor: string;
    try {
      // The typed role and password, and nothing else: a user or password in the URL's
      // query would win over them (node-postgres reads both), so they go.
      const url = new URL(o.db as string);
      url.searchParams.delete('user');
      url.searchParams.delete('password');
      url.username = encodeURIComponent(login);
      url.password = encodeURIComponent(password);
      registry = await Registry.open({ db: url.toString(), schema: own.schema, connections: 2 });
      await registry.assertReady();
      // the name the server knows the session by, not the one typed
      actor = await registry.actor();
    } catch (err) {
      await registry?.close().catch(() => undefined);
      return page(c, null, 'Log in', '', loginPage(t, `Not logged in: ${firstLine(err)}`, where, login), 401);
    }
    const s = sessions.create(actor, registry);
    deleteCookie(c, LOGIN_COOKIE, COOKIE);
    setCookie(c, SESSION_COOKIE, s.id, COOKIE);
    return c.redirect('/');
  });

  app.post('/logout', async (c) => {
    const { session } = sessions.get(getCookie(c, SESSION_COOKIE));
    const body = await c.req.parseBody();
    if (session && sameToken(String(body._csrf ?? ''), session.csrf)) await sessions.end(session.id);
    deleteCookie(c, SESSION_COOKIE, COOKIE);
    return c.redirect(embedded ? '/' : '/login');
  });

  // Every other page needs a session: embedded, one is made for the browser; on a server,
  // the login page. The JSON API answers 401 instead.
  app.use('*', async (c, next) => {
    if (c.req.path === '/metrics' || c.req.path === '/favicon.ico' || c.req.path.startsWith('/static/'))
      return next();
    const { session, expired } = sessions.get(getCookie(c, SESSION_COOKIE));
    if (session) {
      c.set('session', session);
      return next();
    }
    if (embedded) {
      const s = sessions.create(oneUser, own);
      setCookie(c, SESSION_COOKIE, s.id, COOKIE);
      c.set('session', s);
      return next();
    }
    if (c.req.path.startsWith('/api/')) {
      return c.json(
        {
          error: {
            code: 'NOT_LOGGED_IN',
            message: expired ? 'the session expired: log in again' : 'log in first (POST /login)',
          },
        },
        401,
      );
    }
    if (c.req.method !== 'GET') return c.text('log in first', 401);
    return c.redirect(expired ? '/login?expired=1' : '/login');
  });

  // -- pages ----------------------------------------------------------------------------
  app.get('/', async (c) => {
    const s = c.get('session');
    try {
      const [census, perDay] = await run(
        s,
        // (on a server, on two of the registry's connections at once; embedded, one after the other)
        async (r) =>
          r.db.kind === 'server'
            ? Promise.all([r.census(), r.birthsPerDay(30, 6)])
            : ([await r.census(), await r.birthsPerDay(30, 6)] as const),
      );
      return page(c, s, 'Overview', '/', overviewPage(census, perDay));
    } catch (err) {
      return failure(c, s, 'Overview', '/', err);
    }
  });

  app.get('/collections', async (c) => {
    const s = c.get('session');
    try {
      const [census, list] = await run(
        s,
        async (r) => [await r.census(), await r.listCollections()] as const,
      );
      return page(c, s, 'Collections', '/collections', collectionsPage(census, list));
    } catch (err) {
      return failure(c, s, 'Collections', '/collections', err);
    }
  });

  app.get('/collections/:name', async (c) => {
    const s = c.get('session');
    const name = c.req.param('name');
    const limit = 20;
    try {
      const view = await run(s, async (r) => {
        const [collection] = await r.listCollections([name]);
        if (!collection) throw new NatalError('COLLECTION_UNKNOWN', `${name} is not a collection`);
        const cn = collection.collection_name;
        const census = await r.census([cn]);
        const trigger = (await r.triggers()).find((t) => t.collection_name === cn);
        const hasTable = collection.has_table && collection.birth_code_strategy !== 'unclassified';
        return {
          row: census.collections[0],
          collection,
          trigger,
          orphans: hasTable ? await r.orphans(cn, limit) : [],
          phantoms: hasTable ? await r.phantoms(cn, limit) : [],
          deaths: hasTable ? await r.deaths(cn, limit) : [],
          limit,
        };
      });
      return page(c, s, view.collection.collection_name, '/collections', collectionPage(view));
    } catch (err) {
      return failure(c, s, name, '/collections', err);
    }
  });

  app.get('/plans', async (c) => {
    const s = c.get('session');
    try {
      const [plans, runs] = await run(
        s,
        async (r) => [await r.plans({ limit: 100 }), await r.runs({ limit: 100 })] as const,
      );
      return page(c, s, 'Plans and runs', '/plans', plansPage(plans, runs));
    } catch (err) {
      return failure(c, s, 'Plans and runs', '/plans', err);
    }
  });

  const planView = (s: Session, id: number, flash?: { ok: boolean; text: string }) =>
    run(s, async (r) => {
      const report = await r.report({ plan: id });
      const runs = await r.runs({ plan: id, limit: 100 });
      const rollbacks = [];
      for (const x of runs.filter((x) => x.run_status === 'completed' && x.written > x.removed)) {
        try {
          rollbacks.push({ run_id: x.run_id, result: await r.rollback(x.run_id, { dryRun: true }) });
        } catch (err) {
          rollbacks.push({ run_id: x.run_id, refused: firstLine(err) });
        }
      }
      return {
        report,
        runs,
        review: await r.approvalCheck(id, 'review'),
        permit: await r.approvalCheck(id, 'permit'),
        rollbacks,
        // embedded, the page holds the database: an apply runs here (on a server, from the CLI)
        canApply: embedded && report.plans[0]?.state === 'APPLY_READY' && !applying.has(id),
        ...(flash ? { flash } : {}),
      };
    });

  app.get('/plans/:id', async (c) => {
    const s = c.get('session');
    const id = positiveInt(c.req.param('id'));
    const title = `Plan ${c.req.param('id')}`;
    if (id === undefined)
      return failure(c, s, title, '/plans', new NatalError('USAGE', 'a plan is a number'));
    const done = c.req.query('done');
    try {
      const stopped = lastApplyError.get(id);
      const flash =
        done === 'review' || done === 'permit'
          ? { ok: true, text: `${done === 'review' ? 'Reviewed' : 'Permitted'} by ${s.login}.` }
          : stopped
            ? { ok: false, text: `The apply stopped: ${stopped}` }
            : undefined;
      return page(c, s, title, '/plans', planPage(await planView(s, id, flash), viewerOf(s)));
    } catch (err) {
      return failure(c, s, title, '/plans', err);
    }
  });

  for (const kind of ['review', 'permit'] as const) {
    app.post(`/plans/:id/${kind}`, async (c) => {
      const s = c.get('session');
      const id = positiveInt(c.req.param('id'));
      const title = `Plan ${c.req.param('id')}`;
      const body = await c.req.parseBody();
      if (!sameToken(String(body._csrf ?? ''), s.csrf)) {
        return failure(
          c,
          s,
          title,
          '/plans',
          new NatalError(
            'NOT_PERMITTED',
            'the form was stale (no valid CSRF token): reload the page and try again',
          ),
        );
      }
      if (id === undefined)
        return failure(c, s, title, '/plans', new NatalError('USAGE', 'a plan is a number'));
      const note = String(body.note ?? '').trim();
      try {
        await run(s, (r) => r.approve(id, kind, note === '' ? undefined : note));
        return c.redirect(`/plans/${id}?done=${kind}`);
      } catch (err) {
        try {
          return page(
            c,
            s,
            title,
            '/plans',
            planPage(await planView(s, id, { ok: false, text: firstLine(err) }), viewerOf(s)),
            statusOf(err),
          );
        } catch {
          return failure(c, s, title, '/plans', err);
        }
      }
    });
  }

  // Embedded only: the apply of a plan, run by this process in the background (the page's
  // own queries take their turns between its batches) and followed on the plan's page.
  app.post('/plans/:id/apply', async (c) => {
    const s = c.get('session');
    const id = positiveInt(c.req.param('id'));
    const title = `Plan ${c.req.param('id')}`;
    const body = await c.req.parseBody();
    if (!sameToken(String(body._csrf ?? ''), s.csrf)) {
      return failure(
        c,
        s,
        title,
        '/plans',
        new NatalError(
          'NOT_PERMITTED',
          'the form was stale (no valid CSRF token): reload the page and try again',
        ),
      );
    }
    if (id === undefined)
      return failure(c, s, title, '/plans', new NatalError('USAGE', 'a plan is a number'));
    if (!embedded) {
      return failure(
        c,
        s,
        title,
        '/plans',
        new NatalError('USAGE', `on a server, apply from the CLI (natal apply ${id}); this page follows it`),
      );
    }
    const batch = String(body.batch_size ?? '').trim();
    const batchSize = batch === '' ? undefined : positiveInt(batch);
    if (batch !== '' && (batchSize === undefined || batchSize < 1 || batchSize > 10_000_000)) {
      return failure(
        c,
        s,
        title,
        '/plans',
        new NatalError('USAGE', 'rows per batch is a whole number from 1 to 10000000'),
      );
    }
    if (applying.has(id)) return c.redirect(`/plans/${id}`);
    lastApplyError.delete(id);
    // Back to the page once the run has begun (or been refused), so that it shows the run.
    const started = await new Promise<{ ok: boolean; text: string }>((resolve) => {
      const run = own
        .apply(id, { batchSize, onStart: (p) => resolve({ ok: true, text: `Run ${p.run_id} started.` }) })
        .then((r) => {
          resolve({ ok: true, text: `Run ${r.run_id} done.` });
        })
        .catch((err: unknown) => {
          lastApplyError.set(id, firstLine(err));
          resolve({ ok: false, text: firstLine(err) });
        })
        .finally(() => applying.delete(id));
      applying.set(id, run);
    });
    if (!started.ok) {
      return page(c, s, title, '/plans', planPage(await planView(s, id, started), viewerOf(s)), 409);
    }
    return c.redirect(`/plans/${id}`);
  });

  app.get('/ledger', async (c) => {
    const s = c.get('session');
    const q = c.req.query();
    const filter = {
      actor: q.actor || undefined,
      step: q.step || undefined,
      plan: positiveInt(q.plan || undefined),
    };
    try {
      const [rows, chain] = await run(s, async (r) => [await r.ledger(), await r.verifyLedger()] as const);
      return page(c, s, 'Ledger', '/ledger', ledgerPage(rows, filter, chain));
    } catch (err) {
      return failure(c, s, 'Ledger', '/ledger', err);
    }
  });

  // The search box: a code, or a table and its key.
  app.get('/entities', async (c) => {
    const s = c.get('session');
    const q = (c.req.query('q') ?? '').trim();
    if (q === '') return page(c, s, 'Find an entity', '', searchHelp(null));
    const space = q.search(/\s/);
    if (space < 0) return c.redirect(`/entities/${encodeURIComponent(q)}`);
    try {
      const e = await run(s, (r) => r.showRow(q.slice(0, space), parseKey(q.slice(space).trim())));
      return c.redirect(`/entities/${encodeURIComponent(e.entity_code)}`);
    } catch (err) {
      return page(c, s, 'Find an entity', '', searchHelp(firstLine(err)), statusOf(err));
    }
  });

  app.get('/entities/:code', async (c) => {
    const s = c.get('session');
    const code = c.req.param('code');
    try {
      const e = await run(s, (r) => r.show(code));
      return page(c, s, e.entity_code, '', entityPage(e));
    } catch (err) {
      return page(c, s, code, '', searchHelp(firstLine(err)), statusOf(err));
    }
  });

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
      const found = (await r.runs({ limit: 1000 })).find((x) => x.run_id === id);
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
    const text = (embedded ? onLane : <T>(f: () => Promise<T>) => f())(async () =>
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
