/**
 * `npm run screenshots`: the demo's registry (embedded, in a temporary directory) served by
 * natal serve and photographed page by page at 1280×800 in Chromium, into
 * docs/screenshots/. Needs Debian's chromium (/usr/bin/chromium).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/paths.js';
import { serveDashboard } from '../src/serve/server.js';
import { launchBrowser } from '../test/helpers/browser.js';

const out = join(PACKAGE_ROOT, 'docs', 'screenshots');
const dir = mkdtempSync(join(tmpdir(), 'natal-screenshots-'));
try {
  const demo = spawnSync(
    process.execPath,
    [join(PACKAGE_ROOT, 'dist/src/cli/main.js'), 'demo', '--data-dir', dir, '--quiet'],
    {
      stdio: 'inherit',
    },
  );
  if (demo.status !== 0) throw new Error('natal demo failed');
  mkdirSync(out, { recursive: true });
  const served = await serveDashboard({
    dataDir: dir,
    schema: 'natal_demo',
    as: 'natal_demo_owner',
    port: 0,
  });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const pages: [string, string][] = [
      ['/', 'overview'],
      ['/collections', 'collections'],
      ['/collections/natal_demo_app.apr_approvals', 'collection'],
      ['/plans', 'plans'],
      ['/plans/1', 'plan'],
      ['/ledger', 'ledger'],
    ];
    for (const [path, name] of pages) {
      await page.goto(served.url + path);
      await page.waitForLoadState('networkidle');
      await page.screenshot({ path: join(out, `${name}.png`) });
      console.log(`docs/screenshots/${name}.png`);
    }
    await page.goto(`${served.url}/entities?q=${encodeURIComponent('natal_demo_app.apr_approvals 1')}`);
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(out, 'entity.png') });
    console.log('docs/screenshots/entity.png');
  } finally {
    await browser.close();
    await served.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
