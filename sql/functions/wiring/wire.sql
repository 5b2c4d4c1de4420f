-- How many rows a trigger may take a statement to have at most, without counting them, from
-- what the session's statistics say it wrote to the table since it last reported them (at
-- most once a second), the statement's own rows included: an upper bound that costs a
-- function call, where counting is a query (the birth trigger below, the death trigger).
CREATE OR REPLACE FUNCTION uncounted_bound() RETURNS integer
LANGUAGE sql IMMUTABLE
AS $$ SELECT 4096 $$;

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
  -- the code expression unguarded, for the queries that run after the statement's check
  -- (typed_check_sql: the types checked once, not per row)
  raw_code_sql text := code_sql;
  types_check text;
  untrusted text := untrusted_column(rel, read_columns(c));
  rows_sql text;
  births text := format('%I.birth_registry', natal_schema());
  partitioned boolean;
  insert_head text;
  insert_sql text;
  insert_raw_sql text;
  small_sql text;
  -- the update trigger (kind 'row'): the old code dies "re-keyed to" the new one, which is
  -- born "re-keyed from" it (deaths.sql)
  rekey_sql text := '';
  -- (a code passes inspection's prefix check when it starts with one of these)
  verdict text := (SELECT string_agg(format('starts_with(x.code, %L)', pfx), ' OR ')
                   FROM unnest(accepted_code_prefixes(c, sp)) AS pfx);
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
  IF untrusted IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB006',
      MESSAGE = format('collection %s: column %s is of a type its table''s owner created, and natal converts no such column with its rights (a cast of the owner''s would run as natal)',
                       p_collection, untrusted),
      HINT = 'give the identity, the primary key and _dot_origin PostgreSQL''s own types (or an extension''s)';
  END IF;
  IF code_sql IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB006',
      MESSAGE = format('collection %s has no identity (unclassified: %s)', p_collection,
                       COALESCE(c.birth_code_reason, 'unknown')),
      HINT = 'give it one: natal collection add TABLE --code-column COL, or natal identity set';
  END IF;
  code_sql := typed_guard_sql(c, 'n', code_sql, code_columns(c));
  types_check := typed_check_sql(c, code_columns(c) || ARRAY['_dot_origin']::name[]);
  -- A partitioned table takes the statement path too: a statement trigger with a transition
  -- table on the parent sees every row the statement routed to a partition. Its partitions
  -- get the same function as statement triggers of their own (wire_partitions), for inserts
  -- that name them; and the same function, as an UPDATE statement trigger on the parent and
  -- each sub-partitioned partition (natal_birth_recoded), births the codes an UPDATE brought
  -- that were not there before it: rows it moved to another partition among them.
  kind := CASE WHEN p_kind = 'row' THEN 'row' ELSE 'statement' END;
  partitioned := (SELECT relkind FROM pg_class WHERE oid = rel) = 'p';
  -- (OFFSET 0 keeps the subquery that computes each row's code from being merged into the
  -- query around it: merged, the code's expression, guard and all, is copied into every place
  -- that reads x.code, the verdict's and the filter's, and evaluated and set up once for each)
  rows_sql := CASE kind WHEN 'statement' THEN 'natal_new AS n OFFSET 0' ELSE '(SELECT NEW.*) AS n OFFSET 0' END;
  IF kind = 'row' THEN
    rekey_sql := format($rk$
  SELECT %1$s INTO rekeyed_from_code FROM (SELECT OLD.*) AS n;
  SELECT %1$s INTO rekeyed_to_code FROM (SELECT NEW.*) AS n;
  IF rekeyed_from_code IS NOT NULL AND rekeyed_from_code IS DISTINCT FROM rekeyed_to_code THEN
    PERFORM %2$I.record_rekey(%3$L, %4$s, rekeyed_from_code, rekeyed_to_code);
  ELSE
    rekeyed_from_code := NULL;
  END IF;$rk$, code_sql, natal_schema(), c.collection_name, death_origin_sql(c));
  END IF;
  -- A strict partitioned table's UPDATE (natal_birth_recoded): nothing to birth (every code
  -- it brought was born first, or it is refused), but a row it moved with a new code is a
  -- re-key all the same: the old code dies "re-keyed to" the new, as on a table that is not
  -- strict (below). Only when the statement brought a code none of its rows had (a hash
  -- anti-join; an UPDATE of other columns stops there).
  IF c.strict_mode AND kind = 'statement' AND partitioned THEN
    rekey_sql := format($rk$
  -- (nested: an INSERT's trigger has no natal_old, and a statement is planned when reached)
  IF TG_OP = 'UPDATE' THEN
    IF EXISTS (SELECT 1 FROM (SELECT %1$s AS code FROM natal_new AS n
                              EXCEPT SELECT %1$s FROM natal_old AS n) AS x WHERE x.code IS NOT NULL) THEN
      %2$s
    END IF;
  END IF;$rk$, code_sql, moved_rekeys_sql(c, code_sql));
  END IF;
  IF c.strict_mode THEN
    body := format($body$
DECLARE
  unborn text;%7$s
BEGIN%5$s
  SELECT x.code INTO unborn
  FROM (SELECT %1$s AS code FROM %2$s) AS x
  WHERE NOT EXISTS (SELECT 1 FROM %3$s b WHERE b.entity_code = x.code AND b.collection_name = %4$L)
  LIMIT 1;%6$s
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB007',
      MESSAGE = format('collection %%s is strict: entity %%s has no prior birth', %4$L, COALESCE(unborn, '(no code)')),
      HINT = 'create entities through the birth-first gateway: natal create, or natal.create_entity()';
  END IF;%8$s
  RETURN NULL;
END
$body$, code_sql, rows_sql, births, c.collection_name,
        -- an UPDATE (natal_birth_recoded): the codes it brought, that none of its rows had
        -- before (EXCEPT, so that a row that had no code and still has none is left alone)
        -- (first, same_codes_sql: the same codes before and after, and nothing to check)
        CASE WHEN kind = 'statement' AND partitioned THEN format($upd$
  IF TG_OP = 'UPDATE' THEN%4$s
    SELECT x.code INTO unborn
    FROM (SELECT %1$s AS code FROM natal_new AS n EXCEPT SELECT %1$s FROM natal_old AS n) AS x
    WHERE NOT EXISTS (SELECT 1 FROM %2$s b WHERE b.entity_code = x.code AND b.collection_name = %3$L)
    LIMIT 1;
  ELSE$upd$, code_sql, births, c.collection_name, same_codes_sql(code_sql)) ELSE '' END,
        CASE WHEN kind = 'statement' AND partitioned THEN E'\n  END IF;' ELSE '' END,
        CASE WHEN kind = 'row' THEN E'\n  rekeyed_from_code text;\n  rekeyed_to_code text;'
             WHEN partitioned THEN E'\n  seed bigint;' ELSE '' END,
        rekey_sql);
  ELSE
    -- The seed's semantics: INSERT … ON CONFLICT (entity_code) DO NOTHING. That is what a
    -- small statement runs. For a big one, speculative insertion would cost every row an
    -- extra WAL record and index probe, so it takes a plain insert, and only when that meets
    -- a unique violation (a code born before, twice in one statement, or concurrently) is it
    -- redone with ON CONFLICT DO NOTHING. The births that result are the same either way.
    -- Each birth is inspected as it is written, by inspection's rules (inspect.sql), so that
    -- it does not wait in inspection's index of pending births: species and level are the
    -- registry's, baked in here; the origin is never empty; the row exists; a keyed or legacy
    -- code starts with the collection's own prefix. A column's code passes when it starts
    -- with one of accepted_code_prefixes; else the birth stays pending, and inspection fails
    -- it with its reason.
    insert_head := format($ins$INSERT INTO %1$s (entity_code, collection_name, species_code, composition_level, dot_origin,
                      governance_role, operation, inspection_status, inspected_at%8$s)
    SELECT x.code, %2$L, %3$L, %4$L, x.origin, 'governed', %5$L, %6$s, %7$s%9$s
    FROM (SELECT $ins$,
        births, c.collection_name, sp.species_code, sp.composition_level,
        -- natal's own catalog tables: Case 3, the catalog row itself is born
        CASE WHEN c.table_schema = natal_schema() THEN 'catalog' ELSE 'trigger' END,
        CASE WHEN c.birth_code_strategy = 'column'
             THEN format($v$CASE WHEN %s THEN 'passed'::inspection_status ELSE 'pending'::inspection_status END$v$, verdict)
             ELSE $v$'passed'::inspection_status$v$ END,
        CASE WHEN c.birth_code_strategy = 'column' THEN format('CASE WHEN %s THEN now() END', verdict)
             ELSE 'now()' END,
        CASE WHEN kind = 'row' THEN ', rekeyed_from' ELSE '' END,
        CASE WHEN kind = 'row' THEN ', rekeyed_from_code' ELSE '' END);
    -- guarded per row (a small statement), and unguarded, after the statement's check
    insert_sql := insert_head || format('%s AS code, %s AS origin FROM ', code_sql,
                                        typed_guard_sql(c, 'n', dot_origin_sql(c, 'n'), ARRAY['_dot_origin']::name[]));
    insert_raw_sql := insert_head || format('%s AS code, %s AS origin FROM ', raw_code_sql, dot_origin_sql(c, 'n'));
    -- The insert of a small statement, guarded per row, and what ends the function after it.
    small_sql := format(E'%s%s) AS x\n    WHERE x.code IS NOT NULL\n    ON CONFLICT (entity_code) DO NOTHING;\n    RETURN NULL;',
                        insert_sql, rows_sql);
    IF kind = 'row' THEN
      -- (one row: the update trigger's, after its re-key)
      body := format(E'\nDECLARE\n  rekeyed_from_code text;\n  rekeyed_to_code text;\nBEGIN%s\n    %s\nEND\n',
                     rekey_sql, small_sql);
      RETURN;
    END IF;
    -- A statement's function is written so that a single-row statement, the commonest, runs
    -- one expression and one insert: every expression PL/pgSQL evaluates is set up again in
    -- each transaction, and each costs a single-row INSERT (or DELETE) some of its time.
    body := format($body$%6$s
BEGIN%4$s%3$s
  IF (SELECT count(*) FROM (SELECT 1 FROM natal_new LIMIT 16) AS s) < 16 THEN
    %1$s
  END IF;%5$s
  BEGIN
    %7$s%2$s) AS x
    WHERE x.code IS NOT NULL;
  EXCEPTION WHEN unique_violation THEN
    %7$s%2$s) AS x
    WHERE x.code IS NOT NULL
    ON CONFLICT (entity_code) DO NOTHING;
  END;
  RETURN NULL;
END
$body$, small_sql, rows_sql,
        -- A statement that cannot have 4096 rows or more is small without counting them.
        -- pg_stat_get_xact_tuples_inserted counts the rows this session has inserted into
        -- the table since it last reported its statistics (at most once a second; PGlite
        -- never does), this statement's included: an upper bound on the statement's rows
        -- that costs a function call, where counting them is a query. Below 4096 a statement
        -- takes ON CONFLICT; at 4096 or more the count decides (16 rows), as before.
        -- Only speed depends on it, never births (ON CONFLICT is right for any statement):
        -- with track_counts off the counter stands still and every statement takes ON
        -- CONFLICT; past 4096 in one long transaction (or in PGlite) every statement counts.
        -- A partitioned parent counts no tuples of its own: its statements always count.
        CASE WHEN partitioned THEN ''
             ELSE format(E'\n  IF pg_stat_get_xact_tuples_inserted(TG_RELID) < %s THEN\n    %s\n  END IF;',
                         uncounted_bound(), small_sql) END,
        -- an UPDATE of a partitioned table (natal_birth_recoded): the codes its rows have that
        -- none of them had before, moved rows' among them. Nearly always there are none (an
        -- UPDATE of other columns), and a hash anti-join of the rows' codes is all it costs.
        -- When it births a code (a code changed in place was born by natal_birth_update
        -- first), a row it moved changed its code: the old code dies "re-keyed to" the new
        -- one. The transition tables hold each updated row's old and new values in the same
        -- order, so the n-th old row is the n-th new one; a death that natal_birth_update
        -- recorded in this transaction is not recorded twice.
        -- First, same_codes_sql: the same codes before and after, and nothing to birth.
        CASE WHEN partitioned THEN format($upd$
  IF TG_OP = 'UPDATE' THEN%4$s%5$s
    %1$snatal_new AS n OFFSET 0) AS x
    WHERE x.code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM natal_old AS n WHERE %2$s = x.code)
    ON CONFLICT (entity_code) DO NOTHING;
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved > 0 THEN
      %3$s
    END IF;
    RETURN NULL;
  END IF;$upd$, insert_raw_sql, raw_code_sql, moved_rekeys_sql(c, raw_code_sql), types_check, same_codes_sql(raw_code_sql)) ELSE '' END,
        types_check,
        CASE WHEN partitioned THEN E'\nDECLARE\n  moved bigint;\n  seed bigint;' ELSE '' END,
        insert_raw_sql);
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION auto_birth_function(p_collection text) RETURNS name
LANGUAGE sql IMMUTABLE
AS $$ SELECT ('birth_auto_' || left(md5(p_collection), 16))::name $$;

