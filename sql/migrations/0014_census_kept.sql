-- natal 0014: a census kept between censuses.
--
-- An exact census from nothing must match every row of a collection against its births:
-- on a 1,000,000-row collection that costs 11-16 times a count(*) however it is written
-- (docs/BENCHMARKS.md). So a census now keeps what it counted, with the snapshot it counted
-- in (census_baseline), and the next census starts from there when it can prove that the
-- only changes since are rows born by their collection's own triggers:
--  - every birth made since (its born_xid not visible in the kept snapshot) is read through
--    a BRIN index, which costs an insert next to nothing; they must all be trigger or
--    gateway births, of kept collections;
--  - nothing was deleted, truncated or re-coded since, in a kept table or in the registry:
--    statement triggers record each such statement in census_change;
--  - each kept table still is the table it was (oid, file, identity, triggers enabled), and
--    its rows grew by exactly the number of births its collection gained.
-- Then every new row was born with a new birth: the gap and the phantoms are what they were,
-- and rows and births are counted forward. A new code is checked against the codes every
-- other kept table produces, so a duplicate risk cannot appear unseen. Anything else (a
-- backfill, a rollback, an import, a delete, a row inserted with its trigger disabled, a
-- birth made for a row that does not exist) and the census counts everything again.
-- Only speed depends on the kept census, never the numbers: both ways give the same answer,
-- and tests compare them after every kind of change.

-- The transaction that made a birth (top-level id with its epoch, as txid_current() gives).
-- Births made before this migration have none: they are all older than any census to come.
ALTER TABLE birth_registry ADD COLUMN born_xid bigint;
ALTER TABLE birth_registry ALTER COLUMN born_xid SET DEFAULT txid_current();
-- BRIN: the births since a census sit at the end of the registry; an insert into a block
-- range not yet summarized costs the index nothing.
CREATE INDEX birth_registry_born_xid ON birth_registry USING brin (born_xid);

-- Statements that may have changed a census other than by births: deletes, truncates and
-- changes of identity columns in a kept table, and deletes, truncates and re-codings of
-- births. One row per statement; a census that keeps its numbers clears those it has seen.
CREATE TABLE census_change (
  relid oid NOT NULL,
  xid   bigint NOT NULL DEFAULT txid_current(),
  at    timestamptz NOT NULL DEFAULT now()
);

-- The last census that could be kept: its snapshot and, per governed collection, what it
-- counted, with the fingerprint of the table it counted. One row.
CREATE TABLE census_baseline (
  id              boolean PRIMARY KEY DEFAULT true CHECK (id),
  snapshot        txid_snapshot NOT NULL,
  collections     jsonb NOT NULL,   -- {name: {fingerprint, rows, births, gap, phantoms}}
  risk            jsonb NOT NULL,   -- the duplicate risk of every governed collection
  registry_births bigint NOT NULL,
  taken_at        timestamptz NOT NULL DEFAULT now(),
  taken_by        text NOT NULL DEFAULT session_user
);

CREATE FUNCTION census_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  INSERT INTO census_change (relid) VALUES (TG_RELID);
  RETURN NULL;
END
$$;

CREATE TRIGGER natal_census_change
  AFTER DELETE OR TRUNCATE OR UPDATE OF entity_code, collection_name ON birth_registry
  FOR EACH STATEMENT EXECUTE FUNCTION census_changed();

-- A collection's census trigger: its identity columns, as the update trigger has them.
CREATE FUNCTION census_trigger_sql(c collection_registry, rel regclass) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT format('CREATE TRIGGER natal_census_change AFTER DELETE OR TRUNCATE OR UPDATE OF %s ON %s '
                'FOR EACH STATEMENT EXECUTE FUNCTION %I.census_changed()',
                string_agg(format('%I', k), ', '), rel, natal_schema())
  FROM (SELECT DISTINCT k FROM unnest(array_append(c.birth_code_key_columns, c.birth_code_column)) AS k
        WHERE k IS NOT NULL) AS cols
