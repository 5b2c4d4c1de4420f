/**
 * natal serve in a real browser (Chromium, driven by Playwright), as its people use it: the
 * reviewer logs in and presses Review, the owner presses Permit, the author finds Review
 * disabled with the gate's reason; an apply run from the CLI is followed live on the plan's
 * page to its end; an entity is found from the search box; a role that may not log in and
 * an expired session are sent back to the login page. Embedded: the one user --as names.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Served } from '../src/serve/server.js';
import { eachBackend, SERVER_URL } from './helpers/backends.js';
import { browserMissing, launchBrowser } from './helpers/browser.js';
import { NATAL_BIN } from './helpers/cli.js';
import { type DashboardFixture, dashboardFixture } from './helpers/dashboard.js';

const missing = browserMissing();

eachBackend('natal serve in a browser', (backend) => {
  const server = backend.name === 'server';
  let f: DashboardFixture;
  let browser: Browser;
  before(async () => {
    if (missing) return;
    // on a server, enough rows that the apply runs for a few seconds in batches of 200
    f = await dashboardFixture(backend, server ? 60_000 : 20_000);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await f?.cleanup();
  });

  const start = (as?: string, sessionMinutes?: number): Promise<Served> => f.serve(as, sessionMinutes);

  /** A fresh browser context (no cookies), logged in as `who` on a server. */
  const visit = async (s: Served, who: string): Promise<Page> => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(s.url);
    if (server) {
      await page.waitForURL(/\/login$/);
      await page.getByLabel('role').fill(who);
      await page.getByLabel('password').fill(f.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL(`${s.url}/`);
    }
    return page;
  };

  test(
    'the author finds Review disabled with the reason; the reviewer reviews; the owner permits',
    { skip: missing },
    async () => {
      let s = await start(f.people.author);
      try {
        const page = await visit(s, f.people.author);
        await page.getByRole('link', { name: 'Plans and runs' }).click();
        await page
          .getByRole('link', { name: String(f.planId), exact: true })
          .first()
          .click();
        const review = page.locator('button[data-gate="review"]');
        assert.equal(await review.isDisabled(), true);
        assert.match(
          (await page.locator('[data-why="review"]').textContent()) ?? '',
          new RegExp(`${f.people.author} wrote plan ${f.planId} and cannot review it`),
        );
      } finally {
        await s.close();
      }
      s = await start(f.people.reviewer);
      try {
        const page = await visit(s, f.people.reviewer);
        await page.goto(`${s.url}/plans/${f.planId}`);
        await page.getByLabel('review note').fill('read the plan: 1 collection');
        await page.locator('button[data-gate="review"]').click();
        await page.getByRole('status').getByText(`Reviewed by ${f.people.reviewer}.`).waitFor();
        assert.equal(await page.locator('button[data-gate="permit"]').isDisabled(), true);
      } finally {
        await s.close();
      }
      s = await start(f.people.owner);
      try {
        const page = await visit(s, f.people.owner);
        await page.goto(`${s.url}/plans/${f.planId}`);
        await page.locator('button[data-gate="permit"]').click();
        await page.getByRole('status').getByText(`Permitted by ${f.people.owner}.`).waitFor();
        assert.equal(await page.locator('.facts .state').first().textContent(), 'APPLY_READY');
      } finally {
        await s.close();
      }
    },
  );

  test('an entity found from the search box, by its table and key', { skip: missing }, async () => {
    const s = await start(f.people.owner);
    try {
      const page = await visit(s, f.people.owner);
      await page.getByRole('searchbox').fill(`${f.table} ${f.rows + 1}`);
      await page.getByRole('button', { name: 'Find' }).click();
      await page.waitForURL(`${s.url}/entities/${encodeURIComponent(f.bornCode)}`);
      assert.equal(await page.locator('h1').textContent(), f.bornCode);
      assert.match((await page.locator('#certificate').textContent()) ?? '', /alive/);
      // the charts are drawn by Chart.js, served by natal (no CDN)
      await page.goto(s.url);
      await page.locator('canvas[data-chart]').first().waitFor();
      assert.equal(await page.evaluate(() => typeof (globalThis as { Chart?: unknown }).Chart), 'function');
    } finally {
      await s.close();
    }
  });

  if (server) {
    test(
      'an apply run from the CLI is followed live on the plan page to its end',
      { skip: missing },
      async () => {
        const s = await start();
        try {
          // the operator who runs it (a rollback's dry run needs natal's operator role)
          const page = await visit(s, f.people.author);
          const apply = spawn(
            process.execPath,
            [
              NATAL_BIN,
              'apply',
              String(f.planId),
              '--db',
              SERVER_URL as string,
              '--schema',
              f.schema,
              '--as',
              f.people.author,
              '--batch-size',
              '200',
              '--quiet',
            ],
            { stdio: 'ignore' },
          );
          const exited = new Promise<number>((resolve) => apply.on('exit', (code) => resolve(code ?? -1)));
          // the run appears on the plans page; its page follows it
          let seen = false;
          for (let i = 0; i < 200 && !seen; i++) {
            await page.goto(`${s.url}/plans/${f.planId}`);
            seen = (await page.locator('[data-run-progress]').count()) > 0;
            if (!seen) await new Promise((resolve) => setTimeout(resolve, 50));
          }
          assert.ok(seen, 'the running apply was shown with its progress');
          const text = (await page.locator('.progress-text').textContent()) ?? '';
          assert.match(text, /run \d+: [\d,]+ of 60,000 births/);
          // the page reloads itself when the run ends
          await page.locator('.facts .state', { hasText: 'VERIFIED' }).waitFor({ timeout: 120_000 });
          assert.equal(await exited, 0);
          assert.equal(await page.locator('[data-run-progress]').count(), 0);
          assert.match(
            (await page.content()).replace(/\s+/g, ' '),
            /natal rollback \d+ would remove <b>60,000<\/b> births/,
          );
        } finally {
          await s.close();
        }
      },
    );

    test(
      'a role that may not log in is refused; an expired session returns to the login page',
      { skip: missing },
      async () => {
        const s = await start(undefined, 0.05);
        try {
          const page = await (await browser.newContext()).newPage();
          await page.goto(`${s.url}/plans`);
          await page.waitForURL(/\/login$/);
          await page.getByLabel('role').fill(f.people.nologin);
          await page.getByLabel('password').fill('wrong');
          await page.getByRole('button', { name: 'Log in' }).click();
          await page
            .getByRole('alert')
            .getByText(/Not logged in: .*not permitted to log in/)
            .waitFor();
          const logged = await visit(s, f.people.owner);
          await new Promise((resolve) => setTimeout(resolve, 4000)); // 0.05 min (3 s) idle: ample under a loaded machine
          await logged.reload();
          await logged.waitForURL(/\/login\?expired=1$/);
          await logged.getByRole('alert').getByText('Your session expired: log in again.').waitFor();
        } finally {
          await s.close();
        }
      },
    );
  } else {
    test(
      'embedded: the plan applied from its page (natal serve holds the database), followed live to its end',
      { skip: missing },
      async () => {
        const s = await start(f.people.author);
        try {
          const page = await visit(s, f.people.author);
          await page.goto(`${s.url}/plans/${f.planId}`);
          await page.getByLabel('rows per batch').fill('50');
          await page.locator('button[data-gate="apply"]').click();
          await page.locator('[data-run-progress]').waitFor();
          assert.match((await page.locator('.progress-text').textContent()) ?? '', /of 20,000 births/);
          await page.locator('.facts .state', { hasText: 'VERIFIED' }).waitFor({ timeout: 120_000 });
          assert.equal(await page.locator('button[data-gate="apply"]').count(), 0);
          assert.match(
            (await page.content()).replace(/\s+/g, ' '),
            /natal rollback \d+ would remove <b>20,000<\/b> births/,
          );
        } finally {
          await s.close();
        }
      },
    );

    test(
      'embedded: the page names the one user and says separation of duties is advisory',
      { skip: missing },
      async () => {
        const s = await start('gina');
        try {
          const page = await visit(s, 'gina');
          const notice = ((await page.locator('.notice').textContent()) ?? '').replace(/\s+/g, ' ');
          assert.match(notice, /you act as gina .*advisory/);
          assert.equal(await page.locator('form[action="/logout"]').count(), 0);
        } finally {
          await s.close();
        }
      },
    );
  }
});
