-- Whether a role's code is trusted to run with natal's definer's rights: PostgreSQL's own
-- objects, and a superuser's (an extension's, installed by one). A superuser can do anything
-- anyway; anyone else's function run as natal could write natal's tables.
-- (a SQL function with no settings of its own, and every name in pg_catalog: PostgreSQL
-- inlines it into the query that calls it, instead of planning it again on each call)
CREATE OR REPLACE FUNCTION trusted_owner(p_oid oid, p_owner oid) RETURNS boolean
LANGUAGE sql STABLE
AS $$
  SELECT p_oid OPERATOR(pg_catalog.<) 16384::pg_catalog.oid
         OR COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) p_owner), false)
$$;


-- Whether natal converts values of type p_type with its own rights: PostgreSQL's own types,
-- an extension's (a superuser's), and domains over them. A type a table's owner created can
-- carry a cast of the owner's (CREATE CAST … WITH FUNCTION, to text or from it), which a
-- conversion in natal's definer code would then run with natal's rights.
CREATE OR REPLACE FUNCTION trusted_type(p_type oid) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  t pg_type;
BEGIN
  LOOP
    SELECT * INTO t FROM pg_type y WHERE y.oid = p_type;
    IF NOT FOUND THEN
      RETURN false;
    END IF;
    EXIT WHEN t.typtype <> 'd';
    p_type := t.typbasetype;  -- (a cast from a domain is never used: its base type's is)
  END LOOP;
  RETURN trusted_owner(p_type, t.typowner);
END
$$;

-- The columns natal reads of a collection's rows with its own rights: the identity, the
-- table's primary key (the backfill's ranges, show by key, inspection) and _dot_origin.
CREATE OR REPLACE FUNCTION read_columns(c collection_registry) RETURNS name[]
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  RETURN COALESCE(c.birth_code_key_columns, '{}') || ARRAY[c.birth_code_column, '_dot_origin']::name[]
         || COALESCE(key_columns(collection_table(c)), '{}');
END
$$;

-- The first of `cols` in `rel` whose type natal does not convert (trusted_type), as
-- 'column (type)'; NULL when there is none.
CREATE OR REPLACE FUNCTION untrusted_column(rel regclass, cols name[]) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  RETURN (SELECT format('%I (%s)', a.attname, format_type(a.atttypid, a.atttypmod))
          FROM pg_attribute a
          WHERE a.attrelid = rel AND a.attname = ANY (cols) AND a.attnum > 0 AND NOT a.attisdropped
            AND NOT trusted_type(a.atttypid)
          ORDER BY a.attnum LIMIT 1);
END
$$;

-- An expression of natal's generated code (a trigger's, made once at wiring) guarded by the
-- types the columns it reads (`cols`) had then: evaluated only while each column it reads still has its type,
-- else the statement is refused. A column dropped and added again with a type of its
-- owner's could otherwise bring the owner's cast into natal's trigger.
CREATE OR REPLACE FUNCTION typed_guard_sql(c collection_registry, alias text, expr text, cols name[]) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT CASE WHEN count(*) = 0 THEN expr ELSE
    format('CASE WHEN %s THEN %s ELSE %I.column_type_changed(%L, pg_catalog.pg_typeof(%I.%I)) END',
           string_agg(format('pg_catalog.pg_typeof(%I.%I) OPERATOR(pg_catalog.=) %s::pg_catalog.regtype',
                             alias, a.attname, a.atttypid::int), ' AND ' ORDER BY a.attnum),
           expr, natal_schema(), c.collection_name, alias, min(a.attname)) END
  FROM pg_attribute a
  WHERE a.attrelid = collection_table(c) AND a.attnum > 0 AND NOT a.attisdropped
    AND a.attname = ANY (cols)
$$;

-- The same guard for a whole statement, as a PL/pgSQL statement that a trigger runs once
-- before the queries that read a transition table with unguarded expressions: a big
-- statement then pays one catalog lookup, not a pg_typeof per row and column. The types come
-- from the catalog, never from a query's cached plan: a query planned after the change (with
-- the new type's cast) is only reached when the catalog still says the types are the ones
-- at wiring. Ordered by name, as a partition may have its columns in another order.
CREATE OR REPLACE FUNCTION typed_check_sql(c collection_registry, cols name[]) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT CASE WHEN count(*) = 0 THEN '' ELSE
    format(E'\n  IF %1$I.column_types(TG_RELID, %2$L) IS DISTINCT FROM %3$L THEN\n' ||
           E'    PERFORM %1$I.column_type_changed(%4$L, NULL);\n  END IF;',
           natal_schema(), array_agg(a.attname ORDER BY a.attname)::text,
           array_agg(a.atttypid::int ORDER BY a.attname)::text, c.collection_name) END
  FROM pg_attribute a
  WHERE a.attrelid = collection_table(c) AND a.attnum > 0 AND NOT a.attisdropped
    AND a.attname = ANY (cols)
