/**
 * The data-directory lock. Two processes on one PGlite directory corrupt it, so natal
 * holds `natal.lock` (containing its pid) while it has the directory open. A lock whose
 * pid is no longer alive was left by a crash and is taken over.
 */
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NatalError } from '../errors.js';

export const LOCK_FILE = 'natal.lock';

export interface DirLock {
  readonly path: string;
  release(): void;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function acquireDirLock(dir: string): DirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    // The pid is written to a file of our own first and linked into place, so the lock
    // appears whole: nobody ever reads a lock file that is still empty.
    const mine = `${path}.${process.pid}`;
    try {
      writeFileSync(mine, `${process.pid}\n`);
      try {
        linkSync(mine, path);
      } finally {
        unlinkSync(mine);
      }
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        if (readPid(path) === process.pid) {
          try {
            unlinkSync(path);
          } catch {
            // already gone
          }
        }
      };
      process.on('exit', release);
      return { path, release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = readPid(path);
      if (pid !== undefined && pidAlive(pid)) {
        throw new NatalError(
          'DATA_DIR_IN_USE',
          `data directory ${dir} is in use by pid ${pid}; wait for that natal to finish or stop it`,
        );
      }
      // A lock without a live owner (a crash, kill -9, or a file that is not a pid): take it over.
      try {
        unlinkSync(path);
      } catch {
        // another process took it over first; retry
      }
    }
  }
  throw new NatalError(
    'DATA_DIR_IN_USE',
    `could not lock data directory ${dir}; another natal is starting on it, try again`,
  );
}
