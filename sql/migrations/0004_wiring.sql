-- natal 0004: wiring — installing, removing and inventorying auto-birth triggers and
-- gateway functions; then natal's own catalog tables are wired (Case 3).

CREATE FUNCTION auto_birth_function(p_collection text) RETURNS name
LANGUAGE sql IMMUTABLE
AS $$ SELECT ('birth_auto_' || left(md5(p_collection), 16))::name $$;

CREATE FUNCTION update_birth_function(p_collection text) RETURNS name
LANGUAGE sql IMMUTABLE
AS $$ SELECT ('birth_upd_' || left(md5(p_collection), 16))::name $$;

-- The update trigger: a row whose identity columns change gets its new code born (or, in a
-- strict collection, is refused without a prior birth). It fires only when those columns
-- change, so other updates cost nothing.
CREATE FUNCTION update_trigger_sql(c collection_registry, rel regclass, fn name) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT format('CREATE TRIGGER natal_birth_update AFTER UPDATE OF %s ON %s FOR EACH ROW WHEN (%s) '
                'EXECUTE FUNCTION %I.%I()',
                string_agg(format('%I', k), ', '), rel,
                string_agg(format('OLD.%I IS DISTINCT FROM NEW.%I', k, k), ' OR '),
                natal_schema(), fn)
  FROM (SELECT DISTINCT k FROM unnest(array_append(c.birth_code_key_columns, c.birth_code_column)) AS k
        WHERE k IS NOT NULL) AS cols
$$;

-- Generated functions plan their queries once per session. Planned against a registry that
-- was nearly empty, a probe by entity_code would stay a sequential scan for ever after;
-- functions that probe (`probes`) run with sequential scans off, so they use the key index.
CREATE FUNCTION install_function(p_name name, p_signature text, p_returns text, p_body text,
                                 p_probes boolean)
RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  EXECUTE format('CREATE OR REPLACE FUNCTION %I.%I(%s) RETURNS %s LANGUAGE plpgsql %s AS %L',
                 natal_schema(), p_name, p_signature, p_returns,
                 CASE WHEN p_probes THEN 'SET enable_seqscan = off' ELSE '' END, p_body);
END
$$;

-- Wires a governed collection (idempotent): installs its auto-birth trigger and, when it has
-- a code column, its birth-first gateway function. Returns the trigger's kind.
CREATE FUNCTION wire(p_collection text) RETURNS text
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
  INSERT INTO wired_trigger (collection_name, function_name, kind)
  VALUES (c.collection_name, fn, src.kind)
  ON CONFLICT (collection_name) DO UPDATE
    SET function_name = EXCLUDED.function_name, kind = EXCLUDED.kind,
        wired_by = session_user, wired_at = now();
  PERFORM regenerate_create_entity();
  RETURN src.kind;
END
$$;

-- The birth-first gateway (QT-002), callable by any client:
--   SELECT natal.create_entity('dot_domain_rules', '{"name": "…"}', 'my-tool');
-- returns the birth record and the new entity's key as JSON. It is regenerated whenever a
-- collection is wired or unwired, as one SQL CASE over each collection's gateway function:
-- a SQL function the planner inlines into the caller's query, so dispatch costs nothing.
CREATE FUNCTION regenerate_create_entity() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  ns text := quote_ident(natal_schema());
  branches text;
BEGIN
  -- Concurrent wirings regenerate one after the other, each seeing the other's commit.
  PERFORM pg_advisory_xact_lock(hashtextextended('natal:create_entity:' || natal_schema(), 0));
  SELECT string_agg(format(' WHEN %L THEN %s.%I(p_data, p_origin)', w.collection_name, ns,
                           gateway_function(w.collection_name)), E'\n' ORDER BY w.collection_name)
    INTO branches
  FROM wired_trigger w
  WHERE to_regprocedure(format('%s.%I(jsonb,text)', ns, gateway_function(w.collection_name))) IS NOT NULL;
  -- The body travels as a literal (%L), so no collection name can end it early.
  EXECUTE format('CREATE OR REPLACE FUNCTION %s.create_entity(p_collection text, p_data jsonb, '
                 'p_origin text DEFAULT NULL) RETURNS jsonb LANGUAGE sql AS %L', ns,
    CASE WHEN branches IS NULL THEN format('SELECT %s.gateway_refusal(p_collection)', ns)
         ELSE format(E'SELECT CASE p_collection\n%s\n ELSE %s.gateway_refusal(p_collection) END', branches, ns)
    END);
