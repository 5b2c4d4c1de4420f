/** A report as Markdown, section by section in the seed's order. */
import { count } from '../count.js';
import { ledgerIdText } from './steps.js';
import type { Report } from './types.js';

const ALWAYS = new Set(['\\', '`', '*', '[', ']', '<', '>', '|', '~', '#', '&']);
const WORD = /[\p{L}\p{N}]/u;

/**
 * Text as Markdown text, never structure. Every text of a report goes through here on its
 * way into the Markdown, for any of it may hold what people typed (approval notes, freeze
 * reasons, actor, owner and collection names), alone or inside natal's own sentences.
 * Markdown punctuation is backslash-escaped (`_` only where it could open or close
 * emphasis, so `dot_domain_rules` stays as it is), a line break becomes a visible ` ⏎ `
 * (the text stays on its line, so it can start no block), and what could open a block at
 * the start of the text (`-`, `+`, `=`, `1.`, `1)`, indentation) is escaped or trimmed.
 */
export function mdText(s: string): string {
  const flat = s.replace(/\r\n|\r|\n/g, ' ⏎ ').trim();
  let out = '';
  for (let i = 0; i < flat.length; i++) {
    const c = flat[i] as string;
    const intraword = c === '_' && WORD.test(flat[i - 1] ?? '') && WORD.test(flat[i + 1] ?? '');
    out += ALWAYS.has(c) || (c === '_' && !intraword) ? `\\${c}` : c;
  }
  return out.replace(/^[-+=]/, '\\$&').replace(/^(\d+)([.)])/, '$1\\$2');
}

/** A table cell: a number, or text (pipes and line breaks escaped with the rest). */
function cell(v: string | number | null): string {
  if (v === null) return '-';
  return typeof v === 'number' ? count(v) : mdText(v);
}

/** Columns of numbers are right-aligned, others left. */
function table(headers: string[], rows: (string | number | null)[][]): string[] {
  const numeric = headers.map((_h, i) => rows.length > 0 && rows.every((r) => typeof r[i] !== 'string'));
  return [
    `| ${headers.join(' | ')} |`,
    `| ${numeric.map((right) => (right ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}

/** A code span, for natal's own commands (digits and words only: nothing to escape). */
const code = (s: string) => `\`${s}\``;
const t = mdText;

function liveLine(r: Report): string {
  const m = r.live_mutation;
  const kind = !m.live
    ? 'NO (registry bookkeeping only)'
    : m.additive
      ? `YES, additive + reversible (${code(r.rollback_commands.join('; ') || 'natal rollback RUN')})`
      : 'YES, removal of births a run had written (not additive; undone only by a new plan)';
  return (
    `Live mutation: ${kind}. Births written ${count(m.births_written)}, removed ${count(m.births_removed)}, ` +
    `net births ${count(m.net_births)}. Committed: ${m.committed.map(t).join('; ') || 'nothing'}. ` +
    `NOT committed: ${m.not_committed.map(t).join('; ') || 'nothing'}.`
  );
}

export function renderMarkdown(r: Report): string {
  const many = r.plans.length > 1;
  const plan = (id: number) => (many ? [id] : []);
  const planCol = many ? ['Plan'] : [];
  const out: string[] = [
    `# ${t(r.title)}`,
    '',
    `Date: ${t(r.date)} · Mode: ${t(r.mode)} · Status: ${t(r.status)} (${t(r.status_note)})`,
    '',
    liveLine(r),
    '',
    '## What changed (one line)',
    '',
    t(r.what_changed),
    '',
    '## Outcome vs goal',
    '',
    ...r.plans.map((p) => `${many ? `Plan ${p.plan_id}: f` : 'F'}rom ${t(p.before)} to ${t(p.after)}.`),
    '',
    ...table(
      [...planCol, 'Collection', 'Before', 'Gap at plan', 'After', 'Gap after'],
      r.outcome.map((o) => [...plan(o.plan_id), o.collection, o.before, o.gap_at_plan, o.after, o.gap_after]),
    ),
    '',
    `## Key numbers (recorded; registry as of ${r.generated_at.slice(0, 10)})`,
    '',
    ...table(
      ['Item', 'Value'],
      r.key_numbers.map((k) => [
        k.item,
        `${typeof k.value === 'number' ? count(k.value) : k.value}${k.note ? ` (${k.note})` : ''}`,
      ]),
    ),
    '',
    `## The ${r.targets.length} backfill target(s)`,
    '',
    r.targets.length
      ? `${r.targets.map((x) => `${t(x.collection)} ${count(x.expected)}`).join(' · ')} = ${count(r.targets.reduce((a, x) => a + x.expected, 0))} expected.`
      : 'No collection was eligible.',
    '',
    ...table(
      [...planCol, 'Collection', 'Expected', 'Rehearsed', 'Rerun delta', 'Born', 'Gap after', 'Removed'],
      r.targets.map((x) => [
        ...plan(x.plan_id),
        x.collection,
        x.expected,
        x.rehearsed,
        x.rerun_delta,
        x.born,
        x.gap_after,
        x.removed,
      ]),
    ),
    '',
    '## Steps, in order',
    '',
    ...r.steps.map(
      (s, i) =>
        `${i + 1}. ${t(s.step)}${many ? ` (plan ${s.plan_id})` : ''}${s.run_id ? ` run ${s.run_id}` : ''} — ` +
        `${s.approval_id !== null ? `approval #${s.approval_id}` : s.ledger_ids.length ? `ledger ${ledgerIdText(s.ledger_ids)}` : 'no ledger row yet'} — ` +
        `${t(s.actor)} — ${t(s.at.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))} — ${t(s.summary)}`,
    ),
    '',
    ...(r.lifecycle
      ? [
          `## Births, deaths and re-keys since ${t(r.selection.since ?? '')}`,
          '',
          ...(r.lifecycle.length
            ? table(
                ['Collection', 'Origin', 'Births', 'Deaths', 'Re-keys'],
                r.lifecycle.map((l) => [l.collection, l.origin, l.births, l.deaths, l.rekeys]),
              )
            : ['None recorded.']),
          '',
        ]
      : []),
    '## Rollback',
    '',
    r.rollback_commands.length
      ? r.rollback_commands.map((c) => `${code(c)} removes exactly the births of that run.`).join('\n')
      : r.live_mutation.births_removed > 0
        ? 'Done: see the ROLLBACK step above. Nothing of this report remains to roll back.'
        : 'Nothing to roll back: no birth was committed.',
    '',
    '## Not done, and why',
    '',
    ...(r.not_done.length
      ? r.not_done.map(
          (d) =>
            `- ${many ? `plan ${d.plan_id}: ` : ''}${t(d.what)}: ${t(d.why)}${d.next ? ` — next: ${t(d.next)}` : ''}`,
        )
      : ['Nothing: every step of the backfill is recorded as done.']),
    '',
    `_Generated by natal from the registry's records at ${r.generated_at}. Hash chain head ` +
      `${r.chain.head} over ${r.chain.rows} ledger rows and approvals` +
      `${r.chain.ok ? '' : ' (BROKEN: see natal ledger --verify)'}; keep it: natal ledger --verify proves later that this history was not rewritten._`,
    '',
  ];
  return out.join('\n');
}
