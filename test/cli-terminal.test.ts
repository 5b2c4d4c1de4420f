/**
 * On a terminal natal colours its states and refusals and shows a spinner on standard error
 * while a command works; piped, with NO_COLOR, --json or --quiet, it does neither. The
 * terminal is a real pseudo-terminal (util-linux `script`), as a user's would be.
 */
/* eslint-disable no-control-regex -- the test reads terminal escape sequences */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, test } from 'node:test';
import { eachBackend } from './helpers/backends.js';
import { NATAL_BIN, natal } from './helpers/cli.js';

const ANSI = /\x1b\[/;
const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** `natal args` on a pseudo-terminal: everything it wrote to the terminal (stdout and stderr). */
function onTerminal(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  const line = [process.execPath, NATAL_BIN, ...args].map(quote).join(' ');
  const childEnv: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', NATAL_PROGRESS_AFTER_MS: '0', ...env };
  delete childEnv.CI;
  delete childEnv.NATAL_DATABASE_URL;
  if (!('FORCE_COLOR' in env)) delete childEnv.FORCE_COLOR;
  if (!('NO_COLOR' in env)) delete childEnv.NO_COLOR;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', line, '/dev/null'], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, out }));
  });
}

eachBackend('cli on a terminal', (backend) => {
  let args: (...a: string[]) => string[];
  before(async () => {
    const target = backend.name === 'embedded' ? ['--data-dir', backend.freshDataDir()] : backend.cliTarget();
    const schema = backend.uniqueName('tty');
    backend.adopt(schema);
    args = (...a) => [...a, ...target, '--schema', schema];
    assert.equal((await natal(args('init'))).code, 0);
  });

  test('states and refusals in colour on a terminal; none piped or with NO_COLOR', async () => {
    const tty = await onTerminal(args('status'));
    assert.equal(tty.code, 0, tty.out);
    assert.match(tty.out, /\x1b\[33mNOTHING_GOVERNED\x1b\[39m/);
    const refused = await onTerminal(args('show', 'NOPE-1'));
    assert.equal(refused.code, 1);
    assert.match(refused.out, /\x1b\[31mnatal:\x1b\[39m .*NOPE-1/);
    const piped = await natal(args('status'), { env: { FORCE_COLOR: '', NO_COLOR: '' } });
    assert.doesNotMatch(piped.stdout + piped.stderr, ANSI);
    const noColour = await onTerminal(args('status'), { NO_COLOR: '1' });
    assert.equal(noColour.code, 0);
    assert.match(noColour.out, /NOTHING_GOVERNED/);
    assert.doesNotMatch(
      noColour.out.replace(/\x1b\[\?25[lh]|\x1b\[\?2026[lh]|\x1b\[1G|\x1b\[0K/g, ''),
      /\x1b\[3\dm/,
    );
  });

  test(
    'a spinner names the command while it works, on a terminal only, and is gone before the answer',
    {
      skip:
        backend.name === 'embedded'
          ? 'PGlite runs in this thread: a statement holds the event loop, so the spinner draws between statements only'
          : false,
    },
    async () => {
      const tty = await onTerminal(args('census', '--recount'));
      assert.equal(tty.code, 0, tty.out);
      assert.match(tty.out, /natal census \d+\.\d s/);
      // the line is cleared (cursor to column 1, erase) before the answer is written
      assert.match(tty.out, /\x1b\[1G\x1b\[0K[\s\S]*collection +role/);
      for (const quiet of [
        await onTerminal(args('census', '--json')),
        await onTerminal(args('census', '-q')),
      ]) {
        assert.equal(quiet.code, 0);
        assert.doesNotMatch(quiet.out, /natal census \d/);
      }
      const piped = await natal(args('census'), { env: { NATAL_PROGRESS_AFTER_MS: '0' } });
      assert.doesNotMatch(piped.stderr, /natal census/);
    },
  );
});
