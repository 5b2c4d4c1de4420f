/** Polling, for the tests that wait on another process or session: one helper, one timeout. */

/** Resolves once `fn` returns true; fails, naming `what`, after `timeoutMs`. */
export async function waitFor(fn: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
