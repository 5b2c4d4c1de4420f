-- natal 0002: the catalog (species, collections, identity), code numbering and wiring.
-- Functions carry `SET search_path FROM CURRENT`: they always see natal's own schema,
-- whatever the caller's search_path. Errors use natal's SQLSTATEs (class NB, see errors.ts).

-- What was wired, by whom and when (the trigger itself lives on the collection's table).
CREATE TABLE wired_trigger (
  collection_name text PRIMARY KEY
    REFERENCES collection_registry (collection_name) ON UPDATE CASCADE ON DELETE CASCADE,
  function_name   name NOT NULL UNIQUE,
  kind            text NOT NULL CHECK (kind IN ('statement', 'row')),
  wired_by        text NOT NULL DEFAULT session_user,
  wired_at        timestamptz NOT NULL DEFAULT now()
);

-- The schema natal's functions live in (their search_path starts with it).
CREATE FUNCTION natal_schema() RETURNS name
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$ SELECT current_schema() $$;

-- The collection row, or a clear error.
CREATE FUNCTION find_collection(p_collection text) RETURNS collection_registry
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry;
BEGIN
  SELECT * INTO c FROM collection_registry WHERE collection_name = p_collection;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB001',
      MESSAGE = format('collection %s is not registered', p_collection),
      HINT = 'register it with: natal collection add TABLE --species CODE';
  END IF;
  RETURN c;
END
$$;

-- The collection's table, or NULL when it does not exist ("no table").
CREATE FUNCTION collection_table(c collection_registry) RETURNS regclass
LANGUAGE sql STABLE
AS $$ SELECT to_regclass(format('%I.%I', c.table_schema, c.table_name)) $$;

-- The species a collection is mapped to (NULL fields when unmapped).
CREATE FUNCTION collection_species(p_collection text) RETURNS entity_species
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT s.* FROM species_collection_map m JOIN entity_species s USING (species_code)
  WHERE m.collection_name = p_collection
$$;

-- The single-column primary key of a table, or NULL.
CREATE FUNCTION single_key_column(rel regclass) RETURNS name
LANGUAGE sql STABLE
AS $$
  SELECT a.attname FROM pg_index i
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
  WHERE i.indrelid = rel AND i.indisprimary AND i.indnkeyatts = 1
$$;

-- All primary-key columns of a table, in key order (NULL when it has none).
CREATE FUNCTION key_columns(rel regclass) RETURNS name[]
LANGUAGE sql STABLE
AS $$
  SELECT array_agg(a.attname ORDER BY k.ord)
  FROM pg_index i
  CROSS JOIN LATERAL generate_series(0, i.indnkeyatts - 1) AS k(ord)
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.ord]
  WHERE i.indrelid = rel AND i.indisprimary
$$;

CREATE FUNCTION has_column(rel regclass, col name) RETURNS boolean
LANGUAGE sql STABLE
AS $$
  SELECT EXISTS (SELECT 1 FROM pg_attribute
                 WHERE attrelid = rel AND attname = col AND attnum > 0 AND NOT attisdropped)
$$;

