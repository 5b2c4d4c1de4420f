/** Plans and runs: every plan; one plan with its gate (Review, Permit), its runs and their progress. */
import { html } from 'hono/html';
import type { ApprovalCheck } from '../../backfill/approve.js';
import type { RollbackResult } from '../../backfill/rollback.js';
import type { PlanListing, RunListing } from '../../report/lists.js';
import type { Report } from '../../report/types.js';
import { type Html, num, state, when, type Viewer } from '../layout.js';

export function plansPage(plans: PlanListing[], runs: RunListing[]): Html {
  return html`<h2>Plans</h2>
    ${
      plans.length
        ? html`<table class="sortable" id="plans">
            <thead>
              <tr>
                <th class="n">plan</th>
                <th>state</th>
                <th>author</th>
                <th>created</th>
                <th class="n">expected</th>
                <th class="n">written</th>
                <th>reviewed by</th>
                <th>permitted by</th>
                <th>runs</th>
              </tr>
            </thead>
            <tbody>
              ${plans.map(
                (p) =>
                  html`<tr>
                    <td class="n" data-v="${p.plan_id}"><a href="/plans/${p.plan_id}">${p.plan_id}</a></td>
                    <td>${state(p.state)}</td>
                    <td>${p.author}</td>
                    <td>${when(p.created_at)}</td>
                    <td class="n" data-v="${p.expected}">${num(p.expected)}</td>
                    <td class="n" data-v="${p.written}">${num(p.written)}</td>
                    <td>${p.reviewed_by.join(', ') || '—'}</td>
                    <td>${p.permitted_by.join(', ') || '—'}</td>
                    <td>${p.runs.join(', ') || '—'}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="empty">No plan yet: <code>natal plan</code> makes one.</p>`
    }
    <h2>Runs</h2>
    ${
      runs.length
        ? html`<table class="sortable" id="runs">
            <thead>
              <tr>
                <th class="n">run</th>
                <th class="n">plan</th>
                <th>state</th>
                <th>by</th>
                <th>started</th>
                <th>finished</th>
                <th class="n">expected</th>
                <th class="n">written</th>
                <th class="n">removed</th>
              </tr>
            </thead>
            <tbody>
              ${runs.map(
                (r) =>
                  html`<tr>
                    <td class="n" data-v="${r.run_id}">${r.run_id}</td>
                    <td class="n" data-v="${r.plan_id}"><a href="/plans/${r.plan_id}">${r.plan_id}</a></td>
                    <td>${state(r.state)}</td>
                    <td>${r.actor}</td>
                    <td>${when(r.started_at)}</td>
                    <td>${when(r.finished_at)}</td>
                    <td class="n" data-v="${r.expected}">${num(r.expected)}</td>
                    <td class="n" data-v="${r.written}">${num(r.written)}</td>
                    <td class="n" data-v="${r.removed}">${num(r.removed)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="empty">No run yet.</p>`
    }`;
}

export interface PlanView {
  report: Report;
  runs: RunListing[];
  review: ApprovalCheck;
  permit: ApprovalCheck;
  rollbacks: { run_id: number; result?: RollbackResult; refused?: string }[];
  /** Embedded: the page may start the apply (the plan is ready and none is running). */
  canApply?: boolean;
  /** What the last action on the page did, or why it was refused. */
  flash?: { ok: boolean; text: string };
}

function gateButton(kind: 'review' | 'permit', planId: number, check: ApprovalCheck, viewer: Viewer): Html {
  const label = kind === 'review' ? 'Review' : 'Permit';
  if (!check.allowed) {
    const why = `${check.reason ?? 'not allowed'}${check.hint ? ` (${check.hint})` : ''}`;
    return html`<div class="gate">
      <button disabled title="${why}" data-gate="${kind}">${label}</button>
      <span class="why" data-why="${kind}">${why}</span>
    </div>`;
  }
  return html`<form class="gate" method="post" action="/plans/${planId}/${kind}">
    <input type="hidden" name="_csrf" value="${viewer.csrf}" />
    <input name="note" placeholder="note (optional)" aria-label="${kind} note" />
    <button data-gate="${kind}">${label}</button>
  </form>`;
}

export function planPage(v: PlanView, viewer: Viewer): Html {
  const p = v.report.plans[0];
  if (!p) return html`<p class="empty">No such plan.</p>`;
  const approvals = v.report.steps.filter((s) => s.step === 'REVIEW' || s.step === 'PERMIT');
  const rehearsals = v.report.steps.filter((s) => s.step === 'REHEARSAL');
  const running = v.runs.filter((r) => r.run_status === 'running');
  return html`${v.flash ? html`<p class="flash ${v.flash.ok ? 'good' : 'bad'}" role="status">${v.flash.text}</p>` : ''}
    <section class="cards">
      <table class="facts">
        <tr>
          <th>state</th>
          <td>${state(p.state)}</td>
        </tr>
        <tr>
          <th>author</th>
          <td>${p.author}</td>
        </tr>
        <tr>
          <th>created</th>
          <td>${when(p.created_at)}</td>
        </tr>
        <tr>
          <th>fingerprint</th>
          <td><code>${p.fingerprint}</code></td>
        </tr>
        <tr>
          <th>status</th>
          <td>${p.status_note}</td>
        </tr>
        <tr>
          <th>rehearsal</th>
          <td>
            ${rehearsals.length ? (rehearsals[rehearsals.length - 1]?.summary ?? '') : 'not rehearsed yet (natal rehearse)'}
          </td>
        </tr>
      </table>
      <div class="gates">
        <h2>The gate</h2>
        ${gateButton('review', p.plan_id, v.review, viewer)}
        ${gateButton('permit', p.plan_id, v.permit, viewer)}
        ${
          v.canApply
            ? html`<form class="gate" method="post" action="/plans/${p.plan_id}/apply">
                <input type="hidden" name="_csrf" value="${viewer.csrf}" />
                <input
                  name="batch_size"
                  placeholder="rows per batch (50000)"
                  aria-label="rows per batch"
                  inputmode="numeric"
                />
                <button data-gate="apply">Apply</button>
              </form>`
            : ''
        }
        <h3>Reviews and permits</h3>
        ${
          approvals.length
            ? html`<ul class="steps">
                ${approvals.map((a) => html`<li><b>${a.step}</b> by ${a.actor} at ${when(a.at)}: ${a.summary}</li>`)}
              </ul>`
            : html`<p class="empty">None yet.</p>`
        }
      </div>
    </section>
    <h2>Expected births per collection</h2>
    <table class="sortable" id="targets">
      <thead>
        <tr>
          <th>collection</th>
          <th class="n">expected</th>
          <th class="n">rehearsed</th>
          <th class="n">born</th>
          <th class="n">gap after</th>
          <th class="n">removed</th>
        </tr>
      </thead>
      <tbody>
        ${v.report.targets.map(
          (t) =>
            html`<tr>
              <td><a href="/collections/${encodeURIComponent(t.collection)}">${t.collection}</a></td>
              <td class="n" data-v="${t.expected}">${num(t.expected)}</td>
              <td class="n" data-v="${t.rehearsed ?? -1}">${num(t.rehearsed)}</td>
              <td class="n" data-v="${t.born ?? -1}">${num(t.born)}</td>
              <td class="n" data-v="${t.gap_after ?? -1}">${num(t.gap_after)}</td>
              <td class="n" data-v="${t.removed ?? -1}">${num(t.removed)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    <h2>Runs</h2>
    ${
      v.runs.length
        ? html`<ul class="steps">
            ${v.runs.map(
              (r) =>
                html`<li>
                  run ${r.run_id} by ${r.actor}: ${state(r.state)} — ${num(r.written)} of ${num(r.expected)}
                  births written${r.removed ? `, ${num(r.removed)} removed` : ''}; started
                  ${when(r.started_at)}${r.finished_at ? `, finished ${when(r.finished_at)}` : ''}
                </li>`,
            )}
          </ul>`
        : html`<p class="empty">Not applied yet.</p>`
    }
    ${running.map(
      (r) =>
        html`<div class="progress" data-run-progress="${r.run_id}">
          <progress max="${r.expected}" value="${r.written}"></progress>
          <span class="progress-text">run ${r.run_id}: ${num(r.written)} of ${num(r.expected)} births</span>
        </div>`,
    )}
    ${v.rollbacks.map(
      (b) =>
        html`<h2>Rollback of run ${b.run_id} (dry run: nothing removed)</h2>
          ${
            b.result
              ? html`<p>
                  natal rollback ${b.run_id} would remove <b>${num(b.result.removed)}</b> births:
                  ${b.result.collections.map((c) => `${c.collection}: ${num(c.removed)}`).join('; ')}${b.result.sample.length ? html` (for example <code>${b.result.sample.slice(0, 3).join(', ')}</code>)` : ''}.
                </p>`
              : html`<p class="empty">${b.refused}</p>`
          }`,
    )}
    ${
      v.report.not_done.length
        ? html`<h2>Not done yet</h2>
            <ul class="steps">
              ${v.report.not_done.map((n) => html`<li>${n.what}: ${n.why}${n.next ? html` — <code>${n.next}</code>` : ''}</li>`)}
            </ul>`
        : ''
    }`;
}
