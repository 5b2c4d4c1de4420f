/** Collections: every collection in a sortable, filterable table; one collection's page. */
import { html } from 'hono/html';
import type { Census, CensusRow } from '../../census/census.js';
import type { Collection } from '../../catalog/collections.js';
import type { TriggerState } from '../../catalog/wiring.js';
import type { DeathListing } from '../../census/census.js';
import { type Html, num, state, when } from '../layout.js';

const link = (name: string) => html`<a href="/collections/${encodeURIComponent(name)}">${name}</a>`;

export function collectionsPage(c: Census, collections: Collection[]): Html {
  const info = new Map(collections.map((x) => [x.collection_name, x]));
  return html`<p>
      <input
        class="filter"
        data-filter-for="collections"
        placeholder="filter: name, role, state…"
        aria-label="filter collections"
      />
    </p>
    <table id="collections" class="sortable">
      <thead>
        <tr>
          <th>collection</th>
          <th>role</th>
          <th>species</th>
          <th>strategy</th>
          <th class="n">rows</th>
          <th class="n">births</th>
          <th class="n">gap</th>
          <th class="n">phantoms</th>
          <th class="n">deaths</th>
          <th>state</th>
          <th>wired</th>
        </tr>
      </thead>
      <tbody>
        ${c.collections.map((r: CensusRow) => {
          const x = info.get(r.collection);
          return html`<tr>
            <td>${link(r.collection)}</td>
            <td>${r.governance_role}</td>
            <td>${x?.species_code ?? '—'}</td>
            <td>${r.strategy}</td>
            <td class="n" data-v="${r.rows ?? -1}">${num(r.rows)}</td>
            <td class="n" data-v="${r.births}">${num(r.births)}</td>
            <td class="n" data-v="${r.gap ?? -1}">${num(r.gap)}</td>
            <td class="n" data-v="${r.phantoms ?? -1}">${num(r.phantoms)}</td>
            <td class="n" data-v="${r.deaths ?? -1}">${num(r.deaths)}</td>
            <td>${state(r.state)}</td>
            <td>${x?.wired ? 'yes' : 'no'}</td>
          </tr>`;
        })}
      </tbody>
    </table>`;
}

export interface CollectionView {
  row: CensusRow | undefined;
  collection: Collection;
  trigger: TriggerState | undefined;
  orphans: { entity_code: string; born_elsewhere: string | null }[];
  phantoms: { entity_code: string }[];
  deaths: DeathListing[];
  limit: number;
}

export function collectionPage(v: CollectionView): Html {
  const x = v.collection;
  const r = v.row;
  const identity =
    x.birth_code_strategy === 'composite'
      ? `composite (${(x.birth_code_key_columns ?? []).join(', ')})`
      : `${x.birth_code_strategy}${x.birth_code_column ? ` (${x.birth_code_column})` : ''}`;
  const t = v.trigger;
  return html`<section class="cards">
      <table class="facts">
        <tr>
          <th>state</th>
          <td>${r ? state(r.state) : '—'}</td>
        </tr>
        <tr>
          <th>governance role</th>
          <td>${x.governance_role}</td>
        </tr>
        <tr>
          <th>species</th>
          <td>${x.species_code ?? '—'}</td>
        </tr>
        <tr>
          <th>owner</th>
          <td>${x.owner ?? '—'}</td>
        </tr>
        <tr>
          <th>identity</th>
          <td>${identity}</td>
        </tr>
        <tr>
          <th>identity evidence</th>
          <td>${x.birth_code_reason ?? '—'}</td>
        </tr>
        <tr>
          <th>strict (birth-first only)</th>
          <td>${x.strict_mode ? 'yes' : 'no'}</td>
        </tr>
        <tr>
          <th>trigger</th>
          <td>
            ${
              !t
                ? '—'
                : t.present && t.enabled && t.functional
                  ? t.kind === 'gateway'
                    ? 'wired without a trigger (a Citus table: the gateway and backfill), working'
                    : `wired (${t.kind ?? '?'} trigger), working`
                  : (t.problem ?? (t.present ? 'present, not working' : 'not wired'))
            }
          </td>
        </tr>
        <tr>
          <th>rows</th>
          <td>${num(r?.rows)}</td>
        </tr>
        <tr>
          <th>births</th>
          <td>${num(r?.births)}</td>
        </tr>
        <tr>
          <th>gap (orphans)</th>
          <td>${num(r?.gap)}</td>
        </tr>
        <tr>
          <th>phantoms</th>
          <td>${num(r?.phantoms)}</td>
        </tr>
        <tr>
          <th>deaths</th>
          <td>${num(r?.deaths)}</td>
        </tr>
        ${
          r?.frozen
            ? html`<tr>
                <th>frozen</th>
                <td>by ${r.frozen.frozen_by} at ${when(r.frozen.frozen_at)}: ${r.frozen.reason}</td>
              </tr>`
            : ''
        }
      </table>
    </section>
    <h2>Orphans (rows without a birth; first ${v.limit})</h2>
    ${
      v.orphans.length
        ? html`<ul class="codes">
            ${v.orphans.map((o) => html`<li><code>${o.entity_code}</code>${o.born_elsewhere ? html` (its code was born in ${link(o.born_elsewhere)})` : ''}</li>`)}
          </ul>`
        : html`<p class="empty">None.</p>`
    }
    <h2>Phantoms (births without a row, no death recorded; first ${v.limit})</h2>
    ${
      v.phantoms.length
        ? html`<ul class="codes">
            ${v.phantoms.map((p) => html`<li><a href="/entities/${encodeURIComponent(p.entity_code)}">${p.entity_code}</a></li>`)}
          </ul>`
        : html`<p class="empty">None.</p>`
    }
    <h2>Deaths (first ${v.limit})</h2>
    ${
      v.deaths.length
        ? html`<ul class="codes">
            ${v.deaths.map((d) => html`<li><a href="/entities/${encodeURIComponent(d.entity_code)}">${d.entity_code}</a> ${d.how} at ${when(d.died_at)}</li>`)}
          </ul>`
        : html`<p class="empty">None.</p>`
    }`;
}