$$;

-- The types of rel's columns named in cols, in the order typed_check_sql expects.
CREATE OR REPLACE FUNCTION column_types(rel oid, cols name[]) RETURNS integer[]
LANGUAGE sql STABLE
AS $$
  SELECT array_agg(a.atttypid::integer ORDER BY a.attname)
  FROM pg_catalog.pg_attribute a
  WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attnum OPERATOR(pg_catalog.>) 0
    AND NOT a.attisdropped AND a.attname OPERATOR(pg_catalog.=) ANY (cols)
$$;

-- The columns a code expression (entity_code_sql) reads: the code column and the key.
CREATE OR REPLACE FUNCTION code_columns(c collection_registry) RETURNS name[]
LANGUAGE sql STABLE
AS $$ SELECT COALESCE(c.birth_code_key_columns, '{}') || ARRAY[c.birth_code_column]::name[] $$;

-- (p_type, a column's type at run time, is there so that the call is never a function of
-- constants, which a planner estimating a plan would evaluate; and STABLE, not VOLATILE,
-- so that the expression it is in can still be hashed and joined on)
CREATE OR REPLACE FUNCTION column_type_changed(p_collection text, p_type regtype) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'NB006',
    MESSAGE = format('a column natal reads of %s (its identity, key or _dot_origin) changed its type since natal wired it',
                     p_collection),
    HINT = format('natal wire %s', p_collection);
END
$$;

CREATE OR REPLACE FUNCTION key_text_sql(rel regclass, col name, alias text) RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT CASE a.atttypid
    WHEN 'timestamptz'::regtype THEN
      format('CASE WHEN isfinite(%1$I.%2$I) THEN to_char((%1$I.%2$I) AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.US"Z"'') ELSE (%1$I.%2$I)::text END',
             alias, col)
    WHEN 'timestamp'::regtype THEN
      format('CASE WHEN isfinite(%1$I.%2$I) THEN to_char(%1$I.%2$I, ''YYYY-MM-DD"T"HH24:MI:SS.US'') ELSE (%1$I.%2$I)::text END',
             alias, col)
    WHEN 'date'::regtype THEN
      format('CASE WHEN isfinite(%1$I.%2$I) THEN to_char(%1$I.%2$I, ''YYYY-MM-DD'') ELSE (%1$I.%2$I)::text END', alias, col)
    -- a float: its decimal text when that reads back as the same value (what 0002 wrote),
    -- else the exact IEEE 754 bits in hex; Infinity, -Infinity and NaN as words
    WHEN 'float4'::regtype THEN format(
      'CASE WHEN (%1$I.%2$I)::float8 IN (''Infinity'', ''-Infinity'', ''NaN'') THEN (%1$I.%2$I)::text'
      ' WHEN ((%1$I.%2$I)::numeric)::float4 = %1$I.%2$I THEN ((%1$I.%2$I)::numeric)::text'
      ' ELSE ''0x'' || encode(float4send(%1$I.%2$I), ''hex'') END', alias, col)
    WHEN 'float8'::regtype THEN format(
      'CASE WHEN %1$I.%2$I IN (''Infinity'', ''-Infinity'', ''NaN'') THEN (%1$I.%2$I)::text'
      ' WHEN ((%1$I.%2$I)::numeric)::float8 = %1$I.%2$I THEN ((%1$I.%2$I)::numeric)::text'
      ' ELSE ''0x'' || encode(float8send(%1$I.%2$I), ''hex'') END', alias, col)
    WHEN 'interval'::regtype THEN format('(extract(epoch FROM %I.%I))::text', alias, col)
    ELSE format('(%I.%I)::text', alias, col)
  END
  FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col
$$;