CREATE OR REPLACE FUNCTION update_birth_function(p_collection text) RETURNS name
LANGUAGE sql IMMUTABLE
AS $$ SELECT ('birth_upd_' || left(md5(p_collection), 16))::name $$;

-- The update trigger: a row whose identity columns change gets its new code born (or, in a
-- strict collection, is refused without a prior birth). It fires only when those columns
-- change, so other updates cost nothing.
CREATE OR REPLACE FUNCTION update_trigger_sql(c collection_registry, rel regclass, fn name) RETURNS text
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

-- A collection's census trigger: its identity columns, as the update trigger has them.
CREATE OR REPLACE FUNCTION census_trigger_sql(c collection_registry, rel regclass) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT format('CREATE TRIGGER natal_census_change AFTER DELETE OR TRUNCATE OR UPDATE OF %s ON %s '
                'FOR EACH STATEMENT EXECUTE FUNCTION %I.census_changed()',
                string_agg(format('%I', k), ', '), rel, natal_schema())
  FROM (SELECT DISTINCT k FROM unnest(array_append(c.birth_code_key_columns, c.birth_code_column)) AS k
        WHERE k IS NOT NULL) AS cols
$$;

-- The first look of natal_birth_recoded (strict or not) at an UPDATE of a partitioned table:
-- when its rows' codes after it have the count and the sum of hashes their codes had before
-- (a hash keyed with a random seed for each statement, that no session can choose or read),
-- they are the same codes, and there is nothing to birth, check or record: two streaming
-- passes instead of a hash anti-join of every row's code. (Declares nothing: the trigger
-- function declares seed.)
CREATE OR REPLACE FUNCTION same_codes_sql(code_sql text) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT format($s$
    seed := %2$I.census_seed();
    IF (SELECT ROW(count(x.code), sum(hashtextextended(x.code, seed))) FROM (SELECT %1$s AS code FROM natal_new AS n) AS x)
       IS NOT DISTINCT FROM
       (SELECT ROW(count(x.code), sum(hashtextextended(x.code, seed))) FROM (SELECT %1$s AS code FROM natal_old AS n) AS x) THEN
      RETURN NULL;
    END IF;$s$, code_sql, natal_schema())
