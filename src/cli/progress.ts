/**
 * Progress: a command that takes more than a second shows a spinner with its name and the
 * time so far, on standard error, only on a terminal (never when piped, with --json or with
 * --quiet), and clears it before its answer. The apply has its own bar (births and rate).
 */
import yoctoSpinner, { type Spinner } from 'yocto-spinner';

export interface Working {
  stop(): void;
}

/** Whether a progress indicator may be drawn: standard error is a terminal. */
export function progressAllowed(options: {
  json?: boolean | undefined;
  quiet?: boolean | undefined;
}): boolean {
  return process.stderr.isTTY === true && process.env.TERM !== 'dumb' && !options.json && !options.quiet;
}

/** Starts showing `label` after a second (NATAL_PROGRESS_AFTER_MS) unless stopped first. */
export function working(label: string, enabled: boolean): Working {
  if (!enabled) return { stop: () => undefined };
  const after = Number(process.env.NATAL_PROGRESS_AFTER_MS ?? 1000);
  const started = Date.now();
  let spinner: Spinner | undefined;
  let tick: NodeJS.Timeout | undefined;
  const text = () => `${label} ${((Date.now() - started) / 1000).toFixed(1)} s`;
  const timer = setTimeout(
    () => {
      spinner = yoctoSpinner({ text: text(), stream: process.stderr }).start();
      tick = setInterval(() => {
        if (spinner) spinner.text = text();
      }, 200);
      tick.unref();
    },
    Number.isFinite(after) ? after : 1000,
  );
  timer.unref();
  return {
    stop: () => {
      clearTimeout(timer);
      if (tick) clearInterval(tick);
      spinner?.stop();
      spinner = undefined;
    },
  };
}
