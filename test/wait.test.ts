/**
 * --wait on an embedded data directory another process has open: natal waits for it
 * instead of failing at once; with SECONDS, only that long. (The apply's wait for another
 * apply is tested on the server, in backfill-server.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eachBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

eachBackend('--wait', (backend) => {
  test(
    'a data directory in use: refused at once, waited for with --wait, given up after --wait SECONDS',
    { skip: backend.name === 'server' ? 'a server has no data directory to wait for' : false },
    async () => {
      const dir = backend.freshDataDir();
      const schema = backend.uniqueName('wait');
      const status = (...flags: string[]) =>
        natal(['status', '--data-dir', dir, '--schema', schema, ...flags]);
      assert.equal((await natal(['init', '--data-dir', dir, '--schema', schema])).code, 0);
      const held = await backend.open({ schema, dataDir: dir });
      let released = false;
      try {
        const refused = await status();
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /is in use by pid \d+/);
        const t0 = Date.now();
        const short = await status('--wait', '0.6');
        assert.equal(short.code, 1);
        assert.ok(Date.now() - t0 >= 600);
        assert.match(short.stderr, /in use by pid \d+.*; waiting up to 0\.6 s \(--wait\)/);
        const bad = await status('--wait', 'soon');
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /--wait takes a number of seconds/);
        const started = Date.now();
        const waiting = status('--wait');
        await new Promise((r) => setTimeout(r, 1500));
        await held.close();
        released = true;
        const r = await waiting;
        assert.equal(r.code, 0, r.stderr);
        assert.ok(Date.now() - started >= 1500);
        assert.match(r.stderr, /; waiting \(--wait\)\n$/);
        assert.match(r.stdout, /natal status/);
      } finally {
        if (!released) await held.close();
      }
    },
  );
});
