-- The full census (0006), with an empty table counted as one: 0 rows, gap and phantoms 0
-- where the table exists and has an identity (0006 gave NULLs when neither the table nor
-- the births had anything to group, which a kept census would then have carried forward).
CREATE OR REPLACE FUNCTION census(p_collections text[])
RETURNS TABLE (collection_name text, rows bigint, births bigint, gap bigint, phantoms bigint, deaths bigint)
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  produced text;
  known text[];
BEGIN
  PERFORM assert_natal_role('reader');
  SELECT string_agg(format('SELECT %L::text AS collection, %s AS code FROM %s AS t',
                           r.collection_name, entity_code_sql(r, 't'), collection_table(r)), ' UNION ALL '),
         COALESCE(array_agg(r.collection_name), '{}')
    INTO produced, known
  FROM collection_registry r
  WHERE r.collection_name = ANY (p_collections)
    AND collection_table(r) IS NOT NULL AND entity_code_sql(r, 't') IS NOT NULL;
  RETURN QUERY EXECUTE format($q$
    WITH dead AS (SELECT DISTINCT d.collection_name, d.entity_code FROM recorded_deaths($1) AS d),
    counted AS (
      SELECT COALESCE(e.collection, b.collection_name) AS collection,
             count(e.collection) AS rows,
             count(*) FILTER (WHERE e.collection IS NOT NULL AND b.entity_code IS NULL) AS gap,
             count(*) FILTER (WHERE e.collection IS NULL AND d.entity_code IS NULL) AS phantoms,
             count(*) FILTER (WHERE e.collection IS NULL AND d.entity_code IS NOT NULL) AS deaths
      FROM (%s) AS e
      FULL JOIN (SELECT bb.entity_code, bb.collection_name FROM birth_registry bb
                 WHERE bb.collection_name = ANY ($1)) AS b
        ON b.entity_code = e.code AND b.collection_name = e.collection
      -- a birth whose row is gone: dead when a death of its collection names it
      LEFT JOIN dead AS d
        ON e.collection IS NULL AND d.entity_code = b.entity_code AND d.collection_name = b.collection_name
      GROUP BY 1
    ),
    born AS (
      SELECT bb.collection_name AS collection, count(*) AS births
      FROM birth_registry bb WHERE bb.collection_name = ANY ($1) GROUP BY 1
    )
    SELECT r.collection_name,
           CASE WHEN r.collection_name = ANY ($2) THEN COALESCE(c.rows, 0) END,
           COALESCE(n.births, 0),
           CASE WHEN r.collection_name = ANY ($2) THEN COALESCE(c.gap, 0) END,
           CASE WHEN r.collection_name = ANY ($2) THEN COALESCE(c.phantoms, 0) END,
           CASE WHEN r.collection_name = ANY ($2) THEN COALESCE(c.deaths, 0) END
    FROM collection_registry r
    LEFT JOIN counted c ON c.collection = r.collection_name
    LEFT JOIN born n ON n.collection = r.collection_name
    WHERE r.collection_name = ANY ($1)
  $q$, COALESCE(produced, 'SELECT NULL::text AS collection, NULL::text AS code WHERE false'))
  USING p_collections, known;
END
$$;

-- Rows of a collection with no birth (orphans), or births with no row (phantoms).
CREATE OR REPLACE FUNCTION census_orphans(p_collection text, p_limit integer)
RETURNS TABLE (entity_code text, born_elsewhere text)
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  code_sql text := entity_code_sql(c, 't');
BEGIN
  PERFORM assert_natal_role('reader');
  IF rel IS NULL OR code_sql IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE format($q$
    SELECT e.code, o.collection_name
    FROM (SELECT %s AS code FROM %s AS t) AS e
    LEFT JOIN birth_registry AS o ON o.entity_code = e.code
    WHERE o.entity_code IS NULL OR o.collection_name <> $1
    ORDER BY e.code LIMIT $2
  $q$, code_sql, rel) USING c.collection_name, p_limit;
END
$$;

CREATE OR REPLACE FUNCTION census_phantoms(p_collection text, p_limit integer)
RETURNS TABLE (entity_code text, born_at timestamptz, dot_origin text)
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  code_sql text := entity_code_sql(c, 't');
BEGIN
  PERFORM assert_natal_role('reader');
  IF rel IS NULL OR code_sql IS NULL THEN
    RETURN QUERY SELECT b.entity_code, b.born_at, b.dot_origin FROM birth_registry b
                 WHERE b.collection_name = c.collection_name ORDER BY b.entity_code LIMIT p_limit;
    RETURN;
  END IF;
  RETURN QUERY EXECUTE format($q$
    SELECT b.entity_code, b.born_at, b.dot_origin
    FROM birth_registry AS b
    WHERE b.collection_name = $1
      AND NOT EXISTS (SELECT 1 FROM (SELECT %s AS code FROM %s AS t) AS e WHERE e.code = b.entity_code)
      AND NOT EXISTS (SELECT 1 FROM recorded_deaths(ARRAY[$1]) AS d WHERE d.entity_code = b.entity_code)
    ORDER BY b.entity_code LIMIT $2
  $q$, code_sql, rel) USING c.collection_name, p_limit;
END
$$;

CREATE OR REPLACE FUNCTION duplicate_risk(p_collections text[] DEFAULT NULL)
RETURNS TABLE (entity_code text, collections text[], born_as text)
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  free_sql text;
  keyed text[];
  candidates jsonb;
  k record;
  found_codes text[];
  keyed_hits jsonb := '[]';
