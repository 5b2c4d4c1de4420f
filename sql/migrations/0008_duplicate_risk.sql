-- natal 0008: duplicate risk without reading every keyed collection.
--
-- 0006's duplicate_risk grouped every code of every governed collection: a plan of one
-- 1,000,000-row collection spent most of its time there. But most codes cannot collide:
--  - keyed codes (synthetic_id and composite: <collection>::<key>) are unique within their
--    collection by its primary key, and namespaced: two collections' namespaces never
--    produce the same code, since a collection name is a complete (quoted where needed)
--    identifier and cannot end where another one's ':: ' begins;
--  - free codes (the values of column and legacy code columns, and their fallbacks) may
--    be any text, repeat, or look like a keyed code.
-- So a risk is: (a) a free code produced twice (by one collection or by two); (b) a free
-- code born under another collection; (c) a keyed code that is also a free code, or that
-- is born under another collection. (c) is found from the other side: the free codes and
-- the births that sit in a keyed collection's namespace, which are few, are looked up in
-- that collection; a keyed collection with no such candidate is not read at all.
CREATE OR REPLACE FUNCTION duplicate_risk(p_collections text[] DEFAULT NULL)
RETURNS TABLE (entity_code text, collections text[], born_as text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  free_sql text;
  keyed text[];
  candidates jsonb;
  k record;
  found_codes text[];
  keyed_hits jsonb := '[]';
BEGIN
  SELECT string_agg(format('SELECT %L::text AS collection, %s AS code FROM %s AS t',
                           r.collection_name, entity_code_sql(r, 't'), collection_table(r)), ' UNION ALL ')
           FILTER (WHERE r.birth_code_strategy IN ('column', 'legacy')),
         array_agg(r.collection_name) FILTER (WHERE r.birth_code_strategy IN ('synthetic_id', 'composite'))
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
