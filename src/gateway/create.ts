/** The birth-first gateway (QT-002) from TypeScript: a call of natal.create_entity(). */
import { resolveCollection } from '../catalog/names.js';
import type { Ctx } from '../context.js';
import { errorMessage, NatalError, SqlState, sqlState } from '../errors.js';

export interface BirthRecord {
  entity_code: string;
  collection_name: string;
  species_code: string;
  composition_level: string;
  dot_origin: string;
  born_at: string;
  governance_role: string;
  operation: string;
  inspection_status: string;
  /** The new entity's primary key (or its code column when it has none). */
  key: Record<string, unknown>;
}

const REJECTIONS = new Set<string>([
  SqlState.uniqueViolation,
  SqlState.foreignKeyViolation,
  SqlState.checkViolation,
  SqlState.notNullViolation,
  SqlState.invalidTextRepresentation,
]);

export async function createEntity(
  ctx: Ctx,
  input: { collection: string; data: unknown; origin?: string | undefined },
): Promise<BirthRecord> {
  if (typeof input.data !== 'object' || input.data === null || Array.isArray(input.data)) {
    throw new NatalError('BAD_ENTITY_DATA', 'entity data must be a JSON object of column values');
  }
  const collection = await resolveCollection(ctx, input.collection);
  try {
    const { rows } = await ctx.db.query<{ birth: BirthRecord }>(
      `SELECT ${ctx.ns}.create_entity($1, $2::jsonb, $3) AS birth`,
      [collection, JSON.stringify(input.data), input.origin ?? null],
    );
    return rows[0]?.birth as BirthRecord;
  } catch (err) {
    const state = sqlState(err);
    if ((state && REJECTIONS.has(state)) || (state && /^22/.test(state))) {
      throw new NatalError(
        'ENTITY_REJECTED',
        `${collection} refused the entity (${errorMessage(err)}); nothing was created and no birth was kept`,
        { cause: err },
      );
    }
    throw err;
  }
}