$$;

-- The governed collections a kept census covers (natal's catalog aside), each with the
-- fingerprint of what its numbers depend on: the table (oid and file: a truncate, a rewrite
-- or a new table changes it), its identity, and its triggers firing. NULL where a census of
-- it cannot be kept: a partitioned table or one with children (a statement on a child would
-- not fire the parent's triggers), or a trigger missing or disabled.
CREATE FUNCTION census_fingerprints() RETURNS jsonb
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT COALESCE(jsonb_object_agg(r.collection_name, (
           SELECT md5(concat_ws('|', k.oid, pg_relation_filenode(k.oid), entity_code_sql(r, 't')))
           FROM pg_class k
           WHERE k.oid = collection_table(r) AND k.relkind = 'r' AND NOT k.relhassubclass
             AND (SELECT count(*) FROM pg_trigger t
                  WHERE t.tgrelid = k.oid AND t.tgname IN ('natal_birth_auto', 'natal_census_change')
                    AND t.tgenabled IN ('O', 'A')) = 2)), '{}')
  FROM collection_registry r
  WHERE r.governance_role = 'governed' AND r.table_schema <> natal_schema()
    AND collection_table(r) IS NOT NULL AND entity_code_sql(r, 't') IS NOT NULL
$$;

-- Keeps a census taken in the caller's (repeatable read) snapshot: `p_collections` holds
-- {name: {rows, births, gap, phantoms}} for every collection census_fingerprints names.
-- Returns false, keeping nothing, when one is missing or cannot be kept.
CREATE FUNCTION census_keep(p_collections jsonb, p_risk jsonb, p_registry_births bigint)
RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  prints jsonb := census_fingerprints();
  kept jsonb;
BEGIN
  IF EXISTS (SELECT 1 FROM jsonb_each(prints) p
             WHERE jsonb_typeof(p.value) <> 'string' OR NOT p_collections ? p.key)
     OR NOT EXISTS (SELECT 1 FROM pg_trigger t
                    WHERE t.tgrelid = 'birth_registry'::regclass AND t.tgname = 'natal_census_change'
                      AND t.tgenabled IN ('O', 'A')) THEN
    RETURN false;
  END IF;
  SELECT jsonb_object_agg(p.key, (p_collections -> p.key) || jsonb_build_object('fingerprint', p.value))
    INTO kept FROM jsonb_each(prints) p;
  INSERT INTO census_baseline (snapshot, collections, risk, registry_births)
  VALUES (txid_current_snapshot(), COALESCE(kept, '{}'), p_risk, p_registry_births)
  ON CONFLICT (id) DO UPDATE
    SET snapshot = EXCLUDED.snapshot, collections = EXCLUDED.collections, risk = EXCLUDED.risk,
        registry_births = EXCLUDED.registry_births, taken_at = now(), taken_by = session_user;
  DELETE FROM census_change c WHERE txid_visible_in_snapshot(c.xid, txid_current_snapshot());
  RETURN true;
END
$$;

-- The births made since a kept census: those its snapshot does not see. Read through the
-- BRIN index (sequential scans off: without statistics the planner would read the whole
-- registry to find a handful of births).
CREATE FUNCTION census_births_since(p_snapshot txid_snapshot)
RETURNS TABLE (entity_code text, collection_name text, operation birth_operation)
LANGUAGE sql STABLE SET search_path FROM CURRENT SET enable_seqscan = off
AS $$
  SELECT b.entity_code, b.collection_name, b.operation
  FROM birth_registry b
  WHERE b.born_xid >= txid_snapshot_xmin(p_snapshot)
    AND NOT txid_visible_in_snapshot(b.born_xid, p_snapshot)
$$;

-- The census counted forward from the kept one, or NULL when that cannot be proven right.
-- Returns {collections: {name: {rows, births, gap, phantoms}}, risk, registry_births,
-- births_since, taken_at} for every kept collection: the caller reports the ones it asked for.
CREATE FUNCTION census_kept(p_since_limit integer DEFAULT 10000) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  base census_baseline;
  prints jsonb := census_fingerprints();
  codes text[];
  owners text[];
  other bigint;
  parts text;
  counted jsonb;
  result jsonb := '{}';
  k record;
BEGIN
  SELECT * INTO base FROM census_baseline;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  -- The same collections, the same tables and identities, every trigger firing.
  IF prints IS DISTINCT FROM (SELECT COALESCE(jsonb_object_agg(c.key, c.value -> 'fingerprint'), '{}')
                              FROM jsonb_each(base.collections) c)
     OR EXISTS (SELECT 1 FROM jsonb_each(prints) p WHERE jsonb_typeof(p.value) <> 'string')
     OR NOT EXISTS (SELECT 1 FROM pg_trigger t
                    WHERE t.tgrelid = 'birth_registry'::regclass AND t.tgname = 'natal_census_change'
                      AND t.tgenabled IN ('O', 'A')) THEN
    RETURN NULL;
  END IF;
  -- Nothing deleted, truncated or re-coded since.
  IF EXISTS (SELECT 1 FROM census_change c WHERE NOT txid_visible_in_snapshot(c.xid, base.snapshot)) THEN
    RETURN NULL;
  END IF;
  -- The births since: trigger and gateway births of kept collections only, and few enough
  -- to be checked against every kept table.
  SELECT array_agg(s.entity_code), array_agg(s.collection_name),
         count(*) FILTER (WHERE s.operation NOT IN ('trigger', 'gateway') OR NOT base.collections ? s.collection_name)
    INTO codes, owners, other
  FROM census_births_since(base.snapshot) s;
  IF other > 0 OR cardinality(codes) > p_since_limit THEN
    RETURN NULL;
  END IF;
  -- Each kept table: its rows now and, when there are births since, how many of them it
  -- produces: its own (each must have its row) and other collections' (a new duplicate
  -- risk). One statement for them all; with no births since, a plain count(*) each.
  SELECT string_agg(CASE WHEN codes IS NULL THEN
           format('SELECT %L::text AS collection, count(*) AS rows, 0 AS own_codes, 0 AS foreign_codes FROM %s',
                  r.collection_name, collection_table(r))
         ELSE format(
           'SELECT %L::text AS collection, count(*) AS rows, count(n.code) FILTER (WHERE n.owner = %L) AS own_codes, '
           'count(n.code) FILTER (WHERE n.owner <> %2$L) AS foreign_codes '
           'FROM (SELECT %s AS code FROM %s AS t) AS e LEFT JOIN since AS n ON n.code = e.code',
           r.collection_name, r.collection_name, entity_code_sql(r, 't'), collection_table(r)) END, ' UNION ALL ')
    INTO parts
  FROM collection_registry r WHERE base.collections ? r.collection_name;
  IF parts IS NOT NULL THEN
    EXECUTE format($q$
      WITH since AS (SELECT * FROM unnest($1::text[], $2::text[]) AS s(code, owner))
      SELECT jsonb_object_agg(w.collection, jsonb_build_object('rows', w.rows, 'own_codes', w.own_codes,
                                                      'foreign_codes', w.foreign_codes))
      FROM (%s) AS w
    $q$, parts) INTO counted USING COALESCE(codes, '{}'), COALESCE(owners, '{}');
  END IF;
  FOR k IN SELECT c.key AS name, c.value AS was, counted -> c.key AS now_,
                  (SELECT count(*) FROM unnest(owners) AS o WHERE o = c.key) AS born
           FROM jsonb_each(base.collections) c LOOP
    -- A new code that another table produces is a new duplicate risk: count again.
    IF (k.now_ ->> 'foreign_codes')::bigint > 0 THEN
      RETURN NULL;
    END IF;
    -- Every new birth has its row, and the rows grew by as many: every new row came with a
    -- new birth of its collection.
    IF (k.now_ ->> 'own_codes')::bigint <> k.born
       OR (k.now_ ->> 'rows')::bigint - (k.was ->> 'rows')::bigint <> k.born THEN
      RETURN NULL;
    END IF;
    result := result || jsonb_build_object(k.name, jsonb_build_object(
      'rows', (k.now_ ->> 'rows')::bigint,
      'births', (k.was ->> 'births')::bigint + k.born,
      'gap', (k.was ->> 'gap')::bigint,
      'phantoms', (k.was ->> 'phantoms')::bigint));
  END LOOP;
  RETURN jsonb_build_object('collections', result, 'risk', base.risk,
                            'registry_births', base.registry_births + COALESCE(cardinality(codes), 0),
                            'births_since', COALESCE(cardinality(codes), 0), 'taken_at', base.taken_at);
END
$$;

-- Wiring installs the census trigger next to the auto-birth trigger, and unwiring removes it.
CREATE OR REPLACE FUNCTION wire(p_collection text) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  src record;
  upd text;
  fn name := auto_birth_function(c.collection_name);
  gw text;
  rel regclass := collection_table(c);
BEGIN
  -- One wiring of a collection at a time: a second one waits, then installs a fresh body.
  PERFORM 1 FROM collection_registry r WHERE r.collection_name = c.collection_name FOR UPDATE;
  SELECT s.kind, s.body INTO src FROM auto_birth_source(p_collection) s;
  -- A strict collection's trigger probes births; an auto-birth trigger only inserts.
  PERFORM install_function(fn, '', 'trigger', src.body, c.strict_mode);
  EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_auto ON %s', rel);
  IF src.kind = 'statement' THEN
    EXECUTE format('CREATE TRIGGER natal_birth_auto AFTER INSERT ON %s REFERENCING NEW TABLE AS natal_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION %I.%I()', rel, natal_schema(), fn);
  ELSE
    EXECUTE format('CREATE TRIGGER natal_birth_auto AFTER INSERT ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION %I.%I()', rel, natal_schema(), fn);
  END IF;
  -- natal's own catalog tables are written by natal, not through the gateway.
  gw := CASE WHEN c.table_schema <> natal_schema() THEN gateway_source(p_collection) END;
  IF gw IS NOT NULL THEN
    PERFORM install_function(gateway_function(c.collection_name), 'p_data jsonb, p_origin text', 'jsonb', gw, true);
  ELSE
    EXECUTE format('DROP FUNCTION IF EXISTS %I.%I(jsonb, text)', natal_schema(), gateway_function(c.collection_name));
  END IF;
  -- and the update trigger, row-level, firing only when identity columns change
  SELECT s.body INTO upd FROM auto_birth_source(p_collection, 'row') s;
  PERFORM install_function(update_birth_function(c.collection_name), '', 'trigger', upd, c.strict_mode);
  EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_update ON %s', rel);
  EXECUTE update_trigger_sql(c, rel, update_birth_function(c.collection_name));
  -- and the census trigger (0014), one row per deleting, truncating or re-coding statement
  EXECUTE format('DROP TRIGGER IF EXISTS natal_census_change ON %s', rel);
  EXECUTE census_trigger_sql(c, rel);
  INSERT INTO wired_trigger (collection_name, function_name, kind)
  VALUES (c.collection_name, fn, src.kind)
  ON CONFLICT (collection_name) DO UPDATE
    SET function_name = EXCLUDED.function_name, kind = EXCLUDED.kind,
        wired_by = session_user, wired_at = now();
  PERFORM regenerate_create_entity();
  RETURN src.kind;
END
$$;

CREATE OR REPLACE FUNCTION unwire(p_collection text) RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  was boolean := false;
BEGIN
  PERFORM 1 FROM collection_registry r WHERE r.collection_name = c.collection_name FOR UPDATE;
  IF rel IS NOT NULL THEN
    was := EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'natal_birth_auto');
    EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_auto ON %s', rel);
    EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_update ON %s', rel);
    EXECUTE format('DROP TRIGGER IF EXISTS natal_census_change ON %s', rel);
  END IF;
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', natal_schema(), auto_birth_function(c.collection_name));
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', natal_schema(), update_birth_function(c.collection_name));
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I(jsonb, text)', natal_schema(), gateway_function(c.collection_name));
  DELETE FROM wired_trigger WHERE collection_name = c.collection_name;
  PERFORM regenerate_create_entity();
  RETURN was;
