-- Whether the database keeps cols unique on rel: a PRIMARY KEY, a UNIQUE constraint or a
-- unique index (no predicate, no expression) whose key columns are all among cols.
CREATE OR REPLACE FUNCTION unique_on(rel regclass, cols name[]) RETURNS boolean
LANGUAGE sql STABLE
AS $$
  SELECT EXISTS (
    SELECT 1 FROM pg_index i
    WHERE i.indrelid = rel AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
      AND NOT EXISTS (SELECT 1 FROM generate_series(0, i.indnkeyatts - 1) AS k(ord)
                      JOIN pg_attribute a ON a.attrelid = rel AND a.attnum = i.indkey[k.ord]
                      WHERE NOT (a.attname = ANY (cols))))
$$;

-- How the database keeps cols unique on rel: 'table' (an index on the table itself),
-- 'partitions' (a partitioned table whose every partition has one, so each partition is
-- unique but rows of two partitions may share a key: duplicate risk, counted at plan
-- time) or NULL (nothing does).
CREATE OR REPLACE FUNCTION uniqueness_of(rel regclass, cols name[]) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  RETURN CASE
    WHEN unique_on(rel, cols) THEN 'table'
    WHEN (SELECT relkind FROM pg_class WHERE oid = rel) = 'p'
         AND EXISTS (SELECT 1 FROM pg_partition_tree(rel) t WHERE t.isleaf)
         AND NOT EXISTS (SELECT 1 FROM pg_partition_tree(rel) t WHERE t.isleaf AND NOT unique_on(t.relid, cols))
      THEN 'partitions'
  END;
END
$$;

-- The columns of cols that may hold NULL.
CREATE OR REPLACE FUNCTION nullable_columns(rel regclass, cols name[]) RETURNS name[]
LANGUAGE sql STABLE
AS $$
  SELECT array_agg(k ORDER BY o) FROM unnest(cols) WITH ORDINALITY AS u(k, o)
  WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = rel AND a.attname = k AND a.attnotnull AND NOT a.attisdropped)
$$;

-- The keys a DBA declared besides the primary key: each set of NOT NULL columns that a
-- UNIQUE constraint or unique index keeps unique (on the table, or on every partition of a
-- partitioned one), smallest first, as text[] in a jsonb array of {columns, scope}.
CREATE OR REPLACE FUNCTION declared_keys(rel regclass) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  WITH candidates AS (
    SELECT DISTINCT (SELECT array_agg(a.attname ORDER BY k.ord)
                     FROM generate_series(0, i.indnkeyatts - 1) AS k(ord)
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.ord]) AS cols
    FROM pg_index i
    WHERE i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
      AND i.indrelid IN (SELECT rel UNION ALL
                         SELECT t.relid FROM pg_partition_tree(rel) t WHERE t.isleaf AND t.relid <> rel)
  )
  SELECT COALESCE(jsonb_agg(jsonb_build_object('columns', to_jsonb(c.cols), 'scope', uniqueness_of(rel, c.cols))
                            ORDER BY cardinality(c.cols), c.cols), '[]')
  FROM candidates c
  WHERE c.cols IS NOT NULL AND uniqueness_of(rel, c.cols) IS NOT NULL AND nullable_columns(rel, c.cols) IS NULL
$$;

-- Refuses a key the database does not keep unique and NOT NULL, saying what to do.
CREATE OR REPLACE FUNCTION assert_key_declared(p_collection text, rel regclass, cols name[]) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  missing name;
  scope text;
BEGIN
  SELECT k INTO missing FROM unnest(cols) AS k WHERE NOT has_column(rel, k) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009', MESSAGE = format('table %s has no column %I', rel, missing),
      HINT = 'name an existing column';
  END IF;
  IF nullable_columns(rel, cols) IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB030',
      MESSAGE = format('%s of %s may be NULL: a row with no key would get no code', array_to_string(nullable_columns(rel, cols), ', '), p_collection),
      HINT = format('declare it: ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', rel, (nullable_columns(rel, cols))[1]);
  END IF;
  scope := uniqueness_of(rel, cols);
  IF scope IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB030',
      MESSAGE = format('nothing keeps (%s) unique in %s: a second row with the same key would get no birth',
                       array_to_string(cols, ', '), p_collection),
      HINT = format('declare it: ALTER TABLE %s ADD UNIQUE (%s)', rel,
                    (SELECT string_agg(format('%I', k), ', ') FROM unnest(cols) AS k));
  END IF;
  RETURN scope;
