/** Plain-text tables and numbers for the CLI's human output. */

/** A count as the CLI shows it: 1,234,567; a count not known (null or undefined) as `-`. */
export function count(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : v.toLocaleString('en-US');
}

export function table(headers: string[], rows: (string | number | boolean | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}
