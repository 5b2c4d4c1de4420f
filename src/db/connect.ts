/** Chooses the backend: a server when a URL is given, else the embedded data directory. */
import { NatalError } from '../errors.js';
import type { Backend } from './backend.js';
import { DEFAULT_DATA_DIR, openEmbedded } from './embedded.js';
import { openServer } from './server.js';
import { waitingFor } from './wait.js';

export interface ConnectOptions {
  /** A PostgreSQL URL; wins over `dataDir`. Falls back to NATAL_DATABASE_URL. */
  db?: string | undefined;
  /** The embedded data directory (default `./.natal`), or `memory://`. */
  dataDir?: string | undefined;
  /** Read NATAL_DATABASE_URL when `db` is not given (the CLI does; tests may not). */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Embedded: make the data directory's database when there is none (natal init does). */
  create?: boolean | undefined;
  /** Server only: the role every session acts as (see openServer). */
  as?: string | undefined;
  /** Embedded: wait this long (ms; Infinity: until free) for a data directory in use. */
  wait?: number | undefined;
  /** Told once when it waits (the CLI says so on stderr). */
  onWait?: ((why: string) => void) | undefined;
  /** Server: at most this many connections at once. */
  connections?: number | undefined;
}

export function connect(options: ConnectOptions = {}): Promise<Backend> {
  const url = options.db ?? options.env?.NATAL_DATABASE_URL;
  if (options.db !== undefined && options.dataDir !== undefined) {
    throw new NatalError('INVALID_ARGUMENT', 'give either a server URL (db) or a data directory, not both');
  }
  if (url !== undefined && url !== '' && options.dataDir === undefined) {
    return openServer(url, { as: options.as, max: options.connections });
  }
  return waitingFor(
    () => openEmbedded(options.dataDir ?? DEFAULT_DATA_DIR, options.create === true),
    (err) => err.code === 'DATA_DIR_IN_USE',
    options.wait,
    (err) => options.onWait?.(err.message),
  );
}
