/**
 * `natal show`: one entity's birth certificate (issue 15), by its code or by its row's key.
 * The work is natal.show(code) in SQL (index lookups only); this reads its answer, and says
 * which codes are close when the code is unknown.
 */
import { resolveCollection } from '../catalog/names.js';
import type { Ctx } from '../context.js';
import { NatalError } from '../errors.js';
import type { BirthOperation } from '../types.js';

/**
 * alive: its row exists (again, after a death, when a row with its code came back); dead: its
 * row is gone with a recorded death; phantom: its row is gone and no death is recorded.
 */
/** rolled_back: no birth now; a rollback removed the one its backfill run made. */
export type EntityStatus = 'alive' | 'dead' | 'phantom' | 'rolled_back';

export interface Approver {
  actor: string;
  at: string;
}

/** One event of an entity's life, in time order. */
export type EntityEvent =
  | {
      event: 'born';
      at: string;
      operation: BirthOperation;
      origin: string;
      /** Who made it, where natal knows: a backfill run's actor, a catalog row's registrar. */
      actor: string | null;
      run_id: number | null;
      plan_id: number | null;
      /** A backfill's plan: its reviews and the owner's permits. */
      review: Approver[] | null;
      permit: Approver[] | null;
      /** Born by a re-key: the code it replaced. */
      rekeyed_from: string | null;
    }
  | { event: 'inspected'; at: string; result: 'passed' | 'failed'; reason: string | null }
  | {
      /** `died`: a delete or truncate; `re-keyed`: the row's identity changed. */
      event: 'died' | 're-keyed';
      at: string;
      how: DeathKind;
      origin: string;
      actor: string;
      /** A re-key: the code the row has now. */
      rekeyed_to: string | null;
    }
  | { event: string; at: string; [field: string]: unknown };

/** The birth certificate: `natal show --json` prints exactly these fields. */
export interface Entity {
  entity_code: string;
  collection_name: string;
  species_code: string;
  composition_level: string;
  /** null when rolled back (the birth that said it is gone). */
  dot_origin: string | null;
  /** Timestamps as PostgreSQL writes them in JSON (ISO 8601 with the offset); null when rolled back. */
  born_at: string | null;
  operation: BirthOperation;
  run_id: number | null;
  plan_id: number | null;
  inspection_status: 'pending' | 'passed' | 'failed';
  /** Born by a re-key: the code it replaced. */
  rekeyed_from: string | null;
  status: EntityStatus;
  /** Dead: when, how and by which origin it died (its last death). Else null. */
  died_at: string | null;
  death: Death | null;
  /** The row, when it exists and the caller may SELECT from its table; else null. */
  row: Record<string, unknown> | null;
  history: EntityEvent[];
  /** rolled_back: when the rollback removed its birth, and whether its row is there (an orphan again). */
  rolled_back_at?: string;
  row_exists?: boolean;
}

export type DeathKind = 'delete' | 'truncate' | 'rekey';

/** A recorded death (natal's entity_death): when, how, by which origin and who. */
export interface Death {
  at: string;
  how: DeathKind;
  origin: string;
  actor: string;
  /** A re-key: the code the row has now. */
  rekeyed_to: string | null;
}

/** A row's key: its value for a one-column key, an object of every column for a composite one. */
export type EntityKey = string | number | Record<string, string | number | boolean>;

export const SHOW_FIELDS = [
  'entity_code',
  'collection_name',
  'species_code',
  'composition_level',
  'dot_origin',
  'born_at',
  'operation',
  'run_id',
  'plan_id',
  'inspection_status',
  'rekeyed_from',
  'status',
  'died_at',
  'death',
  'row',
  'history',
] as const;

export async function showEntity(ctx: Ctx, code: string): Promise<Entity> {
  if (typeof code !== 'string' || code === '') {
    throw new NatalError('INVALID_ARGUMENT', 'an entity code is needed: natal show CODE');
  }
  const entity = await birthCertificate(ctx, code);
  if (entity) return entity;
  throw new NatalError('ENTITY_UNKNOWN', `no birth has code ${code}${await nearby(ctx, code)}`);
}