$$;

-- The statement that records the re-keys of an UPDATE of a partitioned table (in
-- natal_birth_recoded, strict or not): its rows' old and new codes, paired in the order the
-- transition tables keep them; the old code of each row whose code changed dies "re-keyed
-- to" the new one, unless natal_birth_update recorded it already in this transaction.
CREATE OR REPLACE FUNCTION moved_rekeys_sql(c collection_registry, code_sql text) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT format($q$INSERT INTO %2$I.entity_death (collection_name, how, dot_origin, codes, rekeyed_to, filed)
      SELECT %3$L, 'rekey', %4$s, array_agg(o.code ORDER BY o.i), array_agg(w.code ORDER BY o.i), false
      FROM (SELECT row_number() OVER () AS i, %1$s AS code FROM natal_old AS n) AS o
      JOIN (SELECT row_number() OVER () AS i, %1$s AS code FROM natal_new AS n) AS w ON w.i = o.i
      WHERE o.code IS NOT NULL AND o.code IS DISTINCT FROM w.code
        AND NOT EXISTS (SELECT 1 FROM %2$I.entity_death d
                        WHERE d.entity_code = o.code AND d.died_xid = txid_current() AND d.how = 'rekey')
      HAVING count(*) > 0;$q$, code_sql, natal_schema(), c.collection_name, death_origin_sql(c))