END
$$;

-- Removes a collection's auto-birth trigger (idempotent). Returns whether one was there.
CREATE FUNCTION unwire(p_collection text) RETURNS boolean
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
  END IF;
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', natal_schema(), auto_birth_function(c.collection_name));
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', natal_schema(), update_birth_function(c.collection_name));
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I(jsonb, text)', natal_schema(), gateway_function(c.collection_name));
  DELETE FROM wired_trigger WHERE collection_name = c.collection_name;
  PERFORM regenerate_create_entity();
  RETURN was;
END
$$;

-- A wired collection follows its configuration: re-wired when it can be, unwired when it
-- no longer can (not governed, unclassified, no table).
CREATE FUNCTION rewire_if_wired(p_collection text) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
BEGIN
  IF EXISTS (SELECT 1 FROM wired_trigger WHERE collection_name = p_collection) THEN
    IF c.governance_role = 'governed' AND entity_code_sql(c, 'n') IS NOT NULL
       AND collection_table(c) IS NOT NULL THEN
      PERFORM wire(p_collection);
    ELSE
      PERFORM unwire(p_collection);
    END IF;
  END IF;
END
$$;

-- The trigger inventory: one row per registered collection (or per one of those given).
CREATE FUNCTION trigger_inventory(p_collections text[] DEFAULT NULL)
RETURNS TABLE (collection_name text, governance_role governance_role, has_table boolean,
               present boolean, enabled boolean, functional boolean, kind text, problem text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry;
  rel regclass;
  t_enabled "char";
  t_per_row boolean;
  t_proname name;
  t_prosrc text;
  t_ours boolean;
  want_kind text;
  want_body text;
  want_error text;
  gw_want text;
  gw_have text;
  upd_want text;
  upd_have text;
BEGIN
  FOR c IN SELECT * FROM collection_registry r
           WHERE p_collections IS NULL OR r.collection_name = ANY (p_collections)
           ORDER BY r.collection_name LOOP
    collection_name := c.collection_name;
    governance_role := c.governance_role;
    rel := collection_table(c);
    has_table := rel IS NOT NULL;
    t_enabled := NULL; t_per_row := NULL; t_proname := NULL; t_prosrc := NULL; t_ours := NULL;
    IF rel IS NOT NULL THEN
      SELECT t.tgenabled, (t.tgtype & 1) = 1, p.proname, p.prosrc, n.nspname = natal_schema()
        INTO t_enabled, t_per_row, t_proname, t_prosrc, t_ours
      FROM pg_trigger t
      JOIN pg_proc p ON p.oid = t.tgfoid
      JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE t.tgrelid = rel AND t.tgname = 'natal_birth_auto';
    END IF;
    present := t_proname IS NOT NULL;
    enabled := present AND t_enabled <> 'D';
    kind := CASE WHEN NOT present THEN NULL WHEN t_per_row THEN 'row' ELSE 'statement' END;
    want_kind := NULL; want_body := NULL; want_error := NULL; gw_want := NULL; upd_want := NULL;
    upd_have := NULL;
    IF rel IS NOT NULL THEN
      SELECT p.prosrc INTO upd_have
      FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE t.tgrelid = rel AND t.tgname = 'natal_birth_update' AND t.tgenabled <> 'D';
    END IF;
    IF c.governance_role = 'governed' THEN
      BEGIN
        SELECT s.kind, s.body INTO want_kind, want_body FROM auto_birth_source(c.collection_name) s;
        gw_want := CASE WHEN c.table_schema <> natal_schema() THEN gateway_source(c.collection_name) END;
        SELECT s.body INTO upd_want FROM auto_birth_source(c.collection_name, 'row') s;
      EXCEPTION WHEN SQLSTATE 'NB002' OR SQLSTATE 'NB003' OR SQLSTATE 'NB005' OR SQLSTATE 'NB006' THEN
        want_error := SQLERRM;
      END;
    END IF;
    SELECT p.prosrc INTO gw_have FROM pg_proc p
    WHERE p.oid = to_regprocedure(format('%I.%I(jsonb,text)', natal_schema(), gateway_function(c.collection_name)));
    problem := CASE
      WHEN c.governance_role <> 'governed' AND present THEN
        'wired but ' || c.governance_role::text || ': it should not be'
      WHEN c.governance_role <> 'governed' THEN NULL
      WHEN NOT has_table THEN 'no table'
      WHEN want_error IS NOT NULL AND present THEN 'stale configuration: ' || want_error
      WHEN want_error IS NOT NULL THEN 'cannot be wired: ' || want_error
      WHEN NOT present THEN 'missing: run natal wire'
      WHEN NOT t_ours OR t_proname <> auto_birth_function(c.collection_name) THEN
        'points at a function that is not natal''s (' || t_proname || ')'
      WHEN t_enabled = 'D' THEN 'disabled'
      WHEN upd_have IS NULL THEN 'update trigger missing or disabled: run natal wire'
      WHEN t_prosrc IS DISTINCT FROM want_body OR kind IS DISTINCT FROM want_kind
           OR gw_have IS DISTINCT FROM gw_want OR upd_have IS DISTINCT FROM upd_want THEN
        'stale configuration: the collection changed since it was wired; run natal wire'
      ELSE NULL
    END;
    functional := c.governance_role = 'governed' AND present AND problem IS NULL;
    RETURN NEXT;
  END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Case 3 bootstrap: natal's own catalog tables are collections whose rows are born.
INSERT INTO entity_species (species_code, code_prefix, composition_level, name) VALUES
  ('SPE-SPE', 'SPE', 'catalog', 'species (a row of entity_species)'),
  ('SPE-COL', 'COL', 'catalog', 'collection (a row of collection_registry)');
CREATE SEQUENCE "code_seq_SPE" AS bigint;
CREATE SEQUENCE "code_seq_COL" AS bigint;

INSERT INTO collection_registry (collection_name, table_schema, table_name, governance_role,
                                 birth_code_strategy, birth_code_column, birth_code_reason,
                                 birth_code_set_by, birth_code_set_at)
SELECT collection_name_of(current_schema(), t), current_schema(), t, 'governed'::governance_role,
       'column'::identity_strategy, 'entity_code', 'natal catalog', session_user, now()
FROM unnest(ARRAY['entity_species', 'collection_registry']::name[]) AS t;

INSERT INTO species_collection_map (collection_name, species_code) VALUES
  (collection_name_of(current_schema(), 'entity_species'), 'SPE-SPE'),
  (collection_name_of(current_schema(), 'collection_registry'), 'SPE-COL');

UPDATE entity_species SET entity_code = next_code('SPE');
UPDATE collection_registry SET entity_code = next_code('COL');

INSERT INTO birth_registry (entity_code, collection_name, species_code, composition_level,
                            dot_origin, governance_role, operation)
SELECT s.entity_code, collection_name_of(current_schema(), 'entity_species'), 'SPE-SPE', 'catalog',
       'natal:init', 'governed'::governance_role, 'catalog'::birth_operation
FROM entity_species s
UNION ALL
SELECT r.entity_code, collection_name_of(current_schema(), 'collection_registry'), 'SPE-COL', 'catalog',
       'natal:init', 'governed', 'catalog'
FROM collection_registry r;

CREATE TRIGGER natal_catalog_code BEFORE INSERT ON entity_species
  FOR EACH ROW EXECUTE FUNCTION assign_catalog_code();
CREATE TRIGGER natal_catalog_code BEFORE INSERT ON collection_registry
  FOR EACH ROW EXECUTE FUNCTION assign_catalog_code();
CREATE TRIGGER natal_species_sequence AFTER INSERT ON entity_species
  FOR EACH ROW EXECUTE FUNCTION create_species_sequence();

SELECT wire(collection_name_of(current_schema(), 'entity_species'));
SELECT wire(collection_name_of(current_schema(), 'collection_registry'));
SELECT regenerate_create_entity();