END
$$;

-- A column collection's gateway probes the code columns of every column and legacy
-- collection of its species (0003), so when one of them changes identity or species, the
-- others' gateways must follow: re-wire the wired collections of the species but one.
CREATE FUNCTION rewire_species(p_species text, p_except text) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT
AS $$
  SELECT rewire_if_wired(m.collection_name)
  FROM species_collection_map m
  WHERE m.species_code = p_species AND m.collection_name <> p_except
  ORDER BY m.collection_name
$$;

-- The gateway's entity insert no longer makes its auto-birth trigger probe the registry for
-- the code the gateway has just born (about a tenth of a gateway call: the trigger's
-- INSERT … ON CONFLICT meeting that birth). The gateway marks its one INSERT with the
-- table's oid in a transaction-local setting, cleared right after; the trigger returns at
-- once when it sees its own table's oid at trigger depth 1, which only the gateway's INSERT
-- statement itself fires at (a row that a user trigger inserts meanwhile fires its
-- statement's trigger one level deeper). A failed insert rolls the setting back with it.
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
  -- Its auto-birth trigger is told that this statement's row is born (0014): the marker
  -- names this table, and the trigger heeds it only at depth 1, so rows that other triggers
  -- insert meanwhile are born as usual.
  PERFORM set_config('natal.gateway_insert', %14$L, true);
  INSERT INTO %6$s AS t (%11$s)
  SELECT %10$s FROM jsonb_populate_record(NULL::%6$s, p_data) AS r
  RETURNING %13$s, (t.%3$I)::text INTO v_key, v_row_code;
  PERFORM set_config('natal.gateway_insert', '', true);
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
    insert_vals, insert_cols, known, key_sql, rel::oid::text);
