import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eachBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

eachBackend('natal demo', (backend) => {
  test('walks the story, twice in a row, and leaves a clean registry', async () => {
    const target = backend.cliTarget();
    const schema = backend.uniqueName('natal_demo');
    backend.adopt('natal_demo_app');
    // The demo drops its own application schema; on the server keep runs apart.
    for (let run = 0; run < 2; run++) {
      const r = await natal(['demo', ...target, '--schema', schema, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout) as Record<string, unknown>;
      assert.equal(s.gateway_code, 'DOM-068');
      assert.equal(s.strict_rejected, true);
      assert.equal(s.trigger_births, 42);
      assert.deepEqual(s.inspected, { checked: 51, passed: 51, failed: 0 });
      assert.equal(s.collections, 5);
      assert.equal(s.births, 52);
      assert.equal(s.functional_triggers, 4);
      assert.equal(s.gap, 67);
      assert.equal(s.state, 'PREFLIGHT_READY');
    }
    const doctor = await natal(['doctor', ...target, '--schema', schema]);
    assert.equal(doctor.code, 0, doctor.stdout);
    const text = await natal(['demo', ...target, '--schema', schema]);
    assert.match(text.stdout, /birth-first \(QT-002\): natal create dot_domain_rules → DOM-068/);
    assert.match(text.stdout, /strict: a direct insert of DOM-900 with no prior birth was rejected/);
  });

  test('refuses a schema it did not make', async () => {
    const schema = backend.uniqueName('natal');
    const target = backend.cliTarget();
    assert.equal((await natal(['init', ...target, '--schema', schema])).code, 0);
    const r = await natal(['demo', ...target, '--schema', schema]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /was not made by natal demo/);
  });
});
