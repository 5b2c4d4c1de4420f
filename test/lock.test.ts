import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { LOCK_FILE } from '../src/db/lock.js';
import { Registry } from '../src/registry.js';
import { freshDataDir } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

function deadPid(): number {
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const pid = Number(dead.stdout.toString());
  assert.ok(pid > 0);
  return pid;
}

/**
 * One contender. It loads everything, says it is ready, and at the start time it is given
 * (plus its own fraction of a millisecond, so that the racers are at every phase of the
 * takeover relative to each other) takes the lock: through `Registry.open` (holding it
 * 300 ms) or, for rounds that must be cheap, through the lock alone (holding it 100 ms).
 * If it gets in it records when it held the directory and what the lock file said
 * meanwhile; a refused one prints its error's code and message and exits 1.
 */
const CONTENDER = `
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from ${JSON.stringify(new URL('../src/registry.js', import.meta.url).href)};
import { acquireDirLock } from ${JSON.stringify(new URL('../src/db/lock.js', import.meta.url).href)};
const [dir, barrier, via, offset] = process.argv.slice(-4);
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const now = () => performance.timeOrigin + performance.now();
writeFileSync(join(barrier, 'ready.' + process.pid), '');
while (!existsSync(join(barrier, 'go'))) pause(1);
const start = Number(readFileSync(join(barrier, 'go'), 'utf8')) + Number(offset);
pause(Math.max(0, start - now()));
let close;
try {
  if (via === 'registry') {
    const registry = await Registry.open({ dataDir: dir });
    close = () => registry.close();
  } else {
    const lock = acquireDirLock(dir);
    close = () => lock.release();
  }
} catch (err) {
  process.stderr.write(err.code + ' ' + err.message + '\\n');
  process.exit(1);
}
const enter = now();
const lock = readFileSync(join(dir, 'natal.lock'), 'utf8');
await new Promise((r) => setTimeout(r, via === 'registry' ? 300 : 100));
const leave = now();
writeFileSync(join(barrier, 'held.' + process.pid), JSON.stringify({ pid: process.pid, enter, leave, lock }));
await close();
`;

interface Hold {
  pid: number;
  enter: number;
  leave: number;
  lock: string;
}

/**
 * Starts `n` contenders for `dir` together; asserts that no two held it at once, that those
 * who got in had their pid in the lock file, and that every other one was refused naming one.
 */
