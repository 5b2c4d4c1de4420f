/**
 * `--wait[=SECONDS]`: where natal meets a lock that another natal holds (an embedded data
 * directory in use, an apply running), it tries again every quarter second instead of
 * failing at once, for up to `waitMs` (Infinity: until it is free).
 */
import { NatalError } from '../errors.js';

const EVERY_MS = 250;

/**
 * `attempt()`, again while it fails with a NatalError that `busy` says is someone else's
 * lock; the last refusal stands once `waitMs` has passed. `onWait` hears the first one.
 */
export async function waitingFor<T>(
  attempt: () => Promise<T>,
  busy: (err: NatalError) => boolean,
  waitMs: number | undefined,
  onWait?: (err: NatalError) => void,
): Promise<T> {
  const deadline = Date.now() + (waitMs ?? 0);
  let said = false;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof NatalError) || !busy(err) || !waitMs || Date.now() >= deadline) throw err;
      if (!said) onWait?.(err);
      said = true;
      await new Promise((r) => setTimeout(r, Math.min(EVERY_MS, Math.max(deadline - Date.now(), 0))));
    }
  }
}
