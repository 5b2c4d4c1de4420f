/** Plain-text tables and numbers for the CLI's human output. */
import stringWidth from 'string-width';
import wrapAnsi from 'wrap-ansi';

/** A count as the CLI shows it: 1,234,567; a count not known (null or undefined) as `-`. */
export { count } from '../count.js';

/**
 * A table whose columns line up on a terminal: cells are padded by their display width
 * (a CJK character or an emoji takes two columns), not by their length in UTF-16 units.
 */
export function table(headers: string[], rows: (string | number | boolean | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) =>
    Math.max(stringWidth(h), ...cells.map((r) => stringWidth(r[i] ?? ''))),
  );
  const pad = (c: string, w: number) => c + ' '.repeat(Math.max(0, w - stringWidth(c)));
  const line = (r: string[]) =>
    r
      .map((c, i) => pad(c, widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

/** A moment as the CLI's tables show it: UTC to the second, `2026-06-06 09:00:00Z`; none as `-`. */
export function when(at: Date | string | null | undefined): string {
  if (at === null || at === undefined) return '-';
  return `${new Date(at).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** `text` cut to `max` display columns, ending in `…` when cut. */
export function truncate(text: string, max: number): string {
  if (stringWidth(text) <= max) return text;
  let out = '';
  for (const ch of text) {
    if (stringWidth(out + ch) > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}

/**
 * One row as a table that fits `width` display columns: its columns in order while they fit
 * (the first always), each value cut to `cell` columns; `hidden` names the others. No width
 * (output that is not a terminal) shows every column.
 */
export function fittedRow(
  row: Record<string, unknown>,
  width: number | undefined,
  cell = 40,
): { text: string; hidden: string[] } {
  const cols = Object.entries(row).map(([name, value]) => {
    const v =
      value === null || value === undefined
        ? '-'
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
    const shown = truncate(v.replace(/\s+/g, ' '), width === undefined ? cell : Math.min(cell, width));
    const h = truncate(name, width === undefined ? cell : Math.min(cell, width));
    return { h, v: shown, w: Math.max(stringWidth(h), stringWidth(shown)) };
  });
  const kept: typeof cols = [];
  let used = 0;
  for (const c of cols) {
    const next = used + (kept.length ? 2 : 0) + c.w;
    if (width !== undefined && kept.length > 0 && next > width) break;
    kept.push(c);
    used = next;
  }
  return {
    text: table(
      kept.map((c) => c.h),
      [kept.map((c) => c.v)],
    ),
    hidden: Object.keys(row).slice(kept.length),
  };
}

/**
 * `text` wrapped at `width` columns (a terminal's width when narrower), each line after the
 * first indented by `indent` spaces: the demo's step lines fit 100 columns.
 */
export function wrapped(text: string, width = 100, indent = 2): string {
  const columns =
    process.stdout.isTTY && process.stdout.columns ? Math.min(width, process.stdout.columns) : width;
  return wrapAnsi(text, columns - indent)
    .split('\n')
    .map((l, i) => (i === 0 ? l : `${' '.repeat(indent)}${l}`))
    .join('\n');
}