-- The SQL expression that yields an entity's code from a row aliased `alias`, following
-- the collection's identity; NULL when the collection has no usable identity.
-- The seed's rule: the code column's value; `<collection>::<pk>` when it is NULL or empty.
CREATE FUNCTION entity_code_sql(c collection_registry, alias text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  synthetic text;
BEGIN
  IF cardinality(c.birth_code_key_columns) = 1 THEN
    synthetic := format('(%L || (%I.%I)::text)', c.collection_name || '::', alias,
                        c.birth_code_key_columns[1]);
  END IF;
  CASE c.birth_code_strategy
    WHEN 'synthetic_id' THEN
      RETURN synthetic;
    WHEN 'column', 'legacy' THEN
      RETURN format('COALESCE(NULLIF((%I.%I)::text, %L), %s)', alias, c.birth_code_column, '',
                    COALESCE(synthetic, 'NULL::text'));
    ELSE
      RETURN NULL;
  END CASE;
END
$$;

-- The SQL expression for a row's dot_origin: its _dot_origin column when it has one,
-- else PG:trg_birth_<table>.
CREATE FUNCTION dot_origin_sql(c collection_registry, alias text) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  fallback text := 'PG:trg_birth_' || c.table_name;
BEGIN
  IF has_column(collection_table(c), '_dot_origin') THEN
    RETURN format('COALESCE(NULLIF((%I._dot_origin)::text, %L), %L)', alias, '', fallback);
  END IF;
  RETURN quote_literal(fallback);
END
$$;

-- Code numbering: one sequence per species prefix; PREFIX-NNN, at least 3 digits.
CREATE FUNCTION code_sequence(p_prefix text) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$ SELECT format('%I.%I', natal_schema(), 'code_seq_' || p_prefix) $$;

CREATE FUNCTION format_code(p_prefix text, n bigint) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT p_prefix || '-' || CASE WHEN n < 100 THEN lpad(n::text, 3, '0') ELSE n::text END $$;

-- Moves a prefix's sequence past every PREFIX-NNN already in the registry or in the code
-- columns of that species' collections (codes that arrived with existing data).
CREATE FUNCTION sync_code_sequence(p_prefix text) RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  pattern text := '^' || regexp_replace(p_prefix, '([^A-Za-z0-9])', '\\\1', 'g') || '-([0-9]{1,18})$';
  top numeric;
  found numeric;
  c collection_registry;
  rel regclass;
  seq_last bigint;
BEGIN
  SELECT max((regexp_match(entity_code, pattern))[1]::numeric) INTO top
  FROM birth_registry WHERE entity_code ~ pattern;
  FOR c IN
    SELECT r.* FROM collection_registry r
    JOIN species_collection_map m USING (collection_name)
    JOIN entity_species s USING (species_code)
    WHERE s.code_prefix = p_prefix AND r.birth_code_strategy IN ('column', 'legacy')
  LOOP
    rel := collection_table(c);
    CONTINUE WHEN rel IS NULL OR NOT has_column(rel, c.birth_code_column);
    EXECUTE format('SELECT max((regexp_match((%I)::text, $1))[1]::numeric) FROM %s',
                   c.birth_code_column, rel)
      INTO found USING pattern;
    top := greatest(top, found);
  END LOOP;
  EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM %s',
                 code_sequence(p_prefix)) INTO seq_last;
  IF top IS NOT NULL AND top > seq_last THEN
    PERFORM setval(code_sequence(p_prefix), top::bigint, true);
    RETURN top::bigint;
  END IF;
  RETURN seq_last;
END
$$;

