/**
 * The data-directory lock. Two processes on one PGlite directory corrupt it, so natal
 * holds `natal.lock` (containing its pid) while it has the directory open.
 *
 * Why our own algorithm and not a lock-file library: the well-kept ones (proper-lockfile,
 * lockfile) judge staleness by the lock's age, and proper-lockfile keeps its lock fresh by
 * rewriting the mtime from a timer. A natal killed with SIGKILL would then block the
 * directory for seconds (proper-lockfile will not go below 2 s, 10 s by default) where
 * natal has always recovered at once by seeing that the pid is dead; and a natal whose event
 * loop is busy in a long PGlite statement would miss its refreshes and have its live lock
 * taken over, which is the corruption the lock exists to prevent. Their takeover is also
 * "stat, then remove", the very race this module had. Node has no flock/fcntl, so the
 * kernel cannot release the lock for us; a pid check is the only immediate crash signal.
 *
 * Why the takeover needs a guard: creating the lock (link, which fails if the name exists)
 * is atomic, but removing a stale one is not: between reading a dead pid and unlinking,
 * another process may already have replaced the stale lock by its own live one, which the
 * unlink would then destroy. So a stale lock instance may only be removed by the process
 * that holds its guard `natal.lock.<id>`, where `<id>` names that one instance (inode,
 * ctime, content), and that process checks under the guard that the instance is still in
 * place. Nobody else removes a stale instance, so between that check and the unlink it
 * cannot change. A guard is itself a lock taken the same way, so a process that died while
 * holding one (a window of microseconds) leaves a stale guard that is recovered the same
 * way, one level up; no step anywhere depends on time.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { NatalError } from '../errors.js';

export const LOCK_FILE = 'natal.lock';

/** Guards of guards only pile up when processes die inside a takeover; this many is absurd. */
const MAX_GUARD_DEPTH = 8;
/** How long to wait for another process that is taking a stale lock over right now. */
const TAKEOVER_WAIT_MS = 2000;

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

function parsePid(text: string): number | undefined {
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function readPid(path: string): number | undefined {
  try {
    return parsePid(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function isCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException).code === code;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * What is at `path` now: its owner's pid (if it holds one) and an id for this very file,
 * read from one open descriptor so that the two describe the same file. Undefined if absent.
 */
function inspect(path: string): { pid: number | undefined; id: string } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (isCode(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    const text = readFileSync(fd, 'utf8');
    const id = createHash('sha256')
      .update(`${st.dev}:${st.ino}:${st.ctimeNs}:${st.birthtimeNs}:${text}`)
      .digest('hex')
      .slice(0, 16);
    return { pid: parsePid(text), id };
  } finally {
    closeSync(fd);
  }
}

/** Creates `path` holding our pid, whole, if nothing is there; false if something is. */
function create(path: string): boolean {
  // The pid goes into a file of our own first and is linked into place, so the lock appears
  // whole: nobody ever reads a lock file that is still empty.
  const mine = `${path}.${process.pid}.tmp`;
  writeFileSync(mine, `${process.pid}\n`);
  try {
    linkSync(mine, path);
    return true;
  } catch (err) {
    if (isCode(err, 'EEXIST')) return false;
    throw err;
  } finally {
    unlinkSync(mine);
  }
}

/**
 * Takes `path`, taking over a stale one. Returns true when we hold it; otherwise the pid
 * of the live holder, or undefined when a live process is taking a stale one over now.
 */
function take(path: string, depth: number): true | number | undefined {
  for (let attempt = 0; attempt < 20; attempt++) {
    if (create(path)) return true;
    const seen = inspect(path);
    if (seen === undefined) continue; // released meanwhile: try again
    if (seen.pid !== undefined && pidAlive(seen.pid)) return seen.pid;
    // Stale (a crash, kill -9, or not a pid at all). Only the holder of its guard removes it.
    if (depth >= MAX_GUARD_DEPTH) return undefined;
    const guard = `${path}.${seen.id}`;
    if (take(guard, depth + 1) !== true) return undefined;
    try {
      if (inspect(path)?.id === seen.id) unlinkSync(path);
    } finally {
      unlinkSync(guard);
    }
  }
  return undefined;
}

export function acquireDirLock(dir: string): DirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  for (;;) {
    const got = take(path, 0);
    if (got === true) break;
    if (got !== undefined) {
      throw new NatalError(
        'DATA_DIR_IN_USE',
        `data directory ${dir} is in use by pid ${got}; wait for that natal to finish or stop it`,
      );
    }
    // Another process is taking a stale lock over this very moment: in a few milliseconds
    // the lock is its (and we say so) or free again.
    if (Date.now() > deadline) {
      throw new NatalError(
        'DATA_DIR_IN_USE',
        `could not lock data directory ${dir}; another natal is starting on it, try again`,
      );
    }
    sleepSync(5);
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    // Nobody removes a lock whose owner is alive, so if our pid is there, it is ours.
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
}