END
$$;


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
  small_bound constant integer := 4096;
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
    -- The one row the gateway inserts carries the code it has just born (0014): nothing to do.
    IF current_setting('natal.gateway_insert', true) = %11$L THEN
      IF pg_trigger_depth() = 1 THEN
        RETURN NULL;
      END IF;
    END IF;
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
        -- small: one row (a row trigger), or a statement that cannot have 4096 rows or more.
        -- pg_stat_get_xact_tuples_inserted counts the rows this session has inserted into
        -- the table since it last reported its statistics (at most once a second; PGlite
        -- never does), this statement's included: an upper bound on the statement's rows
        -- that costs a function call, where counting them is a query. Below 4096 a statement
        -- takes ON CONFLICT; at 4096 or more the count decides (16 rows), as before.
        -- Only speed depends on it, never births (ON CONFLICT is right for any statement):
        -- with track_counts off the counter stands still and every statement takes ON
        -- CONFLICT; past 4096 in one long transaction (or in PGlite) every statement counts.
        CASE kind WHEN 'row' THEN 'true' ELSE format('pg_stat_get_xact_tuples_inserted(TG_RELID) < %s', small_bound) END,
        CASE kind WHEN 'row' THEN ''
             ELSE E'\n  IF NOT small THEN\n    small := (SELECT count(*) FROM (SELECT 1 FROM natal_new LIMIT 16) AS s) < 16;\n  END IF;' END,
        -- the gateway's marker for this table (see gateway_source above)
        rel::oid::text);
  END IF;
END
$$;


-- Every wired collection gets the bodies above and its census trigger.
SELECT rewire_if_wired(collection_name) FROM wired_trigger ORDER BY collection_name;
