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

-- The relations that hold a table's rows: itself, its partitions and inheritance children
-- (a partitioned parent holds none).
CREATE OR REPLACE FUNCTION inspect_data_relations(rel regclass) RETURNS SETOF oid
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  WITH RECURSIVE tree(relid) AS (
    SELECT rel::oid
    UNION
    SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.relid
  )
  SELECT k.oid FROM tree JOIN pg_class k ON k.oid = tree.relid WHERE k.relkind <> 'p'
$$;

-- A column's type, through any domain to the type it is made of.
CREATE OR REPLACE FUNCTION inspect_base_type(rel regclass, col name) RETURNS regtype
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  WITH RECURSIVE d(typ) AS (
    SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col AND NOT a.attisdropped
    UNION ALL
    SELECT y.typbasetype FROM d JOIN pg_type y ON y.oid = d.typ WHERE y.typtype = 'd'
  )
  SELECT d.typ::regtype FROM d JOIN pg_type y ON y.oid = d.typ WHERE y.typtype <> 'd'
$$;

-- The query that tells whether a row with the given values in `cols` ($1, as text) has the
-- entity code $2: the values find the row through an index, and the code expression checks
-- it is that row. NULL when some relation holding the table's rows has no usable index that
-- starts with one of the columns (the probe would then read the whole table, once per birth).
CREATE OR REPLACE FUNCTION inspect_probe_sql(rel regclass, cols name[], code_sql text) RETURNS text
LANGUAGE sql VOLATILE SET search_path FROM CURRENT
AS $$
  SELECT CASE
    WHEN cardinality(cols) = 0 OR code_sql IS NULL THEN NULL
    WHEN EXISTS (
      SELECT 1 FROM inspect_data_relations(rel) AS r(relid)
      WHERE NOT EXISTS (
        SELECT 1 FROM pg_index i
        JOIN pg_class x ON x.oid = i.indexrelid
        JOIN pg_am am ON am.oid = x.relam AND am.amname IN ('btree', 'hash')
        JOIN pg_attribute a ON a.attrelid = r.relid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = r.relid AND i.indisvalid AND i.indisready AND i.indpred IS NULL
          AND a.attname = ANY (cols))) THEN NULL
    -- (read as the table's owner, owner_read.sql: the code in $1[1], the values after it)
    ELSE format('SELECT r.hit FROM %s', owner_rows_sql(rel,
           format('SELECT EXISTS (SELECT 1 FROM %s AS t WHERE %s AND %s = $1[1])', rel,
                  (SELECT string_agg(format('t.%I = ($1[%s])::%s', k, o + 1, inspect_base_type(rel, k)),
                                     ' AND ' ORDER BY o)
                   FROM unnest(cols) WITH ORDINALITY AS u(k, o)),
                  code_sql), 'r(hit boolean)', 'ARRAY[$2::text] || $1::text[]'))
  END
$$;

-- One probe. NULL when it cannot tell: no index to probe by, or a value the key's type
-- cannot read although a row could have it (a float key's code holds its bits in hex).
-- Any other value its type cannot read is no row's.
CREATE OR REPLACE FUNCTION inspect_probe(p_sql text, p_exact boolean, p_values text[], p_code text)
RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  hit boolean;
BEGIN
  IF p_sql IS NULL THEN
    RETURN NULL;
  END IF;
  BEGIN
    EXECUTE p_sql INTO hit USING p_values, p_code;
  EXCEPTION WHEN data_exception THEN
    RETURN CASE WHEN p_exact THEN false END;
  END;
  RETURN hit;
END
$$;

-- Of the codes `p_codes` of collection c, those whose entity exists, found one by one through
-- the table's index on the identity's columns: the code read back into the column's value
-- (the code column, minus the legacy prefix; the key after collection::, split on / and
-- unescaped for a composite). NULL when some code cannot be told that way; the caller then
-- matches them against every row's code.
CREATE OR REPLACE FUNCTION inspect_found(c collection_registry, rel regclass, code_sql text, p_codes text[])
RETURNS text[]
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  syn text := c.collection_name || '::';
  leg text := c.collection_name || '~';
  keys name[] := COALESCE(c.birth_code_key_columns, '{}'::name[]);
  floats regtype[] := ARRAY['real'::regtype, 'double precision'::regtype];
  by_column text;
  by_key text;
  column_exact boolean;
  key_exact boolean;
  code text;
  parts text[];
  hit boolean;
  unknown boolean;
  found text[] := '{}';
BEGIN
  IF c.birth_code_strategy IN ('column', 'legacy') AND c.birth_code_column IS NOT NULL THEN
    by_column := inspect_probe_sql(rel, ARRAY[c.birth_code_column]::name[], code_sql);
    column_exact := inspect_base_type(rel, c.birth_code_column) <> ALL (floats);
  END IF;
  IF cardinality(keys) = 1 OR (c.birth_code_strategy = 'composite' AND cardinality(keys) > 1) THEN
    by_key := inspect_probe_sql(rel, keys, code_sql);
    key_exact := NOT EXISTS (SELECT 1 FROM unnest(keys) AS k WHERE inspect_base_type(rel, k) = ANY (floats));
  END IF;
  FOREACH code IN ARRAY p_codes LOOP
    hit := false;
    unknown := false;
    -- the code column's value
    IF c.birth_code_strategy = 'column' AND code <> '' THEN
      hit := inspect_probe(by_column, column_exact, ARRAY[code], code);
    ELSIF c.birth_code_strategy = 'legacy' AND starts_with(code, leg) AND length(code) > length(leg) THEN
      hit := inspect_probe(by_column, column_exact, ARRAY[substr(code, length(leg) + 1)], code);
    END IF;
    IF hit IS NULL THEN
      unknown := true;
      hit := false;
    END IF;
    -- the key's (a synthetic id, a composite, or a row whose code column is empty)
    IF NOT hit AND starts_with(code, syn) AND cardinality(keys) >= 1
       AND (c.birth_code_strategy = 'composite' OR cardinality(keys) = 1) THEN
      parts := CASE WHEN c.birth_code_strategy = 'composite' THEN
                 (SELECT array_agg(replace(replace(p, '%2F', '/'), '%25', '%') ORDER BY o)
                  FROM unnest(regexp_split_to_array(substr(code, length(syn) + 1), '/')) WITH ORDINALITY AS u(p, o))
               ELSE ARRAY[substr(code, length(syn) + 1)] END;
      IF cardinality(parts) = cardinality(keys) THEN
        hit := inspect_probe(by_key, key_exact, parts, code);
        IF hit IS NULL THEN
          unknown := true;
          hit := false;
        END IF;
      END IF;
    END IF;
    IF hit THEN
      found := found || code;
    ELSIF unknown THEN
      RETURN NULL;
    END IF;
  END LOOP;
  RETURN found;
END
$$;

-- Whether inspect() probes `pending` births one by one rather than matching them against the
-- codes of every row at once: a probe costs about what reading a few dozen pages does.
CREATE OR REPLACE FUNCTION inspect_probes(rel regclass, pending bigint) RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT pending <= 100
      OR (pending <= 10000
          AND pending * 20 < (SELECT sum(pg_relation_size(r.relid)) / current_setting('block_size')::bigint
                              FROM inspect_data_relations(rel) AS r(relid)))
$$;

-- Inspection: as in 0005, with three more failures a CHECK no longer refuses on write; since
-- 0016 of what is new: the pending births, each looked up by its identity's key when they are
-- few. A birth that failed keeps its failure (known_failures counts those) until p_recheck,
-- which judges every birth of the collection again.
CREATE OR REPLACE FUNCTION inspect(p_collections text[] DEFAULT NULL, p_recheck boolean DEFAULT false)
RETURNS TABLE (collection_name text, checked bigint, passed bigint, failed bigint, failures jsonb,
               known_failures bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry;
  sp entity_species;
  rel regclass;
  code_sql text;
  entities text;
  scope text;
  pending text[];
  found text[];
BEGIN
  PERFORM assert_natal_role('operator');
  -- and the deaths of big statements are filed by code (deaths.sql)
  PERFORM file_deaths();
  FOR c IN
    SELECT r.* FROM collection_registry r
    WHERE p_collections IS NULL OR r.collection_name = ANY (p_collections)
    ORDER BY r.collection_name
  LOOP
    collection_name := c.collection_name;
    checked := 0;
    passed := 0;
    failed := 0;
    failures := '[]';
    known_failures := 0;
    pending := NULL;
    found := NULL;
    IF NOT p_recheck THEN
      -- (each with both conditions on inspection_status: the first is the index's predicate)
      SELECT count(*) INTO known_failures FROM birth_registry b
      WHERE b.collection_name = c.collection_name
        AND b.inspection_status <> 'passed' AND b.inspection_status = 'failed';
      SELECT array_agg(x.entity_code) INTO pending
      FROM (SELECT b.entity_code FROM birth_registry b
            WHERE b.collection_name = c.collection_name
              AND b.inspection_status <> 'passed' AND b.inspection_status = 'pending'
            LIMIT 10001) AS x;
      IF pending IS NULL THEN
        RETURN NEXT;
        CONTINUE;
      END IF;
    END IF;
    sp := collection_species(c.collection_name);
    rel := collection_table(c);
    code_sql := entity_code_sql(c, 't');
    IF pending IS NOT NULL AND rel IS NOT NULL AND code_sql IS NOT NULL
       AND inspect_probes(rel, cardinality(pending)) THEN
      found := inspect_found(c, rel, code_sql, pending);
    END IF;
    -- The codes of the rows that exist: those the probes found, or every row's; an empty set
    -- when they cannot be known.
    entities := CASE WHEN found IS NOT NULL THEN 'SELECT unnest($7::text[]) AS code'
                     WHEN rel IS NULL OR code_sql IS NULL THEN 'SELECT NULL::text AS code WHERE false'
                     ELSE format('SELECT e.code FROM %s',
                                 owner_rows_sql(rel, format('SELECT %s FROM %s AS t', code_sql, rel), 'e(code text)')) END;
    -- The births judged: every one with p_recheck; else the pending ones (those probed, when
    -- they were: a birth made since is for the next inspection).
    scope := CASE WHEN p_recheck THEN 'b.collection_name = $1'
                  WHEN found IS NOT NULL THEN
                    'b.entity_code = ANY ($8::text[]) AND b.collection_name = $1 AND b.inspection_status = ''pending'''
                  ELSE 'b.collection_name = $1 AND b.inspection_status <> ''passed'' AND b.inspection_status = ''pending'''
             END;
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
        WHERE %s
      ),
      judged AS (
        UPDATE birth_registry b
        SET inspection_status = CASE WHEN t.reason IS NULL THEN 'passed'::inspection_status ELSE 'failed'::inspection_status END,
            inspected_at = now(), inspection_note = t.reason
        FROM target t WHERE b.entity_code = t.entity_code
        RETURNING b.entity_code, t.reason
      )
      SELECT count(*), count(*) FILTER (WHERE reason IS NULL), count(*) FILTER (WHERE reason IS NOT NULL),
             COALESCE(jsonb_agg(jsonb_build_object('entity_code', entity_code, 'reason', reason)
                                ORDER BY entity_code) FILTER (WHERE reason IS NOT NULL), '[]'::jsonb)
      FROM judged
    $q$, entities, scope)
    INTO checked, passed, failed, failures
    USING c.collection_name, sp.species_code, accepted_code_prefixes(c, sp),
          c.birth_code_strategy::text, rel IS NOT NULL, p_recheck, found, pending;
    RETURN NEXT;
  END LOOP;
END
$$;
