/** Species: the kinds of entity, with the code prefix of their codes. */
import type { Ctx } from '../context.js';
import { NatalError, SqlState, sqlState } from '../errors.js';

export interface Species {
  species_code: string;
  code_prefix: string;
  composition_level: string;
  name: string | null;
  entity_code: string | null;
  collections: number;
  created_by: string;
  created_at: Date;
}

export interface AddSpecies {
  code: string;
  prefix: string;
  level: string;
  name?: string | undefined;
}

const CODE = /^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$/;

export async function addSpecies(ctx: Ctx, input: AddSpecies): Promise<Species> {
  for (const [what, value] of [
    ['species code', input.code],
    ['code prefix', input.prefix],
  ] as const) {
    if (!CODE.test(value)) {
      throw new NatalError(
        'INVALID_ARGUMENT',
        `${what} ${JSON.stringify(value)} must be upper-case letters and digits, in dash-separated parts (e.g. SPE-DOM, DOM)`,
      );
    }
  }
  // A code sequence is named code_seq_<prefix>, and a name has 63 bytes at most.
  if (input.prefix.length > 50) {
    throw new NatalError(
      'INVALID_ARGUMENT',
      `code prefix ${input.prefix.slice(0, 20)}… is longer than 50 characters`,
    );
  }
  if (input.level.trim() === '' || input.level.trim() !== input.level) {
    throw new NatalError('INVALID_ARGUMENT', 'composition level must be non-empty, without outer spaces');
  }
  try {
    await ctx.db.query(`SELECT ${ctx.ns}.add_species($1, $2, $3, $4)`, [
      input.code,
      input.prefix,
      input.level,
      input.name ?? null,
    ]);
  } catch (err) {
    if (sqlState(err) === SqlState.uniqueViolation) {
      const { rows } = await ctx.db.query<{ species_code: string }>(
        `SELECT species_code FROM ${ctx.ns}.entity_species WHERE species_code = $1 OR code_prefix = $2`,
        [input.code, input.prefix],
      );
      const other = rows[0]?.species_code;
      throw new NatalError(
        'SPECIES_EXISTS',
        other === input.code
          ? `species ${input.code} already exists; see natal species list`
          : `code prefix ${input.prefix} is already used by species ${other}; choose another --prefix`,
        { cause: err },
      );
    }
    throw err;
  }
  const [species] = await listSpecies(ctx, input.code);
  return species as Species;
}

export async function listSpecies(ctx: Ctx, code?: string): Promise<Species[]> {
  const { rows } = await ctx.db.query<Species>(
    `SELECT s.species_code, s.code_prefix, s.composition_level, s.name, s.entity_code,
            (SELECT count(*)::int FROM ${ctx.ns}.species_collection_map m
             WHERE m.species_code = s.species_code) AS collections,
            s.created_by, s.created_at
     FROM ${ctx.ns}.entity_species s
     WHERE $1::text IS NULL OR s.species_code = $1
     ORDER BY s.species_code`,
    [code ?? null],
  );
  return rows;
}