-- NULL too when a column the identity names has gone from the table (dropped or renamed):
-- the collection then cannot be wired, and the census counts it as having no identity.
CREATE OR REPLACE FUNCTION entity_code_sql(c collection_registry, alias text) RETURNS text
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
  -- and when one of the columns natal reads is of a type it does not convert (trusted_type)
  IF rel IS NOT NULL AND untrusted_column(rel, read_columns(c)) IS NOT NULL THEN
    RETURN NULL;
  END IF;
  -- and for a Citus local table (citus.sql): natal does not govern those
  IF citus_ungoverned_kind(rel) IS NOT NULL THEN
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
CREATE OR REPLACE FUNCTION dot_origin_sql(c collection_registry, alias text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
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
CREATE OR REPLACE FUNCTION code_sequence(p_prefix text) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$ SELECT format('%I.%I', natal_schema(), 'code_seq_' || p_prefix) $$;

CREATE OR REPLACE FUNCTION format_code(p_prefix text, n bigint) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT p_prefix || '-' || CASE WHEN n < 100 THEN lpad(n::text, 3, '0') ELSE n::text END $$;

-- Moves a prefix's sequence past every PREFIX-NNN already in the registry or in the code
-- columns of that species' collections (codes that arrived with existing data).
CREATE OR REPLACE FUNCTION sync_code_sequence(p_prefix text) RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT SET row_security = off
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
    CONTINUE WHEN rel IS NULL OR NOT has_column(rel, c.birth_code_column)
                  OR untrusted_column(rel, ARRAY[c.birth_code_column]) IS NOT NULL
                  OR citus_ungoverned_kind(rel) IS NOT NULL;  -- (nor these: citus.sql)
    -- (read as the table's owner: owner_read.sql)
    EXECUTE format('SELECT r.m FROM %s',
                   owner_rows_sql(rel, format('SELECT max((regexp_match((%I)::text, $1[1]))[1]::numeric) FROM %s',
                                              c.birth_code_column, rel), 'r(m numeric)', 'ARRAY[$1]'))
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
CREATE OR REPLACE FUNCTION next_code(p_prefix text, p_collection text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT SET row_security = off
AS $$
DECLARE
  code text;
  probe text;
  probed regclass;
  taken boolean;
  c collection_registry;
  skipped integer := 0;
BEGIN
  IF p_collection IS NOT NULL THEN
    SELECT * INTO c FROM collection_registry WHERE collection_name = p_collection;
    IF c.birth_code_column IS NOT NULL AND collection_table(c) IS NOT NULL
       AND untrusted_column(collection_table(c), ARRAY[c.birth_code_column]) IS NULL THEN
      probed := collection_table(c);
      -- (read as the table's owner: owner_read.sql)
      probe := format('SELECT r.taken FROM %s',
                      owner_rows_sql(probed, format('SELECT EXISTS (SELECT 1 FROM %s WHERE (%I)::text = $1[1])',
                                                    probed, c.birth_code_column), 'r(taken boolean)', 'ARRAY[$1]'));
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

-- Whether the registry's primary key keeps the codes of one namespace ('<collection>::…')
-- together, as the one range from the prefix up to the prefix with its last character's
-- successor: true for a byte or code-point order (the collation C or POSIX, the libc locale
-- C.UTF-8, the builtin provider). A language's collation does not promise it: natal then
-- reads the registry whole.
CREATE OR REPLACE FUNCTION codes_in_code_point_order() RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  coll oid := (SELECT a.attcollation FROM pg_attribute a
               WHERE a.attrelid = 'birth_registry'::regclass AND a.attname = 'entity_code');
  -- (as JSON: datlocprovider is PostgreSQL 15's; before it, every default collation is libc's)
  d jsonb := (SELECT to_jsonb(x) FROM pg_database x WHERE x.datname = current_database());
BEGIN
  IF coll IN ('pg_catalog."C"'::regcollation, 'pg_catalog."POSIX"'::regcollation) THEN
    RETURN true;
  END IF;
  RETURN coll = 'pg_catalog."default"'::regcollation
    AND (d ->> 'datlocprovider' = 'b'
         OR (COALESCE(d ->> 'datlocprovider', 'c') = 'c' AND d ->> 'datcollate' IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8')));
END
$$;

-- Whether any birth has a code in the namespace p_prefix ('<collection>::'): one probe of the
-- registry's primary key where codes_in_code_point_order(), else a pass over the registry.
-- A keyed collection (synthetic id, composite) codes its rows in its namespace only, so an
-- empty namespace says that none of its rows is born, as in its first backfill.
CREATE OR REPLACE FUNCTION namespace_born(p_prefix text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  IF right(p_prefix, 2) = '::' AND codes_in_code_point_order() THEN
    RETURN EXISTS (SELECT 1 FROM birth_registry b
                   WHERE b.entity_code >= p_prefix AND b.entity_code < left(p_prefix, -1) || ';');
  END IF;
  RETURN EXISTS (SELECT 1 FROM birth_registry b WHERE starts_with(b.entity_code, p_prefix));
END
$$;
