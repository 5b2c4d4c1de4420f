-- natal 0006: identity classification, census and readiness.

-- Evidence about a table's identity: its key, and for each code-like column (text columns
-- named code, *_code or the registered code column) rows, distinct values, NULLs, empties
-- and how many follow the species' PREFIX-NNN format. One scan of the table.
CREATE FUNCTION identity_evidence(p_collection text) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  sp entity_species := collection_species(p_collection);
  pattern text := '^' || regexp_replace(COALESCE(sp.code_prefix, ''), '([^A-Za-z0-9])', '\\\1', 'g') || '-[0-9]+$';
  cols name[];
  stats text;
  evidence jsonb;
BEGIN
  IF rel IS NULL THEN
    RETURN jsonb_build_object('table', false);
  END IF;
  SELECT array_agg(a.attname ORDER BY a.attnum) INTO cols
  FROM pg_attribute a
  WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
    AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype)
    AND (a.attname = 'code' OR a.attname LIKE '%\_code' OR a.attname = c.birth_code_column);
  IF cols IS NOT NULL THEN
    SELECT string_agg(format(
             'jsonb_build_object(%L, jsonb_build_object(''distinct'', count(DISTINCT %I), '
             '''nulls'', count(*) FILTER (WHERE %I IS NULL), ''empties'', count(*) FILTER (WHERE %I = ''''), '
             '''prefixed'', count(*) FILTER (WHERE (%I)::text ~ %L)))', k, k, k, k, k, pattern), ' || ')
      INTO stats
    FROM unnest(cols) AS k;
    EXECUTE format('SELECT jsonb_build_object(''rows'', count(*), ''columns'', %s) FROM %s', stats, rel)
      INTO evidence;
  ELSE
    EXECUTE format('SELECT jsonb_build_object(''rows'', count(*), ''columns'', ''{}''::jsonb) FROM %s', rel)
      INTO evidence;
  END IF;
  RETURN evidence || jsonb_build_object('table', true, 'key_columns', to_jsonb(key_columns(rel)),
                                        'species_prefix', sp.code_prefix);
END
$$;

-- A proposal for one collection's identity, from its evidence:
--   strategy, column, key_columns, reason (for unclassified), certain, why, evidence.
CREATE FUNCTION propose_identity(p_collection text) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  ev jsonb := identity_evidence(p_collection);
  rows bigint := (ev ->> 'rows')::bigint;
  keys jsonb := CASE WHEN jsonb_typeof(ev -> 'key_columns') = 'array' THEN ev -> 'key_columns' ELSE '[]' END;
  nkeys integer := jsonb_array_length(keys);
  good text[];
  bad_dup text[];
  bad_null text[];
  col text;
  s jsonb;
  out jsonb;
BEGIN
  IF NOT (ev ->> 'table')::boolean THEN
    RETURN jsonb_build_object('strategy', 'unclassified', 'reason', 'no-table', 'certain', true,
                              'why', 'the table does not exist', 'evidence', ev);
  END IF;
  FOR col, s IN SELECT key, value FROM jsonb_each(ev -> 'columns') LOOP
    IF (s ->> 'nulls')::bigint > 0 OR (s ->> 'empties')::bigint > 0 THEN
      bad_null := bad_null || col;
    ELSIF (s ->> 'distinct')::bigint < rows THEN
      bad_dup := bad_dup || col;
    ELSE
      good := good || col;
    END IF;
  END LOOP;
  IF cardinality(good) > 1 THEN
    out := jsonb_build_object('strategy', 'unclassified', 'reason', 'needs-owner', 'certain', false,
      'why', format('several unique, non-null code columns: %s; the owner chooses', array_to_string(good, ', ')));
  ELSIF cardinality(good) = 1 THEN
    col := good[1];
    s := ev -> 'columns' -> col;
    IF (s ->> 'prefixed')::bigint = rows THEN
      out := jsonb_build_object('strategy', 'column', 'column', col, 'certain', true,
        'why', format('column %s: %s rows, all unique, none NULL or empty, all %s-NNN', col, rows,
                      ev ->> 'species_prefix'));
    ELSE
      out := jsonb_build_object('strategy', 'legacy', 'column', col, 'certain', true,
        'why', format('column %s: %s rows, all unique, none NULL or empty, %s of them not %s-NNN: legacy codes',
                      col, rows, rows - (s ->> 'prefixed')::bigint, ev ->> 'species_prefix'));
    END IF;
  ELSIF cardinality(bad_dup) > 0 THEN
    out := jsonb_build_object('strategy', 'unclassified', 'reason', 'duplicate-codes', 'certain', false,
      'why', format('code column %s holds duplicate codes; fix the data or choose an identity', bad_dup[1]));
  ELSIF cardinality(bad_null) > 0 AND nkeys <> 1 THEN
    out := jsonb_build_object('strategy', 'unclassified', 'reason', 'null-codes', 'certain', false,
      'why', format('code column %s has NULL or empty codes and there is no single-column key to fall back on',
                    bad_null[1]));
  ELSIF cardinality(bad_null) > 0 THEN
    out := jsonb_build_object('strategy', 'unclassified', 'reason', 'null-codes', 'certain', false,
      'why', format('code column %s has NULL or empty codes (they would fall back to <collection>::<pk>); the owner decides',
                    bad_null[1]));
  ELSIF nkeys = 1 THEN
    out := jsonb_build_object('strategy', 'synthetic_id', 'certain', true,
      'why', format('no code column; single-column primary key %s: <collection>::<%s>', keys ->> 0, keys ->> 0));
  ELSIF nkeys > 1 THEN
    out := jsonb_build_object('strategy', 'composite', 'certain', true,
      'why', format('no code column; primary key over %s: <collection>::<values, /-separated, encoded>',
                    (SELECT string_agg(v, ', ') FROM jsonb_array_elements_text(keys) AS v)));
  ELSE
    out := jsonb_build_object('strategy', 'unclassified', 'reason', 'no-id', 'certain', true,
      'why', 'no primary key and no usable code column');
  END IF;
  RETURN out || jsonb_build_object('key_columns', keys, 'evidence', ev);
END
$$;

-- Records an identity (the owner's decision, or a certain proposal). Refused while births
-- made under another identity exist for the collection, unless forced; a wired collection
-- is re-wired to the new identity.
CREATE FUNCTION set_identity(p_collection text, p_strategy identity_strategy, p_column name,
                             p_reason text, p_evidence jsonb, p_force boolean,
                             p_source text DEFAULT 'owner')
RETURNS collection_registry
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  keys name[] := CASE WHEN rel IS NOT NULL THEN key_columns(rel) END;
  born bigint;
BEGIN
  PERFORM 1 FROM collection_registry r WHERE r.collection_name = c.collection_name FOR UPDATE;
  IF p_strategy IN ('column', 'legacy') AND p_column IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009', MESSAGE = format('identity %s needs a column', p_strategy),
      HINT = 'give --column COL';
  END IF;
  IF p_column IS NOT NULL AND rel IS NOT NULL AND NOT has_column(rel, p_column) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009', MESSAGE = format('table %s has no column %I', rel, p_column),
      HINT = 'name an existing column';
  END IF;
  IF p_strategy = 'synthetic_id' AND cardinality(keys) IS DISTINCT FROM 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = format('collection %s has no single-column primary key for a synthetic id', p_collection),
      HINT = 'choose composite for a multi-column key, or a code column';
  END IF;
  IF p_strategy = 'composite' AND COALESCE(cardinality(keys), 0) < 2 THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = format('collection %s has no multi-column primary key for a composite identity', p_collection),
      HINT = 'choose synthetic_id or a code column';
  END IF;
  IF p_strategy = 'unclassified'
     AND COALESCE(p_reason, '') NOT IN ('no-id', 'needs-owner', 'no-table', 'duplicate-codes', 'null-codes') THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = 'unclassified needs a reason: no-id, needs-owner, no-table, duplicate-codes or null-codes',
      HINT = 'give --reason';
  END IF;
  IF (c.birth_code_strategy, c.birth_code_column) IS DISTINCT FROM (p_strategy, p_column) THEN
    SELECT count(*) INTO born FROM birth_registry
    WHERE collection_name = c.collection_name AND operation <> 'catalog';
    IF born > 0 AND NOT p_force THEN
      RAISE EXCEPTION USING ERRCODE = 'NB013',
        MESSAGE = format('collection %s has %s births made under its identity %s; changing it would orphan them',
                         p_collection, born, c.birth_code_strategy),
        HINT = 'the owner can force it: natal identity set TABLE … --force';
    END IF;
  END IF;
  UPDATE collection_registry AS r
  SET birth_code_strategy = p_strategy,
      birth_code_column = CASE WHEN p_strategy IN ('column', 'legacy') THEN p_column END,
      birth_code_key_columns = CASE WHEN rel IS NOT NULL THEN keys ELSE r.birth_code_key_columns END,
      birth_code_reason = p_reason,
      birth_code_evidence = COALESCE(p_evidence, r.birth_code_evidence),
      birth_code_set_by = session_user,
      birth_code_set_at = now(),
      birth_code_source = p_source
  WHERE r.collection_name = c.collection_name
  RETURNING r.* INTO c;
  PERFORM rewire_if_wired(c.collection_name);
  RETURN c;
END
$$;

-- The census of the given collections: for each, rows, births, gap (rows with no birth of
-- this collection: orphans) and phantoms (births of it whose entity does not exist); rows
-- and gap are NULL where there is no table or no identity. One statement: every table's
-- codes, tagged with their collection, full-joined to the births of those collections, so
-- the registry is read once whatever the number of collections. A birth with no row is
-- counted once, and rows sharing a code each count, so the numbers are exact.
CREATE FUNCTION census(p_collections text[])
RETURNS TABLE (collection_name text, rows bigint, births bigint, gap bigint, phantoms bigint)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  produced text;
BEGIN
  SELECT string_agg(format('SELECT %L::text AS collection, %s AS code FROM %s AS t',
                           r.collection_name, entity_code_sql(r, 't'), collection_table(r)), ' UNION ALL ')
    INTO produced
  FROM collection_registry r
  WHERE r.collection_name = ANY (p_collections)
    AND collection_table(r) IS NOT NULL AND entity_code_sql(r, 't') IS NOT NULL;
  RETURN QUERY EXECUTE format($q$
    WITH counted AS (
      SELECT COALESCE(e.collection, b.collection_name) AS collection,
             count(e.collection) AS rows,
             count(*) FILTER (WHERE e.collection IS NOT NULL AND b.entity_code IS NULL) AS gap,
             count(*) FILTER (WHERE e.collection IS NULL) AS phantoms
      FROM (%s) AS e
      FULL JOIN (SELECT bb.entity_code, bb.collection_name FROM birth_registry bb
                 WHERE bb.collection_name = ANY ($1)) AS b
        ON b.entity_code = e.code AND b.collection_name = e.collection
      GROUP BY 1
    ),
    born AS (
      SELECT bb.collection_name AS collection, count(*) AS births
      FROM birth_registry bb WHERE bb.collection_name = ANY ($1) GROUP BY 1
    )
    SELECT r.collection_name, c.rows, COALESCE(n.births, 0), c.gap,
           CASE WHEN c.rows IS NULL THEN NULL ELSE COALESCE(c.phantoms, 0) END
    FROM collection_registry r
    LEFT JOIN counted c ON c.collection = r.collection_name
    LEFT JOIN born n ON n.collection = r.collection_name
    WHERE r.collection_name = ANY ($1)
  $q$, COALESCE(produced, 'SELECT NULL::text AS collection, NULL::text AS code WHERE false'))
  USING p_collections;
END
$$;

-- Rows of a collection with no birth (orphans), or births with no row (phantoms).
CREATE FUNCTION census_orphans(p_collection text, p_limit integer)
RETURNS TABLE (entity_code text, born_elsewhere text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  code_sql text := entity_code_sql(c, 't');
BEGIN
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

CREATE FUNCTION census_phantoms(p_collection text, p_limit integer)
RETURNS TABLE (entity_code text, born_at timestamptz, dot_origin text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  code_sql text := entity_code_sql(c, 't');
BEGIN
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
    ORDER BY b.entity_code LIMIT $2
  $q$, code_sql, rel) USING c.collection_name, p_limit;
END
$$;

-- Codes that would collide: produced by two collections, or already born under another
-- collection than the one whose row produces it. Over every governed collection, reported
-- for the given ones (all when NULL); a code two rows of one collection share is a risk
-- too. A hash aggregate finds codes with more than one producer without collecting arrays
-- for the million codes that have one.
CREATE FUNCTION duplicate_risk(p_collections text[] DEFAULT NULL)
RETURNS TABLE (entity_code text, collections text[], born_as text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  parts text;
BEGIN
  SELECT string_agg(format('SELECT %L::text AS collection, %s AS code FROM %s AS t',
                           r.collection_name, entity_code_sql(r, 't'), collection_table(r)), ' UNION ALL ')
    INTO parts
  FROM collection_registry r
  WHERE r.governance_role = 'governed' AND collection_table(r) IS NOT NULL
    AND entity_code_sql(r, 't') IS NOT NULL AND r.table_schema <> natal_schema();
  IF parts IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH produced AS (%s),
    shared AS (
      SELECT p.code FROM produced p WHERE p.code IS NOT NULL
      GROUP BY p.code HAVING count(*) > 1
    ),
    elsewhere AS (
      SELECT p.code FROM produced p
      JOIN birth_registry b ON b.entity_code = p.code AND b.collection_name <> p.collection
    ),
    risky AS (SELECT code FROM shared UNION SELECT code FROM elsewhere)
    SELECT k.code,
           (SELECT array_agg(DISTINCT p.collection ORDER BY p.collection) FROM produced p WHERE p.code = k.code),
           (SELECT b.collection_name FROM birth_registry b WHERE b.entity_code = k.code)
    FROM risky k
    WHERE $1::text[] IS NULL
       OR EXISTS (SELECT 1 FROM produced p WHERE p.code = k.code AND p.collection = ANY ($1))
    ORDER BY k.code
  $q$, parts) USING p_collections;
END
$$;

-- These queries are planned per call with costs that cross jit_above_cost, and compiling
-- them takes longer than running them (measured: ~250 ms of JIT on a 20,000-row census).
ALTER FUNCTION census(text[]) SET jit = off;
ALTER FUNCTION duplicate_risk(text[]) SET jit = off;
ALTER FUNCTION census_orphans(text, integer) SET jit = off;
ALTER FUNCTION census_phantoms(text, integer) SET jit = off;
ALTER FUNCTION identity_evidence(text) SET jit = off;
ALTER FUNCTION inspect(text[], boolean) SET jit = off;
