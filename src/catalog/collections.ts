/** Collections: tables whose rows are entities, with governance role, owner and identity. */
import { trustingTableOwner } from '../access/roles.js';
import type { Ctx } from '../context.js';
import { assertIdentifier } from '../db/ident.js';
import { NatalError } from '../errors.js';
import type { GovernanceRole, IdentityStrategy } from '../types.js';
import { parseTableName, resolveCollection } from './names.js';

export interface Collection {
  collection_name: string;
  table_schema: string;
  table_name: string;
  governance_role: GovernanceRole;
  owner: string | null;
  entity_code: string | null;
  species_code: string | null;
  strict_mode: boolean;
  birth_code_strategy: IdentityStrategy;
  birth_code_column: string | null;
  birth_code_key_columns: string[] | null;
  birth_code_reason: string | null;
  has_table: boolean;
  wired: boolean;
}

export const ROLES: readonly GovernanceRole[] = ['governed', 'staging', 'excluded'];

export function assertRole(role: string): GovernanceRole {
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new NatalError('INVALID_ARGUMENT', `role ${role} is not one of ${ROLES.join(', ')}`);
  }
  return role as GovernanceRole;
}

export interface AddCollection {
  table: string;
  species: string;
  role?: GovernanceRole | undefined;
  owner?: string | undefined;
  codeColumn?: string | undefined;
  /** Register it ahead of its table: the table does not exist yet (no-table). */
  noTable?: boolean | undefined;
}

export async function addCollection(ctx: Ctx, input: AddCollection): Promise<Collection> {
  const { schema, table } = parseTableName(input.table);
  if (input.codeColumn !== undefined) assertIdentifier(input.codeColumn, 'code column');
  if (input.owner !== undefined && input.owner.trim() === '') {
    throw new NatalError('INVALID_ARGUMENT', 'owner must not be empty');
  }
  const { rows } = await trustingTableOwner(ctx.db, ctx.schema, () =>
    ctx.db.query<{ name: string }>(
      `SELECT (${ctx.ns}.register_collection($1, $2, $3, $4, $5, $6, $7)).collection_name AS name`,
      [
        schema,
        table,
        input.species,
        input.role ?? 'governed',
        input.owner ?? null,
        input.codeColumn ?? null,
        input.noTable === true,
      ],
    ),
  );
  return (await listCollections(ctx, [rows[0]?.name as string]))[0] as Collection;
}

export async function listCollections(ctx: Ctx, names?: string[]): Promise<Collection[]> {
  const { rows } = await ctx.db.query<Collection>(
    `SELECT r.collection_name, r.table_schema, r.table_name, r.governance_role, r.owner,
            r.entity_code, m.species_code, r.strict_mode, r.birth_code_strategy,
            r.birth_code_column::text AS birth_code_column,
            r.birth_code_key_columns::text[] AS birth_code_key_columns, r.birth_code_reason,
            ${ctx.ns}.collection_table(r) IS NOT NULL AS has_table,
            w.collection_name IS NOT NULL AS wired
     FROM ${ctx.ns}.collection_registry r
     LEFT JOIN ${ctx.ns}.species_collection_map m USING (collection_name)
     LEFT JOIN ${ctx.ns}.wired_trigger w USING (collection_name)
     WHERE $1::text[] IS NULL OR r.collection_name = ANY ($1)
     ORDER BY r.collection_name`,
    [names ?? null],
  );
  return rows;
}

export interface SetCollection {
  role?: GovernanceRole | undefined;
  owner?: string | undefined;
  species?: string | undefined;
  strict?: boolean | undefined;
}

/** Changes a collection in one transaction; a wired collection is re-wired to match. */
export async function setCollection(
  ctx: Ctx,
  transaction: <T>(fn: (tx: Ctx) => Promise<T>) => Promise<T>,
  input: string,
  change: SetCollection,
): Promise<Collection> {
  if (Object.values(change).every((v) => v === undefined)) {
    throw new NatalError('INVALID_ARGUMENT', 'nothing to set: give a role, an owner, a species or strict');
  }
  if (change.owner !== undefined && change.owner.trim() === '') {
    throw new NatalError('INVALID_ARGUMENT', 'owner must not be empty');
  }
  const name = await transaction(async (tx) => {
    const collection = await resolveCollection(tx, input);
    await tx.db.query(`SELECT ${tx.ns}.set_collection($1, $2::${tx.ns}.governance_role, $3, $4, $5)`, [
      collection,
      change.role ?? null,
      change.owner ?? null,
      change.strict ?? null,
      change.species ?? null,
    ]);
    return collection;
  });
  return (await listCollections(ctx, [name]))[0] as Collection;
}

/**
 * Undoes a registration that has no births (its catalog row's birth goes with it); a
 * collection with births, or in a plan, stays registered (NatalError COLLECTION_HAS_BIRTHS).
 */
export async function removeCollection(ctx: Ctx, input: string): Promise<Collection> {
  const name = await resolveCollection(ctx, input);
  const [c] = await listCollections(ctx, [name]);
  await ctx.db.query(`SELECT ${ctx.ns}.remove_collection($1)`, [name]);
  return c as Collection;
}