-- The next unused code for a prefix. Never reuses a number (sequences do not roll back)
-- and skips any code already born or already present in the target collection's code column.
CREATE FUNCTION next_code(p_prefix text, p_collection text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  code text;
  probe text;
  taken boolean;
  c collection_registry;
  skipped integer := 0;
BEGIN
  IF p_collection IS NOT NULL THEN
    SELECT * INTO c FROM collection_registry WHERE collection_name = p_collection;
    IF c.birth_code_column IS NOT NULL AND collection_table(c) IS NOT NULL THEN
      probe := format('SELECT EXISTS (SELECT 1 FROM %s WHERE (%I)::text = $1)',
                      collection_table(c), c.birth_code_column);
    END IF;
  END IF;
  LOOP
    code := format_code(p_prefix, nextval(code_sequence(p_prefix)));
    taken := EXISTS (SELECT 1 FROM birth_registry WHERE entity_code = code);
    IF NOT taken AND probe IS NOT NULL THEN
      EXECUTE probe INTO taken USING code;
    END IF;
    EXIT WHEN NOT taken;
    skipped := skipped + 1;
    IF skipped = 1 THEN
      -- Existing codes ahead of the sequence: jump past all of them at once.
      PERFORM sync_code_sequence(p_prefix);
    END IF;
  END LOOP;
  RETURN code;
END
$$;

-- Case 3: a catalog row (species, collection) gets its own code before it is inserted;
-- the catalog collections are wired like any other, so the row is then born.
CREATE FUNCTION assign_catalog_code() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  prefix text;
BEGIN
  IF NEW.entity_code IS NULL THEN
    prefix := (collection_species(collection_name_of(TG_TABLE_SCHEMA, TG_TABLE_NAME))).code_prefix;
    NEW.entity_code := next_code(prefix);
  END IF;
  RETURN NEW;
END
$$;

-- A new species gets its code sequence, already past codes that exist under its prefix.
CREATE FUNCTION create_species_sequence() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %s AS bigint', code_sequence(NEW.code_prefix));
  PERFORM sync_code_sequence(NEW.code_prefix);
  RETURN NULL;
END
$$;

-- The auto-birth function for one collection, as (kind, function body). Everything it needs
-- is baked in as constants, so its plan is cached and nothing is looked up per insert.
-- `natal triggers` compares the installed body with this one to find stale configuration.
CREATE FUNCTION auto_birth_source(p_collection text, OUT kind text, OUT body text)
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
  kind := CASE WHEN (SELECT relkind FROM pg_class WHERE oid = rel) = 'p' THEN 'row' ELSE 'statement' END;
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
    body := format($body$
BEGIN
  INSERT INTO %1$s (entity_code, collection_name, species_code, composition_level, dot_origin,
                    governance_role, operation)
  SELECT x.code, %2$L, %3$L, %4$L, x.origin, 'governed', %8$L
  FROM (SELECT %5$s AS code, %6$s AS origin FROM %7$s) AS x
  WHERE x.code IS NOT NULL
  ON CONFLICT (entity_code) DO NOTHING;
  RETURN NULL;
END
$body$, births, c.collection_name, sp.species_code, sp.composition_level, code_sql,
        dot_origin_sql(c, 'n'), rows_sql,
        -- natal's own catalog tables: Case 3, the catalog row itself is born
        CASE WHEN c.table_schema = natal_schema() THEN 'catalog' ELSE 'trigger' END);
  END IF;
END
$$;

CREATE FUNCTION auto_birth_function(p_collection text) RETURNS name
LANGUAGE sql IMMUTABLE
AS $$ SELECT ('birth_auto_' || left(md5(p_collection), 16))::name $$;

-- Wires a governed collection: installs its auto-birth trigger (idempotent). Returns the kind.
CREATE FUNCTION wire(p_collection text) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  src record;
  fn name := auto_birth_function(c.collection_name);
  rel regclass := collection_table(c);
BEGIN
  SELECT s.kind, s.body INTO src FROM auto_birth_source(p_collection) s;
  EXECUTE format('CREATE OR REPLACE FUNCTION %I.%I() RETURNS trigger LANGUAGE plpgsql AS %L',
                 natal_schema(), fn, src.body);
  EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_auto ON %s', rel);
  IF src.kind = 'statement' THEN
    EXECUTE format('CREATE TRIGGER natal_birth_auto AFTER INSERT ON %s REFERENCING NEW TABLE AS natal_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION %I.%I()', rel, natal_schema(), fn);
  ELSE
    EXECUTE format('CREATE TRIGGER natal_birth_auto AFTER INSERT ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION %I.%I()', rel, natal_schema(), fn);
  END IF;
  INSERT INTO wired_trigger (collection_name, function_name, kind)
  VALUES (c.collection_name, fn, src.kind)
  ON CONFLICT (collection_name) DO UPDATE
    SET function_name = EXCLUDED.function_name, kind = EXCLUDED.kind,
        wired_by = session_user, wired_at = now();
  RETURN src.kind;
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
  IF rel IS NOT NULL THEN
    was := EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'natal_birth_auto');
    EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_auto ON %s', rel);
  END IF;
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', natal_schema(), auto_birth_function(c.collection_name));
  DELETE FROM wired_trigger WHERE collection_name = c.collection_name;
  RETURN was;
END
$$;

-- Re-installs the trigger of a collection that is wired, after its configuration changed.
CREATE FUNCTION rewire_if_wired(p_collection text) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM wired_trigger WHERE collection_name = p_collection) THEN
    IF (find_collection(p_collection)).governance_role = 'governed' THEN
      PERFORM wire(p_collection);
    ELSE
      PERFORM unwire(p_collection);
    END IF;
  END IF;
END
$$;

-- The trigger inventory: one row per registered collection.
CREATE FUNCTION trigger_inventory()
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
BEGIN
  FOR c IN SELECT * FROM collection_registry r ORDER BY r.collection_name LOOP
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
    want_kind := NULL; want_body := NULL; want_error := NULL;
    IF c.governance_role = 'governed' THEN
      BEGIN
        SELECT s.kind, s.body INTO want_kind, want_body FROM auto_birth_source(c.collection_name) s;
      EXCEPTION WHEN SQLSTATE 'NB002' OR SQLSTATE 'NB003' OR SQLSTATE 'NB005' OR SQLSTATE 'NB006' THEN
        want_error := SQLERRM;
      END;
    END IF;
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
      WHEN t_prosrc IS DISTINCT FROM want_body OR kind IS DISTINCT FROM want_kind THEN
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
