/** --verbose (NATAL_DEBUG) and --quiet, as a user runs them. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { eachBackend } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

eachBackend('cli verbosity', (backend) => {
  let target: string[];
  let schema: string;
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    natal([...args, ...target, '--schema', schema], { env: { NATAL_DEBUG: '', ...env } });
  before(async () => {
    target = backend.name === 'embedded' ? ['--data-dir', backend.freshDataDir()] : backend.cliTarget();
    schema = backend.uniqueName('verbosity');
    backend.adopt(schema);
    assert.equal((await run(['init'])).code, 0);
  });

  test('--verbose and NATAL_DEBUG print every statement and its time on stderr; without them, nothing', async () => {
    const plain = await run(['status']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.doesNotMatch(plain.stderr, /natal debug/);
    for (const on of [await run(['status', '--verbose']), await run(['status'], { NATAL_DEBUG: '1' })]) {
      assert.equal(on.code, 0, on.stderr);
      assert.match(on.stderr, /^natal debug: +\d+\.\d ms {2}SELECT /m);
      assert.equal(on.stdout, plain.stdout);
    }
  });

  test('--quiet prints nothing but errors; --json output is still printed', async () => {
    const quiet = await run(['status', '--quiet']);
    assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [0, '', '']);
    const json = await run(['status', '-q', '--json']);
    assert.equal(json.code, 0);
    assert.ok(JSON.parse(json.stdout));
    const refused = await run(['show', 'NOPE-1', '--quiet']);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /NOPE-1/);
  });

  test('--quiet and --verbose together are a usage error', async () => {
    const both = await run(['status', '--quiet', '--verbose']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give --verbose or --quiet, not both/);
  });
});
