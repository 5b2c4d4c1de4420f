/**
 * The demo's three people: the author plans and applies, a reviewer reviews, the owner of
 * every collection decides identities and permits. Embedded (one database user) each is a
 * name given to natal.actor, as `--as` does. On a server natal's actor is the session's
 * role, so the reviewer and the owner are roles the demo makes (NOLOGIN, granted what they
 * need on the demo's two schemas) and acts as through Registry.open({ as }), which is SET
 * SESSION AUTHORIZATION: that needs a superuser connection.
 */
import { NatalError, errorMessage } from '../errors.js';
import type { Registry } from '../registry.js';
import { DEMO_ROLE_MARK } from './schemas.js';
import { runScript } from './script.js';

export const DEMO_AUTHOR = 'natal_demo_author';
export const DEMO_REVIEWER = 'natal_demo_reviewer';
export const DEMO_OWNER = 'natal_demo_owner';

export type Person = 'author' | 'reviewer' | 'owner';

/** Opens another registry on the demo's database and schema, acting as `actor` (server). */
export type OpenAs = (actor: string) => Promise<Registry>;

export interface DemoActors {
  names: Record<Person, string>;
  /** The registry on which `person` acts; on embedded the same one, renamed. */
  as(person: Person): Promise<Registry>;
  /** Server only: gives the people natal's roles, and natal's definer the platform's tables. */
  grant(): Promise<void>;
  close(): Promise<void>;
}

export async function demoActors(registry: Registry, openAs: OpenAs | undefined): Promise<DemoActors> {
  if (registry.db.kind === 'embedded') return embeddedActors(registry);
  if (!openAs) {
    throw new NatalError('USAGE', 'the demo on a server needs a way to open registries as other roles');
  }
  return serverActors(registry, openAs);
}

async function embeddedActors(registry: Registry): Promise<DemoActors> {
  // A name given with --as is the author; else the demo names one.
  const { rows } = await registry.db.query<{ a: string | null }>(
    `SELECT current_setting('natal.actor', true) AS a`,
  );
  const names = { author: rows[0]?.a || DEMO_AUTHOR, reviewer: DEMO_REVIEWER, owner: DEMO_OWNER };
  const as = async (person: Person) => {
    await registry.db.query(`SELECT set_config('natal.actor', $1, false)`, [names[person]]);
    return registry;
  };
  await as('author');
  return { names, as, grant: async () => undefined, close: async () => undefined };
}

async function serverActors(registry: Registry, openAs: OpenAs): Promise<DemoActors> {
  const { rows } = await registry.db.query<{ super: boolean; who: string }>(
    `SELECT rolsuper AS super, session_user::text AS who FROM pg_roles WHERE rolname = session_user`,
  );
  if (!rows[0]?.super) {
    throw new NatalError(
      'ACTOR_REFUSED',
      `natal demo on a server acts as three people: it makes the roles ${DEMO_REVIEWER} and ${DEMO_OWNER} and acts as them (SET SESSION AUTHORIZATION), which needs a superuser connection, and ${rows[0]?.who ?? 'this role'} is not one; connect as a superuser, or run the demo embedded (without --db)`,
    );
  }
  const roles = JSON.stringify([DEMO_REVIEWER, DEMO_OWNER]);
  try {
    await runScript(registry, ['roles.sql'], {
      'natal_demo.roles': roles,
      'natal_demo.mark': DEMO_ROLE_MARK,
    });
  } catch (err) {
    throw new NatalError('ACTOR_REFUSED', `natal demo: ${errorMessage(err)}`, { cause: err });
  }
  const names = { author: await registry.actor(), reviewer: DEMO_REVIEWER, owner: DEMO_OWNER };
  const opened = new Map<Person, Registry>();
  return {
    names,
    async as(person) {
      if (person === 'author') return registry;
      let r = opened.get(person);
      if (!r) {
        r = await openAs(names[person]);
        opened.set(person, r);
      }
      return r;
    },
    grant: () =>
      runScript(registry, ['grants.sql'], {
        'natal_demo.reviewer': DEMO_REVIEWER,
        'natal_demo.owner': DEMO_OWNER,
        'natal_demo.schema': registry.schema,
      }),
    async close() {
      for (const r of opened.values()) await r.close().catch(() => undefined);
    },
  };
}
