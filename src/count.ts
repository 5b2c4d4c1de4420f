/** How natal writes a count everywhere it shows one: 1,210,868; `-` where there is none. */
export function count(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : v.toLocaleString('en-US');
}
