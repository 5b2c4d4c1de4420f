/**
 * What every request passes before a route: the host it names (while natal listens on a
 * loopback address), the origin of a form, the size of a body; and the headers every answer
 * carries (Content-Security-Policy and the rest, no-store).
 */
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import type { App } from './dash.js';

/** The names a browser on this machine reaches a loopback address by. */
const LOOPBACK = ['127.0.0.1', 'localhost', '::1', '[::1]'];

export function guard(app: App, host: string): void {
  // Requests that name another host are refused while natal listens on a loopback address (a
  // web page elsewhere must not reach it through a DNS name it points at 127.0.0.1); a form
  // posted from another origin is refused everywhere.
  const loopbackOnly = LOOPBACK.includes(host);
  app.use('*', async (c, next) => {
    const named = c.req.header('host') ?? '';
    if (loopbackOnly && !LOOPBACK.includes(named.replace(/:\d+$/, ''))) {
      return c.text(`natal serve answers to localhost only, not to ${named || 'no host'}\n`, 403);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const origin = c.req.header('origin');
      if ((origin && origin !== `http://${named}`) || c.req.header('sec-fetch-site') === 'cross-site') {
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
}
