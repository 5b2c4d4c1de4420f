/**
 * `natal serve` over HTTP, as a browser and a monitoring scraper use it: pages with their
 * numbers rendered on the server, the JSON API in the CLI's shapes, /metrics, and the gate's
 * buttons — the review and the permit made on the page are the logged-in role's, refused by
 * the same SQL gate as from the CLI, and only with the form's CSRF token. On a server, as
 * login roles holding only their natal role; embedded, as the one user --as names.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { serveDashboard, type Served } from '../src/serve/server.js';
import { eachBackend, SERVER_URL } from './helpers/backends.js';
import { type DashboardFixture, dashboardFixture } from './helpers/dashboard.js';
import { WebClient } from './helpers/web.js';

eachBackend('natal serve', (backend) => {
  const server = backend.name === 'server';
  let f: DashboardFixture;
  before(async () => {
    f = await dashboardFixture(backend);
  });
  after(async () => {
    await f?.cleanup();
  });

  /** The dashboard, embedded as `as`, on a server for whoever logs in. */
  const start = (as?: string, sessionMinutes?: number): Promise<Served> => f.serve(as, sessionMinutes);
  /** A browser logged in as `who` (embedded: the server is already that one user). */
  const browser = async (s: Served, who: string): Promise<WebClient> => {
    const w = new WebClient(s.url);
    if (server) {
      const r = await w.login(who, f.password);
      assert.equal(r.status, 302, r.body);
    }
    return w;
  };
  const approvals = async () => {
    const r = await f.open();
    try {
      const [p] = (await r.plans()).filter((x) => x.plan_id === f.planId);
      return { reviewed: p?.reviewed_by ?? [], permitted: p?.permitted_by ?? [] };
    } finally {
      await r.close();
    }
  };

  test('pages carry their numbers in the HTML; the API has the CLI’s shapes; /metrics the census', async () => {
    // (embedded, natal serve holds the data directory: the census is taken before)
    const r = await f.open();
    const census = JSON.parse(JSON.stringify(await r.census())) as {
      totals: Record<string, unknown>;
      collections: { collection: string; births: number; gap: number }[];
    };
    const ready = (await r.preflight()).filter((p) => p.result === 'READY').length;
    await r.close();
    const s = await start(f.people.owner);
    try {
      const w = await browser(s, f.people.owner);
      const overview = await w.get('/');
      assert.equal(overview.status, 200, overview.body);
      assert.match(overview.body, /<td>Gap \(orphans\)<\/td><td class="n">3,000<\/td>/);
      assert.ok(
        overview.body.includes(
          `<td>Eligible for a backfill (preflight READY)</td><td class="n">${ready}</td>`,
        ),
        `eligible: preflight says ${ready}`,
      );
      assert.equal(ready, 1);
      assert.match(overview.body, new RegExp(`Overall state: <span class="state [a-z]+">`));
      const api = JSON.parse((await w.get('/api/census')).body) as typeof census;
      assert.deepEqual(api.totals, census.totals);
      assert.deepEqual(api.collections, census.collections);
      const plan = JSON.parse((await w.get(`/api/plans/${f.planId}`)).body) as {
        plans: { plan_id: number; state: string }[];
      };
      assert.deepEqual(
        plan.plans.map((p) => [p.plan_id, p.state]),
        [[f.planId, 'DRYRUN_PROVEN']],
      );
      const entity = JSON.parse((await w.get(`/api/entities/${encodeURIComponent(f.bornCode)}`)).body) as {
        entity_code: string;
        status: string;
      };
      assert.deepEqual([entity.entity_code, entity.status], [f.bornCode, 'alive']);
      const noRun = await w.get('/api/runs/999999');
      assert.equal(noRun.status, 404);
      assert.equal(JSON.parse(noRun.body).error.code, 'RUN_UNKNOWN');
      const unknown = await w.get('/api/entities/NOPE-1');
      assert.equal(unknown.status, 404);
      assert.match(JSON.parse(unknown.body).error.message, /NOPE-1/);
      const page = await w.get(`/collections/${encodeURIComponent(f.table)}`);
      assert.equal(page.status, 200);
      assert.match(page.body, /gap \(orphans\)<\/th><td>3,000<\/td>/);
      // the search box: a table and its key leads to the entity's page
      const found = await w.get(`/entities?q=${encodeURIComponent(`${f.table} ${f.rows + 1}`)}`);
      assert.equal(found.location, `/entities/${encodeURIComponent(f.bornCode)}`);
      assert.match(
        (await w.get(found.location ?? '')).body,
        /<th>status<\/th><td><span class="state good">alive<\/span>/,
      );

      const metrics = await new WebClient(s.url).get('/metrics');
      assert.equal(metrics.status, 200, metrics.body);
      assert.match(metrics.type ?? '', /^text\/plain; version=0\.0\.4/);
      const births = census.collections.find((c) => c.collection === f.table)?.births;
      assert.ok(
        metrics.body.includes(`natal_gap{collection="${f.table}",role="governed"} 3000\n`),
        metrics.body,
      );
      assert.ok(metrics.body.includes(`natal_births{collection="${f.table}",role="governed"} ${births}\n`));
      assert.match(
        metrics.body,
        new RegExp(`natal_plan_open\\{plan="${f.planId}",state="DRYRUN_PROVEN"\\} 1`),
      );
    } finally {
      await s.close();
    }
  });

  test('the author’s Review button is disabled with the gate’s reason; a form without its token changes nothing', async () => {
    const s = await start(f.people.author);
    try {
      const w = await browser(s, f.people.author);
      const page = await w.get(`/plans/${f.planId}`);
      assert.equal(page.status, 200, page.body);
      assert.match(page.body, /<button disabled title="[^"]*" data-gate="review">Review<\/button>/);
      assert.match(
        page.body,
        new RegExp(`data-why="review">${f.people.author} wrote plan ${f.planId} and cannot review it`),
      );
      // pressing it anyway (a crafted POST with the session's token): the SQL gate refuses
      const tokenOf = WebClient.csrf((await w.get('/')).body);
      const pressed = await w.post(`/plans/${f.planId}/review`, { _csrf: tokenOf, note: 'mine' });
      assert.equal(pressed.status, 409);
      assert.match(pressed.body, /wrote plan \d+ and cannot review it/);
    } finally {
      await s.close();
    }
    const r = await start(f.people.reviewer);
    try {
      const w = await browser(r, f.people.reviewer);
      await w.get(`/plans/${f.planId}`);
      const forged = await w.post(`/plans/${f.planId}/review`, { note: 'no token' });
      assert.equal(forged.status, 403);
      assert.match(forged.body, /CSRF/);
      const wrong = await w.post(`/plans/${f.planId}/review`, { _csrf: 'x'.repeat(32), note: 'bad token' });
      assert.equal(wrong.status, 403);
    } finally {
      await r.close();
    }
    assert.deepEqual(await approvals(), { reviewed: [], permitted: [] });
  });

  test('the reviewer reviews on the page and the owner permits: the approvals are theirs', async () => {
    let s = await start(f.people.reviewer);
    try {
      const w = await browser(s, f.people.reviewer);
      const page = await w.get(`/plans/${f.planId}`);
      assert.match(page.body, /<button data-gate="review">Review<\/button>/);
      // a reviewer is not the owner: Permit is disabled, with the gate's reason
      assert.match(
        page.body,
        new RegExp(
          `data-why="permit">a permit comes from an owner of the plan&#39;s collections \\(${f.people.owner}\\)`,
        ),
      );
      const done = await w.post(`/plans/${f.planId}/review`, {
        _csrf: WebClient.csrf(page.body),
        note: 'looked at it',
      });
      assert.equal(done.status, 302, done.body);
      assert.match((await w.get(done.location ?? '')).body, new RegExp(`Reviewed by ${f.people.reviewer}`));
    } finally {
      await s.close();
    }
    assert.deepEqual(await approvals(), { reviewed: [f.people.reviewer], permitted: [] });
    s = await start(f.people.owner);
    try {
      const w = await browser(s, f.people.owner);
      const page = await w.get(`/plans/${f.planId}`);
      assert.match(page.body, /<button data-gate="permit">Permit<\/button>/);
      const done = await w.post(`/plans/${f.planId}/permit`, {
        _csrf: WebClient.csrf(page.body),
        note: 'go',
      });
      assert.equal(done.status, 302, done.body);
      const after = await w.get(done.location ?? '');
      assert.match(after.body, /APPLY_READY/);
      assert.match(after.body, new RegExp(`<b>PERMIT</b> by ${f.people.owner}`));
    } finally {
      await s.close();
    }
    assert.deepEqual(await approvals(), { reviewed: [f.people.reviewer], permitted: [f.people.owner] });
    // the ledger page shows the chain verified
    s = await start(f.people.owner);
    try {
      const w = await browser(s, f.people.owner);
      const ledger = await w.get(`/ledger?plan=${f.planId}`);
      assert.match(ledger.body, /Hash chain verified: \d+ rows, head [0-9a-f]{64}\./);
      assert.match(ledger.body, /<td>REHEARSAL<\/td>/);
    } finally {
      await s.close();
    }
  });

  test('a request naming another host, a form from another origin and an oversized body are refused; pages carry security headers', async () => {
    const s = await start(f.people.owner);
    try {
      const port = new URL(s.url).port;
      const raw = (headers: Record<string, string>, method = 'GET', body?: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = request(
            {
              host: '127.0.0.1',
              port,
              path: method === 'GET' ? '/' : `/plans/${f.planId}/review`,
              method,
              headers,
            },
            (res) => {
              let text = '';
              res.on('data', (d) => (text += d));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      // DNS rebinding: a page elsewhere reaching 127.0.0.1 through a name of its own
      const rebound = await raw({ host: `rebind.example:${port}` });
      assert.deepEqual(
        [rebound.status, rebound.body],
        [403, `natal serve answers to localhost only, not to rebind.example:${port}\n`],
      );
      const w = new WebClient(s.url);
      const home = await w.get('/');
      assert.equal(home.status, server ? 302 : 200);
      const form = { 'content-type': 'application/x-www-form-urlencoded', host: `127.0.0.1:${port}` };
      const cross = await raw({ ...form, origin: 'http://evil.example' }, 'POST', 'note=x');
      assert.equal(cross.status, 403);
      const huge = await raw(
        { ...form, 'content-length': String(100_000) },
        'POST',
        `note=${'x'.repeat(99_995)}`,
      );
      assert.equal(huge.status, 413);
      const headers = await fetch(s.url + (server ? '/login' : '/'));
      assert.match(
        headers.headers.get('content-security-policy') ?? '',
        /default-src 'self'.*frame-ancestors 'none'/,
      );
      assert.equal(headers.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(headers.headers.get('cache-control'), 'no-store');
    } finally {
      await s.close();
    }
  });

  if (server) {
    test('a port in use is a one-line refusal, and natal’s connection is given back', async () => {
      const s = await start();
      try {
        await assert.rejects(
          serveDashboard({ db: SERVER_URL, schema: f.schema, port: Number(new URL(s.url).port) }),
          (err: Error & { code?: string }) =>
            err.code === 'USAGE' &&
            new RegExp(
              `^port ${new URL(s.url).port} on 127\\.0\\.0\\.1 is in use; give another with --port`,
            ).test(err.message),
        );
      } finally {
        await s.close();
      }
    });

    test('a login is the role typed and nothing else: a user in the URL, a control character, an empty password', async () => {
      // the URL natal serve was given names another user in its query (node-postgres would let it win)
      const s = await serveDashboard({
        db: `${SERVER_URL}?user=${f.people.reviewer}`,
        schema: f.schema,
        port: 0,
      });
      try {
        const w = new WebClient(s.url);
        assert.equal((await w.login(f.people.owner, f.password)).status, 302);
        assert.match((await w.get('/')).body, new RegExp(`">${f.people.owner}</span>`));
        for (const [role, password, why] of [
          [
            `${f.people.owner}\u0000options\u0000-c statement_timeout=1`,
            f.password,
            'a role name has no control characters',
          ],
          [f.people.owner, '', 'Give the role&#39;s password.'],
          ['r'.repeat(64), f.password, 'a role name has at most 63 bytes'],
        ] as const) {
          const r = await new WebClient(s.url).login(role, password);
          assert.equal(r.status, 400, role);
          assert.ok(r.body.includes(why), r.body);
        }
      } finally {
        await s.close();
      }
    });

    test('logins: a role that may not log in and one that does not exist are refused; sessions expire; cookies are HttpOnly and SameSite=Strict', async () => {
      const s = await start(undefined, 0.02);
      try {
        const anon = new WebClient(s.url);
        const first = await anon.get('/');
        assert.equal(first.status, 302);
        assert.equal(first.location, '/login');
        const api = await anon.get('/api/census');
        assert.equal(api.status, 401);
        assert.equal(JSON.parse(api.body).error.code, 'NOT_LOGGED_IN');
        for (const role of [f.people.nologin, `${f.schema}_nobody`]) {
          const r = await new WebClient(s.url).login(role, 'whatever');
          assert.equal(r.status, 401, `${role}: ${r.body}`);
          assert.match(r.body, /Not logged in: .*(not permitted to log in|does not exist)/);
        }
        // a login form posted without its own token is refused
        const stale = await new WebClient(s.url).post('/login', {
          role: f.people.owner,
          password: f.password,
        });
        assert.equal(stale.status, 403);
        const w = new WebClient(s.url);
        const ok = await w.login(f.people.owner, f.password);
        assert.equal(ok.status, 302);
        const cookie = ok.setCookies.find((c) => c.startsWith('natal_session='));
        assert.match(cookie ?? '', /HttpOnly/);
        assert.match(cookie ?? '', /SameSite=Strict/);
        assert.doesNotMatch(ok.body + ok.setCookies.join(), new RegExp(f.password));
        assert.equal((await w.get('/')).status, 200);
        await new Promise((resolve) => setTimeout(resolve, 2000)); // 0.02 min (1.2 s) idle
        const expired = await w.get('/');
        assert.equal(expired.status, 302);
        assert.equal(expired.location, '/login?expired=1');
        assert.match((await w.get('/login?expired=1')).body, /Your session expired/);
      } finally {
        await s.close();
      }
    });
  }
});