export async function showEntityByKey(ctx: Ctx, table: string, key: EntityKey): Promise<Entity> {
  const name = await resolveCollection(ctx, table);
  const { rows } = await ctx.db.query<{ entity_code: string | null; row_exists: boolean }>(
    `SELECT * FROM ${ctx.ns}.entity_code_for($1, $2::jsonb)`,
    [name, JSON.stringify(key)],
  );
  const found = rows[0];
  const shown = typeof key === 'object' ? JSON.stringify(key) : String(key);
  if (!found?.entity_code) {
    throw new NatalError('ENTITY_UNKNOWN', `${name} has no row with key ${shown}`);
  }
  const entity = await birthCertificate(ctx, found.entity_code);
  if (entity) return entity;
  throw new NatalError(
    'ENTITY_UNKNOWN',
    found.row_exists
      ? `the row of ${name} with key ${shown} has no birth (it is an orphan; its code would be ${found.entity_code}): natal census ${name} --orphans`
      : `${name} has no row with key ${shown}, and no birth has its code ${found.entity_code}`,
  );
}

/**
 * natal.show(code), its row's columns put back in the table's order (jsonb keeps its keys
 * sorted its own way) and each event's fields in a readable order.
 */
async function birthCertificate(ctx: Ctx, code: string): Promise<Entity | null> {
  const { rows } = await ctx.db.query<{ e: Entity | null; columns: string[] | null }>(
    `SELECT e, CASE WHEN e->'row' <> 'null' THEN
              (SELECT array_agg(a.attname::text ORDER BY a.attnum)
               FROM ${ctx.ns}.collection_registry c
               JOIN pg_catalog.pg_namespace n ON n.nspname = c.table_schema
               JOIN pg_catalog.pg_class k ON k.relnamespace = n.oid AND k.relname = c.table_name
               JOIN pg_catalog.pg_attribute a ON a.attrelid = k.oid AND a.attnum > 0 AND NOT a.attisdropped
               WHERE c.collection_name = e->>'collection_name') END AS columns
     FROM ${ctx.ns}.show($1) AS e`,
    [code],
  );
  const entity = rows[0]?.e;
  if (!entity) return null;
  const columns = rows[0]?.columns;
  const row = entity.row;
  if (row && columns) {
    entity.row = Object.fromEntries([
      ...columns.filter((c) => c in row).map((c) => [c, row[c]]),
      ...Object.entries(row).filter(([c]) => !columns.includes(c)),
    ]);
  }
  entity.history = entity.history.map(({ event, at, ...rest }) => ({ event, at, ...rest }) as EntityEvent);
  return entity;
}

/** `; closest: A, B` when codes close to `code` exist. */
async function nearby(ctx: Ctx, code: string): Promise<string> {
  const { rows } = await ctx.db.query<{ c: string }>(`SELECT c FROM ${ctx.ns}.show_nearby($1, 5) AS c`, [
    code,
  ]);
  return rows.length ? `; closest: ${rows.map((r) => r.c).join(', ')}` : '';
}

/**
 * The KEY of `natal show TABLE KEY` as typed: a JSON object for a composite key (malformed
 * JSON is a usage error), else the key's value as text.
 */
export function parseKey(text: string): EntityKey {
  if (!text.trimStart().startsWith('{')) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new NatalError(
      'USAGE',
      `the key ${text.trim()} is not valid JSON; write a composite key as a JSON object, e.g. '{"film_id": 1, "actor_id": 2}'`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new NatalError(
      'USAGE',
      `the key ${text.trim()} is not a JSON object; write it as one, e.g. '{"film_id": 1, "actor_id": 2}'`,
    );
  }
  return parsed as Record<string, string | number | boolean>;
}
