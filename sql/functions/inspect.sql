-- The code prefixes a collection's codes may start with under its identity strategy.
CREATE OR REPLACE FUNCTION accepted_code_prefixes(c collection_registry, sp entity_species) RETURNS text[]
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT CASE c.birth_code_strategy
    WHEN 'column' THEN ARRAY[sp.code_prefix || '-', c.collection_name || '::']
    WHEN 'synthetic_id' THEN ARRAY[c.collection_name || '::']
    WHEN 'composite' THEN ARRAY[c.collection_name || '::']
    WHEN 'legacy' THEN ARRAY[c.collection_name || '~', c.collection_name || '::']
    ELSE ARRAY[]::text[]
  END
$$;

-- Inspection: as in 0005, with three more failures a CHECK no longer refuses on write.
CREATE OR REPLACE FUNCTION inspect(p_collections text[] DEFAULT NULL, p_recheck boolean DEFAULT false)
RETURNS TABLE (collection_name text, checked bigint, passed bigint, failed bigint, failures jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry;
  sp entity_species;
  rel regclass;
  code_sql text;
  entities text;
BEGIN
  PERFORM assert_natal_role('operator');
  FOR c IN
    SELECT r.* FROM collection_registry r
    WHERE p_collections IS NULL OR r.collection_name = ANY (p_collections)
    ORDER BY r.collection_name
  LOOP
    sp := collection_species(c.collection_name);
    rel := collection_table(c);
    code_sql := entity_code_sql(c, 't');
    -- The codes of the rows that exist, or an empty set when they cannot be known.
    entities := CASE WHEN rel IS NULL OR code_sql IS NULL THEN 'SELECT NULL::text AS code WHERE false'
                     ELSE format('SELECT %s AS code FROM %s AS t', code_sql, rel) END;
    EXECUTE format($q$
      WITH target AS (
        SELECT b.entity_code,
          CASE
            WHEN s.species_code IS NULL THEN 'species ' || b.species_code || ' does not exist'
            WHEN $2::text IS NULL THEN 'collection is not in the species map'
            WHEN b.species_code <> $2 THEN 'species ' || b.species_code || ' is not the mapped species ' || $2
            WHEN b.composition_level <> s.composition_level THEN
              'composition level ' || b.composition_level || ' is not the species'' ' || s.composition_level
            WHEN NOT EXISTS (SELECT 1 FROM unnest($3::text[]) AS p
                             WHERE left(b.entity_code, length(p)) = p) THEN
              'code does not match the ' || $4 || ' identity (expected a prefix of '
              || COALESCE(array_to_string($3::text[], ' or '), 'none') || ')'
            WHEN b.run_id IS NOT NULL AND b.operation <> 'backfill' THEN
              'run id ' || b.run_id || ' on a ' || b.operation || ' birth (only a backfill''s births carry one)'
            WHEN b.run_id IS NULL AND b.operation = 'backfill' THEN 'backfill birth without a run id'
            WHEN b.dot_origin = '' THEN 'empty dot_origin'
            WHEN e.code IS NULL THEN 'entity does not exist' || CASE WHEN $5 THEN '' ELSE ' (no table)' END
          END AS reason
        FROM birth_registry b
        LEFT JOIN entity_species s ON s.species_code = b.species_code
        LEFT JOIN (%s) AS e ON e.code = b.entity_code
        WHERE b.collection_name = $1 AND ($6 OR b.inspection_status <> 'passed')
      ),
      judged AS (
        UPDATE birth_registry b
        SET inspection_status = CASE WHEN t.reason IS NULL THEN 'passed' ELSE 'failed' END::inspection_status,
            inspected_at = now(), inspection_note = t.reason
        FROM target t WHERE b.entity_code = t.entity_code
        RETURNING b.entity_code, t.reason
      )
      SELECT count(*), count(*) FILTER (WHERE reason IS NULL), count(*) FILTER (WHERE reason IS NOT NULL),
             COALESCE(jsonb_agg(jsonb_build_object('entity_code', entity_code, 'reason', reason)
                                ORDER BY entity_code) FILTER (WHERE reason IS NOT NULL), '[]'::jsonb)
      FROM judged
    $q$, entities)
    INTO checked, passed, failed, failures
    USING c.collection_name, sp.species_code, accepted_code_prefixes(c, sp),
          c.birth_code_strategy::text, rel IS NOT NULL, p_recheck;
    collection_name := c.collection_name;
    RETURN NEXT;
  END LOOP;
END
$$;
