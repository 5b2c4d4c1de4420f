-- Deaths (0017): the recorded end of an entity. A wired collection's DELETE and TRUNCATE
-- statements record the death of every row they remove, set-based, one entity_death row per
-- statement; a re-key (a row's identity changed) records the old code's death "re-keyed to"
-- the new one (natal_birth_update, wire.sql). The birth stays. A birth whose row is gone is
-- dead when a death of its collection names its code, and a phantom when none does.

CREATE OR REPLACE FUNCTION death_function(p_collection text) RETURNS name
LANGUAGE sql IMMUTABLE
AS $$ SELECT ('birth_death_' || left(md5(p_collection), 16))::name $$;

-- The origin a death is recorded with: the session's natal.dot_origin when it set one
-- (SET natal.dot_origin = 'cleanup-job'), else the trigger's, PG:trg_death_<table>.
CREATE OR REPLACE FUNCTION death_origin_sql(c collection_registry) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT format('COALESCE(NULLIF(current_setting(''natal.dot_origin'', true), ''''), %L)',
                'PG:trg_death_' || c.table_name)
$$;

-- Statements of fewer rows than this record a death row per code (found by its index);
-- bigger ones one row with every code, filed by the next inspection (file_deaths), which keeps
-- a bulk DELETE cheap.
CREATE OR REPLACE FUNCTION death_small_bound() RETURNS integer
LANGUAGE sql IMMUTABLE
AS $$ SELECT 64 $$;

-- Counting a statement's rows is a query of its own, which a single-row DELETE would pay for
-- every time (a fifth of a wired single-row DELETE's time on the server). Below
-- uncounted_bound() (wire.sql), a statement is taken as small without counting when
-- pg_stat_get_xact_tuples_deleted says so, as the birth trigger does with inserts. So a
-- statement of 64 to 4,095 rows may be recorded a row per code too; only speed depends on
-- it, never the deaths. A partitioned table counts no tuples of its own (its rows are its
-- partitions'): there, and with track_counts off, statements are counted as before.

-- The death function of one collection: statement-level, AFTER DELETE with the deleted rows
-- (natal_old), and BEFORE TRUNCATE, when it reads the rows about to go from the table the
-- trigger is on (a leaf: a TRUNCATE of a partitioned table fires each partition's trigger).
CREATE OR REPLACE FUNCTION death_source(p_collection text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  code_sql text := entity_code_sql(c, 'n');
  -- unguarded, for the big statement, whose types are checked once (typed_check_sql)
  raw_code_sql text := code_sql;
  deaths text := format('%I.entity_death', natal_schema());
  small_sql text;
BEGIN
  IF code_sql IS NULL THEN
    RETURN NULL;
  END IF;
  code_sql := typed_guard_sql(c, 'n', code_sql, code_columns(c));
  -- (OFFSET 0: each row's code computed once, not once for each place that reads x.code)
  -- (a single-row DELETE, the commonest, runs one expression and one insert: every expression
  -- PL/pgSQL evaluates is set up again in each transaction)
  small_sql := format($small$INSERT INTO %1$s (collection_name, how, dot_origin, codes, entity_code, filed)
    SELECT %2$L, 'delete', %3$s, ARRAY[x.code], x.code, true
    FROM (SELECT %4$s AS code FROM natal_old AS n OFFSET 0) AS x WHERE x.code IS NOT NULL;
    RETURN NULL;$small$, deaths, c.collection_name, death_origin_sql(c), code_sql);
  RETURN format($body$
BEGIN
  IF TG_OP = 'DELETE' AND pg_stat_get_xact_tuples_deleted(TG_RELID) < %4$s%9$s THEN
    %7$s
  END IF;
  IF TG_OP = 'TRUNCATE' THEN
    -- (the one place a trigger reads its table: as its owner, owner_read.sql, with the types
    -- of its columns checked first)%8$s
    EXECUTE format('INSERT INTO %6$s (collection_name, how, dot_origin, codes, filed)
                    SELECT %%L, ''truncate'', %%s, array_agg(x.code), false
                    FROM %%s WHERE x.code IS NOT NULL
                    HAVING count(*) > 0', %1$L, %2$L,
                   %11$I.owner_rows_sql(TG_RELID, format('SELECT %%s FROM ONLY %%s AS n', %12$L, TG_RELID::regclass),
                                        'x(code text)'));
    RETURN NULL;
  END IF;
  IF (SELECT count(*) FROM (SELECT 1 FROM natal_old LIMIT %5$s) AS s) < %5$s THEN
    %7$s
  END IF;%8$s
  INSERT INTO %6$s (collection_name, how, dot_origin, codes, filed)
  SELECT %1$L, 'delete', %2$s, array_agg(x.code), false
  FROM (SELECT %10$s AS code FROM natal_old AS n OFFSET 0) AS x WHERE x.code IS NOT NULL
  HAVING count(*) > 0;
  RETURN NULL;
END
$body$, c.collection_name, death_origin_sql(c), code_sql, uncounted_bound(), death_small_bound(), deaths,
    small_sql, typed_check_sql(c, code_columns(c)),
    -- (the function of a partitioned table is its partitions' too; a partitioned table has no
    -- storage and counts no tuples of its own: its statements are counted)
    CASE WHEN (SELECT k.relkind FROM pg_class k WHERE k.oid = collection_table(c)) = 'p'
         THEN ' AND pg_relation_filenode(TG_RELID) IS NOT NULL' ELSE '' END,
    raw_code_sql, natal_schema(), raw_code_sql);
END
$$;

-- The leaf tables of rel (rel itself when it is not partitioned): where TRUNCATE triggers go.
CREATE OR REPLACE FUNCTION leaf_tables(rel regclass) RETURNS SETOF regclass
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT t.relid FROM pg_partition_tree(rel) t JOIN pg_class k ON k.oid = t.relid
  WHERE k.relkind = 'r'
  UNION
  SELECT rel WHERE (SELECT relkind FROM pg_class WHERE oid = rel) = 'r'
$$;

-- Installs a wired collection's death triggers: natal_death (AFTER DELETE, statement-level)
-- on the table and on each partition (a DELETE fires the statement triggers of the table it
-- names only), natal_death_truncate (BEFORE TRUNCATE) on each leaf table.
CREATE OR REPLACE FUNCTION wire_deaths(c collection_registry, rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  fn name := death_function(c.collection_name);
  body text := death_source(c.collection_name);
  p regclass;
BEGIN
  PERFORM unwire_deaths(rel);
  IF body IS NULL THEN
    RETURN;
  END IF;
  PERFORM install_function(fn, '', 'trigger', body, false, true, true);
  FOR p IN SELECT rel UNION ALL SELECT t.relid FROM partition_tree(rel) t LOOP
    EXECUTE format('CREATE TRIGGER natal_death AFTER DELETE ON %s REFERENCING OLD TABLE AS natal_old '
                   'FOR EACH STATEMENT EXECUTE FUNCTION %I.%I()', p, natal_schema(), fn);
  END LOOP;
  FOR p IN SELECT * FROM leaf_tables(rel) LOOP
    EXECUTE format('CREATE TRIGGER natal_death_truncate BEFORE TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION %I.%I()', p, natal_schema(), fn);
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION unwire_deaths(rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  p regclass;
BEGIN
  IF rel IS NULL THEN
    RETURN;
  END IF;
  FOR p IN SELECT rel UNION ALL SELECT t.relid FROM partition_tree(rel) t LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS natal_death ON %s', p);
    EXECUTE format('DROP TRIGGER IF EXISTS natal_death_truncate ON %s', p);
  END LOOP;
END
$$;

-- What a wired collection's death wiring lacks, or NULL.
CREATE OR REPLACE FUNCTION death_wiring_problem(c collection_registry, rel regclass, p_source boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  fn name := death_function(c.collection_name);
  missing text;
BEGIN
  -- (each relation's two triggers read in one query: the inventory asks this of every collection)
  SELECT COALESCE(string_agg(x.p::text, ', ' ORDER BY x.ord) FILTER (WHERE NOT x.death),
                  string_agg(x.p::text, ', ' ORDER BY x.ord) FILTER (WHERE x.leaf AND NOT x.truncate))
    INTO missing
  FROM (SELECT r.p, r.leaf, r.ord,
               COALESCE(bool_or(t.tgname = 'natal_death'), false) AS death,
               COALESCE(bool_or(t.tgname = 'natal_death_truncate'), false) AS truncate
        FROM (SELECT rel AS p, (SELECT k.relkind = 'r' FROM pg_class k WHERE k.oid = rel) AS leaf, 0::bigint AS ord
              UNION ALL
              SELECT t.relid, NOT t.partitioned, t.ord FROM partition_tree(rel) WITH ORDINALITY AS t(relid, partitioned, ord)) AS r
        LEFT JOIN pg_trigger t ON t.tgrelid = r.p AND t.tgname IN ('natal_death', 'natal_death_truncate')
                               AND t.tgenabled <> 'D'
                               AND t.tgfoid IN (SELECT f.oid FROM pg_proc f
                                                WHERE f.proname = fn AND f.pronamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = natal_schema()))
        GROUP BY r.p, r.leaf, r.ord) AS x;
  IF missing IS NOT NULL THEN
    RETURN format('death trigger missing or disabled on %s: run natal wire', missing);
  END IF;
  -- (p_source: compare its function with death_source; the inventory, where wiring's record
  -- holds, has compared it with that record instead)
  IF p_source AND (SELECT p.prosrc FROM pg_proc p
      WHERE p.oid = to_regprocedure(format('%I.%I()', natal_schema(), fn))) IS DISTINCT FROM death_source(c.collection_name) THEN
    RETURN 'stale configuration: the collection changed since it was wired; run natal wire';
  END IF;
  RETURN NULL;
END
$$;

-- Files the codes of big deaths into entity_death_code, so that a lookup by code finds them by
-- index. Run by each inspection; readers look in unfiled deaths too, so it changes no answer.
CREATE OR REPLACE FUNCTION file_deaths() RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  n bigint;
BEGIN
  WITH filed AS (
    UPDATE entity_death d SET filed = true WHERE NOT d.filed
    RETURNING d.death_id, d.codes, d.rekeyed_to
  )
  INSERT INTO entity_death_code (entity_code, death_id, rekeyed_to)
  SELECT u.code, f.death_id, u.rekeyed_to FROM filed f, unnest(f.codes, f.rekeyed_to) AS u(code, rekeyed_to);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

-- Every recorded death of the collections given (all when NULL): one row per code and death.
CREATE OR REPLACE FUNCTION recorded_deaths(p_collections text[] DEFAULT NULL)
RETURNS TABLE (collection_name text, entity_code text, death_id bigint, how death_kind,
               died_at timestamptz, dot_origin text, actor text, rekeyed_to text)
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT d.collection_name, d.entity_code, d.death_id, d.how, d.died_at, d.dot_origin, d.actor, d.rekeyed_to[1]
  FROM entity_death d
  WHERE d.entity_code IS NOT NULL AND (p_collections IS NULL OR d.collection_name = ANY (p_collections))
    AND d.how <> 'rollback'
  UNION ALL
  SELECT d.collection_name, dc.entity_code, d.death_id, d.how, d.died_at, d.dot_origin, d.actor, dc.rekeyed_to
  FROM entity_death d JOIN entity_death_code dc ON dc.death_id = d.death_id
  WHERE d.filed AND d.entity_code IS NULL AND (p_collections IS NULL OR d.collection_name = ANY (p_collections))
    AND d.how <> 'rollback'
  UNION ALL
  SELECT d.collection_name, u.code, d.death_id, d.how, d.died_at, d.dot_origin, d.actor, u.rekeyed_to
  FROM entity_death d, unnest(d.codes, d.rekeyed_to) AS u(code, rekeyed_to)
  WHERE NOT d.filed AND (p_collections IS NULL OR d.collection_name = ANY (p_collections))
    AND d.how <> 'rollback'
$$;

-- The deaths of one code in its collection, oldest first (index lookups, and the few big
-- deaths not filed yet).
CREATE OR REPLACE FUNCTION deaths_of(p_code text, p_collection text)
RETURNS TABLE (death_id bigint, how death_kind, died_at timestamptz, dot_origin text, actor text,
               rekeyed_to text)
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT d.death_id, d.how, d.died_at, d.dot_origin, d.actor, d.rekeyed_to[1]
  FROM entity_death d
  WHERE d.entity_code = p_code AND d.collection_name = p_collection
  UNION ALL
  SELECT d.death_id, d.how, d.died_at, d.dot_origin, d.actor, dc.rekeyed_to
  FROM entity_death_code dc JOIN entity_death d ON d.death_id = dc.death_id
  WHERE dc.entity_code = p_code AND d.collection_name = p_collection
  UNION ALL
  SELECT d.death_id, d.how, d.died_at, d.dot_origin, d.actor, u.rekeyed_to
  FROM entity_death d, unnest(d.codes, d.rekeyed_to) AS u(code, rekeyed_to)
  WHERE NOT d.filed AND d.collection_name = p_collection AND u.code = p_code
  ORDER BY 1
$$;

-- The rollbacks that removed a birth of p_code, in any collection, oldest first: the
-- collection, when, by whom and which run (the code's own index rows, and the few unfiled).
CREATE OR REPLACE FUNCTION rollbacks_of(p_code text)
RETURNS TABLE (collection_name text, died_at timestamptz, actor text, run_id bigint)
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT d.collection_name, d.died_at, d.actor, d.run_id
  FROM entity_death_code dc JOIN entity_death d ON d.death_id = dc.death_id
  WHERE dc.entity_code = p_code AND d.how = 'rollback'
  UNION ALL
  SELECT d.collection_name, d.died_at, d.actor, d.run_id
  FROM entity_death d
  WHERE NOT d.filed AND d.how = 'rollback' AND p_code = ANY (d.codes)
  ORDER BY 2
$$;

-- Records the re-key of one row (natal_birth_update): the old code dies "re-keyed to" the new.
CREATE OR REPLACE FUNCTION record_rekey(p_collection text, p_origin text, p_old text, p_new text) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  INSERT INTO entity_death (collection_name, how, dot_origin, codes, rekeyed_to, entity_code, filed)
  VALUES (p_collection, 'rekey', p_origin, ARRAY[p_old], ARRAY[p_new], p_old, true);
END
$$;