$$;

-- Generated functions plan their queries once per session. Planned against a registry that
-- was nearly empty, a probe by entity_code would stay a sequential scan for ever after;
-- functions that probe (`probes`) run with sequential scans off, so they use the key index.
-- A trigger function fires for whoever writes the table, and writes the registry, which
-- only natal's definer may: it runs with the definer's rights (p_definer) and natal's own
-- search_path, pg_temp last, so no object of the caller's can stand in for one of natal's.
-- The gateway functions run inside create_entity, which does the same for them.
-- Functions that read application tables with natal's rights (p_reads_tables: the death
-- trigger reads a table being truncated) run with row_security off, as every other
-- definer function of natal's does (definers_without_row_security, seed.sql); the auto-birth
-- and update functions read only their statement's rows (transition tables, NEW and OLD)
-- and natal's own tables, and do without that setting, which a single-row insert would pay
-- for at every call.
CREATE OR REPLACE FUNCTION install_function(p_name name, p_signature text, p_returns text, p_body text,
                                 p_probes boolean, p_definer boolean, p_reads_tables boolean)
RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  EXECUTE format('CREATE OR REPLACE FUNCTION %I.%I(%s) RETURNS %s LANGUAGE plpgsql %s %s AS %L',
                 natal_schema(), p_name, p_signature, p_returns,
                 -- (row_security off: no table's row-level security policy runs as natal's definer, nor
                 -- hides rows from it; a table whose policies would apply is an error instead)
                 CASE WHEN p_definer THEN format('SECURITY DEFINER SET search_path = %I, pg_temp%s', natal_schema(),
                                                 CASE WHEN p_reads_tables THEN ' SET row_security = off' ELSE '' END)
                      ELSE '' END,
                 CASE WHEN p_probes THEN 'SET enable_seqscan = off' ELSE '' END, p_body);
  EXECUTE format('REVOKE ALL ON FUNCTION %I.%I(%s) FROM PUBLIC', natal_schema(), p_name, p_signature);
