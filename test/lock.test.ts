import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { LOCK_FILE } from '../src/db/lock.js';
import { Registry } from '../src/registry.js';
import { freshDataDir } from './helpers/backends.js';
import { natal } from './helpers/cli.js';

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
    await registry.close();
  });

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
