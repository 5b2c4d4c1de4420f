/**
 * The page around every page: navigation, the search box, who is logged in, and the
 * embedded notice. HTML is written with hono's `html` template, which escapes every value
 * put into it; only natal's own fragments are passed through as they are.
 */
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export interface Viewer {
  login: string;
  csrf: string;
  /** Embedded: one user, separation of duties is advisory. */
  embedded: boolean;
  /** Where natal's schema is (schema at location). */
  where: string;
}

export function num(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('en-US');
}

/** A readiness or plan state as a badge, coloured by what it asks of the reader. */
export function state(s: string): Html {
  const tone =
    /^(COMPLETE|VERIFIED|APPLIED|READY|PREFLIGHT_READY|APPLY_READY|DRYRUN_PROVEN|alive|passed)/.test(s)
      ? 'good'
      : /FAILED|BLOCK|UNCLASSIFIED|NO_TABLE|NOT_WIRED|DUPLICATE|INTERRUPTED|phantom|failed/.test(s)
        ? 'bad'
        : 'info';
  return html`<span class="state ${tone}">${s}</span>`;
}

export function when(t: string | Date | null | undefined): string {
  if (t === null || t === undefined) return '—';
  const d = t instanceof Date ? t : new Date(t);
  return Number.isNaN(d.getTime())
    ? String(t)
    : d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC');
}

const NAV: [string, string][] = [
  ['/', 'Overview'],
  ['/collections', 'Collections'],
  ['/plans', 'Plans and runs'],
  ['/ledger', 'Ledger'],
];

export function layout(title: string, viewer: Viewer | null, active: string, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · natal</title>
        <link rel="stylesheet" href="/static/natal.css" />
        ${viewer ? html`<meta name="csrf-token" content="${viewer.csrf}" />` : ''}
        <script src="/static/chart.umd.min.js" defer></script>
        <script src="/static/natal.js" defer></script>
      </head>
      <body>
        <header>
          <a class="brand" href="/">natal</a>
          ${
            viewer
              ? html`<nav>
                    ${NAV.map(
                      ([href, label]) =>
                        html`<a href="${href}" class="${active === href ? 'active' : ''}">${label}</a>`,
                    )}
                  </nav>
                  <form class="search" action="/entities" method="get" role="search">
                    <input
                      type="search"
                      name="q"
                      placeholder="code, or table key"
                      aria-label="find an entity: its code, or its table and key"
                      required
                    />
                    <button>Find</button>
                  </form>
                  <div class="who">
                    <span title="${viewer.where}">${viewer.login}</span>
                    ${
                      viewer.embedded
                        ? ''
                        : html`<form action="/logout" method="post">
                            <input type="hidden" name="_csrf" value="${viewer.csrf}" /><button class="link">
                              log out
                            </button>
                          </form>`
                    }
                  </div>`
              : ''
          }
        </header>
        ${
          viewer?.embedded
            ? html`<p class="notice">
                Embedded registry, one user: you act as <b>${viewer.login}</b> (natal serve --as NAME).
                Separation of duties is advisory here: a server's database roles enforce it.
              </p>`
            : ''
        }
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`;
}