END
$$;

-- A partitioned table's tree below its root: each partition natal puts a trigger on (plain
-- and partitioned ones: a foreign table cannot have a transition table), parents first.
CREATE OR REPLACE FUNCTION partition_tree(rel regclass) RETURNS TABLE (relid regclass, partitioned boolean)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  RETURN QUERY
    SELECT t.relid, c.relkind = 'p'
    FROM pg_partition_tree(rel) t JOIN pg_class c ON c.oid = t.relid
    WHERE t.relid <> rel AND c.relkind IN ('r', 'p')
    ORDER BY t.level, t.relid::text;
END
$$;

-- Rows that an UPDATE (or MERGE) moves to another partition are deleted from one and inserted
-- into the other: no UPDATE row trigger fires for them and no INSERT statement trigger, only
-- the INSERT row triggers of the partition they land in. But the UPDATE's statement triggers
-- on the table it names see them, in its transition tables, with the rows it updated in place.
-- The wiring of a partitioned table below its parent's natal_birth_auto (statement-level)
-- and natal_birth_update (row-level, cloned by PostgreSQL to every partition, those made
-- later too, so that an UPDATE of a partition's identity columns is born wherever it names):
--  - natal_birth_direct on every partition: the same function, statement-level with a
--    transition table, for an INSERT or COPY that names the partition (a statement fires
--    the statement triggers of the table it names only, so through the parent it stays still);
--  - natal_birth_recoded on the parent and each partitioned partition (an UPDATE or MERGE
--    that names either can move rows): the same function again, AFTER UPDATE with both
--    transition tables, which births the codes the statement brought (moved rows' among
--    them). PostgreSQL allows no column list on a trigger with transition tables, so it fires
--    for every UPDATE of the table and looks at its rows' codes. A leaf partition needs none:
--    an UPDATE that names it cannot move a row out of it, and natal_birth_update sees it.
-- Nothing in it depends on a setting or anything else a session can change.
-- A partition created or attached later has natal_birth_update (cloned) but not
-- natal_birth_direct (nor natal_birth_recoded): the inventory says so until natal wire runs.
CREATE OR REPLACE FUNCTION wire_partitions(rel regclass, fn name) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT rel AS relid, true AS partitioned UNION ALL SELECT * FROM partition_tree(rel) LOOP
    IF p.relid <> rel THEN
      PERFORM assert_definer_acts_on(p.relid);
      EXECUTE format('CREATE TRIGGER natal_birth_direct AFTER INSERT ON %s REFERENCING NEW TABLE AS natal_new '
                     'FOR EACH STATEMENT EXECUTE FUNCTION %I.%I()', p.relid, natal_schema(), fn);
    END IF;
    IF p.partitioned THEN
      EXECUTE format('CREATE TRIGGER natal_birth_recoded AFTER UPDATE ON %s '
                     'REFERENCING OLD TABLE AS natal_old NEW TABLE AS natal_new '
                     'FOR EACH STATEMENT EXECUTE FUNCTION %I.%I()', p.relid, natal_schema(), fn);
    END IF;
  END LOOP;
END
$$;

-- Removes what wire_partitions made (and nothing from a table that is not partitioned), and
-- what natal made before it: natal_birth_moved (a row trigger on the parent, cloned to the
-- partitions) and natal_birth_moving, natal_birth_moving_end, which counted UPDATE statements
-- in a setting any session could change.
CREATE OR REPLACE FUNCTION unwire_partitions(rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  p record;
BEGIN
  EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_moved ON %s', rel);
  FOR p IN SELECT rel AS relid UNION ALL SELECT t.relid FROM partition_tree(rel) t LOOP
    IF p.relid <> rel THEN
      EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_direct ON %s', p.relid);
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_recoded ON %s', p.relid);
    EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_moving ON %s', p.relid);
    EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_moving_end ON %s', p.relid);
  END LOOP;
END
$$;

-- Whether rel has an enabled trigger of that name calling natal's function fn.
CREATE OR REPLACE FUNCTION natal_trigger_on(rel regclass, p_trigger name, fn name) RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                 WHERE t.tgrelid = rel AND t.tgname = p_trigger AND t.tgenabled <> 'D'
                   AND p.proname = fn
                   AND p.pronamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = natal_schema()))
