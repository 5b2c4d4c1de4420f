-- natal 0002: the catalog (species, collections, identity), code numbering, and the
-- source of the auto-birth trigger functions.
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

-- How each identity strategy forms an entity's code (entity_code_sql, below):
--   column        the code column's value; <collection>::<pk> when it is NULL or empty
--   synthetic_id  <collection>::<pk>
--   legacy        <collection>~<legacy value>; <collection>::<pk> when it is NULL or empty.
--                 A legacy column holds unique codes that do not follow the species'
--                 PREFIX-NNN format; prefixing the collection keeps them from colliding.
--   composite     <collection>::<k1>/<k2>/… over a multi-column primary key (its columns are
--                 NOT NULL), each value as text with '%' and '/' percent-encoded, so '/' only
--                 ever separates values and the code is unambiguous whatever the values hold

-- A key value as text, the same in every session: a plain ::text of a timestamp, date,
-- float or interval follows the session's TimeZone, DateStyle, extra_float_digits or
-- IntervalStyle, and the same entity would get another code in another session.
CREATE FUNCTION key_text_sql(rel regclass, col name, alias text) RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT CASE a.atttypid
    WHEN 'timestamptz'::regtype THEN
      format('to_char((%I.%I) AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.US"Z"'')', alias, col)
    WHEN 'timestamp'::regtype THEN format('to_char(%I.%I, ''YYYY-MM-DD"T"HH24:MI:SS.US'')', alias, col)
    WHEN 'date'::regtype THEN format('to_char(%I.%I, ''YYYY-MM-DD'')', alias, col)
    WHEN 'float4'::regtype THEN format('((%I.%I)::numeric)::text', alias, col)
    WHEN 'float8'::regtype THEN format('((%I.%I)::numeric)::text', alias, col)
    WHEN 'interval'::regtype THEN format('(extract(epoch FROM %I.%I))::text', alias, col)
    ELSE format('(%I.%I)::text', alias, col)
  END
  FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col
$$;

-- NULL too when a column the identity names has gone from the table (dropped or renamed):
-- the collection then cannot be wired, and the census counts it as having no identity.
CREATE FUNCTION entity_code_sql(c collection_registry, alias text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  synthetic text;
  rel regclass := collection_table(c);
BEGIN
  IF rel IS NOT NULL AND (
       (c.birth_code_column IS NOT NULL AND NOT has_column(rel, c.birth_code_column))
       OR EXISTS (SELECT 1 FROM unnest(c.birth_code_key_columns) AS k WHERE NOT has_column(rel, k))) THEN
    RETURN NULL;
  END IF;
  IF cardinality(c.birth_code_key_columns) = 1 AND rel IS NOT NULL THEN
    synthetic := format('(%L || %s)', c.collection_name || '::',
                        key_text_sql(rel, c.birth_code_key_columns[1], alias));
  END IF;
  CASE c.birth_code_strategy
    WHEN 'synthetic_id' THEN
      RETURN synthetic;
    WHEN 'column' THEN
      RETURN format('COALESCE(NULLIF((%I.%I)::text, %L), %s)', alias, c.birth_code_column, '',
                    COALESCE(synthetic, 'NULL::text'));
    WHEN 'legacy' THEN
      RETURN format('COALESCE(%L || NULLIF((%I.%I)::text, %L), %s)', c.collection_name || '~', alias,
                    c.birth_code_column, '', COALESCE(synthetic, 'NULL::text'));
    WHEN 'composite' THEN
      IF rel IS NULL THEN
        RETURN NULL;
      END IF;
      RETURN format('(%L || %s)', c.collection_name || '::',
                    (SELECT string_agg(format('replace(replace(%s, ''%%'', ''%%25''), ''/'', ''%%2F'')',
                                              key_text_sql(rel, k, alias)), ' || ''/'' || '
                                       ORDER BY o)
                     FROM unnest(c.birth_code_key_columns) WITH ORDINALITY AS u(k, o)));
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
-- p_kind 'row' asks for the row-level body whatever the table (the update trigger's).
CREATE FUNCTION auto_birth_source(p_collection text, p_kind text DEFAULT NULL, OUT kind text, OUT body text)
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
BEGIN
  IF %9$s THEN
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
        -- small: one row (a row trigger), or under 16 rows (the gateway's insert is one)
        CASE kind WHEN 'row' THEN 'true'
             ELSE '(SELECT count(*) FROM (SELECT 1 FROM natal_new LIMIT 16) AS s) < 16' END);
  END IF;
END
$$;

