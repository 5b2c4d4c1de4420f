/**
 * The floor of a figure: what the least a birth (or a death) can cost, by the same means natal
 * uses, measured in the same run as natal and its baseline. A *floor* table has a minimal
 * trigger of PostgreSQL's own kind: `AFTER … FOR EACH STATEMENT` with a transition table, a
 * `SECURITY DEFINER` function with a pinned `search_path` and `row_security = off` (natal's
 * triggers run with its definer's rights, so that an application role cannot write the
 * registry itself), that writes each row's birth into a copy of `birth_registry` (its columns,
 * checks and indexes: `LIKE … INCLUDING ALL`) as inspected (as natal's births of a trigger and
 * the gateway are, which keeps them out of the index of births to inspect), and checks
 * nothing. The floor gateway is a definer function that writes a birth and then the row, with
 * no probe and no check.
 *
 * A ratio of natal's can be no better than its floor's: a target above the floor cannot be
 * met by any trigger of this kind, whatever natal does in it.
 */
import type { Registry } from '../src/index.js';
import type { Figure } from './harness.js';
import { quoteIdent } from '../src/db/ident.js';

/**
 * Makes the floor's tables and functions in the application schema `app` (dropped with it):
 * `floor_births` and `floor_deaths` (copies of the registry's and of deaths' tables), the
 * trigger functions `floor_birth()` (the rows' `code` column) and `floor_death()`, and the
 * gateway `floor_create(name)`, which births a code and inserts a row of `floor_gw` with it.
 */
export async function makeFloor(registry: Registry, app: string): Promise<void> {
  const a = quoteIdent(app);
  const ns = registry.ctx.ns;
  const definer = `LANGUAGE plpgsql SECURITY DEFINER SET search_path = ${a} SET row_security = off`;
  await registry.db.exec(`
    CREATE TABLE ${a}.floor_births (LIKE ${ns}.birth_registry INCLUDING ALL);
    CREATE TABLE ${a}.floor_deaths (LIKE ${ns}.entity_death INCLUDING ALL);
    CREATE SEQUENCE ${a}.floor_codes;
    CREATE FUNCTION ${a}.floor_birth() RETURNS trigger ${definer} AS $$
    BEGIN
      INSERT INTO ${a}.floor_births (entity_code, collection_name, species_code, composition_level,
                                     dot_origin, governance_role, operation, inspection_status, inspected_at)
      SELECT n.code, TG_TABLE_NAME, 'SPE-FLR', 'atom', 'floor', 'governed', 'trigger', 'passed', now()
      FROM natal_new n;
      RETURN NULL;
    END $$;
    CREATE FUNCTION ${a}.floor_death() RETURNS trigger ${definer} AS $$
    BEGIN
      INSERT INTO ${a}.floor_deaths (collection_name, how, dot_origin, codes)
      SELECT TG_TABLE_NAME, 'delete', 'floor', array_agg(o.code) FROM natal_old o;
      RETURN NULL;
    END $$;
    CREATE TABLE ${a}.floor_gw (id bigserial PRIMARY KEY, code text UNIQUE, name text NOT NULL, _dot_origin text);
    CREATE FUNCTION ${a}.floor_create(p_name text) RETURNS text ${definer} AS $$
    DECLARE
      v_code text := 'FLR-' || nextval('${a}.floor_codes');
    BEGIN
      INSERT INTO ${a}.floor_births (entity_code, collection_name, species_code, composition_level,
                                     dot_origin, governance_role, operation, inspection_status, inspected_at)
      VALUES (v_code, 'floor_gw', 'SPE-FLR', 'atom', 'floor', 'governed', 'gateway', 'passed', now());
      INSERT INTO ${a}.floor_gw (code, name, _dot_origin) VALUES (v_code, p_name, 'floor');
      RETURN v_code;
    END $$;`);
}

/** Puts the floor's birth trigger (or, with `death`, its death trigger) on `table` of `app`. */
export async function floorTrigger(
  registry: Registry,
  app: string,
  table: string,
  death = false,
): Promise<void> {
  const a = quoteIdent(app);
  await registry.db.exec(
    death
      ? `CREATE TRIGGER floor_death AFTER DELETE ON ${a}.${quoteIdent(table)} REFERENCING OLD TABLE AS natal_old
           FOR EACH STATEMENT EXECUTE FUNCTION ${a}.floor_death()`
      : `CREATE TRIGGER floor_birth AFTER INSERT ON ${a}.${quoteIdent(table)} REFERENCING NEW TABLE AS natal_new
           FOR EACH STATEMENT EXECUTE FUNCTION ${a}.floor_birth()`,
  );
}

/**
 * Runs one round of each of `variants` in an order that turns with `round` (so that drift on
 * a shared machine falls on each alike), pushing each result onto its own list.
 */
export async function interleaved(
  round: number,
  variants: { run: () => Promise<number>; into: number[] }[],
): Promise<void> {
  for (let i = 0; i < variants.length; i++) {
    const v = variants[(i + round) % variants.length] as (typeof variants)[number];
    v.into.push(await v.run());
  }
}

/**
 * The floor of a figure, with the same baseline, printed beside natal's (INFO): `how` says
 * which floor (a birth trigger's, a death trigger's, the gateway's).
 */
export function floorFigure(
  name: string,
  ratio: number,
  target: string,
  measured: string,
  how: 'birth' | 'death' | 'gateway' = 'birth',
): Figure {
  const what = {
    birth:
      'with a minimal SECURITY DEFINER statement trigger that only writes births into a copy of birth_registry, in the same rounds: no trigger of that kind does better',
    death:
      'with a minimal SECURITY DEFINER statement trigger that only writes one death row (the codes in an array) into a copy of entity_death, in the same rounds: no trigger of that kind does better',
    gateway:
      'through a minimal SECURITY DEFINER function that writes a birth into a copy of birth_registry, then the row (no probe, no check), in the same rounds',
  }[how];
  return {
    name: `floor of ${name}`,
    ratio,
    target: `none; natal's target ${target}`,
    ok: true,
    correct: true,
    info: true,
    detail: `${measured} ${what}`,
  };
}
