-- Evidence about a table's identity: its key, and for each code-like column (text columns
-- named code, *_code or the registered code column) rows, distinct values, NULLs, empties
-- and how many follow the species' PREFIX-NNN format. One scan of the table.
CREATE OR REPLACE FUNCTION identity_evidence(p_collection text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
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
  PERFORM assert_natal_role('reader');
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
CREATE OR REPLACE FUNCTION propose_identity(p_collection text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT
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
  PERFORM assert_natal_role('reader');
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
-- is re-wired to the new identity. An unclassified collection has no identity its births
-- could have been made under (natal cannot wire it; its births came from elsewhere, an
-- import or the platform's own triggers), so giving it one is never refused: that is how
-- a platform's old births are taken over. The decision records its actor.
CREATE OR REPLACE FUNCTION set_identity(p_collection text, p_strategy identity_strategy, p_column name,
                             p_reason text, p_evidence jsonb, p_force boolean,
                             p_source text DEFAULT 'owner')
RETURNS collection_registry
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  keys name[] := CASE WHEN rel IS NOT NULL THEN key_columns(rel) END;
  born bigint;
BEGIN
  PERFORM assert_natal_role('admin');
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
  IF (c.birth_code_strategy, c.birth_code_column) IS DISTINCT FROM (p_strategy, p_column)
     AND c.birth_code_strategy <> 'unclassified' THEN
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
      birth_code_set_by = actor(),
      birth_code_set_at = now(),
      birth_code_source = p_source
  WHERE r.collection_name = c.collection_name
  RETURNING r.* INTO c;
  PERFORM rewire_if_wired(c.collection_name);
  -- the other collections of its species follow (their gateways probe its code column)
  PERFORM rewire_species(m.species_code, c.collection_name)
  FROM species_collection_map m WHERE m.collection_name = c.collection_name;
  RETURN c;
END
$$;
