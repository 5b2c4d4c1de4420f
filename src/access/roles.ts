/**
 * natal's roles on a server (see sql/functions/access.sql): six NOLOGIN roles named after
 * natal's schema. natal init makes them, gives the schema and every object in it to the
 * definer, and lets the definer act on the tables already registered. Roles belong to the
 * cluster: two databases that both use schema `natal` share natal_admin, natal_reviewer, …
 */
import type { Queryable } from '../db/backend.js';
import { quoteIdent } from '../db/ident.js';
import { NatalError } from '../errors.js';

export const NATAL_ROLES = ['admin', 'operator', 'reviewer', 'reader', 'writer'] as const;
export type NatalRole = (typeof NATAL_ROLES)[number];

/** The longest suffix natal adds to its schema's name for a role (`_operator`). */
const LONGEST_SUFFIX = '_operator'.length;

export function roleName(schema: string, role: NatalRole | 'definer'): string {
  return `${schema}_${role}`;
}

export function assertRoleNames(schema: string): void {
  if (Buffer.byteLength(schema, 'utf8') + LONGEST_SUFFIX > 63) {
    throw new NatalError(
      'INVALID_IDENTIFIER',
      `schema name ${schema.slice(0, 24)}… is too long for natal's role names (${schema}_operator must fit in 63 bytes); choose a shorter --schema`,
    );
  }
}

async function isSuperuser(tx: Queryable): Promise<boolean> {
  const { rows } = await tx.query<{ s: boolean }>(
    `SELECT rolsuper AS s FROM pg_roles WHERE rolname = current_user`,
  );
  return rows[0]?.s === true;
}

/**
 * Inside the caller's transaction: natal's roles exist, the schema is the definer's (made or
 * handed over), and the rest of the transaction acts as the definer (SET LOCAL ROLE).
 */
export async function actAsDefiner(tx: Queryable, schema: string): Promise<void> {
  assertRoleNames(schema);
  if (!(await isSuperuser(tx))) {
    throw new NatalError(
      'INSTALL_REFUSED',
      `natal init on a server is run by a superuser: it makes natal's roles (${roleName(schema, 'admin')}, …) and gives schema ${schema} to ${roleName(schema, 'definer')}; ask your DBA`,
    );
  }
  const definer = quoteIdent(roleName(schema, 'definer'));
  for (const role of ['definer', ...NATAL_ROLES] as const) {
    const name = roleName(schema, role);
    const { rows } = await tx.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
    if (rows.length === 0) await tx.exec(`CREATE ROLE ${quoteIdent(name)} NOLOGIN`);
  }
  for (const role of NATAL_ROLES) {
    await tx.exec(`GRANT ${quoteIdent(roleName(schema, role))} TO ${definer} WITH ADMIN OPTION`);
  }
  for (const role of ['admin', 'operator', 'reviewer'] as const) {
    await tx.exec(`GRANT ${quoteIdent(roleName(schema, 'reader'))} TO ${quoteIdent(roleName(schema, role))}`);
  }
  const q = quoteIdent(schema);
  const { rows: owner } = await tx.query<{ owner: string }>(
    `SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = $1`,
    [schema],
  );
  if (!owner[0]) {
    await tx.exec(`CREATE SCHEMA ${q} AUTHORIZATION ${definer}`);
  } else if (owner[0].owner !== definer && owner[0].owner !== roleName(schema, 'definer')) {
    // A schema natal 0.1 made, owned by whoever installed it: everything goes to the definer.
    await tx.exec(`ALTER SCHEMA ${q} OWNER TO ${definer}`);
    const { rows: objects } = await tx.query<{ sql: string }>(
      `SELECT format('ALTER %s %s OWNER TO %s', kind, name, $2::text) AS sql FROM (
         SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, c.oid::regclass::text AS name
         FROM pg_class c
         WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p', 'S')
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')
                             AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass)
         UNION ALL
         SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = $1::regnamespace
         UNION ALL
         SELECT 'TYPE', t.oid::regtype::text FROM pg_type t
         WHERE t.typnamespace = $1::regnamespace AND t.typtype IN ('e', 'd')
       ) AS o`,
      [q, definer],
    );
    for (const o of objects) await tx.exec(o.sql);
  }
  // natal acts on the tables it already governs with their owners' rights.
  const { rows: has } = await tx.query<{ ok: boolean }>(
    `SELECT to_regclass(format('%I.collection_registry', $1::text)) IS NOT NULL AS ok`,
    [schema],
  );
  const { rows: owners } = !has[0]?.ok
    ? { rows: [] }
    : await tx.query<{ owner: string }>(
        `SELECT DISTINCT c.relowner::regrole::text AS owner
     FROM ${q}.collection_registry r
     JOIN pg_class c ON c.oid = to_regclass(format('%I.%I', r.table_schema, r.table_name))
     WHERE NOT pg_has_role($1::name, c.relowner, 'USAGE')`,
        [roleName(schema, 'definer')],
      );
  for (const o of owners) await tx.exec(`GRANT ${o.owner} TO ${definer}`);
  await tx.exec(`SET LOCAL ROLE ${definer}`);
}

/**
 * Runs `fn` (inside the caller's transaction); when natal's definer may not yet act on a
 * table (NB025) and this session is a superuser, lets it act for the table's owner (GRANT
 * owner TO definer) and runs `fn` again. A DBA registering or wiring a table so gives natal
 * the right it needs; anyone else is told which GRANT to ask for.
 */
export async function trustingTableOwner<T>(tx: Queryable, schema: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    await tx.exec('SAVEPOINT natal_trust');
    try {
      const result = await fn();
      await tx.exec('RELEASE SAVEPOINT natal_trust');
      return result;
    } catch (err) {
      await tx.exec('ROLLBACK TO SAVEPOINT natal_trust');
      const owner = /its owner (.+) has not let natal's definer/.exec(
        err instanceof Error ? err.message : '',
      )?.[1];
      if (
        attempt >= 2 ||
        !(err instanceof NatalError) ||
        err.code !== 'NOT_PERMITTED' ||
        !owner ||
        !(await isSuperuser(tx))
      ) {
        throw err;
      }
      // (the schema's owner, then the table's: each is one grant)
      await tx.exec(`GRANT ${owner} TO ${quoteIdent(roleName(schema, 'definer'))}`);
    }
  }
}
