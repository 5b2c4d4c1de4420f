/**
 * Who is on the page. On a server, a session is a database login: the role and password
 * typed on the page open natal's registry as that role (so the gate sees that role, as from
 * the CLI); the password goes to PostgreSQL and nowhere else. Embedded, there is one user
 * (`--as`), and one session per browser only carries its CSRF token.
 *
 * A session ends when it has been idle longer than its time to live, at logout, or when the
 * server stops; its connections close with it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Registry } from '../registry.js';

export interface Session {
  readonly id: string;
  /** The database role (server) or the `--as` name (embedded). */
  readonly login: string;
  readonly registry: Registry;
  /** The token every form of this session carries. */
  readonly csrf: string;
  expires: number;
  /** Requests of one session run one at a time (a registry is one connection's work). */
  queue: Promise<unknown>;
}

const MAX_PER_LOGIN = 5;
const MAX_SESSIONS = 200;

export function token(): string {
  return randomBytes(24).toString('base64url');
}

/** Compares two tokens in constant time. */
export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Sessions {
  private readonly live = new Map<string, Session>();
  /** Sessions ended by their idle time, kept an hour so that the page can say why. */
  private readonly expiredAt = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  /**
   * ttlMs: idle time after which a session ends. ownsRegistry: whether ending a session
   * closes its registry (a server login's own connection; not the embedded one).
   */
  constructor(
    private readonly ttlMs: number,
    private readonly ownsRegistry: boolean,
  ) {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(ttlMs, 60_000));
    this.sweeper.unref();
  }

  create(login: string, registry: Registry): Session {
    // At most MAX_PER_LOGIN sessions of one login (on a server: each is a pool of
    // connections) and MAX_SESSIONS in all: the oldest ends first.
    const mine = [...this.live.values()].filter((x) => x.login === login);
    if (this.ownsRegistry && mine.length >= MAX_PER_LOGIN && mine[0]) void this.end(mine[0].id);
    if (this.live.size >= MAX_SESSIONS) {
      const oldest = this.live.keys().next().value;
      if (oldest !== undefined) void this.end(oldest);
    }
    const s: Session = {
      id: token(),
      login,
      registry,
      csrf: token(),
      expires: Date.now() + this.ttlMs,
      queue: Promise.resolve(),
    };
    this.live.set(s.id, s);
    return s;
  }

  /** The live session of this id (its idle time starts again), or undefined; `expired` says why not. */
  get(id: string | undefined): { session?: Session; expired: boolean } {
    if (!id) return { expired: false };
    const s = this.live.get(id);
    if (!s) return { expired: this.expiredAt.has(id) };
    if (s.expires <= Date.now()) {
      this.expiredAt.set(s.id, Date.now());
      void this.end(s.id);
      return { expired: true };
    }
    s.expires = Date.now() + this.ttlMs;
    return { session: s, expired: false };
  }

  /** Runs fn with the session's registry, after the session's earlier requests. */
  run<T>(s: Session, fn: (registry: Registry) => Promise<T>): Promise<T> {
    const next = s.queue.then(() => fn(s.registry));
    s.queue = next.catch(() => undefined);
    return next;
  }

  async end(id: string): Promise<void> {
    const s = this.live.get(id);
    if (!s) return;
    this.live.delete(id);
    if (this.ownsRegistry) await s.queue.then(() => s.registry.close()).catch(() => undefined);
  }

  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const [id, at] of this.expiredAt) if (at < now - 3_600_000) this.expiredAt.delete(id);
    for (const s of [...this.live.values()]) {
      if (s.expires > now) continue;
      this.expiredAt.set(s.id, now);
      await this.end(s.id);
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    for (const id of [...this.live.keys()]) await this.end(id);
  }
}
