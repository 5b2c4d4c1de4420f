/** Plain-text tables and numbers for the CLI's human output. */
import stringWidth from 'string-width';

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
