/** An entity's birth certificate and history (natal show), and the search box's answers. */
import { html } from 'hono/html';
import { howBorn } from '../../cli/commands/show.js';
import type { Entity } from '../../show/show.js';
import { type Html, state, when } from '../layout.js';

function value(v: unknown): string {
  if (v === null || v === undefined) return '—';
  // a plan's reviews and permits: who, and when
  if (Array.isArray(v) && v.every((x) => x && typeof x === 'object' && 'actor' in x))
    return v
      .map((x: { actor: string; at?: string }) => (x.at ? `${x.actor} (${when(x.at)})` : x.actor))
      .join(', ');
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function entityPage(e: Entity): Html {
  return html`<section class="cards">
      <table class="facts" id="certificate">
        <tr>
          <th>code</th>
          <td><code>${e.entity_code}</code></td>
        </tr>
        <tr>
          <th>status</th>
          <td>${state(e.status)}</td>
        </tr>
        <tr>
          <th>collection</th>
          <td><a href="/collections/${encodeURIComponent(e.collection_name)}">${e.collection_name}</a></td>
        </tr>
        <tr>
          <th>species, level</th>
          <td>${e.species_code}, ${e.composition_level}</td>
        </tr>
        <tr>
          <th>origin</th>
          <td>${e.dot_origin ?? '—'}</td>
        </tr>
        <tr>
          <th>born</th>
          <td>${when(e.born_at)}</td>
        </tr>
        <tr>
          <th>how</th>
          <td>${howBorn(e)}</td>
        </tr>
        <tr>
          <th>inspection</th>
          <td>${e.inspection_status}</td>
        </tr>
        ${
          e.rekeyed_from
            ? html`<tr>
                <th>re-keyed from</th>
                <td><a href="/entities/${encodeURIComponent(e.rekeyed_from)}">${e.rekeyed_from}</a></td>
              </tr>`
            : ''
        }
        ${
          e.death
            ? html`<tr>
                <th>died</th>
                <td>
                  ${when(e.died_at)}: ${e.death.how} by ${e.death.origin}
                  (${e.death.actor})${e.death.rekeyed_to ? html`; re-keyed to <a href="/entities/${encodeURIComponent(e.death.rekeyed_to)}">${e.death.rekeyed_to}</a>` : ''}
                </td>
              </tr>`
            : ''
        }
      </table>
      ${
        e.row
          ? html`<table class="facts" id="row">
              <caption>
                its row
              </caption>
              ${Object.entries(e.row).map(
                ([k, v]) =>
                  html`<tr>
                    <th>${k}</th>
                    <td>${value(v)}</td>
                  </tr>`,
              )}
            </table>`
          : html`<p class="empty">
              No row to show
              (${e.status === 'alive' ? 'you may not read its table' : `the entity is ${e.status}`}).
            </p>`
      }
    </section>
    <h2>History</h2>
    <ol class="history">
      ${e.history.map((h) => {
        const { event, at, ...rest } = h as { event: string; at: string } & Record<string, unknown>;
        const details = Object.entries(rest)
          .filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0))
          .map(([k, v]) => `${k}: ${value(v)}`)
          .join('; ');
        return html`<li><b>${event}</b> at ${when(at)}${details ? ` — ${details}` : ''}</li>`;
      })}
    </ol>`;
}

export function searchHelp(message: string | null): Html {
  return html`${message ? html`<p class="flash bad" role="alert">${message}</p>` : ''}
    <p>
      Find an entity by its code (<code>DOM-068</code>), or by its table and key (<code>shop.orders 42</code>;
      a composite key as JSON: <code>film_actor {"film_id": 1, "actor_id": 2}</code>).
    </p>`;
}