$$;

-- What a wired partitioned table's wiring lacks below natal_birth_auto, or NULL.
CREATE OR REPLACE FUNCTION partition_wiring_problem(rel regclass, fn name, upd name) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  missing text;
  n bigint;
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = rel) <> 'p' THEN
    RETURN NULL;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_trigger t
             WHERE t.tgname IN ('natal_birth_moved', 'natal_birth_moving', 'natal_birth_moving_end')
               AND t.tgrelid IN (SELECT x.relid FROM pg_partition_tree(rel) x)) THEN
    RETURN 'stale configuration: cross-partition updates wired by an earlier natal; run natal wire';
  END IF;
  IF NOT natal_trigger_on(rel, 'natal_birth_recoded', fn) THEN
    RETURN 'cross-partition update trigger missing or disabled: run natal wire';
  END IF;
  SELECT string_agg(p.relid::text, ', '), count(*) INTO missing, n FROM partition_tree(rel) p
  WHERE NOT natal_trigger_on(p.relid, 'natal_birth_direct', fn)
     OR NOT natal_trigger_on(p.relid, 'natal_birth_update', upd)
     OR (p.partitioned AND NOT natal_trigger_on(p.relid, 'natal_birth_recoded', fn));
  IF n > 0 THEN
    RETURN format('%s no natal trigger (made after wiring, or disabled): run natal wire',
                  CASE n WHEN 1 THEN 'partition ' || missing || ' has' ELSE 'partitions ' || missing || ' have' END);
  END IF;
  RETURN NULL;
END
$$;

