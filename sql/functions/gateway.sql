CREATE OR REPLACE FUNCTION assert_not_frozen(p_collection text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  f operation_freeze;
BEGIN
  SELECT * INTO f FROM operation_freeze WHERE target = p_collection;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB004',
      MESSAGE = format('collection %s is frozen by %s since %s: %s', p_collection, f.frozen_by,
                       to_char(f.frozen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), f.reason),
      HINT = format('ask them, then: natal unfreeze %s', p_collection);
  END IF;
END
$$;

-- Why the gateway refuses a collection, as an error; called when it has no gateway function.
-- (It returns jsonb only so that create_entity's CASE can call it; it never returns.)
CREATE OR REPLACE FUNCTION gateway_refusal(p_collection text) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
BEGIN
  IF c.governance_role <> 'governed' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB002',
      MESSAGE = format('collection %s is %s, not governed: the gateway births only governed entities',
                       p_collection, c.governance_role),
      HINT = 'natal collection set TABLE --role governed';
  END IF;
  PERFORM assert_not_frozen(c.collection_name);
  IF collection_table(c) IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB005',
      MESSAGE = format('collection %s has no table (%I.%I does not exist)', p_collection,
                       c.table_schema, c.table_name),
      HINT = 'create the table first';
  END IF;
  IF (collection_species(p_collection)).species_code IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB003',
      MESSAGE = format('collection %s is not in the species map', p_collection),
      HINT = 'natal collection set TABLE --species CODE';
  END IF;
  IF c.birth_code_strategy <> 'column' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB006',
      MESSAGE = format('collection %s has no code column (identity: %s): the gateway writes the new code into one',
                       p_collection, c.birth_code_strategy),
      HINT = 'register it with --code-column COL';
  END IF;
  RAISE EXCEPTION USING ERRCODE = 'NB012',
    MESSAGE = format('collection %s is not wired', p_collection),
    HINT = format('wire it first: natal wire %s', p_collection);
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION gateway_function(p_collection text) RETURNS name
LANGUAGE sql IMMUTABLE
AS $$ SELECT ('gateway_' || left(md5(p_collection), 16))::name $$;

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
  known text;
  settings_check text;
BEGIN
  IF c.birth_code_strategy <> 'column' OR rel IS NULL OR sp.species_code IS NULL
     OR c.governance_role <> 'governed' OR entity_code_sql(c, 't') IS NULL THEN
    RETURN NULL;
  END IF;
  -- The new code must not be in the code column of this table, nor of any other collection
  -- of the species (their unborn rows may hold it). Siblings registered later re-wire this.
  -- Each table is probed by a function of its owner's (gateway_probe_source, and the row's
  -- insert for the tables of this table's owner), so that what PostgreSQL runs of the owner's
  -- when it plans or makes that read (a view put in the table's place, an index's
  -- expression, a cast of a type of theirs) runs with the owner's rights, never with natal's.
  -- The tables of the gateway's table's owner are probed by the row's insert itself
  -- (gateway_row_source), those of other owners here, before the birth.
  SELECT string_agg(format('NOT %s.%I(v_next)', ns, gateway_probe_function(p.collection_name)),
                    ' AND ' ORDER BY p.collection_name)
    INTO probe
  FROM gateway_probed(p_collection) AS p
  WHERE NOT gateway_same_owner(p_collection, p.collection_name);
  -- the columns the gateway can set: the keys p_data may have
  SELECT format('%L', array_agg(a.attname::text ORDER BY a.attnum))
    INTO known
  FROM pg_attribute a
  WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
    AND a.attgenerated = '' AND a.attidentity <> 'a';
  -- After a call of the owners' functions (the probes, the row's insert): the table's code
  -- ran there with the owner's rights, and a plain SET it made outlives the call. natal's
  -- code after it would then resolve its names (and apply row security) as the owner chose:
  -- refused, which rolls the SET back with everything else. (Everything in the check is
  -- named in pg_catalog, as the search_path it checks may be the owner's.)
  settings_check := format($check$
  IF pg_catalog.current_setting('search_path') OPERATOR(pg_catalog.<>) v_path
     OR pg_catalog.current_setting('row_security') OPERATOR(pg_catalog.<>) v_rls
     OR pg_catalog.current_setting('transform_null_equals') OPERATOR(pg_catalog.<>) v_nulls THEN
    RAISE EXCEPTION USING ERRCODE = 'NB025', MESSAGE = %1$L, HINT = %2$L;
  END IF;$check$,
    format('the code of a table the gateway of %s probes or inserts into changed the session''s settings (search_path, row_security or transform_null_equals): nothing was kept',
           c.collection_name),
    'a trigger, default or index expression of the table''s owner may not SET these; SET LOCAL in a function with its own SET clause is fine');
  RETURN format($body$
DECLARE
  v_origin text := COALESCE(NULLIF(p_origin, ''), 'natal:create');
  v_code text;
  v_tries integer := 0;
  v_n bigint;
  v_next text;
  v_key jsonb;
  v_row jsonb;
  v_row_code text;
  -- (the settings natal's code relies on, as create_entity set them: checked after each call
  -- of a table owner's code, which may SET them for the rest of the session)
  v_path text := pg_catalog.current_setting('search_path');
  v_rls text := pg_catalog.current_setting('row_security');
  v_nulls text := pg_catalog.current_setting('transform_null_equals');
BEGIN
  -- 0. the caller's own right: the entity is inserted with natal's, so only by a session
  -- whose role could insert it itself
  IF NOT has_table_privilege(session_user, %11$s::oid, 'INSERT') THEN
    RAISE EXCEPTION USING ERRCODE = 'NB025',
      MESSAGE = format('%%s may not insert into %%s', session_user, %2$L),
      HINT = 'the table''s owner grants INSERT on it to the application''s role';
  END IF;
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
  IF (p_data - %10$s::text[]) <> '{}'::jsonb THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = format('table %%s has no column %%s that the gateway can set', %2$L,
                       (SELECT string_agg(k, ', ') FROM jsonb_object_keys(p_data - %10$s::text[]) AS k)),
      HINT = 'use the table''s column names as keys; if the table changed, run natal wire';
  END IF;
  -- 2. next code, never reused and never one that exists in the registry or in a code
  -- column of the species (a row not born may hold it), and 3. birth first, in one statement
  -- (which births nothing while a freeze stands). The birth is recorded as inspected: the
  -- match check below proves what inspection checks, and a failed check rolls the birth back
  -- with everything else.
  LOOP
    v_n := nextval(%5$L::regclass);
    v_next := %1$s.format_code(%4$L, v_n);
    -- a code already born is skipped by ON CONFLICT (born meanwhile by a concurrent session
    -- too); nothing is read of a table that is no longer the one wired (gateway_tables_sql)
    INSERT INTO %1$s.birth_registry (entity_code, collection_name, species_code, composition_level,
                                     dot_origin, governance_role, operation, inspection_status, inspected_at)
    SELECT v_next, %2$L, %8$L, %9$L, v_origin, 'governed', 'gateway', 'passed', now()
    WHERE CASE WHEN %14$s THEN %7$s ELSE false END
      AND NOT EXISTS (SELECT 1 FROM %1$s.operation_freeze f WHERE f.target = %2$L)
    ON CONFLICT (entity_code) DO NOTHING
    RETURNING entity_code INTO v_code;%17$s
    IF v_code IS NOT NULL THEN
      -- 4. entity after, carrying the code and its origin (its auto-birth trigger finds the
      -- birth made and leaves it: ON CONFLICT DO NOTHING), inserted with the rights of the
      -- table's owner, so that the table's own code (triggers, defaults, checks) never runs
      -- as natal's definer (gateway_row_source). It first looks for the code in the code
      -- columns of that owner's tables: {"taken": true} when a row holds it, and nothing is
      -- inserted.
      v_row := %1$s.%12$I(p_data, v_code, v_origin);
%13$s
      EXIT WHEN v_row IS DISTINCT FROM '{"taken": true}'::jsonb;
      -- (never born: the birth made for it goes, and the next code is tried)
      DELETE FROM %1$s.birth_registry WHERE entity_code = v_code;
      v_code := NULL;
    ELSE
      PERFORM %1$s.assert_not_frozen(%2$L);
      IF NOT %14$s THEN
        RAISE EXCEPTION USING ERRCODE = 'NB025', MESSAGE = %15$L, HINT = %16$L;
      END IF;
    END IF;
    v_tries := v_tries + 1;
    IF v_tries > 1000 THEN
      RAISE EXCEPTION 'natal: no free code for prefix %% after 1000 tries', %4$L;
    END IF;
    PERFORM %1$s.sync_code_sequence(%4$L);
  END LOOP;
  v_key := v_row->'key';
  v_row_code := v_row->>'code';
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
    code_sequence(sp.code_prefix), rel, COALESCE(probe, 'true'), sp.species_code, sp.composition_level,
    known, rel::oid, gateway_row_function(c.collection_name),
    settings_check,
    gateway_tables_sql(p_collection),
    format('a table the gateway of %s reads or writes is no longer the one natal wired, or not its owner''s (its owner changed, another relation took its name, or one of its partitions or child tables is another role''s): nothing was done',
           c.collection_name),
    format('natal wire %s makes the gateway again for the tables as they are (a partition or child table of another role''s: give it to its parent''s owner first)',
           c.collection_name),
    -- (the same check after the birth's insert, where it called the probes of other owners'
    -- tables: without them it ran no owner's code)
    CASE WHEN probe IS NULL THEN '' ELSE E'\n' || settings_check END);
END
$$;

-- The collections whose tables a collection's gateway probes for a new code: those of its
-- species with a code column (their unborn rows may hold it), itself among them; not a table
-- Citus local table (natal does not read those, citus.sql).
CREATE OR REPLACE FUNCTION gateway_probed(p_collection text) RETURNS SETOF collection_registry
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  species text := (collection_species(p_collection)).species_code;
BEGIN
  RETURN QUERY
  SELECT o.* FROM collection_registry o
  JOIN species_collection_map m ON m.collection_name = o.collection_name
  JOIN pg_attribute a ON a.attrelid = collection_table(o) AND a.attname = o.birth_code_column
  WHERE m.species_code = species
    AND o.birth_code_strategy IN ('column', 'legacy') AND NOT a.attisdropped
    AND citus_ungoverned_kind(collection_table(o)) IS NULL;
END
$$;

CREATE OR REPLACE FUNCTION gateway_probe_function(p_collection text) RETURNS name
LANGUAGE sql IMMUTABLE
AS $$ SELECT ('gateway_probe_' || left(md5(p_collection), 16))::name $$;

-- Whether a code is in a collection's code column, as an expression (p_code names the code):
-- the table named as natal registered it, so a table renamed away is not probed, and the
-- name's new holder is, with its owner's rights (the expression runs in a function of the
-- owner's: gateway_probe_source, gateway_row_source).
CREATE OR REPLACE FUNCTION gateway_probe_sql(p_collection text, p_code text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  plain boolean := (SELECT a.atttypid IN ('text'::regtype, 'varchar'::regtype) FROM pg_attribute a
                    WHERE a.attrelid = collection_table(c) AND a.attname = c.birth_code_column);
BEGIN
  RETURN format('EXISTS (SELECT 1 FROM %I.%I AS t WHERE %s OPERATOR(pg_catalog.=) %s)',
                c.table_schema, c.table_name,
                CASE WHEN plain THEN format('t.%I', c.birth_code_column)
                     ELSE format('(t.%I)::pg_catalog.text', c.birth_code_column) END, p_code);
END
$$;

-- Whether two collections' tables have one owner: the gateway of the one probes the other
-- in its row's insert (gateway_row_source), not in a probe of its own.
CREATE OR REPLACE FUNCTION gateway_same_owner(p_collection text, p_other text) RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT (SELECT k.relowner FROM pg_class k WHERE k.oid = collection_table(find_collection(p_collection)))
         = (SELECT k.relowner FROM pg_class k WHERE k.oid = collection_table(find_collection(p_other)))
$$;

-- Whether every table a collection's gateway reads or writes (its own, and the code columns
-- it probes) is still the table natal wired, owned by the role that owned it then, as a SQL
-- expression the gateway evaluates before it reads any of them. The functions of owners'
-- that read and write them were made for those owners (gateway_row_source,
-- gateway_probe_source): a table given to another role since, renamed away with another
-- relation in its name, or a schema renamed with another in its name, would run its new
-- holder's code with the old owner's rights. The gateway refuses instead, until natal wire
-- makes its functions for the tables as they are.
-- One read of pg_class and pg_namespace by OID, in the statement that births (so in its
-- snapshot: a rename committed since the gateway's last call is seen, where the catalog's
-- cache of a session that takes no new lock is not), must find every table, each a table
-- (PostgreSQL 15 and before turn an empty table into a view in place), of its owner then,
-- with its name then, in a schema of the name then: the names the owner's functions use
-- lead to it. And none of their partitions or inheritance children, at any depth, of an
-- owner other than its parent's: an insert into the table, or a read of it, runs the code
-- of its children too (their triggers, their indexes' predicates) with the rights of the
-- role that inserts or reads, here the wired table's owner. (A table that had no child when
-- it was wired must still have none, which costs a column of the row read anyway; the
-- children of one that had some are looked up, at every depth, on every call.)
CREATE OR REPLACE FUNCTION gateway_tables_sql(p_collection text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  t record;
BEGIN
  SELECT count(*) AS n, string_agg(k.oid::text, ',' ORDER BY k.oid) AS oids,
         string_agg(format(' WHEN %s THEN %s', k.oid, k.relowner), '' ORDER BY k.oid) AS owners,
         string_agg(format(' WHEN %s THEN %L', k.oid, k.relname), '' ORDER BY k.oid) AS names,
         string_agg(format(' WHEN %s THEN %L', k.oid, n.nspname), '' ORDER BY k.oid) AS schemas,
         string_agg(k.oid::text, ',' ORDER BY k.oid) FILTER (WHERE k.relhassubclass OR k.relkind = 'p') AS parents
    INTO t
  FROM (SELECT DISTINCT collection_table(o)::oid AS oid
        FROM (SELECT * FROM gateway_probed(p_collection)
              UNION ALL SELECT * FROM collection_registry WHERE collection_name = p_collection) AS o) AS x
  JOIN pg_class k ON k.oid = x.oid
  JOIN pg_namespace n ON n.oid = k.relnamespace;
  RETURN format('((SELECT pg_catalog.count(*) FROM pg_catalog.pg_class k
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace
                   WHERE k.oid OPERATOR(pg_catalog.=) ANY (%L::pg_catalog.oid[])
                     AND k.relkind OPERATOR(pg_catalog.=) ANY (''{r,p}''::pg_catalog.char[])
                     AND k.relowner OPERATOR(pg_catalog.=) (CASE k.oid%s END)::pg_catalog.oid
                     AND k.relname OPERATOR(pg_catalog.=) (CASE k.oid%s END)::pg_catalog.name
                     AND n.nspname OPERATOR(pg_catalog.=) (CASE k.oid%s END)::pg_catalog.name
                     AND (NOT k.relhassubclass OR k.oid OPERATOR(pg_catalog.=) ANY (%L::pg_catalog.oid[])))
                  OPERATOR(pg_catalog.=) %s%s)',
                '{' || t.oids || '}', t.owners, t.names, t.schemas, '{' || COALESCE(t.parents, '') || '}', t.n,
                CASE WHEN t.parents IS NOT NULL THEN format('
                 AND NOT EXISTS (WITH RECURSIVE d (child, parent) AS (
                       SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i
                       WHERE i.inhparent OPERATOR(pg_catalog.=) ANY (%L::pg_catalog.oid[])
                       UNION ALL
                       SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i
                       JOIN d ON i.inhparent OPERATOR(pg_catalog.=) d.child)
                     SELECT FROM d
                     JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.child
                     JOIN pg_catalog.pg_class p ON p.oid OPERATOR(pg_catalog.=) d.parent
                     WHERE c.relowner OPERATOR(pg_catalog.<>) p.relowner)', '{' || t.parents || '}') ELSE '' END);
END
$$;

-- Whether a code is in a collection's code column, as a function of its table's owner
-- (SECURITY DEFINER, owned by that role: install_owner_function), as gateway_row_source is,
-- and for the same reason: the read runs what the owner put in or around the table (a view
-- in its place, an index's expression or predicate, a cast of a type of theirs) with the
-- owner's rights. A gateway calls it for the tables of owners other than its own table's.
CREATE OR REPLACE FUNCTION gateway_probe_source(p_collection text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  owner name := (SELECT pg_get_userbyid(k.relowner) FROM pg_class k WHERE k.oid = rel);
BEGIN
  -- (the read in a subtransaction that is always rolled back, as the readers', owner_read.sql:
  -- what the owner's code does in the session while it runs is undone; the gateway's
  -- table's owner may do it in the row's insert anyway, so its tables are probed there)
  RETURN format($body$
DECLARE
  found pg_catalog.bool;
BEGIN
  IF current_user OPERATOR(pg_catalog.<>) %1$L::pg_catalog.name THEN
    RAISE EXCEPTION USING ERRCODE = 'NB025', MESSAGE = %3$L, HINT = %4$L;
  END IF;
  BEGIN
    found := %2$s;
    RAISE EXCEPTION USING ERRCODE = 'NB099';
  EXCEPTION WHEN SQLSTATE 'NB099' THEN
    NULL;
  END;
  RETURN found;
END
$body$, owner, gateway_probe_sql(p_collection, 'p_code'),
    format('natal''s gateway probe of %s was altered: it runs as the table''s owner, %s, or not at all',
           c.collection_name, owner),
    format('natal wire %s makes it again', c.collection_name));
END
$$;

CREATE OR REPLACE FUNCTION gateway_row_function(p_collection text) RETURNS name
LANGUAGE sql IMMUTABLE
AS $$ SELECT ('gateway_row_' || left(md5(p_collection), 16))::name $$;

-- The gateway's insert of the entity row, as a function of the table's owner (SECURITY
-- DEFINER, owned by that role: install_owner_function): a trigger, a column default, a check or
-- an index expression on the table runs with the owner's rights, as for any insert the owner
-- makes, and never with natal's. The owner can alter the function's properties, not its
-- body (that takes CREATE on natal's schema): the first statement refuses to run as anyone
-- but the owner, with operators named in pg_catalog so that no search_path set on the
-- function can change what it compares.
CREATE OR REPLACE FUNCTION gateway_row_source(p_collection text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  owner name := (SELECT pg_get_userbyid(k.relowner) FROM pg_class k WHERE k.oid = rel);
  insert_cols text;
  insert_vals text;
  key_sql text;
  probes text;
BEGIN
  -- The code is looked for first in the code columns of the species that are this owner's
  -- (this table's among them: gateway_probed), as the owner: the insert after it runs the
  -- owner's code in the session as it is, so a subtransaction around the look (a probe of
  -- another owner's table has one) would undo nothing that owner cannot do here anyway.
  SELECT string_agg(gateway_probe_sql(p.collection_name, 'v_code'), E'\n     OR ' ORDER BY p.collection_name)
    INTO probes
  FROM gateway_probed(p_collection) AS p
  WHERE gateway_same_owner(p_collection, p.collection_name);
  SELECT format('pg_catalog.jsonb_build_object(%s)', string_agg(format('%L, t.%I', k, k), ', '))
    INTO key_sql
  FROM unnest(COALESCE(key_columns(rel), ARRAY[c.birth_code_column]::name[])) AS k;
  SELECT string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum),
         string_agg(CASE
                      WHEN a.attname = c.birth_code_column THEN 'v_code'
                      WHEN a.attname = '_dot_origin' THEN 'v_origin'
                      ELSE format('CASE WHEN p_data OPERATOR(pg_catalog.?) %L THEN r.%I ELSE %s END', a.attname, a.attname,
                                  CASE WHEN a.attidentity = 'd'
                                         THEN format('pg_catalog.nextval(%L::pg_catalog.regclass)', pg_get_serial_sequence(rel::text, a.attname))
                                       ELSE COALESCE(pg_get_expr(d.adbin, d.adrelid), 'NULL') END)
                    END, ', ' ORDER BY a.attnum)
    INTO insert_cols, insert_vals
  FROM pg_attribute a
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
    AND a.attgenerated = '' AND a.attidentity <> 'a';
  -- Everything before and in the check is immune to a search_path set on the function: the
  -- variable's type and the operator are named in pg_catalog, the messages are literals.
  RETURN format($body$
DECLARE
  v pg_catalog.jsonb;
BEGIN
  IF current_user OPERATOR(pg_catalog.<>) %1$L::pg_catalog.name THEN
    RAISE EXCEPTION USING ERRCODE = 'NB025', MESSAGE = %8$L, HINT = %9$L;
  END IF;
  IF %10$s THEN
    RETURN '{"taken": true}'::pg_catalog.jsonb;
  END IF;
  INSERT INTO %2$s AS t (%4$s)
  SELECT %5$s FROM pg_catalog.jsonb_populate_record(NULL::%2$s, p_data) AS r
  RETURNING pg_catalog.jsonb_build_object('key', %6$s, 'code', (t.%7$I)::text) INTO v;
  RETURN v;
END
$body$, owner, rel, c.collection_name, insert_cols, insert_vals, key_sql, c.birth_code_column,
    format('natal''s gateway insert into %s was altered: it runs as the table''s owner, %s, or not at all',
           rel, owner),
    format('natal wire %s makes it again', c.collection_name),
    COALESCE(probes, 'false'));
END
$$;

-- Makes a function of natal's that runs as the owner of a collection's table (the gateway's
-- row insert and probe): install_function_as that owner.
CREATE OR REPLACE FUNCTION install_owner_function(p_collection text, p_name name, p_signature text,
                                                  p_returns text, p_body text) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  PERFORM install_function_as((SELECT pg_get_userbyid(k.relowner) FROM pg_class k
                               WHERE k.oid = collection_table(find_collection(p_collection))),
                              p_name, p_signature, p_returns, p_body);
END
$$;

-- Makes a function of natal's that runs as p_owner (SECURITY DEFINER, owned by that role),
-- callable by natal's definer only. (The owner is given CREATE on natal's schema for the
-- moment of the change of owner, which PostgreSQL requires, and loses it in the same
-- transaction.) The owner can alter the function's properties, not its body: that takes
-- CREATE on natal's schema.
CREATE OR REPLACE FUNCTION install_function_as(p_owner name, p_name name, p_signature text,
                                               p_returns text, p_body text,
                                               p_search_path text DEFAULT 'pg_catalog, pg_temp',
                                               p_volatility text DEFAULT 'VOLATILE') RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  fn text := format('%I.%I(%s)', natal_schema(), p_name, p_signature);
BEGIN
  -- (a probe is made again by the wiring of each collection that probes it: one at a time)
  PERFORM pg_advisory_xact_lock(hashtextextended('natal:owner_function:' || natal_schema() || '.' || p_name, 0));
  EXECUTE format('DROP FUNCTION IF EXISTS %s', fn);
  EXECUTE format('CREATE FUNCTION %I.%I(%s) RETURNS %s '
                 'LANGUAGE plpgsql %s SECURITY DEFINER SET search_path = %s AS %L',
                 natal_schema(), p_name, p_signature, p_returns, p_volatility, p_search_path, p_body);
  EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
  IF p_owner <> current_user THEN
    EXECUTE format('GRANT CREATE ON SCHEMA %I TO %I', natal_schema(), p_owner);
    EXECUTE format('ALTER FUNCTION %s OWNER TO %I', fn, p_owner);
    EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM %I', natal_schema(), p_owner);
  END IF;
  -- (natal's definer calls it, whoever made it: a superuser's call of natal's functions may
  -- make a reader)
  IF roles_managed() AND p_owner <> natal_role('definer') THEN
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, natal_role('definer'));
  ELSIF p_owner <> current_user THEN
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, current_user);
  END IF;
END
$$;

-- The functions a collection's gateway calls as table owners: its row insert, and a probe
-- of each table it probes.
CREATE OR REPLACE FUNCTION install_gateway_row(p_collection text) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  p collection_registry;
BEGIN
  PERFORM install_owner_function(p_collection, gateway_row_function(p_collection),
                                 'p_data jsonb, v_code text, v_origin text', 'jsonb', gateway_row_source(p_collection));
  FOR p IN SELECT * FROM gateway_probed(p_collection) AS o
           WHERE NOT gateway_same_owner(p_collection, o.collection_name) LOOP
    PERFORM install_owner_function(p.collection_name, gateway_probe_function(p.collection_name),
                                   'p_code text', 'boolean', gateway_probe_source(p.collection_name));
  END LOOP;
END
$$;

-- The gateway's dispatcher, create_entity, becomes PL/pgSQL. 0004 made it one SQL CASE so
-- that the planner would inline it into the caller's query, but inlining parses and analyses
-- the function's body each time the caller's statement is planned, and a client's
-- parameterised call (an unnamed prepared statement) is planned on every call: perf put that
-- at 6-10% of a gateway call's CPU with two wired collections, and it grows with every
-- collection wired. A PL/pgSQL CASE keeps its expressions planned for the session.
CREATE OR REPLACE FUNCTION regenerate_create_entity() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  ns text := quote_ident(natal_schema());
  branches text;
BEGIN
  -- Concurrent wirings regenerate one after the other, each seeing the other's commit.
  PERFORM pg_advisory_xact_lock(hashtextextended('natal:create_entity:' || natal_schema(), 0));
  SELECT string_agg(format('    WHEN %L THEN RETURN %s.%I(p_data, p_origin);', w.collection_name, ns,
                           gateway_function(w.collection_name)), E'\n' ORDER BY w.collection_name)
    INTO branches
  FROM wired_trigger w
  WHERE to_regprocedure(format('%s.%I(jsonb,text)', ns, gateway_function(w.collection_name))) IS NOT NULL;
  -- The body travels as a literal (%L), so no collection name can end it early.
  EXECUTE format('CREATE OR REPLACE FUNCTION %s.create_entity(p_collection text, p_data jsonb, '
                 'p_origin text DEFAULT NULL) RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER '
                 'SET search_path = %s, pg_temp SET enable_seqscan = off SET row_security = off AS %L', ns, ns,
    CASE WHEN branches IS NULL THEN format('BEGIN RETURN %s.gateway_refusal(p_collection); END', ns)
         ELSE format(E'BEGIN\n  CASE p_collection\n%s\n    ELSE RETURN %s.gateway_refusal(p_collection);\n  END CASE;\nEND',
                     branches, ns)
    END);
END
$$;
