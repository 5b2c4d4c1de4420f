-- natal 0013: the auto-birth trigger's small path, taken for the statements it was meant for.
-- 0012 took a statement to be small while pg_stat_get_xact_tuples_inserted(TG_RELID) < 16,
-- reading it as "rows inserted by this transaction". On every PostgreSQL natal runs on (15 on
-- the server, 18 in PGlite) it counts the rows the session has inserted since it last
-- reported statistics, and a session reports at most once a second. A session inserting
-- one row per statement passes 16 within a second, and from then on every single-row
-- insert ran the count query 0012 meant to skip (perf: 5-8% of a wired single-row insert).
-- The count is still an upper bound on the statement's rows, so the trigger now trusts it
-- up to 4096: while it is below that, the statement (which then has fewer rows) takes
-- INSERT … ON CONFLICT DO NOTHING, right for any number of rows; from 4096 on, the count
-- query decides as before. Wired collections are re-wired so that their triggers use the
-- new body. Below: the registry's last CHECK, and what relied on it.

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
             ELSE E'\n  IF NOT small THEN\n    small := (SELECT count(*) FROM (SELECT 1 FROM natal_new LIMIT 16) AS s) < 16;\n  END IF;' END);
  END IF;
END
$$;

-- The last CHECK on birth_registry goes too (0012 dropped three): each birth insert
-- re-read and prepared it, about 3.7 µs per statement in a wired single-row insert (perf),
-- twice per gateway call. It said a birth carries a run id exactly when a backfill made it.
-- What relied on it now says so itself: rollback (and a resumed apply's measure) takes a
-- run's births by run id *and* operation, so a hand-written birth carrying a run id is
-- never removed with the run nor taken for one of its births, and
-- inspection fails a birth whose run id and operation disagree (and one with an empty origin).
ALTER TABLE birth_registry DROP CONSTRAINT birth_backfill_has_run;

-- A resumed apply's measure (0007) counts the births its run made as missing: those are
-- the run's *backfill* births, now that a hand-written birth may carry the run's id too.
CREATE OR REPLACE FUNCTION backfill_measure(c collection_registry, p_run bigint DEFAULT NULL,
                                 OUT expected bigint, OUT checksum text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  unborn boolean := false;
BEGIN
  IF c.birth_code_strategy IN ('synthetic_id', 'composite') THEN
    SELECT NOT EXISTS (SELECT 1 FROM birth_registry b
                       WHERE (b.collection_name = c.collection_name
                              OR starts_with(b.entity_code, c.collection_name || '::'))
                         AND (p_run IS NULL OR b.run_id IS DISTINCT FROM p_run OR b.operation <> 'backfill'))
      INTO unborn;
  END IF;
  IF unborn THEN
    EXECUTE format('SELECT count(*), COALESCE(sum(%s), 0)::text FROM %s AS t',
                   checksum_sql(c, 't'), collection_table(c))
      INTO expected, checksum;
    RETURN;
  END IF;
  EXECUTE format($q$
    SELECT count(g.code), COALESCE(sum(g.h), 0)::text
    FROM (SELECT %s AS code, %s AS h FROM %s AS t) AS g
    WHERE NOT EXISTS (SELECT 1 FROM birth_registry b
                      WHERE b.entity_code = g.code %s)
  $q$, entity_code_sql(c, 't'), checksum_sql(c, 't'), collection_table(c),
       CASE WHEN p_run IS NULL THEN '' ELSE format('AND (b.run_id IS DISTINCT FROM %s OR b.operation <> ''backfill'')', p_run) END)
  INTO expected, checksum;
END
$$;


-- Rollback: as in 0007, with the operation in every test of a birth's run.
CREATE OR REPLACE FUNCTION rollback_run(p_run bigint, p_dry_run boolean DEFAULT false)
RETURNS TABLE (collection_name text, born bigint, removed bigint, gap_after bigint)
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  r backfill_run;
  v_actor text := actor();
  counts jsonb;
  c collection_registry;
  left_over bigint;
BEGIN
  SELECT * INTO r FROM backfill_run WHERE run_id = p_run FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB015', MESSAGE = format('run %s does not exist', p_run), HINT = 'natal ledger';
  END IF;
  IF r.status = 'rolled_back' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB020', MESSAGE = format('run %s was already rolled back', p_run),
      HINT = 'natal ledger --run RUN';
  END IF;
  IF r.status = 'running' AND apply_lock_holder() IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB019', MESSAGE = format('an apply is running (backend pid %s)', apply_lock_holder()),
      HINT = 'wait for it to finish, then roll back';
  END IF;
  PERFORM assert_thawed(plan_collections(r.plan_id));
  PERFORM refresh_registry_stats();
  SELECT COALESCE(jsonb_object_agg(x.collection_name, x.n), '{}') INTO counts
  FROM (SELECT b.collection_name, count(*) AS n FROM birth_registry b WHERE b.run_id = p_run AND b.operation = 'backfill' GROUP BY 1) AS x;
  IF NOT p_dry_run THEN
    DELETE FROM birth_registry b WHERE b.run_id = p_run AND b.operation = 'backfill';
    GET DIAGNOSTICS left_over = ROW_COUNT;
    IF left_over <> (SELECT COALESCE(sum(v::bigint), 0) FROM jsonb_each_text(counts) AS e(k, v))
       OR EXISTS (SELECT 1 FROM birth_registry b WHERE b.run_id = p_run AND b.operation = 'backfill') THEN
      RAISE EXCEPTION USING ERRCODE = 'NB020', MESSAGE = format('rollback of run %s did not remove exactly its births', p_run),
        HINT = 'nothing was changed; report this';
    END IF;
  END IF;
  FOR c IN SELECT cr.* FROM collection_registry cr WHERE cr.collection_name = ANY (plan_collections(r.plan_id))
           ORDER BY cr.collection_name LOOP
    collection_name := c.collection_name;
    born := COALESCE((r.cursor->'born'->>c.collection_name)::bigint, 0);
    removed := COALESCE((counts->>c.collection_name)::bigint, 0);
    IF born <> removed AND NOT p_dry_run THEN
      RAISE EXCEPTION USING ERRCODE = 'NB020',
        MESSAGE = format('run %s recorded %s births of %s but %s backfill births carry its id; nothing was removed', p_run, born,
                         c.collection_name, removed),
        HINT = 'inspect the registry before rolling back';
    END IF;
    gap_after := CASE WHEN p_dry_run OR backfill_refusal(c) IS NOT NULL THEN NULL ELSE (backfill_measure(c)).expected END;
    IF NOT p_dry_run THEN
      INSERT INTO birth_backfill_ledger (step, plan_id, run_id, collection_name, actor, dry_run, expected, actual, detail)
      VALUES ('ROLLBACK', r.plan_id, p_run, c.collection_name, v_actor, false, born, removed,
              jsonb_build_object('gap_after', gap_after));
    END IF;
    RETURN NEXT;
  END LOOP;
  IF NOT p_dry_run THEN
    UPDATE backfill_run SET status = 'rolled_back', finished_at = now() WHERE run_id = p_run;
    UPDATE backfill_plan SET status = 'superseded' WHERE plan_id = r.plan_id;
  END IF;
END
$$;


-- Inspection: as in 0005, with three more failures a CHECK no longer refuses on write.
CREATE OR REPLACE FUNCTION inspect(p_collections text[] DEFAULT NULL, p_recheck boolean DEFAULT false)
RETURNS TABLE (collection_name text, checked bigint, passed bigint, failed bigint, failures jsonb)
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry;
  sp entity_species;
  rel regclass;
  code_sql text;
  entities text;
BEGIN
  FOR c IN
    SELECT r.* FROM collection_registry r
    WHERE p_collections IS NULL OR r.collection_name = ANY (p_collections)
    ORDER BY r.collection_name
  LOOP
    sp := collection_species(c.collection_name);
    rel := collection_table(c);
    code_sql := entity_code_sql(c, 't');
    -- The codes of the rows that exist, or an empty set when they cannot be known.
    entities := CASE WHEN rel IS NULL OR code_sql IS NULL THEN 'SELECT NULL::text AS code WHERE false'
                     ELSE format('SELECT %s AS code FROM %s AS t', code_sql, rel) END;
    EXECUTE format($q$
      WITH target AS (
        SELECT b.entity_code,
          CASE
            WHEN s.species_code IS NULL THEN 'species ' || b.species_code || ' does not exist'
            WHEN $2::text IS NULL THEN 'collection is not in the species map'
            WHEN b.species_code <> $2 THEN 'species ' || b.species_code || ' is not the mapped species ' || $2
            WHEN b.composition_level <> s.composition_level THEN
              'composition level ' || b.composition_level || ' is not the species'' ' || s.composition_level
            WHEN NOT EXISTS (SELECT 1 FROM unnest($3::text[]) AS p
                             WHERE left(b.entity_code, length(p)) = p) THEN
              'code does not match the ' || $4 || ' identity (expected a prefix of '
              || COALESCE(array_to_string($3::text[], ' or '), 'none') || ')'
            WHEN b.run_id IS NOT NULL AND b.operation <> 'backfill' THEN
              'run id ' || b.run_id || ' on a ' || b.operation || ' birth (only a backfill''s births carry one)'
            WHEN b.run_id IS NULL AND b.operation = 'backfill' THEN 'backfill birth without a run id'
            WHEN b.dot_origin = '' THEN 'empty dot_origin'
            WHEN e.code IS NULL THEN 'entity does not exist' || CASE WHEN $5 THEN '' ELSE ' (no table)' END
          END AS reason
        FROM birth_registry b
        LEFT JOIN entity_species s ON s.species_code = b.species_code
        LEFT JOIN (%s) AS e ON e.code = b.entity_code
        WHERE b.collection_name = $1 AND ($6 OR b.inspection_status <> 'passed')
      ),
      judged AS (
        UPDATE birth_registry b
        SET inspection_status = CASE WHEN t.reason IS NULL THEN 'passed' ELSE 'failed' END::inspection_status,
            inspected_at = now(), inspection_note = t.reason
        FROM target t WHERE b.entity_code = t.entity_code
        RETURNING b.entity_code, t.reason
      )
      SELECT count(*), count(*) FILTER (WHERE reason IS NULL), count(*) FILTER (WHERE reason IS NOT NULL),
             COALESCE(jsonb_agg(jsonb_build_object('entity_code', entity_code, 'reason', reason)
                                ORDER BY entity_code) FILTER (WHERE reason IS NOT NULL), '[]'::jsonb)
      FROM judged
    $q$, entities)
    INTO checked, passed, failed, failures
    USING c.collection_name, sp.species_code, accepted_code_prefixes(c, sp),
          c.birth_code_strategy::text, rel IS NOT NULL, p_recheck;
    collection_name := c.collection_name;
    RETURN NEXT;
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
                 'p_origin text DEFAULT NULL) RETURNS jsonb LANGUAGE plpgsql AS %L', ns,
    CASE WHEN branches IS NULL THEN format('BEGIN RETURN %s.gateway_refusal(p_collection); END', ns)
         ELSE format(E'BEGIN\n  CASE p_collection\n%s\n    ELSE RETURN %s.gateway_refusal(p_collection);\n  END CASE;\nEND',
                     branches, ns)
    END);
END
$$;

SELECT rewire_if_wired(collection_name) FROM wired_trigger ORDER BY collection_name;
SELECT regenerate_create_entity();