async function race(dir: string, n: number, via: 'registry' | 'lock', label: string): Promise<void> {
  const barrier = mkdtempSync(join(dir, '..', 'barrier-'));
  const children = Array.from({ length: n }, (_, i) =>
    spawn(process.execPath, ['--input-type=module', '-e', CONTENDER, dir, barrier, via, String(i * 0.05)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const results = children.map(
    (child) =>
      new Promise<{ pid: number; code: number; stderr: string }>((resolve, reject) => {
        let stderr = '';
        child.stderr!.on('data', (d) => (stderr += d));
        child.stdout!.resume();
        child.on('error', reject);
        child.on('exit', (code) => resolve({ pid: child.pid!, code: code ?? -1, stderr }));
      }),
  );
  // Once every contender is loaded and waiting, they are given a start time a moment ahead.
  const deadline = Date.now() + 60_000;
  while (readdirSync(barrier).filter((f) => f.startsWith('ready.')).length < n) {
    assert.ok(Date.now() < deadline, 'the contenders did not all start');
    await new Promise((r) => setTimeout(r, 5));
  }
  writeFileSync(join(barrier, 'go'), String(performance.timeOrigin + performance.now() + 50));
  const ended = await Promise.all(results);
  const holds: Hold[] = readdirSync(barrier)
    .filter((f) => f.startsWith('held.'))
    .map((f) => JSON.parse(readFileSync(join(barrier, f), 'utf8')) as Hold)
    .sort((a, b) => a.enter - b.enter);
  for (let i = 1; i < holds.length; i++) {
    assert.ok(
      holds[i]!.enter >= holds[i - 1]!.leave,
      `${label}: two holders at once: ${JSON.stringify(holds)}`,
    );
  }
  // One of them took the stale lock over. (Another may get in after it left: a contender
  // that a loaded machine starts late finds the directory free. That is no double holder.)
  assert.ok(holds.length >= 1, `${label}: nobody got in: ${JSON.stringify(ended)}`);
  for (const h of holds) {
    assert.equal(h.lock, `${h.pid}\n`, `${label}: a holder's pid is in the lock while it holds it`);
  }
  const holders = holds.map((h) => h.pid);
  assert.deepEqual(
    ended
      .filter((r) => r.code === 0)
      .map((r) => r.pid)
      .sort(),
    [...holders].sort(),
    `${label}: ${JSON.stringify(ended)}`,
  );
  // Every other one was refused, naming a holder.
  for (const r of ended.filter((x) => x.code !== 0)) {
    const named = /in use by pid (\d+);/.exec(r.stderr)?.[1];
    assert.ok(named !== undefined && holders.includes(Number(named)), `${label}: ${r.stderr}`);
    assert.equal(
      r.stderr.trim(),
      `DATA_DIR_IN_USE data directory ${dir} is in use by pid ${named}; wait for that natal to finish or stop it`,
      label,
    );
  }
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith(LOCK_FILE)),
    [],
    `${label}: released, and nothing left behind`,
  );
}

// The lock guards PGlite's data directory; a server needs none, so this file is embedded-only.
describe('data directory lock [embedded]', () => {
  const open: Registry[] = [];
  after(async () => {
    for (const r of open) await r.close();
  });

  test('a second process on the same directory is refused with the holder pid', async () => {
    const dir = freshDataDir();
    const registry = await Registry.open({ dataDir: dir });
    open.push(registry);
    await registry.init();
    const r = await natal(['doctor', '--data-dir', dir]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      `natal: data directory ${dir} is in use by pid ${process.pid}; wait for that natal to finish or stop it`,
    );
    // The holder is unharmed.
    assert.equal((await registry.doctor()).clean, true);
  });

  test('the lock is released on close', async () => {
    const dir = freshDataDir();
    const registry = await Registry.open({ dataDir: dir });
    assert.ok(existsSync(join(dir, LOCK_FILE)));
    await registry.close();
    assert.ok(!existsSync(join(dir, LOCK_FILE)));
    const r = await natal(['init', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
  });

  test('a lock left by a dead process is recovered', async () => {
    const dir = freshDataDir();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(dead.stdout.toString());
    assert.ok(deadPid > 0);
    writeFileSync(join(dir, LOCK_FILE), `${deadPid}\n`);
    const r = await natal(['init', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(join(dir, LOCK_FILE)), 'released after the command');
  });

  test('a garbage lock file is treated as stale', async () => {
    const dir = freshDataDir();
    writeFileSync(join(dir, LOCK_FILE), 'not a pid');
    const registry = await Registry.open({ dataDir: dir });
    try {
      assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), `${process.pid}\n`, 'taken over');
    } finally {
      await registry.close();
    }
    assert.ok(!existsSync(join(dir, LOCK_FILE)), 'released on close');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith(LOCK_FILE)),
      [],
      'the takeover left nothing behind',
    );
  });

  // Several natals started at the same moment on a directory whose lock is stale: exactly one
  // may take it over; every other one must see that one's lock and be refused. The race is
  // narrow (tens of microseconds), so besides whole natals it is run many times on the lock alone.
  for (const [kind, content] of [
    ['a dead pid', () => `${deadPid()}\n`],
    ['garbage', () => 'not a pid'],
  ] as const) {
    test(`racing for a stale lock (${kind}), one process holds it at a time`, async () => {
      const dir = freshDataDir();
      writeFileSync(join(dir, LOCK_FILE), content());
      await race(dir, 5, 'registry', 'natal');
      for (let round = 0; round < 15; round++) {
        const dir = mkdtempSync(join(process.env.NATAL_TEST_TMP ?? tmpdir(), 'lock-'));
        writeFileSync(join(dir, LOCK_FILE), content());
        await race(dir, 5, 'lock', `round ${round}`);
      }
    });
  }

  test('a process killed with SIGKILL leaves a lock the next one recovers', async () => {
    const dir = freshDataDir();
    const holder = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { Registry } from ${JSON.stringify(new URL('../src/registry.js', import.meta.url).href)};
         await Registry.open({ dataDir: ${JSON.stringify(dir)} });
         process.kill(process.pid, 'SIGKILL');`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(holder.signal, 'SIGKILL', holder.stderr);
    assert.ok(existsSync(join(dir, LOCK_FILE)), 'the killed process left its lock');
    const registry = await Registry.open({ dataDir: dir });
    await registry.init();
    assert.equal((await registry.doctor()).clean, true);
    await registry.close();
  });
});
