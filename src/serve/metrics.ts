/**
 * /metrics in Prometheus' text format (version 0.0.4): the census per collection, the
 * registry's births, the open plans' states and the running applies' progress, so that the
 * monitoring a platform has can alert on a new orphan.
 */
import type { Census } from '../census/census.js';
import type { PlanListing, RunListing } from '../report/lists.js';

/** A label value: backslash, double quote and newline escaped. */
function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

interface Metric {
  name: string;
  help: string;
  samples: { labels: Record<string, string>; value: number }[];
}

function render(metrics: Metric[]): string {
  const out: string[] = [];
  for (const m of metrics) {
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} gauge`);
    for (const s of m.samples) {
      const ls = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${label(v)}"`)
        .join(',');
      out.push(`${m.name}${ls ? `{${ls}}` : ''} ${s.value}`);
    }
  }
  return `${out.join('\n')}\n`;
}

export function metricsText(c: Census, plans: PlanListing[], runs: RunListing[]): string {
  const per = (
    name: string,
    help: string,
    pick: (r: Census['collections'][number]) => number | null,
  ): Metric => ({
    name,
    help,
    samples: c.collections
      .filter((r) => pick(r) !== null)
      .map((r) => ({
        labels: { collection: r.collection, role: r.governance_role },
        value: pick(r) as number,
      })),
  });
  return render([
    per('natal_rows', 'Rows of a collection (identified).', (r) => r.rows),
    per('natal_births', 'Births of a collection.', (r) => r.births),
    per('natal_gap', 'Orphans of a collection: rows without a birth.', (r) => r.gap),
    per(
      'natal_phantoms',
      'Phantoms of a collection: births without a row and without a recorded death.',
      (r) => r.phantoms,
    ),
    per('natal_deaths', 'Recorded deaths of a collection.', (r) => r.deaths),
    {
      name: 'natal_collection_complete',
      help: 'Whether a collection is complete (1) or not (0).',
      samples: c.collections
        .filter((r) => r.governance_role === 'governed')
        .map((r) => ({
          labels: { collection: r.collection, state: r.state },
          value: r.state.startsWith('COMPLETE') ? 1 : 0,
        })),
    },
    {
      name: 'natal_registry_births',
      help: 'Births in the registry, every collection.',
      samples: [{ labels: {}, value: c.totals.registry_births }],
    },
    {
      name: 'natal_gap_total',
      help: 'Orphans of every governed collection.',
      samples: [{ labels: {}, value: c.totals.gap }],
    },
    {
      name: 'natal_phantoms_total',
      help: 'Phantoms of every governed collection.',
      samples: [{ labels: {}, value: c.totals.phantoms }],
    },
    {
      name: 'natal_plan_open',
      help: 'An open plan (not applied, not superseded), labelled with its state.',
      samples: plans
        .filter((p) => p.plan_status === 'planned')
        .map((p) => ({ labels: { plan: String(p.plan_id), state: p.state }, value: 1 })),
    },
    {
      name: 'natal_apply_births_written',
      help: 'Births a running apply has written so far.',
      samples: runs
        .filter((r) => r.run_status === 'running')
        .map((r) => ({ labels: { run: String(r.run_id), plan: String(r.plan_id) }, value: r.written })),
    },
    {
      name: 'natal_apply_births_expected',
      help: 'Births a running apply is to write.',
      samples: runs
        .filter((r) => r.run_status === 'running')
        .map((r) => ({ labels: { run: String(r.run_id), plan: String(r.plan_id) }, value: r.expected })),
    },
  ]);
}