END
$$;

-- Refuses a code column whose rows share codes, with how many and an example.
CREATE OR REPLACE FUNCTION assert_codes_unique(p_collection text, rel regclass, col name) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  dup record;
  untrusted text := untrusted_column(rel, ARRAY[col]);
BEGIN
  IF untrusted IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB006',
      MESSAGE = format('column %s of %s is of a type its table''s owner created: natal converts no such column with its rights (a cast of the owner''s would run as natal)',
                       untrusted, p_collection),
      HINT = 'choose a column of one of PostgreSQL''s own types (or an extension''s)';
  END IF;
  -- (read as the table's owner: owner_read.sql)
  EXECUTE format('SELECT r.codes, r.rows, r.example, r.most FROM %s', owner_rows_sql(rel, format($q$
    SELECT count(*), sum(n), (array_agg(v ORDER BY n DESC, v))[1], max(n)
    FROM (SELECT (t.%1$I)::text AS v, count(*) AS n FROM %2$s AS t
          WHERE t.%1$I IS NOT NULL AND (t.%1$I)::text <> '' GROUP BY 1 HAVING count(*) > 1) AS d
  $q$, col, rel), 'r(codes bigint, rows numeric, example text, most bigint)')) INTO dup;
  IF dup.codes > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'NB030',
      MESSAGE = format('column %I of %s has duplicate codes: %s rows share %s codes (%L is in %s rows)',
                       col, p_collection, dup.rows, dup.codes, dup.example, dup.most),
      HINT = 'a code names one entity: fix the rows, or choose another identity (natal classify TABLE shows the evidence)';
  END IF;
END
$$;

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
  END IF;
  -- (read as the table's owner: owner_read.sql)
  EXECUTE format('SELECT r.j FROM %s', owner_rows_sql(rel, format(
    'SELECT jsonb_build_object(''rows'', count(*), ''columns'', %s) FROM %s', COALESCE(stats, '''{}''::jsonb'), rel),
    'r(j jsonb)')) INTO evidence;
  -- What the database declares about each column: a UNIQUE constraint or index that keeps
  -- it unique, and NOT NULL. Only a declared column can be a certain identity.
  SELECT jsonb_object_agg(e.key, e.value || jsonb_build_object(
           'declared_unique', uniqueness_of(rel, ARRAY[e.key]::name[]) IS NOT NULL,
           'not_null', nullable_columns(rel, ARRAY[e.key]::name[]) IS NULL))
    INTO stats
  FROM jsonb_each(evidence -> 'columns') AS e;
  RETURN evidence || jsonb_build_object('table', true, 'key_columns', to_jsonb(key_columns(rel)),
                                        'declared_keys', declared_keys(rel),
                                        'columns', COALESCE(stats::jsonb, '{}'),
                                        'species_prefix', sp.code_prefix);
END
$$;

-- A proposal for one collection's identity, from its evidence:
--   strategy, column, key_columns, reason (for unclassified), certain, why, evidence.
-- Only what the database declares is certain: a code column that a UNIQUE constraint or
-- index keeps unique and that is NOT NULL, a primary key, or a lone declared key (UNIQUE
-- NOT NULL). A column that is merely unique today is a proposal for the owner, with the
-- evidence, and never replaces a key.
CREATE OR REPLACE FUNCTION propose_identity(p_collection text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  -- (a Citus local table is not read: natal does not govern those, citus.sql)
  citus text := citus_ungoverned_kind(collection_table(find_collection(p_collection)));
  ev jsonb := CASE WHEN citus IS NULL THEN identity_evidence(p_collection) END;
  rows bigint := (ev ->> 'rows')::bigint;
  pk jsonb := CASE WHEN jsonb_typeof(ev -> 'key_columns') = 'array' THEN ev -> 'key_columns' ELSE '[]' END;
  declared jsonb := COALESCE(ev -> 'declared_keys', '[]');
  keys jsonb;
  key_what text;
  key_sure boolean := true;
  declared_cols text[];
  unique_cols text[];
  bad_dup text[];
  bad_null text[];
  col text;
  s jsonb;
  out jsonb;
  notes text := '';
  listed text;
BEGIN
  PERFORM assert_natal_role('reader');
  IF citus IS NOT NULL THEN
    RETURN jsonb_build_object('strategy', 'unclassified', 'reason', 'needs-owner', 'certain', false,
                              'why', format('a %s table (Citus): natal does not govern Citus local tables (docs/SCALE.md)', citus),
                              'evidence', jsonb_build_object('table', true));
  END IF;
  IF NOT (ev ->> 'table')::boolean THEN
    RETURN jsonb_build_object('strategy', 'unclassified', 'reason', 'no-table', 'certain', true,
                              'why', 'the table does not exist', 'evidence', ev);
  END IF;
  FOR col, s IN SELECT e.key, e.value FROM jsonb_each(ev -> 'columns') AS e ORDER BY e.key LOOP
    IF (s ->> 'nulls')::bigint > 0 OR (s ->> 'empties')::bigint > 0 THEN
      bad_null := bad_null || col;
    ELSIF (s ->> 'distinct')::bigint < rows THEN
      bad_dup := bad_dup || col;
    ELSIF (s ->> 'declared_unique')::boolean AND (s ->> 'not_null')::boolean THEN
      declared_cols := declared_cols || col;
    ELSE
      unique_cols := unique_cols || col;
    END IF;
  END LOOP;
  -- The key a keyed identity would use: the primary key, else a lone declared key.
  IF jsonb_array_length(pk) > 0 THEN
    keys := pk;
    key_what := 'primary key';
  ELSIF jsonb_array_length(declared) = 1 THEN
    keys := declared -> 0 -> 'columns';
    IF declared -> 0 ->> 'scope' = 'table' THEN
      key_what := 'UNIQUE NOT NULL key';
    ELSE
      key_what := 'key unique in every partition (not across them: the owner decides)';
      key_sure := false;
    END IF;
  END IF;
  SELECT string_agg(v, ', ') INTO listed FROM jsonb_array_elements_text(keys) AS v;
  IF cardinality(unique_cols) > 0 THEN
    notes := notes || format('; %s unique today, but no UNIQUE NOT NULL declares it (the owner can choose it: natal identity set)',
                             array_to_string(unique_cols, ', '));
  END IF;
  IF cardinality(bad_dup) > 0 THEN
    notes := notes || format('; %s holds duplicate values', array_to_string(bad_dup, ', '));
  END IF;
  IF cardinality(bad_null) > 0 THEN
    notes := notes || format('; %s has NULL or empty values', array_to_string(bad_null, ', '));
  END IF;
  IF cardinality(declared_cols) > 1 THEN
    out := jsonb_build_object('strategy', 'unclassified', 'reason', 'needs-owner', 'certain', false,
      'why', format('several UNIQUE NOT NULL code columns: %s; the owner chooses', array_to_string(declared_cols, ', ')));
  ELSIF cardinality(declared_cols) = 1 THEN
    col := declared_cols[1];
    s := ev -> 'columns' -> col;
    IF (s ->> 'prefixed')::bigint = rows THEN
      out := jsonb_build_object('strategy', 'column', 'column', col, 'certain', true,
        'why', format('column %s: UNIQUE NOT NULL, %s rows, none empty, all %s-NNN', col, rows,
                      ev ->> 'species_prefix'));
    ELSE
      out := jsonb_build_object('strategy', 'legacy', 'column', col, 'certain', true,
        'why', format('column %s: UNIQUE NOT NULL, %s rows, none empty, %s of them not %s-NNN: legacy codes',
                      col, rows, rows - (s ->> 'prefixed')::bigint, ev ->> 'species_prefix'));
    END IF;
  ELSIF keys IS NOT NULL AND jsonb_array_length(keys) = 1 THEN
    out := jsonb_build_object('strategy', 'synthetic_id', 'certain', key_sure,
      'why', format('%s %s: <collection>::<%s>%s', key_what, listed, listed, notes));
  ELSIF keys IS NOT NULL THEN
    out := jsonb_build_object('strategy', 'composite', 'certain', key_sure,
      'why', format('%s over %s: <collection>::<values, /-separated, encoded>%s', key_what, listed, notes));
  ELSIF cardinality(unique_cols) = 1 THEN
    col := unique_cols[1];
    s := ev -> 'columns' -> col;
    out := jsonb_build_object('strategy', CASE WHEN (s ->> 'prefixed')::bigint = rows THEN 'column' ELSE 'legacy' END,
      'column', col, 'reason', 'needs-owner', 'certain', false,
      'why', format('no key; column %s is unique in its %s rows today, but no UNIQUE NOT NULL declares it: the owner decides',
                    col, rows));
  ELSIF cardinality(unique_cols) > 1 THEN
    out := jsonb_build_object('strategy', 'unclassified', 'reason', 'needs-owner', 'certain', false,
      'why', format('no key; %s are unique today, but nothing declares them: the owner chooses', array_to_string(unique_cols, ', ')));
  ELSIF cardinality(bad_dup) > 0 THEN
    out := jsonb_build_object('strategy', 'unclassified', 'reason', 'duplicate-codes', 'certain', false,
      'why', format('code column %s holds duplicate codes and there is no key; fix the data or choose an identity', bad_dup[1]));
  ELSIF cardinality(bad_null) > 0 THEN
    out := jsonb_build_object('strategy', 'unclassified', 'reason', 'null-codes', 'certain', false,
      'why', format('code column %s has NULL or empty codes and there is no key to fall back on', bad_null[1]));
  ELSIF jsonb_array_length(declared) > 1 THEN
    out := jsonb_build_object('strategy', 'unclassified', 'reason', 'needs-owner', 'certain', false,
      'why', format('no primary key and several UNIQUE NOT NULL keys: %s; the owner chooses',
                    (SELECT string_agg('(' || (SELECT string_agg(v, ', ') FROM jsonb_array_elements_text(d -> 'columns') AS v) || ')', ', ')
                     FROM jsonb_array_elements(declared) AS d)));
  ELSE
    out := jsonb_build_object('strategy', 'unclassified', 'reason', 'no-id', 'certain', true,
      'why', 'no primary key, no UNIQUE NOT NULL key and no usable code column');
  END IF;
  RETURN out || jsonb_build_object('key_columns', COALESCE(keys, pk), 'evidence', ev);
END
$$;

-- Records an identity (the owner's decision, or a certain proposal). Refused while births
-- made under another identity exist for the collection, unless forced; a wired collection
-- is re-wired to the new identity. An unclassified collection has no identity its births
-- could have been made under (natal cannot wire it; its births came from elsewhere, an
-- import or the platform's own triggers), so giving it one is never refused: that is how
-- a platform's old births are taken over. The decision records its actor.
-- A keyed identity takes the key the owner names (p_key_columns, or p_column for a
-- synthetic id), else the primary key; the database must keep it unique and NOT NULL (on
-- the table, or on every partition). A code column must hold no duplicate codes.
CREATE OR REPLACE FUNCTION set_identity(p_collection text, p_strategy identity_strategy, p_column name,
                             p_reason text, p_evidence jsonb, p_force boolean,
                             p_source text DEFAULT 'owner', p_key_columns name[] DEFAULT NULL)
RETURNS collection_registry
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  named name[] := COALESCE(p_key_columns,
                           CASE WHEN p_strategy = 'synthetic_id' AND p_column IS NOT NULL THEN ARRAY[p_column] END);
  keys name[] := CASE WHEN rel IS NOT NULL THEN COALESCE(named, key_columns(rel)) END;
  code_col name := CASE WHEN p_strategy IN ('column', 'legacy') THEN p_column END;
  scope text;
  born bigint;
BEGIN
  PERFORM assert_natal_role('admin');
  PERFORM 1 FROM collection_registry r WHERE r.collection_name = c.collection_name FOR UPDATE;
  IF p_strategy IN ('column', 'legacy') AND p_column IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009', MESSAGE = format('identity %s needs a column', p_strategy),
      HINT = 'give --column COL';
  END IF;
  IF named IS NOT NULL AND p_strategy NOT IN ('synthetic_id', 'composite') THEN
    RAISE EXCEPTION USING ERRCODE = 'NB024',
      MESSAGE = format('key columns are for synthetic_id and composite identities, not %s', p_strategy),
      HINT = 'give --column COL for a code column';
  END IF;
  IF p_strategy IN ('synthetic_id', 'composite') AND rel IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB005',
      MESSAGE = format('collection %s has no table (%I.%I does not exist): a %s identity needs its key',
                       p_collection, c.table_schema, c.table_name, p_strategy),
      HINT = 'create the table first';
  END IF;
  IF code_col IS NOT NULL AND rel IS NOT NULL AND NOT has_column(rel, code_col) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009', MESSAGE = format('table %s has no column %I', rel, code_col),
      HINT = 'name an existing column';
  END IF;
  IF p_strategy = 'synthetic_id' AND cardinality(keys) IS DISTINCT FROM 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = CASE WHEN keys IS NULL
                  THEN format('collection %s has no primary key: name the column that identifies a row', p_collection)
                  ELSE format('a synthetic id is one column; %s has a key over %s', p_collection, array_to_string(keys, ', ')) END,
      HINT = CASE WHEN keys IS NULL
               THEN format('natal identity set %s --strategy synthetic_id --column COL (a NOT NULL column with a UNIQUE constraint)', p_collection)
               ELSE format('natal identity set %s --strategy composite, or --column COL', p_collection) END;
  END IF;
  IF p_strategy = 'composite' AND COALESCE(cardinality(keys), 0) < 2 THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = CASE WHEN keys IS NULL
                  THEN format('collection %s has no primary key: name the columns that identify a row', p_collection)
                  ELSE format('a composite identity has two columns or more; %s''s key is %s', p_collection, array_to_string(keys, ', ')) END,
      HINT = CASE WHEN keys IS NULL
               THEN format('natal identity set %s --strategy composite --columns A,B (NOT NULL columns with a UNIQUE constraint over them)', p_collection)
               ELSE format('natal identity set %s --strategy synthetic_id, or --columns A,B', p_collection) END;
  END IF;
  IF p_strategy IN ('synthetic_id', 'composite') THEN
    scope := assert_key_declared(p_collection, rel, keys);
  END IF;
  IF code_col IS NOT NULL AND rel IS NOT NULL THEN
    PERFORM assert_codes_unique(p_collection, rel, code_col);
  END IF;
  IF p_strategy = 'unclassified'
     AND COALESCE(p_reason, '') NOT IN ('no-id', 'needs-owner', 'no-table', 'duplicate-codes', 'null-codes') THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = 'unclassified needs a reason: no-id, needs-owner, no-table, duplicate-codes or null-codes',
      HINT = 'give --reason';
  END IF;
  IF (c.birth_code_strategy, c.birth_code_column) IS DISTINCT FROM (p_strategy, code_col)
     OR (p_strategy IN ('synthetic_id', 'composite') AND c.birth_code_key_columns IS DISTINCT FROM keys) THEN
    IF c.birth_code_strategy <> 'unclassified' THEN
      SELECT count(*) INTO born FROM birth_registry
      WHERE collection_name = c.collection_name AND operation <> 'catalog';
      IF born > 0 AND NOT p_force THEN
        RAISE EXCEPTION USING ERRCODE = 'NB013',
          MESSAGE = format('collection %s has %s births made under its identity %s; changing it would orphan them',
                           p_collection, born, c.birth_code_strategy),
          HINT = 'the owner can force it: natal identity set TABLE … --force';
      END IF;
    END IF;
  END IF;
  UPDATE collection_registry AS r
  SET birth_code_strategy = p_strategy,
      birth_code_column = code_col,
      birth_code_key_columns = CASE WHEN rel IS NOT NULL THEN keys ELSE r.birth_code_key_columns END,
      birth_code_reason = p_reason,
      birth_code_evidence = CASE WHEN scope IS NULL THEN COALESCE(p_evidence, r.birth_code_evidence)
                                 ELSE COALESCE(p_evidence, r.birth_code_evidence, '{}') || jsonb_build_object('key_unique', scope) END,
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