BEGIN
  PERFORM assert_natal_role('reader');
  -- A keyed collection whose key the database keeps unique only within each partition
  -- produces its codes as freely as a code column: two partitions may share one.
  SELECT string_agg(format('SELECT %L::text AS collection, %s AS code FROM %s AS t',
                           r.collection_name, entity_code_sql(r, 't'), collection_table(r)), ' UNION ALL ')
           FILTER (WHERE NOT (r.birth_code_strategy IN ('synthetic_id', 'composite')
                              AND uniqueness_of(collection_table(r), r.birth_code_key_columns) IS NOT DISTINCT FROM 'table')),
         array_agg(r.collection_name)
           FILTER (WHERE r.birth_code_strategy IN ('synthetic_id', 'composite')
                         AND uniqueness_of(collection_table(r), r.birth_code_key_columns) IS NOT DISTINCT FROM 'table')
    INTO free_sql, keyed
  FROM collection_registry r
  WHERE r.governance_role = 'governed' AND collection_table(r) IS NOT NULL
    AND entity_code_sql(r, 't') IS NOT NULL AND r.table_schema <> natal_schema();
  free_sql := COALESCE(free_sql, 'SELECT NULL::text AS collection, NULL::text AS code WHERE false');
  keyed := COALESCE(keyed, '{}');

  -- (c), candidates: codes in a keyed collection's namespace that a free column produces or
  -- that are born under another collection.
  EXECUTE format($q$
    SELECT COALESCE(jsonb_agg(DISTINCT jsonb_build_array(x.collection, x.code)), '[]')
    FROM (
      SELECT k.collection, f.code
      FROM (%s) AS f JOIN unnest($1::text[]) AS k(collection)
        ON starts_with(f.code, k.collection || '::')
      WHERE strpos(f.code, '::') > 0
      UNION ALL
      SELECT k.collection, b.entity_code
      FROM birth_registry b JOIN unnest($1::text[]) AS k(collection)
        ON starts_with(b.entity_code, k.collection || '::') AND b.collection_name <> k.collection
      WHERE strpos(b.entity_code, '::') > 0 AND NOT starts_with(b.entity_code, b.collection_name || '::')
    ) AS x
  $q$, free_sql) INTO candidates USING keyed;
  FOR k IN
    SELECT c->>0 AS collection, array_agg(c->>1) AS codes
    FROM jsonb_array_elements(candidates) AS c GROUP BY 1
  LOOP
    EXECUTE format('SELECT array_agg(e.code) FROM (SELECT %s AS code FROM %s AS t) AS e WHERE e.code = ANY ($1)',
                   entity_code_sql(find_collection(k.collection), 't'),
                   collection_table(find_collection(k.collection)))
      INTO found_codes USING k.codes;
    SELECT keyed_hits || COALESCE(jsonb_agg(jsonb_build_object('collection', k.collection, 'code', x)), '[]')
      INTO keyed_hits FROM unnest(found_codes) AS x;
  END LOOP;

  RETURN QUERY EXECUTE format($q$
    WITH free AS (%s),
    keyed AS (SELECT h->>'collection' AS collection, h->>'code' AS code FROM jsonb_array_elements($2) AS h),
    produced AS (SELECT collection, code FROM free WHERE code IS NOT NULL
                 UNION ALL SELECT collection, code FROM keyed),
    risky AS (
      SELECT f.code FROM free f WHERE f.code IS NOT NULL GROUP BY f.code HAVING count(*) > 1
      UNION
      SELECT f.code FROM free f JOIN birth_registry b ON b.entity_code = f.code AND b.collection_name <> f.collection
      UNION
      SELECT y.code FROM keyed y
      WHERE EXISTS (SELECT 1 FROM free f WHERE f.code = y.code)
         OR EXISTS (SELECT 1 FROM birth_registry b WHERE b.entity_code = y.code AND b.collection_name <> y.collection)
    )
    SELECT r.code,
           (SELECT array_agg(DISTINCT p.collection ORDER BY p.collection) FROM produced p WHERE p.code = r.code),
           (SELECT b.collection_name FROM birth_registry b WHERE b.entity_code = r.code)
    FROM risky r
    WHERE $1::text[] IS NULL
       OR EXISTS (SELECT 1 FROM produced p WHERE p.code = r.code AND p.collection = ANY ($1))
    ORDER BY r.code
  $q$, free_sql) USING p_collections, keyed_hits;
END
$$;

-- The births of a collection whose rows are gone with a recorded death: each with its last
-- death (natal census TABLE --deaths).
CREATE OR REPLACE FUNCTION census_deaths(p_collection text, p_limit integer)
RETURNS TABLE (entity_code text, died_at timestamptz, how death_kind, dot_origin text, rekeyed_to text)
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  code_sql text := entity_code_sql(c, 't');
BEGIN
  PERFORM assert_natal_role('reader');
  RETURN QUERY EXECUTE format($q$
    SELECT DISTINCT ON (b.entity_code) b.entity_code, d.died_at, d.how, d.dot_origin, d.rekeyed_to
    FROM birth_registry AS b JOIN recorded_deaths(ARRAY[$1]) AS d ON d.entity_code = b.entity_code
    WHERE b.collection_name = $1 %s
    ORDER BY b.entity_code, d.death_id DESC LIMIT $2
  $q$, CASE WHEN rel IS NOT NULL AND code_sql IS NOT NULL
            THEN format('AND NOT EXISTS (SELECT 1 FROM (SELECT %s AS code FROM %s AS t) AS e WHERE e.code = b.entity_code)',
                        code_sql, rel) ELSE '' END) USING c.collection_name, p_limit;
END
$$;
