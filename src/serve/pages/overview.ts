/** The overview: the seed report's key numbers, the overall state, what blocks progress, and two charts. */
import { html } from 'hono/html';
import type { Census } from '../../census/census.js';
import type { BirthsOnDay } from '../../report/births.js';
import { statusSummary } from '../../report/status.js';
import { type Html, num, state } from '../layout.js';

/** The key numbers, as `natal status` prints them. */
export function keyNumberRows(c: Census, eligible: number): [string, string][] {
  const t = c.totals;
  const r = t.resolvable;
  return [
    ['Collections requiring birth', num(t.birth_required)],
    [
      'Identity resolvable',
      `${num(r.column + r.synthetic_id + r.legacy + r.composite)} (${r.synthetic_id} synthetic_id + ${r.column} column + ${r.legacy} legacy + ${r.composite} composite)`,
    ],
    ['Identity unclassified', num(t.unclassified)],
    ['No table', num(t.no_table)],
    ['Eligible for a backfill (preflight READY)', num(eligible)],
    ['Rows (governed, identified)', num(t.rows)],
    ['Births (governed collections)', num(t.births)],
    ['Gap (orphans)', num(t.gap)],
    ['Phantoms', num(t.phantoms)],
    ['Deaths (recorded)', num(t.deaths)],
    ['Registry births', num(t.registry_births)],
  ];
}

export function overviewPage(c: Census, eligible: number, perDay: BirthsOnDay[]): Html {
  const s = statusSummary(c, num);
  const worst = c.collections
    .filter((r) => r.governance_role === 'governed' && ((r.gap ?? 0) > 0 || (r.phantoms ?? 0) > 0))
    .sort((a, b) => (b.gap ?? 0) + (b.phantoms ?? 0) - ((a.gap ?? 0) + (a.phantoms ?? 0)))
    .slice(0, 20);
  const days = [...new Set(perDay.map((d) => d.day))];
  const origins = [...new Set(perDay.map((d) => d.origin))];
  const birthsChart = {
    type: 'bar',
    labels: days,
    series: origins.map((o) => ({
      label: o,
      data: days.map((d) => perDay.find((x) => x.day === d && x.origin === o)?.births ?? 0),
    })),
    stacked: true,
  };
  const gapChart = {
    type: 'bar',
    horizontal: true,
    labels: worst.map((r) => r.collection),
    series: [
      { label: 'gap (orphans)', data: worst.map((r) => r.gap ?? 0) },
      { label: 'phantoms', data: worst.map((r) => r.phantoms ?? 0) },
    ],
  };
  return html`<section class="state-line">Overall state: ${state(c.state)}</section>
    <section class="cards">
      <table class="key-numbers" id="key-numbers">
        <thead>
          <tr>
            <th>Item</th>
            <th>Value</th>
          </tr>
        </thead>
        <tbody>
          ${keyNumberRows(c, eligible).map(
            ([k, v]) =>
              html`<tr>
                <td>${k}</td>
                <td class="n">${v}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      <div class="blocks">
        ${s.headline ? html`<p class="headline">${s.headline}</p>` : ''}
        ${s.groups.map(
          (g) =>
            html`<h2>${g.title} (${g.items.length})</h2>
              <ul class="steps">
                ${g.items.map(
                  (i) =>
                    html`<li>
                      ${state(i.state)}
                      <a href="/collections/${encodeURIComponent(i.collection)}">${i.collection}</a>:
                      <code>${i.next}</code>
                    </li>`,
                )}
              </ul>`,
        )}
        ${
          s.held.length
            ? html`<h2>Frozen on purpose (${s.held.reduce((a, g) => a + g.collections.length, 0)})</h2>
                <ul class="steps">
                  ${s.held.map(
                    (g) =>
                      html`<li>
                        FROZEN by ${g.frozen_by}: ${g.reason} (${g.collections.length}:
                        ${g.collections.slice(0, 5).join(', ')}${g.collections.length > 5 ? ', …' : ''})
                      </li>`,
                  )}
                </ul>`
            : ''
        }
        ${
          s.deaths.length
            ? html`<h2>Deaths recorded (${s.deaths.length})</h2>
                <ul class="steps">
                  ${s.deaths.map(
                    (d) =>
                      html`<li>
                        <a href="/collections/${encodeURIComponent(d.collection)}">${d.collection}</a>:
                        ${num(d.births)} births, ${num(d.deaths)} dead
                      </li>`,
                  )}
                </ul>`
            : ''
        }
      </div>
    </section>
    <section class="charts">
      <figure>
        <figcaption>Births per day by origin (last 30 days, UTC)</figcaption>
        ${days.length ? html`<canvas data-chart="${JSON.stringify(birthsChart)}" aria-label="births per day by origin"></canvas>` : html`<p class="empty">No births in the last 30 days.</p>`}
      </figure>
      <figure>
        <figcaption>Gap and phantoms per collection (the ${worst.length} with the most)</figcaption>
        ${worst.length ? html`<canvas data-chart="${JSON.stringify(gapChart)}" aria-label="gap and phantoms per collection"></canvas>` : html`<p class="empty">No gap and no phantom in any governed collection.</p>`}
      </figure>
    </section>`;
}
