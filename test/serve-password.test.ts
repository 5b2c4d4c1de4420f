/**
 * natal serve's login against a server that checks passwords. The test server trusts
 * 127.0.0.1, so this suite needs another: NATAL_TEST_PASSWORD_URL names one whose 127.0.0.1
 * connections need a password (CI makes it: a cluster of its own with scram-sha-256), as a
 * superuser with the password in the URL. Without it the suite is skipped and says so; with
 * NATAL_TEST_REQUIRE_PASSWORD_SERVER=1 (CI) a missing one fails.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../src/db/ident.js';
import { Registry } from '../src/registry.js';
import { serveDashboard, type Served } from '../src/serve/server.js';
import { dropNatalRoles } from './helpers/backends.js';
import { browserMissing, launchBrowser } from './helpers/browser.js';
import { WebClient } from './helpers/web.js';

const URL_ = process.env.NATAL_TEST_PASSWORD_URL;
if (!URL_ && process.env.NATAL_TEST_REQUIRE_PASSWORD_SERVER === '1') {
  throw new Error('NATAL_TEST_REQUIRE_PASSWORD_SERVER is set but NATAL_TEST_PASSWORD_URL is not');
}

describe(
  'natal serve against a server that checks passwords',
  { skip: URL_ ? false : 'no password-checking server (NATAL_TEST_PASSWORD_URL)' },
  () => {
    const schema = `natal_${randomBytes(5).toString('hex')}`;
    const reader = `${schema}_rd`;
    const password = `right ${randomBytes(6).toString('hex')}`;
    let su: pg.Client;
    let served: Served;
    before(async () => {
      su = new pg.Client({ connectionString: URL_ });
      await su.connect();
      const r = await Registry.open({ db: URL_, schema });
      try {
        await r.init();
        await su.query(`CREATE ROLE ${quoteIdent(reader)} LOGIN PASSWORD '${password}'`);
        await r.grantAccess(reader, ['reader']);
      } finally {
        await r.close();
      }
      served = await serveDashboard({ db: URL_, schema, port: 0 });
    });
    after(async () => {
      await served?.close();
      await su.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      await su.query(`DROP ROLE IF EXISTS ${quoteIdent(reader)}`);
      await dropNatalRoles(su, schema);
      await su.end();
    });

    test('a wrong password is refused with the server’s reason and never shown; the right one logs in', async () => {
      const wrong = `wrong ${randomBytes(6).toString('hex')}`;
      const refused = await new WebClient(served.url).login(reader, wrong);
      assert.equal(refused.status, 401);
      assert.match(
        refused.body,
        new RegExp(`Not logged in: .*password authentication failed for user &quot;${reader}&quot;`),
      );
      assert.ok(!refused.body.includes(wrong) && !refused.body.includes(password), 'no password in the page');
      const w = new WebClient(served.url);
      assert.equal((await w.login(reader, password)).status, 302);
      const home = await w.get('/');
      assert.equal(home.status, 200);
      assert.match(home.body, new RegExp(`">${reader}</span>`));
    });

    test('in a browser: a wrong password, then the right one', { skip: browserMissing() }, async () => {
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage();
        await page.goto(served.url);
        await page.getByLabel('role').fill(reader);
        await page.getByLabel('password').fill('not it');
        await page.getByRole('button', { name: 'Log in' }).click();
        await page
          .getByRole('alert')
          .getByText(/password authentication failed/)
          .waitFor();
        await page.getByLabel('password').fill(password);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.waitForURL(`${served.url}/`);
        await page.locator('#key-numbers').waitFor();
      } finally {
        await browser.close();
      }
    });
  },
);
