/**
 * What every route of the dashboard shares: the registry of the process, the sessions, how a
 * request runs on a session's registry, and how a page or a refusal is answered.
 */
import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { errorMessage, NatalError } from '../errors.js';
import type { Registry } from '../registry.js';
import { type Html, layout, type Viewer } from './layout.js';
import { sameToken, type Session, type Sessions } from './sessions.js';

export type App = Hono<{ Variables: { session: Session } }>;

export interface Dash {
  /** Embedded (PGlite, one user) or a server (people log in as database roles). */
  embedded: boolean;
  /** natal's schema and where it is, for the page's header. */
  where: string;
  /** The process's own registry: embedded, the one user's; on a server, the URL's role. */
  own: Registry;
  /** The server URL people log in to (their role and password replace its own). */
  dbUrl: string | undefined;
  sessions: Sessions;
  /** Embedded: the one user's name. */
  oneUser: string;
  /** Runs fn on the session's registry, in its turn. */
  run<T>(s: Session, fn: (r: Registry) => Promise<T>): Promise<T>;
  /** Runs fn on the process's own registry, in its turn (embedded: the one lane). */
  onOwn<T>(fn: () => Promise<T>): Promise<T>;
  viewerOf(s: Session): Viewer;
  page(
    c: Context,
    s: Session | null,
    title: string,
    active: string,
    body: Html,
    status?: number,
  ): Response | Promise<Response>;
  /** A page saying why it could not be shown, with the refusal's status. */
  failure(c: Context, s: Session, title: string, active: string, err: unknown): Response | Promise<Response>;
}

export function makePage(embedded: boolean, where: string) {
  const viewerOf = (s: Session): Viewer => ({ login: s.login, csrf: s.csrf, embedded, where });
  const page = (c: Context, s: Session | null, title: string, active: string, body: Html, status = 200) =>
    c.html(layout(title, s ? viewerOf(s) : null, active, body), status as 200);
  const failure = (c: Context, s: Session, title: string, active: string, err: unknown) =>
    page(c, s, title, active, html`<p class="flash bad" role="alert">${firstLine(err)}</p>`, statusOf(err));
  return { viewerOf, page, failure };
}

/** An HTTP status for a refusal of the library's. */
export function statusOf(err: unknown): 400 | 403 | 404 | 409 | 500 | 503 {
  const code = err instanceof NatalError ? err.code : undefined;
  if (code === undefined) return 500;
  if (code === 'NOT_PERMITTED' || code === 'ACTOR_REFUSED') return 403;
  if (/UNKNOWN$/.test(code)) return 404;
  if (code === 'USAGE' || code === 'INVALID_ARGUMENT' || code === 'INVALID_IDENTIFIER') return 400;
  if (code === 'CONNECTION_LOST' || code === 'DATABASE_CLOSED' || code === 'CONNECT_FAILED') return 503;
  return 409;
}

export function firstLine(err: unknown): string {
  return (errorMessage(err).split('\n')[0] ?? '').trim() || 'unknown error';
}

export function positiveInt(s: string | undefined): number | undefined {
  return s !== undefined && /^\d{1,15}$/.test(s) ? Number(s) : undefined;
}

/**
 * A form posted to a plan (`/plans/:id/…`): its fields, once its CSRF token is the session's
 * and the plan is a number; else the refusal, as a page.
 */
export async function postedToPlan(
  c: Context,
  d: Dash,
): Promise<{ s: Session; id: number; title: string; body: Record<string, unknown> } | Response> {
  const s = c.get('session') as Session;
  const id = positiveInt(c.req.param('id'));
  const title = `Plan ${c.req.param('id')}`;
  const body = (await c.req.parseBody()) as Record<string, unknown>;
  if (!sameToken(String(body._csrf ?? ''), s.csrf)) {
    return d.failure(
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
    return d.failure(c, s, title, '/plans', new NatalError('USAGE', 'a plan is a number'));
  return { s, id, title, body };
}
