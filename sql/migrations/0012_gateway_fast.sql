-- natal 0012: cheaper single-row births, through the gateway and the auto-birth trigger.
-- Measured with perf on the server (8 clients, one create_entity per transaction), three
-- things in the gateway cost more than the work itself:
-- - format_code(prefix, nextval(…)) was not inlined (a volatile argument used twice), so
--   the SQL function was parsed and planned on every call: nextval is now taken first;
-- - a probe of the registry that ON CONFLICT (entity_code) already makes;
-- - the whole new row turned to JSON to read its key back: the key columns are returned.
-- Wired collections are re-wired so that their gateways use the new body.

-- Every birth insert re-reads and prepares the table's CHECK constraints: per statement
-- that cost about 4 µs here (an insert of one birth without them: 3.8 µs; with them: 7.9 µs),
-- a fifth of a single-row insert into a wired table. natal's writers never write an empty
-- code or origin (codes are NULLIF'd and origins COALESCE'd), inspection fails a record
-- whose code does not have its collection's form, and only inspection sets the inspection
-- columns; those checks go. The one that rollback relies on (a birth carries a run id if
-- and only if a backfill made it: rollback deletes a run's births by that id) stays.
ALTER TABLE birth_registry
  DROP CONSTRAINT birth_registry_entity_code_check,
  DROP CONSTRAINT birth_registry_dot_origin_check,
  DROP CONSTRAINT birth_inspected_when_judged;

-- The gateway function for one collection with a code column, generated at wiring time
-- with everything it needs baked in (no catalog lookups per call); NULL for other identities.
-- Steps (QT-002): species check → next PREFIX-NNN → birth record → entity row carrying the
-- code and _dot_origin → match check → inspection, all in the caller's transaction: if the
-- entity insert fails, the birth goes with it. No phantom, ever.
CREATE OR REPLACE FUNCTION gateway_source(p_collection text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  sp entity_species := collection_species(p_collection);
  ns text := quote_ident(natal_schema());
  probe text;
  key_sql text;
  insert_cols text;
  insert_vals text;
  known text;
BEGIN
  IF c.birth_code_strategy <> 'column' OR rel IS NULL OR sp.species_code IS NULL
     OR c.governance_role <> 'governed' THEN
    RETURN NULL;
  END IF;
  -- The new code must not be in the code column of this table, nor of any other collection
  -- of the species (their unborn rows may hold it). Siblings registered later re-wire this.
  SELECT string_agg(format('NOT EXISTS (SELECT 1 FROM %s t WHERE %s)', collection_table(o),
                           CASE WHEN a.atttypid IN ('text'::regtype, 'varchar'::regtype)
                                THEN format('t.%I = v_next', o.birth_code_column)
                                ELSE format('(t.%I)::text = v_next', o.birth_code_column) END),
                    ' AND ' ORDER BY o.collection_name)
    INTO probe
  FROM collection_registry o
  JOIN species_collection_map m ON m.collection_name = o.collection_name
  JOIN pg_attribute a ON a.attrelid = collection_table(o) AND a.attname = o.birth_code_column
  WHERE m.species_code = sp.species_code AND o.birth_code_strategy IN ('column', 'legacy')
    AND NOT a.attisdropped;
  SELECT format('jsonb_build_object(%s)', string_agg(format('%L, t.%I', k, k), ', '))
    INTO key_sql
  FROM unnest(COALESCE(key_columns(rel), ARRAY[c.birth_code_column]::name[])) AS k;
  -- A static INSERT (planned once per session): every insertable column, taking the value
  -- from the JSON when the key is there and the column's own default when it is not.
  SELECT string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum),
         string_agg(CASE
                      WHEN a.attname = c.birth_code_column THEN 'v_code'
                      WHEN a.attname = '_dot_origin' THEN 'v_origin'
                      ELSE format('CASE WHEN p_data ? %L THEN r.%I ELSE %s END', a.attname, a.attname,
                                  CASE WHEN a.attidentity = 'd'
                                         THEN format('nextval(%L::regclass)', pg_get_serial_sequence(rel::text, a.attname))
                                       ELSE COALESCE(pg_get_expr(d.adbin, d.adrelid), 'NULL') END)
                    END, ', ' ORDER BY a.attnum),
         format('%L', array_agg(a.attname::text ORDER BY a.attnum))
    INTO insert_cols, insert_vals, known
  FROM pg_attribute a
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
    AND a.attgenerated = '' AND a.attidentity <> 'a';
  RETURN format($body$
DECLARE
  v_origin text := COALESCE(NULLIF(p_origin, ''), 'natal:create');
  v_code text;
  v_tries integer := 0;
  v_n bigint;
  v_next text;
  v_key jsonb;
  v_row_code text;
BEGIN
  -- 1. species check (the rest was checked when this function was generated): data that
  -- this table can take, and (in 2.) no freeze
  IF p_data IS NULL OR jsonb_typeof(p_data) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009', MESSAGE = 'entity data must be a JSON object of column values',
      HINT = 'for example {"name": "x"}';
  END IF;
  IF p_data ? %3$L THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = 'entity data sets the code column ' || %3$L || '; the gateway assigns the code',
      HINT = 'leave it out';
  END IF;
  IF (p_data - %12$s::text[]) <> '{}'::jsonb THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = format('table %%s has no column %%s that the gateway can set', %2$L,
                       (SELECT string_agg(k, ', ') FROM jsonb_object_keys(p_data - %12$s::text[]) AS k)),
      HINT = 'use the table''s column names as keys; if the table changed, run natal wire';
  END IF;
  -- 2. next code, never reused and never one that exists in the registry or the table,
  -- and 3. birth first, in one statement (which births nothing while a freeze stands).
  -- The birth is recorded as inspected: the match check below proves what inspection
  -- checks, and a failed check rolls the birth back with everything else.
  LOOP
    v_n := nextval(%5$L::regclass);
    v_next := %1$s.format_code(%4$L, v_n);
    -- a code already born is skipped by ON CONFLICT (born meanwhile by a concurrent session too)
    INSERT INTO %1$s.birth_registry (entity_code, collection_name, species_code, composition_level,
                                     dot_origin, governance_role, operation, inspection_status, inspected_at)
    SELECT v_next, %2$L, %8$L, %9$L, v_origin, 'governed', 'gateway', 'passed', now()
    WHERE %7$s
      AND NOT EXISTS (SELECT 1 FROM %1$s.operation_freeze f WHERE f.target = %2$L)
    ON CONFLICT (entity_code) DO NOTHING
    RETURNING entity_code INTO v_code;
    EXIT WHEN v_code IS NOT NULL;
    PERFORM %1$s.assert_not_frozen(%2$L);
    v_tries := v_tries + 1;
    IF v_tries > 1000 THEN
      RAISE EXCEPTION 'natal: no free code for prefix %% after 1000 tries', %4$L;
    END IF;
    PERFORM %1$s.sync_code_sequence(%4$L);
  END LOOP;
  -- 4. entity after, carrying the code and its origin (its auto-birth trigger finds the
  -- birth made and leaves it: ON CONFLICT DO NOTHING)
  INSERT INTO %6$s AS t (%11$s)
  SELECT %10$s FROM jsonb_populate_record(NULL::%6$s, p_data) AS r
  RETURNING %13$s, (t.%3$I)::text INTO v_key, v_row_code;
  -- 5. match check
  -- (as text: a char(n) column pads the value, its text does not)
  IF v_row_code IS DISTINCT FROM v_code THEN
    RAISE EXCEPTION USING ERRCODE = 'NB008',
      MESSAGE = format('match check failed: %%s was born but the row holds %%s', v_code, v_row_code),
      HINT = 'a trigger on the table changed the code; nothing was kept';
  END IF;
  RETURN jsonb_build_object(
    'entity_code', v_code, 'collection_name', %2$L, 'species_code', %8$L,
    'composition_level', %9$L, 'dot_origin', v_origin, 'born_at', now(),
    'governance_role', 'governed', 'operation', 'gateway', 'inspection_status', 'passed',
    'key', v_key);
END
$body$,
    ns, c.collection_name, c.birth_code_column, sp.code_prefix,
    code_sequence(sp.code_prefix), rel, probe, sp.species_code, sp.composition_level,
    insert_vals, insert_cols, known, key_sql);
END
$$;

-- The auto-birth function for one collection, as (kind, function body). Everything it needs
-- is baked in as constants, so its plan is cached and nothing is looked up per insert.
-- `natal triggers` compares the installed body with this one to find stale configuration.
-- p_kind 'row' asks for the row-level body whatever the table (the update trigger's).
CREATE OR REPLACE FUNCTION auto_birth_source(p_collection text, p_kind text DEFAULT NULL, OUT kind text, OUT body text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  sp entity_species := collection_species(p_collection);
  code_sql text := entity_code_sql(c, 'n');
  rows_sql text;
  births text := format('%I.birth_registry', natal_schema());
BEGIN
  IF c.governance_role <> 'governed' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB002',
      MESSAGE = format('collection %s is %s, not governed: it gets no births', p_collection, c.governance_role),
      HINT = 'make it governed first: natal collection set TABLE --role governed';
  END IF;
  IF rel IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB005',
      MESSAGE = format('collection %s has no table (%I.%I does not exist)', p_collection, c.table_schema, c.table_name),
      HINT = 'create the table, then wire it';
  END IF;
  IF sp.species_code IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB003',
      MESSAGE = format('collection %s is not in the species map', p_collection),
      HINT = 'map it: natal collection set TABLE --species CODE';
  END IF;
  IF code_sql IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB006',
      MESSAGE = format('collection %s has no identity (unclassified: %s)', p_collection,
                       COALESCE(c.birth_code_reason, 'unknown')),
      HINT = 'give it one: natal collection add TABLE --code-column COL, or natal identity set';
  END IF;
  kind := CASE WHEN p_kind = 'row' OR (SELECT relkind FROM pg_class WHERE oid = rel) = 'p' THEN 'row'
               ELSE 'statement' END;
  -- A partitioned table: a row trigger on the parent is cloned to every partition, so a
  -- direct insert into a partition is born too; statement triggers would not see it.
  rows_sql := CASE kind WHEN 'statement' THEN 'natal_new AS n' ELSE '(SELECT NEW.*) AS n' END;
  IF c.strict_mode THEN
    body := format($body$
DECLARE
  unborn text;
BEGIN
  SELECT x.code INTO unborn
  FROM (SELECT %1$s AS code FROM %2$s) AS x
  WHERE NOT EXISTS (SELECT 1 FROM %3$s b WHERE b.entity_code = x.code AND b.collection_name = %4$L)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB007',
      MESSAGE = format('collection %%s is strict: entity %%s has no prior birth', %4$L, COALESCE(unborn, '(no code)')),
      HINT = 'create entities through the birth-first gateway: natal create, or natal.create_entity()';
  END IF;
  RETURN NULL;
END
$body$, code_sql, rows_sql, births, c.collection_name);
  ELSE
    -- The seed's semantics: INSERT … ON CONFLICT (entity_code) DO NOTHING. That is what a
    -- small statement runs. For a big one, speculative insertion would cost every row an
    -- extra WAL record and index probe, so it takes a plain insert, and only when that meets
    -- a unique violation (a code born before, twice in one statement, or concurrently) is it
    -- redone with ON CONFLICT DO NOTHING. The births that result are the same either way.
    body := format($body$
DECLARE
  small boolean := %9$s;
BEGIN%10$s
  IF small THEN
    INSERT INTO %1$s (entity_code, collection_name, species_code, composition_level, dot_origin,
                      governance_role, operation)
    SELECT x.code, %2$L, %3$L, %4$L, x.origin, 'governed', %8$L
    FROM (SELECT %5$s AS code, %6$s AS origin FROM %7$s) AS x
    WHERE x.code IS NOT NULL
    ON CONFLICT (entity_code) DO NOTHING;
    RETURN NULL;
  END IF;
  BEGIN
    INSERT INTO %1$s (entity_code, collection_name, species_code, composition_level, dot_origin,
                      governance_role, operation)
    SELECT x.code, %2$L, %3$L, %4$L, x.origin, 'governed', %8$L
    FROM (SELECT %5$s AS code, %6$s AS origin FROM %7$s) AS x
    WHERE x.code IS NOT NULL;
  EXCEPTION WHEN unique_violation THEN
    INSERT INTO %1$s (entity_code, collection_name, species_code, composition_level, dot_origin,
                      governance_role, operation)
    SELECT x.code, %2$L, %3$L, %4$L, x.origin, 'governed', %8$L
    FROM (SELECT %5$s AS code, %6$s AS origin FROM %7$s) AS x
    WHERE x.code IS NOT NULL
    ON CONFLICT (entity_code) DO NOTHING;
  END;
  RETURN NULL;
END
$body$, births, c.collection_name, sp.species_code, sp.composition_level, code_sql,
        dot_origin_sql(c, 'n'), rows_sql,
        -- natal's own catalog tables: Case 3, the catalog row itself is born
        CASE WHEN c.table_schema = natal_schema() THEN 'catalog' ELSE 'trigger' END,
        -- small: one row (a row trigger), or under 16 rows (the gateway's insert is one).
        -- A statement is small for certain when the whole transaction has inserted fewer
        -- than 16 rows into the table so far: a function call, where counting the rows
        -- is a query (measured: that query was 5% of a single-row insert's CPU).
        CASE kind WHEN 'row' THEN 'true' ELSE 'pg_stat_get_xact_tuples_inserted(TG_RELID) < 16' END,
        CASE kind WHEN 'row' THEN ''
             ELSE E'\n  IF NOT small THEN\n    small := (SELECT count(*) FROM (SELECT 1 FROM natal_new LIMIT 16) AS s) < 16;\n  END IF;' END);
  END IF;
END
$$;



SELECT rewire_if_wired(collection_name) FROM wired_trigger ORDER BY collection_name;
