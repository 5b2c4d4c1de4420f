/** A real browser for the dashboard's tests: Debian's Chromium driven by playwright-core. */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.NATAL_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here (no Chromium), or undefined. CI requires them. */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  if (process.env.NATAL_TEST_REQUIRE_BROWSER) throw new Error(`${why}; NATAL_TEST_REQUIRE_BROWSER is set`);
  return why;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
