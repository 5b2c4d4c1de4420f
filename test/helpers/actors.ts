/**
 * Several people acting on one registry. Embedded (one database user) each is a name given
 * to natal.actor, as `--as` does. On a server each is a real database role, made for the
 * test (NOLOGIN, granted what natal needs), and acted as through Registry.open({ as }),
 * which is SET SESSION AUTHORIZATION from the test's superuser session.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { quoteIdent } from '../../src/db/ident.js';
import type { Registry } from '../../src/registry.js';
import { SERVER_URL, type TestBackend } from './backends.js';
import type { World } from './setup.js';

export interface Actors {
  /** The name the registry records for this person. */
  name(person: string): string;
  /** A registry on which this person is acting ('author' is the world's own registry). */
  as(person: string): Promise<Registry>;
  /** Drops the roles a server run made (call it from the suite's `after`). */
  cleanup(): Promise<void>;
}

export async function actors(backend: TestBackend, w: World, people: string[]): Promise<Actors> {
  if (backend.name === 'embedded') {
    return {
      name: (p) => (p === 'author' ? 'postgres' : p),
      async as(p) {
        await w.registry.db.query(`SELECT set_config('natal.actor', $1, false)`, [p === 'author' ? '' : p]);
        return w.registry;
      },
      cleanup: async () => undefined,
    };
  }
  const suffix = randomBytes(4).toString('hex');
  const roles = new Map(people.map((p) => [p, `natal_t_${p}_${suffix}`]));
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    for (const role of roles.values()) {
      const r = quoteIdent(role);
      await client.query(`CREATE ROLE ${r} NOLOGIN`);
      await grant(client, role, w.registry.schema, [...roles].find(([, r]) => r === role)?.[0] ?? '');
    }
  } finally {
    await client.end();
  }
  const opened = new Map<string, Registry>();
  const cleanup = async () => {
    const c = new pg.Client({ connectionString: SERVER_URL });
    await c.connect();
    try {
      for (const role of roles.values()) {
        await c.query(`DROP OWNED BY ${quoteIdent(role)}`).catch(() => undefined);
        await c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`).catch(() => undefined);
      }
    } finally {
      await c.end();
    }
  };
  return {
    cleanup,
    name: (p) => (p === 'author' ? 'postgres' : (roles.get(p) as string)),
    async as(p) {
      if (p === 'author') return w.registry;
      let r = opened.get(p);
      if (!r) {
        r = await backend.open({ schema: w.registry.schema, as: roles.get(p) as string });
        opened.set(p, r);
      }
      return r;
    },
  };
}

/**
 * The natal roles a test person holds, as `natal access grant` gives them (nothing else:
 * no right on natal's tables, which only natal's definer writes). A reviewer reviews; an
 * author (an operator) plans and applies; anyone else, an owner who permits, only reads.
 */
export async function grant(client: pg.Client, role: string, schema: string, person: string): Promise<void> {
  const natal =
    person === 'reviewer' ? ['reviewer'] : person === 'author' ? ['operator', 'admin'] : ['reader'];
  for (const r of natal) await client.query(`GRANT ${quoteIdent(`${schema}_${r}`)} TO ${quoteIdent(role)}`);
}

/**
 * A plan of `collections` taken through the gate in its order: planned and rehearsed by the
 * author (the rehearsal must pass), reviewed by the reviewer, permitted by the owner; the
 * author acts again afterwards. Returns the plan id.
 */
export async function throughGate(people: Actors, collections: string[]): Promise<number> {
  const author = await people.as('author');
  const plan = await author.plan(collections);
  const rehearsal = await author.rehearse(plan.plan_id);
  if (!rehearsal.ok) throw new Error(`the rehearsal of plan ${plan.plan_id} failed: ${rehearsal.why}`);
  await (await people.as('reviewer')).approve(plan.plan_id, 'review');
  await (await people.as('owner')).approve(plan.plan_id, 'permit');
  await people.as('author');
  return plan.plan_id;
}
