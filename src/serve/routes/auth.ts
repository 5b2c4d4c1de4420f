/**
 * Who is on the page: on a server, the login form (a database role and its password open a
 * registry as that role) and logout; then every route but /metrics and the static files
 * needs a session (embedded, the browser is given one; the JSON API answers 401).
 */
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { Registry } from '../../registry.js';
import { type App, type Dash, firstLine } from '../dash.js';
import { loginPage } from '../pages/login.js';
import { sameToken, token } from '../sessions.js';

const SESSION_COOKIE = 'natal_session';
const LOGIN_COOKIE = 'natal_login';
const COOKIE = { httpOnly: true, sameSite: 'Strict', path: '/' } as const;

/** A database role's name: what PostgreSQL takes (63 bytes), no control characters. */
function badRoleName(login: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(login)) return 'a role name has no control characters';
  if (Buffer.byteLength(login) > 63) return 'a role name has at most 63 bytes';
  return undefined;
}

export function authRoutes(app: App, d: Dash): void {
  const { embedded, where, own, sessions, oneUser } = d;
  const page = d.page;
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
      const url = new URL(d.dbUrl as string);
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
}
