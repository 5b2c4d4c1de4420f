/**
 * Colour on a terminal: states (green when done or ready, yellow on the way or waiting,
 * red when blocked or failed) and the one-line refusal. None when the stream is not a
 * terminal or NO_COLOR is set; FORCE_COLOR turns it on anyway.
 */
import { createColors } from 'picocolors';

/** Whether to colour what goes to `stream` (https://no-color.org). */
export function colourFor(stream: NodeJS.WriteStream): boolean {
  const env = process.env;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

const GOOD = /\b(COMPLETE|VERIFIED|READY|PREFLIGHT_READY|APPLY_READY|APPLIED|DRYRUN_PROVEN|PASS)\b/g;
const ON_THE_WAY =
  /\b(PLANNED|APPLY_RUNNING|APPLY_INTERRUPTED|COMPLETE_WITH_PHANTOMS|UNCLASSIFIED|NOT_WIRED|NOTHING_TO_PLAN|NOTHING_GOVERNED|ROLLED_BACK|FROZEN|COMPLETE_EXCEPT_[0-9]+_FROZEN|MISS)\b/g;
const BAD =
  /\b(BLOCKED_[A-Z0-9_]+|REHEARSAL_FAILED|DUPLICATE_RISK|NOT_READY|PLAN_STALE|NO_TABLE|WRONG|NOT confirmed)\b/g;

/** `text` with natal's state words coloured, when `on`. */
export function paintStates(text: string, on: boolean): string {
  if (!on) return text;
  const c = createColors(true);
  return text
    .replace(BAD, (w) => c.red(c.bold(w)))
    .replace(ON_THE_WAY, (w) => c.yellow(w))
    .replace(GOOD, (w) => c.green(w));
}

/** The refusal line's `natal:` in red, when `on`. */
export function paintRefusal(line: string, on: boolean): string {
  return on ? line.replace(/^natal:/, createColors(true).red('natal:')) : line;
}
