/** The ledger: every recorded step in time order, filtered, with the hash chain's verification. */
import { html } from 'hono/html';
import type { ChainVerification } from '../../backfill/chain.js';
import type { LedgerRow } from '../../backfill/ledger.js';
import { type Html, num, when } from '../layout.js';

export interface LedgerFilter {
  actor?: string | undefined;
  step?: string | undefined;
  plan?: number | undefined;
}

export function filterLedger(rows: LedgerRow[], f: LedgerFilter): LedgerRow[] {
  return rows.filter(
    (r) =>
      (!f.actor || r.actor === f.actor) &&
      (!f.step || r.step === f.step) &&
      (f.plan === undefined || r.plan_id === f.plan),
  );
}

export function ledgerPage(all: LedgerRow[], f: LedgerFilter, chain: ChainVerification): Html {
  const rows = filterLedger(all, f);
  const actors = [...new Set(all.map((r) => r.actor))].sort();
  const steps = [...new Set(all.map((r) => r.step))].sort();
  const plans = [...new Set(all.map((r) => r.plan_id))].sort((a, b) => a - b);
  const option = (value: string, label: string, selected: boolean) =>
    html`<option value="${value}" ${selected ? 'selected' : ''}>${label}</option>`;
  return html`<p class="chain ${chain.ok ? 'good' : 'bad'}" id="chain">
      ${
        chain.ok
          ? `Hash chain verified: ${num(chain.rows)} rows, head ${chain.head}.`
          : `Hash chain BROKEN at ${chain.first_broken?.table ?? '?'} ${chain.first_broken?.id ?? ''}: ${chain.first_broken?.why ?? ''} (natal ledger --verify).`
      }
    </p>
    <form class="filters" method="get" action="/ledger">
      <label
        >actor
        <select name="actor">
          ${option('', 'any', !f.actor)}${actors.map((a) => option(a, a, f.actor === a))}
        </select></label
      >
      <label
        >operation
        <select name="step">
          ${option('', 'any', !f.step)}${steps.map((s) => option(s, s, f.step === s))}
        </select></label
      >
      <label
        >plan
        <select name="plan">
          ${option('', 'any', f.plan === undefined)}${plans.map((p) => option(String(p), String(p), f.plan === p))}
        </select></label
      >
      <button>Filter</button>
    </form>
    ${
      rows.length
        ? html`<table id="ledger" class="sortable">
            <thead>
              <tr>
                <th class="n">#</th>
                <th>at</th>
                <th>operation</th>
                <th class="n">plan</th>
                <th class="n">run</th>
                <th>collection</th>
                <th>actor</th>
                <th class="n">expected</th>
                <th class="n">actual</th>
                <th>rehearsal</th>
              </tr>
            </thead>
            <tbody>
              ${rows.map(
                (r) =>
                  html`<tr>
                    <td class="n" data-v="${r.ledger_id}">${r.ledger_id}</td>
                    <td>${when(r.recorded_at)}</td>
                    <td>${r.step}</td>
                    <td class="n" data-v="${r.plan_id}"><a href="/plans/${r.plan_id}">${r.plan_id}</a></td>
                    <td class="n" data-v="${r.run_id ?? -1}">${r.run_id ?? '—'}</td>
                    <td>${r.collection ?? '(all)'}</td>
                    <td>${r.actor}</td>
                    <td class="n" data-v="${r.expected ?? -1}">${num(r.expected)}</td>
                    <td class="n" data-v="${r.actual ?? -1}">${num(r.actual)}</td>
                    <td>${r.dry_run ? 'rolled back' : ''}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="empty">
            No ledger row${f.actor || f.step || f.plan !== undefined ? ' matches the filter' : ' yet'}.
          </p>`
    }`;
}