-- Wiring installs the census trigger next to the auto-birth trigger, and unwiring removes it.
-- natal's triggers on one table (not its partitions': unwire_partitions), and its death
-- triggers (on its leaves too: unwire_deaths).
CREATE OR REPLACE FUNCTION drop_natal_triggers(rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_auto ON %s', rel);
  EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_update ON %s', rel);
  EXECUTE format('DROP TRIGGER IF EXISTS natal_census_change ON %s', rel);
  PERFORM unwire_deaths(rel);
END
$$;

-- A collection's trigger functions (birth, update, death), once no trigger uses them.
CREATE OR REPLACE FUNCTION drop_trigger_functions(c collection_registry) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', natal_schema(), death_function(c.collection_name));
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', natal_schema(), auto_birth_function(c.collection_name));
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', natal_schema(), update_birth_function(c.collection_name));
END
$$;

-- A collection's gateway: its function and its row's function, made afresh for a collection
-- that has one (a code column's, governed, with a table and a species: gateway_source), dropped
-- for any other. natal's own catalog tables are written by natal, not through the gateway.
CREATE OR REPLACE FUNCTION install_gateway(c collection_registry) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  gw text := CASE WHEN c.table_schema <> natal_schema() THEN gateway_source(c.collection_name) END;
BEGIN
  IF gw IS NULL THEN
    PERFORM drop_gateway(c);
    RETURN;
  END IF;
  PERFORM install_gateway_row(c.collection_name);
  PERFORM install_function(gateway_function(c.collection_name), 'p_data jsonb, p_origin text', 'jsonb', gw, false, false, false);
END
$$;

CREATE OR REPLACE FUNCTION drop_gateway(c collection_registry) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I(jsonb, text)', natal_schema(), gateway_function(c.collection_name));
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I(jsonb, text, text)', natal_schema(), gateway_row_function(c.collection_name));
END
$$;

CREATE OR REPLACE FUNCTION wire(p_collection text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  src record;
  upd text;
  fn name := auto_birth_function(c.collection_name);
  rel regclass := collection_table(c);
BEGIN
  PERFORM assert_natal_role('admin');
  -- One wiring of a collection at a time: a second one waits, then installs a fresh body.
  PERFORM 1 FROM collection_registry r WHERE r.collection_name = c.collection_name FOR UPDATE;
  -- (a table distributed since it was registered: Citus would keep the trigger on the
  -- coordinator's shell of it, and the rows written on the workers would go unborn)
  PERFORM assert_not_citus_table(rel, c.collection_name);
  IF citus_triggerless(rel) THEN
    RETURN wire_without_triggers(c, rel);
  END IF;
  SELECT s.kind, s.body INTO src FROM auto_birth_source(p_collection) s;
  PERFORM assert_definer_acts_on(rel);
  -- A strict collection's trigger probes births; an auto-birth trigger only inserts.
  PERFORM install_function(fn, '', 'trigger', src.body, c.strict_mode, true, false);
  EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_auto ON %s', rel);
  IF src.kind = 'statement' THEN
    EXECUTE format('CREATE TRIGGER natal_birth_auto AFTER INSERT ON %s REFERENCING NEW TABLE AS natal_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION %I.%I()', rel, natal_schema(), fn);
  ELSE
    EXECUTE format('CREATE TRIGGER natal_birth_auto AFTER INSERT ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION %I.%I()', rel, natal_schema(), fn);
  END IF;
  PERFORM install_gateway(c);
  -- and the update trigger, row-level, firing only when identity columns change
  SELECT s.body INTO upd FROM auto_birth_source(p_collection, 'row') s;
  PERFORM install_function(update_birth_function(c.collection_name), '', 'trigger', upd, c.strict_mode, true, false);
  EXECUTE format('DROP TRIGGER IF EXISTS natal_birth_update ON %s', rel);
  EXECUTE update_trigger_sql(c, rel, update_birth_function(c.collection_name));
  -- and a partitioned table's partitions
  PERFORM unwire_partitions(rel);
  IF (SELECT relkind FROM pg_class WHERE oid = rel) = 'p' THEN
    PERFORM wire_partitions(rel, fn);
  END IF;
  -- and the death triggers (0017)
  PERFORM wire_deaths(c, rel);
  -- and the census trigger (0014), while the kept census is on (kept.sql)
  PERFORM wire_census_change(c, rel);
  INSERT INTO wired_trigger (collection_name, function_name, kind, inputs, sources)
  VALUES (c.collection_name, fn, src.kind, wiring_inputs(c, rel), wired_sources(c, rel))
  ON CONFLICT (collection_name) DO UPDATE
    SET function_name = EXCLUDED.function_name, kind = EXCLUDED.kind,
        inputs = EXCLUDED.inputs, sources = EXCLUDED.sources,
        wired_by = session_user, wired_at = now();
  PERFORM regenerate_create_entity();
  RETURN src.kind;
END
$$;

-- A distributed or reference table (Citus): its rows are written on the workers, where a
-- trigger could not write a birth into the coordinator's registry, and Citus would keep a
-- trigger made here on the coordinator's shell of the table, where it never fires. Wired
-- without triggers: the gateway (a code column's) births new entities birth-first on the
-- coordinator, and a backfill births the rows written around it, which the census counts as
-- orphans meanwhile (citus.sql). Deaths are not recorded: a deleted row's birth is a phantom.
CREATE OR REPLACE FUNCTION wire_without_triggers(c collection_registry, rel regclass) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  -- (a strict collection refuses a row without a prior birth: a trigger's work, and none runs
  -- where these rows are written)
  IF c.strict_mode THEN
    RAISE EXCEPTION USING ERRCODE = 'NB034',
      MESSAGE = format('collection %s is strict, and its table is a %s table (Citus): natal cannot refuse a row without a prior birth there (no trigger runs on the workers, where its rows are written)',
                       c.collection_name, citus_table_kind(rel)),
      HINT = format('make it not strict (natal collection set %s --no-strict), or keep the table a plain table of the coordinator', c.collection_name);
  END IF;
  PERFORM assert_definer_acts_on(rel);
  PERFORM drop_natal_triggers(rel);
  PERFORM drop_trigger_functions(c);
  PERFORM install_gateway(c);
  INSERT INTO wired_trigger (collection_name, function_name, kind, inputs, sources)
  VALUES (c.collection_name, auto_birth_function(c.collection_name), 'gateway', wiring_inputs(c, rel), wired_sources(c, rel))
  ON CONFLICT (collection_name) DO UPDATE
    SET function_name = EXCLUDED.function_name, kind = EXCLUDED.kind,
        inputs = EXCLUDED.inputs, sources = EXCLUDED.sources,
        wired_by = session_user, wired_at = now();
  PERFORM regenerate_create_entity();
  RETURN 'gateway';
END
$$;

CREATE OR REPLACE FUNCTION unwire(p_collection text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  was boolean := false;
  t record;
BEGIN
  PERFORM assert_natal_role('admin');
  PERFORM 1 FROM collection_registry r WHERE r.collection_name = c.collection_name FOR UPDATE;
  -- (a distributed table's wiring is its gateway alone: wire_without_triggers)
  was := EXISTS (SELECT 1 FROM wired_trigger w WHERE w.collection_name = c.collection_name AND w.kind = 'gateway');
  IF rel IS NOT NULL THEN
    was := was OR EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'natal_birth_auto');
    PERFORM drop_natal_triggers(rel);
    PERFORM unwire_partitions(rel);
  END IF;
  -- natal's triggers on a table that is no longer the collection's (renamed away, its name
  -- now a view's): wherever its functions are still used, the triggers go with them
  FOR t IN SELECT g.tgname, g.tgrelid::regclass AS relid FROM pg_trigger g
           WHERE g.tgparentid = 0 AND g.tgfoid IN (
             SELECT to_regprocedure(format('%I.%I()', natal_schema(), f))
             FROM unnest(ARRAY[death_function(c.collection_name), auto_birth_function(c.collection_name),
                               update_birth_function(c.collection_name)]) AS f) LOOP
    was := was OR t.tgname = 'natal_birth_auto';
    EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.relid);
  END LOOP;
  PERFORM drop_trigger_functions(c);
  PERFORM drop_gateway(c);
  DELETE FROM wired_trigger WHERE collection_name = c.collection_name;
  PERFORM regenerate_create_entity();
  RETURN was;
END
$$;

-- A wired collection follows its configuration: re-wired when it can be, unwired when it
-- no longer can (not governed, unclassified, no table).
CREATE OR REPLACE FUNCTION rewire_if_wired(p_collection text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
BEGIN
  PERFORM assert_natal_role('admin');
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

-- A column collection's gateway probes the code columns of every column and legacy
-- collection of its species (0003), so when one of them changes identity or species, the
-- others' gateways must follow: re-wire the wired collections of the species but one.
CREATE OR REPLACE FUNCTION rewire_species(p_species text, p_except text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
  SELECT rewire_if_wired(m.collection_name)
  FROM species_collection_map m
  WHERE m.species_code = p_species AND m.collection_name <> p_except
  ORDER BY m.collection_name
$$;
