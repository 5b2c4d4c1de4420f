-- natal show: one entity's birth certificate, found by its code or by its row's key.
-- Every lookup is an index lookup: the birth by birth_registry's primary key, the row by the
-- table's key or code column, the run by its id, the plan's approvals by (plan_id, …), the
-- catalog row by its entity_code; the nearby codes of an unknown one by short range scans
-- of birth_registry's primary key. Nothing here reads a whole table.

-- The row of collection c whose code is p_code, as jsonb, or NULL. The row is found through
-- the column the code names (the code column, or the key a synthetic or composite code is
-- made of: cast back to the column's type, so the table's index is used), and then checked
-- against the code the trigger would make of it. A code whose key does not read back as the
-- column's type (a float written in hex) finds no row.
CREATE OR REPLACE FUNCTION entity_row(c collection_registry, p_code text) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  rel regclass := collection_table(c);
  code_sql text := entity_code_sql(c, 't');
  keyed text := c.collection_name || '::';
  keys name[] := c.birth_code_key_columns;
  col_value text;
  parts text[];
  candidates text[] := '{}';
  pred text;
  i integer;
  v_row jsonb;
BEGIN
  IF rel IS NULL OR code_sql IS NULL THEN
    RETURN NULL;
  END IF;
  -- Each candidate: a predicate over t, with its values in $1 (text[]: the code, the column's
  -- value, the key's parts), cast to the column's type. The table is read as its owner
  -- (owner_read.sql).
  IF c.birth_code_strategy = 'column' THEN
    col_value := p_code;
  ELSIF c.birth_code_strategy = 'legacy' AND starts_with(p_code, c.collection_name || '~') THEN
    col_value := substr(p_code, length(c.collection_name) + 2);
  END IF;
  IF col_value IS NOT NULL THEN
    candidates := candidates || format('%I.%I = CAST($1[2] AS %s)', 't', c.birth_code_column,
                                       column_type(rel, c.birth_code_column));
  END IF;
  IF starts_with(p_code, keyed) AND cardinality(keys) >= 1 THEN
    IF cardinality(keys) = 1 THEN
      parts := ARRAY[substr(p_code, length(keyed) + 1)];
    ELSE
      -- composite: the key texts joined by '/', each with '%' written %25 and '/' written %2F
      SELECT array_agg(replace(replace(p, '%2F', '/'), '%25', '%') ORDER BY o) INTO parts
      FROM unnest(string_to_array(substr(p_code, length(keyed) + 1), '/')) WITH ORDINALITY AS u(p, o);
    END IF;
    IF cardinality(parts) = cardinality(keys) THEN
      SELECT string_agg(format('%I.%I = CAST($1[%s] AS %s)', 't', k, o + 2, column_type(rel, k)), ' AND ' ORDER BY o)
        INTO pred FROM unnest(keys) WITH ORDINALITY AS u(k, o);
      candidates := candidates || pred;
    END IF;
  END IF;
  FOR i IN 1 .. cardinality(candidates) LOOP
    BEGIN
      EXECUTE format('SELECT r.j FROM %s',
                     owner_rows_sql(rel, format('SELECT %s FROM %s AS t WHERE %s AND (%s) = $1[1] LIMIT 1',
                                                row_json_sql(rel, 't'), rel, candidates[i], code_sql),
                                    'r(j jsonb)', '$1'))
        INTO v_row USING ARRAY[p_code, col_value] || parts;
    EXCEPTION WHEN data_exception THEN
      v_row := NULL;  -- the code's text is not a value of the column's type: no such row
    END;
    IF v_row IS NOT NULL THEN
      RETURN v_row;
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;

-- A row of `rel` as a JSON object (over alias), for a row natal reads with its rights: a
-- column of a type natal converts (trusted_type) as to_jsonb would write it, any other as its
-- type's output text, for a type its table's owner created could carry the owner's cast to
-- json, which to_jsonb would run. (In objects of 50 columns at most, joined: a function takes
-- 100 arguments at most.)
CREATE OR REPLACE FUNCTION row_json_sql(rel regclass, alias text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  RETURN (SELECT COALESCE(string_agg(part, ' || ' ORDER BY chunk), '''{}''::jsonb')
  FROM (SELECT c.chunk, format('jsonb_build_object(%s)', string_agg(c.pair, ', ' ORDER BY c.attnum)) AS part
        FROM (SELECT a.attnum, (row_number() OVER (ORDER BY a.attnum) - 1) / 50 AS chunk,
                     format('%L, %s', a.attname,
                            CASE WHEN trusted_type(a.atttypid) THEN format('%I.%I', alias, a.attname)
                                 ELSE format('format(''%%s'', %I.%I)', alias, a.attname) END) AS pair
              FROM pg_attribute a
              WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped) AS c
        GROUP BY c.chunk) AS chunks);
END
$$;

-- The type natal casts a value to, to compare it with a column (show's lookups, the apply's
-- ranges), as SQL writes it: the column's type, or for a domain its base type, for a cast to
-- a domain runs the domain's CHECK constraints, its owner's code, with natal's rights. (A
-- domain's value compares with its base type's operators all the same, through the index.)
CREATE OR REPLACE FUNCTION column_type(rel regclass, col name) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  RETURN (WITH RECURSIVE d(typ, typmod) AS (
            SELECT a.atttypid, a.atttypmod FROM pg_attribute a
            WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped
            UNION ALL
            SELECT y.typbasetype, y.typtypmod FROM d JOIN pg_type y ON y.oid = d.typ WHERE y.typtype = 'd'
          )
          SELECT format_type(d.typ, d.typmod) FROM d JOIN pg_type y ON y.oid = d.typ WHERE y.typtype <> 'd');
END
$$;

-- The rollbacks of p_code's births, as history events: rolled back (when, by whom, which
-- run and plan), each after a born event of the birth it removed.
CREATE OR REPLACE FUNCTION rollback_events(p_code text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT COALESCE(jsonb_agg(e ORDER BY o), '[]')
  FROM (SELECT jsonb_build_object('event', 'born', 'at', r.started_at, 'operation', 'backfill',
                                  'origin', NULL, 'actor', r.actor, 'run_id', r.run_id, 'plan_id', r.plan_id) AS e,
               k.died_at AS at, 1 AS o
        FROM rollbacks_of(p_code) AS k JOIN backfill_run r ON r.run_id = k.run_id
        UNION ALL
        SELECT jsonb_build_object('event', 'rolled back', 'at', k.died_at, 'actor', k.actor,
                                  'run_id', k.run_id, 'plan_id', r.plan_id),
               k.died_at, 2
        FROM rollbacks_of(p_code) AS k LEFT JOIN backfill_run r ON r.run_id = k.run_id) AS x
$$;

-- What natal knows of a code that has no birth now because a rollback removed it: the
-- certificate of the birth it had (status rolled_back), with its history; NULL when no
-- rollback removed one.
CREATE OR REPLACE FUNCTION rolled_back_certificate(p_code text) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  k record;
  r backfill_run;
  c collection_registry;
  sp entity_species;
  v_row jsonb;
  readable boolean;
BEGIN
  SELECT * INTO k FROM rollbacks_of(p_code) AS x ORDER BY x.died_at DESC LIMIT 1;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT * INTO r FROM backfill_run WHERE run_id = k.run_id;
  SELECT * INTO c FROM collection_registry WHERE collection_name = k.collection_name;
  IF FOUND THEN
    sp := collection_species(c.collection_name);
    v_row := entity_row(c, p_code);
    IF v_row IS NOT NULL THEN
      readable := has_table_privilege(session_user, collection_table(c), 'SELECT');
    END IF;
  END IF;
  RETURN jsonb_build_object(
    'entity_code', p_code, 'collection_name', k.collection_name, 'species_code', sp.species_code,
    'composition_level', sp.composition_level, 'dot_origin', NULL, 'born_at', NULL,
    'operation', 'backfill', 'run_id', k.run_id, 'plan_id', r.plan_id, 'inspection_status', NULL,
    'rekeyed_from', NULL,
    -- no birth: a row that is still there is an orphan again
    'status', 'rolled_back', 'rolled_back_at', k.died_at, 'row_exists', v_row IS NOT NULL,
    'died_at', NULL, 'death', NULL,
    'row', CASE WHEN readable THEN v_row END,
    'history', (SELECT jsonb_agg(e ORDER BY (e->>'at')::timestamptz, e->>'event' <> 'born')
                FROM jsonb_array_elements(rollback_events(p_code) || COALESCE(
                  (SELECT jsonb_agg(jsonb_build_object('event', CASE WHEN d.how = 'rekey' THEN 're-keyed' ELSE 'died' END,
                                                       'at', d.died_at, 'how', d.how, 'origin', d.dot_origin,
                                                       'actor', d.actor, 'rekeyed_to', d.rekeyed_to))
                   FROM deaths_of(p_code, k.collection_name) AS d WHERE d.how <> 'rollback'), '[]')) AS e));
END
$$;

-- The birth certificate of one entity, or NULL when no birth has that code.
-- status: alive (its row exists), phantom (its row is gone; until deaths are recorded candidate
-- birth without a row is one). row: the entity's row when it exists and the caller may read
-- the table (SELECT on it); else null, even when it is alive: natal's definer reads candidate
-- governed table, and a reader of the registry is not a reader of the data.
-- history: the entity's events in time order: born (how, by which origin, run, plan, actor,
-- and for a backfill the plan's reviewers and permitters), inspected (passed or failed, why).
CREATE OR REPLACE FUNCTION show(p_code text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  b birth_registry;
  c collection_registry;
  v_run backfill_run;
  v_row jsonb;
  readable boolean;
  v_actor text;
  approvals jsonb;
  history jsonb;
  deaths jsonb;
  last_death jsonb;
BEGIN
  PERFORM assert_natal_role('reader');
  SELECT * INTO b FROM birth_registry WHERE entity_code = p_code;
  IF NOT FOUND THEN
    -- no birth now: one a rollback removed still has its history (0018), else none
    RETURN rolled_back_certificate(p_code);
  END IF;
  SELECT * INTO c FROM collection_registry WHERE collection_name = b.collection_name;
  IF FOUND THEN
    v_row := entity_row(c, p_code);
  END IF;
  IF v_row IS NOT NULL THEN
    readable := has_table_privilege(session_user, collection_table(c), 'SELECT');
  END IF;
  IF b.operation = 'backfill' THEN
    SELECT * INTO v_run FROM backfill_run WHERE run_id = b.run_id;
    v_actor := v_run.actor;
    SELECT jsonb_build_object(
             'review', COALESCE(jsonb_agg(jsonb_build_object('actor', a.actor, 'at', a.approved_at)
                                          ORDER BY a.approved_at) FILTER (WHERE a.kind = 'review'), '[]'),
             'permit', COALESCE(jsonb_agg(jsonb_build_object('actor', a.actor, 'at', a.approved_at)
                                          ORDER BY a.approved_at) FILTER (WHERE a.kind = 'permit'), '[]'))
      INTO approvals
    FROM backfill_approval a WHERE a.plan_id = v_run.plan_id;
  ELSIF b.operation = 'catalog' THEN
    v_actor := COALESCE((SELECT s.created_by FROM entity_species s WHERE s.entity_code = p_code),
                        (SELECT r.registered_by FROM collection_registry r WHERE r.entity_code = p_code));
  END IF;
  -- its recorded deaths (deaths.sql), oldest first; a rollback of an earlier birth of the
  -- same code is an event of its history too, but not a death
  SELECT jsonb_agg(jsonb_build_object('event', CASE WHEN d.how = 'rekey' THEN 're-keyed' ELSE 'died' END,
                                      'at', d.died_at, 'how', d.how, 'origin', d.dot_origin,
                                      'actor', d.actor, 'rekeyed_to', d.rekeyed_to) ORDER BY d.death_id)
    INTO deaths FROM deaths_of(p_code, b.collection_name) AS d WHERE d.how <> 'rollback';
  last_death := deaths -> -1;
  deaths := COALESCE(deaths, '[]') || rollback_events(p_code);
  SELECT jsonb_agg(e ORDER BY (e->>'at')::timestamptz, e->>'event' <> 'born') INTO history
  FROM (
    SELECT jsonb_build_object('event', 'born', 'at', b.born_at, 'operation', b.operation,
                              'rekeyed_from', b.rekeyed_from,
                              'origin', b.dot_origin, 'actor', v_actor, 'run_id', b.run_id,
                              'plan_id', v_run.plan_id, 'review', approvals->'review',
                              'permit', approvals->'permit') AS e
    UNION ALL
    SELECT jsonb_build_object('event', 'inspected', 'at', b.inspected_at,
                              'result', b.inspection_status, 'reason', b.inspection_note)
    WHERE b.inspection_status <> 'pending'
    UNION ALL
    SELECT x FROM jsonb_array_elements(deaths) AS x
  ) AS x;
  RETURN jsonb_build_object(
    'entity_code', b.entity_code,
    'collection_name', b.collection_name,
    'species_code', b.species_code,
    'composition_level', b.composition_level,
    'dot_origin', b.dot_origin,
    'born_at', b.born_at,
    'operation', b.operation,
    'run_id', b.run_id,
    'plan_id', v_run.plan_id,
    'inspection_status', b.inspection_status,
    'rekeyed_from', b.rekeyed_from,
    -- alive while its row exists (a row that came back after a death is alive again), dead
    -- when its row is gone with a recorded death, else a phantom
    'status', CASE WHEN v_row IS NOT NULL THEN 'alive' WHEN last_death IS NOT NULL THEN 'dead' ELSE 'phantom' END,
    'died_at', CASE WHEN v_row IS NULL THEN last_death -> 'at' END,
    'death', CASE WHEN v_row IS NULL THEN last_death - 'event' END,
    'row', CASE WHEN readable THEN v_row END,
    'history', history);
END
$$;

-- The code of the row of p_collection whose key is p_key, and whether that row exists.
-- p_key: the key's value (a JSON scalar) for a one-column key, or a JSON object of candidate key
-- column for a composite key. The key is the identity's (synthetic_id, composite) or the
-- table's primary key (column, legacy). A synthetic or composite code is made from the key
-- as the trigger makes it, so a row that is gone still leads to its birth; a column or
-- legacy code is read from the row, so there must be one.
CREATE OR REPLACE FUNCTION entity_code_for(p_collection text, p_key jsonb)
RETURNS TABLE (entity_code text, row_exists boolean)
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry;
  rel regclass;
  code_sql text;
  keys name[];
  v_key jsonb := p_key;
  values_sql text;
  pred text;
  given text;
BEGIN
  PERFORM assert_natal_role('reader');
  c := find_collection(p_collection);
  rel := collection_table(c);
  code_sql := entity_code_sql(c, 't');
  IF rel IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB005', MESSAGE = format('collection %s has no table', c.collection_name),
      HINT = 'show its entities by code: natal show CODE';
  END IF;
  IF code_sql IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB006', MESSAGE = format('collection %s has no identity', c.collection_name),
      HINT = format('natal classify %s', c.collection_name);
  END IF;
  keys := CASE WHEN c.birth_code_strategy IN ('synthetic_id', 'composite') THEN c.birth_code_key_columns
               ELSE COALESCE(c.birth_code_key_columns, key_columns(rel)) END;
  IF keys IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB024', MESSAGE = format('collection %s has no key to find a row by', c.collection_name),
      HINT = 'show the entity by its code: natal show CODE';
  END IF;
  IF jsonb_typeof(v_key) <> 'object' THEN
    IF cardinality(keys) > 1 THEN
      RAISE EXCEPTION USING ERRCODE = 'NB024',
        MESSAGE = format('the key of %s is %s: give it as a JSON object, e.g. %s', c.collection_name,
                         array_to_string(keys, ', '),
                         (SELECT jsonb_object_agg(k, 1) FROM unnest(keys) AS k)::text),
        HINT = 'natal show TABLE KEY';
    END IF;
    v_key := jsonb_build_object(keys[1], v_key);
  END IF;
  SELECT string_agg(k, ', ' ORDER BY k) INTO given FROM jsonb_object_keys(v_key) AS k;
  IF given IS DISTINCT FROM (SELECT string_agg(k, ', ' ORDER BY k) FROM unnest(keys) AS k)
     OR EXISTS (SELECT 1 FROM jsonb_each(v_key) AS e WHERE jsonb_typeof(e.value) IN ('null', 'object', 'array')) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB024',
      MESSAGE = format('the key of %s is %s, each a value (the key given names %s)', c.collection_name,
                       array_to_string(keys, ', '), COALESCE(given, 'nothing')),
      HINT = 'natal show TABLE KEY';
  END IF;
  SELECT string_agg(format('CAST($1->>%L AS %s) AS %I', k, column_type(rel, k), k), ', ' ORDER BY o),
         -- (over the table, read as its owner: the key in $1[1])
         string_agg(format('t.%I = CAST(($1[1]::jsonb)->>%L AS %s)', k, k, column_type(rel, k)), ' AND ' ORDER BY o)
    INTO values_sql, pred
  FROM unnest(keys) WITH ORDINALITY AS u(k, o);
  BEGIN
    IF c.birth_code_strategy IN ('synthetic_id', 'composite') THEN
      -- the code the trigger makes of a row with this key
      EXECUTE format('SELECT %s FROM (SELECT %s) AS t', code_sql, values_sql) INTO entity_code USING v_key;
      EXECUTE format('SELECT r.found FROM %s',
                     owner_rows_sql(rel, format('SELECT EXISTS (SELECT 1 FROM %s AS t WHERE %s)', rel, pred),
                                    'r(found boolean)', 'ARRAY[$1::text]'))
        INTO row_exists USING v_key;
    ELSE
      EXECUTE format('SELECT r.code FROM %s',
                     owner_rows_sql(rel, format('SELECT %s FROM %s AS t WHERE %s LIMIT 1', code_sql, rel, pred),
                                    'r(code text)', 'ARRAY[$1::text]'))
        INTO entity_code USING v_key;
      row_exists := entity_code IS NOT NULL;
    END IF;
  EXCEPTION WHEN data_exception THEN
    RAISE EXCEPTION USING ERRCODE = 'NB024',
      MESSAGE = format('%s is not a key of %s (%s): %s', v_key::text, c.collection_name,
                       (SELECT string_agg(format('%s %s', k, column_type(rel, k)), ', ' ORDER BY o)
                        FROM unnest(keys) WITH ORDINALITY AS u(k, o)), SQLERRM),
      HINT = 'natal show TABLE KEY';
  END;
  RETURN NEXT;
END
$$;

-- The length of the longest common prefix of two texts.
CREATE OR REPLACE FUNCTION common_prefix_length(a text, b text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT COALESCE(max(i), 0) FROM generate_series(1, least(length(a), length(b))) AS i
  WHERE left(a, i) = left(b, i)
$$;

-- Codes that exist close to one that does not, closest first: the same code in capitals;
-- for PREFIX-NNN, the nearest numbers of that prefix (each a lookup by primary key); then
-- the codes beside it in the primary key's order that share at least half of it (the
-- codes with the longest common prefix are among them).
CREATE OR REPLACE FUNCTION show_nearby(p_code text, p_limit integer DEFAULT 5) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  m text[] := regexp_match(p_code, '^(.*[^0-9])([0-9]{1,18})$');
BEGIN
  PERFORM assert_natal_role('reader');
  RETURN QUERY
  WITH numbered AS (
    SELECT b.entity_code, 1 AS tier, d AS rank
    FROM generate_series(1, 25) AS d
    CROSS JOIN LATERAL (VALUES (m[2]::numeric - d), (m[2]::numeric + d)) AS v(n)
    CROSS JOIN LATERAL (VALUES (m[1] || v.n::text), (m[1] || lpad(v.n::text, length(m[2]), '0'))) AS w(code)
    JOIN birth_registry b ON b.entity_code = w.code
    WHERE m IS NOT NULL AND v.n >= 0
  ),
  beside AS (
    SELECT x.entity_code, 2 AS tier, -common_prefix_length(x.entity_code, p_code) AS rank
    FROM ((SELECT b.entity_code FROM birth_registry b WHERE b.entity_code < p_code ORDER BY b.entity_code DESC LIMIT 3)
          UNION ALL
          (SELECT b.entity_code FROM birth_registry b WHERE b.entity_code > p_code ORDER BY b.entity_code LIMIT 3)) AS x
    WHERE common_prefix_length(x.entity_code, p_code) * 2 >= length(p_code)
  ),
  capitals AS (
    SELECT b.entity_code, 0 AS tier, 0 AS rank FROM birth_registry b
    WHERE b.entity_code = upper(p_code) AND upper(p_code) <> p_code
  ),
  candidate AS (SELECT * FROM capitals UNION ALL SELECT * FROM numbered UNION ALL SELECT * FROM beside)
  SELECT e.entity_code FROM (
    SELECT DISTINCT ON (candidate.entity_code) candidate.entity_code, candidate.tier, candidate.rank FROM candidate
    ORDER BY candidate.entity_code, candidate.tier, candidate.rank
  ) AS e
  ORDER BY e.tier, e.rank, e.entity_code
  LIMIT p_limit;
END
$$;
