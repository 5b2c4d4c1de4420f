-- Rehearsal: in one transaction, apply the plan, check births = expected per collection,
-- apply again (rerun delta must be 0), check nothing outside the plan moved (births of
-- other collections, row counts of governed tables), inspect, and roll it all back. Then a
-- REHEARSAL ledger row per collection with the numbers, and the net births (0). The
-- summary row keeps the fingerprint rehearsed and, when it failed, why and what to do:
-- review, permit and apply need the latest rehearsal of the plan's fingerprint to have
-- passed (assert_rehearsed).
CREATE OR REPLACE FUNCTION rehearse(p_plan bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  p backfill_plan := find_plan(p_plan);
  names text[] := plan_collections(p_plan);
  v_actor text := actor();
  total_before bigint;
  total_after bigint;
  outside_before jsonb;
  outside_after jsonb;
  v_run bigint;
  b record;
  per jsonb := '{}';
  result jsonb;
  v_detail text;
BEGIN
  PERFORM assert_natal_role('operator');
  PERFORM assert_plan_intact(p);
  IF p.status <> 'planned' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = format('plan %s is %s; only a planned plan is rehearsed', p_plan, p.status),
      HINT = 'make a new plan: natal plan';
  END IF;
  -- A plan partly applied would rehearse short and, as its latest rehearsal, stop the resume.
  SELECT r.run_id INTO v_run FROM backfill_run r WHERE r.plan_id = p_plan AND r.status = 'running' AND NOT r.rehearsal;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017',
      MESSAGE = format('run %s of plan %s was interrupted; a plan is rehearsed before it is applied', v_run, p_plan),
      HINT = format('resume it: natal apply %s --resume %s (or roll it back: natal rollback %s)', p_plan, v_run, v_run);
  END IF;
  SELECT count(*) INTO total_before FROM birth_registry;
  BEGIN
    outside_before := outside_plan(names);
    INSERT INTO backfill_run (plan_id, actor, batch_size, rehearsal, cursor)
    VALUES (p_plan, v_actor, 2147483647, true,
            jsonb_build_object('collection', names[1], 'after', NULL, 'done', '[]'::jsonb,
                               'born', '{}'::jsonb, 'failed', '{}'::jsonb, 'batches', 0))
    RETURNING run_id INTO v_run;
    FOR b IN SELECT * FROM generate_series(1, cardinality(names)) LOOP
      PERFORM apply_batch(v_run, NULL, true);
    END LOOP;
    SELECT cursor INTO result FROM backfill_run WHERE run_id = v_run;
    per := jsonb_build_object('born', result->'born', 'failed', result->'failed');
    -- the second pass: a rerun of the same plan must birth nothing
    UPDATE backfill_run
    SET cursor = jsonb_build_object('collection', names[1], 'after', NULL, 'done', '[]'::jsonb,
                                    'born', '{}'::jsonb, 'failed', '{}'::jsonb, 'batches', 0)
    WHERE run_id = v_run;
    FOR b IN SELECT * FROM generate_series(1, cardinality(names)) LOOP
      PERFORM apply_batch(v_run, NULL, true);
    END LOOP;
    SELECT cursor INTO result FROM backfill_run WHERE run_id = v_run;
    per := per || jsonb_build_object('rerun', result->'born');
    outside_after := outside_plan(names);
    per := per || jsonb_build_object('outside_moved', outside_after IS DISTINCT FROM outside_before,
                                     'outside_before', outside_before, 'outside_after', outside_after);
    RAISE EXCEPTION USING ERRCODE = 'NB0RH', MESSAGE = 'rehearsal rolled back', DETAIL = per::text;
  EXCEPTION WHEN SQLSTATE 'NB0RH' THEN
    GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
    per := v_detail::jsonb;
  END;
  SELECT count(*) INTO total_after FROM birth_registry;
  PERFORM rehearsal_tidy(names);
  result := jsonb_build_object('plan_id', p_plan, 'net_births', total_after - total_before,
                               'outside_moved', (per->>'outside_moved')::boolean, 'collections',
    (SELECT COALESCE(jsonb_agg(jsonb_build_object(
              'collection', i.collection_name, 'expected', i.expected,
              'born', COALESCE((per->'born'->>i.collection_name)::bigint, 0),
              'rerun_delta', COALESCE((per->'rerun'->>i.collection_name)::bigint, 0),
              'inspection_failed', COALESCE((per->'failed'->>i.collection_name)::bigint, 0))
            ORDER BY i.collection_name), '[]')
     FROM backfill_plan_item i WHERE i.plan_id = p_plan));
  result := result || jsonb_build_object('ok',
    NOT (result->>'outside_moved')::boolean AND (result->>'net_births')::bigint = 0
    AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(result->'collections') AS x
                    WHERE (x->>'born')::bigint <> (x->>'expected')::bigint OR (x->>'rerun_delta')::bigint <> 0
                       OR (x->>'inspection_failed')::bigint <> 0));
  result := result || jsonb_build_object('fingerprint', p.fingerprint)
                    || COALESCE(rehearsal_failure(p_plan, result), jsonb_build_object('why', NULL, 'next', NULL));
  INSERT INTO birth_backfill_ledger (step, plan_id, collection_name, actor, dry_run, expected, actual, rerun_delta, detail)
  SELECT 'REHEARSAL', p_plan, x->>'collection', v_actor, true, (x->>'expected')::bigint, (x->>'born')::bigint,
         (x->>'rerun_delta')::bigint, jsonb_build_object('inspection_failed', (x->>'inspection_failed')::bigint)
  FROM jsonb_array_elements(result->'collections') AS x;
  INSERT INTO birth_backfill_ledger (step, plan_id, actor, dry_run, expected, actual, rerun_delta, detail)
  VALUES ('REHEARSAL', p_plan, v_actor, true, p.expected_total,
          (SELECT COALESCE(sum((x->>'born')::bigint), 0) FROM jsonb_array_elements(result->'collections') AS x),
          (SELECT COALESCE(sum((x->>'rerun_delta')::bigint), 0) FROM jsonb_array_elements(result->'collections') AS x),
          jsonb_build_object('net_births', result->'net_births', 'outside_moved', result->'outside_moved',
                             'ok', result->'ok', 'rolled_back', true, 'fingerprint', p.fingerprint,
                             'why', result->'why', 'next', result->'next'));
  RETURN result;
END
$$;

-- What must not move when a plan is applied: the births of every other collection, and the
-- row count of every governed table (natal's catalog tables aside).
CREATE OR REPLACE FUNCTION outside_plan(p_collections text[]) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  counts text;
  result jsonb;
BEGIN
  -- (each table read as its owner: owner_read.sql)
  SELECT string_agg(format('SELECT %L AS k, r.n FROM %s', r.collection_name,
                           owner_rows_sql(collection_table(r), format('SELECT count(*) FROM %s', collection_table(r)),
                                          'r(n bigint)')), ' UNION ALL ')
    INTO counts
  FROM collection_registry r
  WHERE r.governance_role = 'governed' AND collection_table(r) IS NOT NULL AND r.table_schema <> natal_schema();
  EXECUTE format('SELECT COALESCE(jsonb_object_agg(k, n), ''{}'') FROM (%s) AS x',
                 COALESCE(counts, 'SELECT NULL::text AS k, 0 AS n WHERE false')) INTO result;
  RETURN jsonb_build_object('rows', result, 'other_births',
    (SELECT count(*) FROM birth_registry b WHERE NOT (b.collection_name = ANY (p_collections))));
END
$$;

-- Why a rehearsal failed and what to do about it, from its numbers (rehearse()'s result:
-- collections[] with expected, born, rerun_delta, inspection_failed; net_births;
-- outside_moved): {why, next}, one line each; NULL when it passed.
CREATE OR REPLACE FUNCTION rehearsal_failure(p_plan bigint, p_result jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  x jsonb;
  why text[] := '{}';
  gap text;
  inspection text;
  rerun text;
BEGIN
  FOR x IN SELECT * FROM jsonb_array_elements(COALESCE(p_result->'collections', '[]')) LOOP
    IF (x->>'born')::bigint <> (x->>'expected')::bigint THEN
      why := why || format('%s: %s born of %s expected', x->>'collection', x->>'born', x->>'expected');
      gap := COALESCE(gap, x->>'collection');
    END IF;
    IF (x->>'rerun_delta')::bigint <> 0 THEN
      why := why || format('%s: a second pass birthed %s more (rerun delta)', x->>'collection', x->>'rerun_delta');
      rerun := COALESCE(rerun, x->>'collection');
    END IF;
    IF COALESCE((x->>'inspection_failed')::bigint, 0) <> 0 THEN
      why := why || format('%s: %s birth(s) failed inspection', x->>'collection', x->>'inspection_failed');
      inspection := COALESCE(inspection, x->>'collection');
    END IF;
  END LOOP;
  IF COALESCE((p_result->>'outside_moved')::boolean, false) THEN
    why := why || 'rows or births outside the plan moved while it ran'::text;
  END IF;
  IF COALESCE((p_result->>'net_births')::bigint, 0) <> 0 THEN
    why := why || format('net births %s, not 0', p_result->>'net_births');
  END IF;
  IF cardinality(why) = 0 THEN
    RETURN NULL;
  END IF;
  RETURN jsonb_build_object(
    'why', array_to_string(why[1:3], '; ')
           || CASE WHEN cardinality(why) > 3 THEN format('; and %s more', cardinality(why) - 3) ELSE '' END,
    'next', CASE
      WHEN gap IS NOT NULL THEN
        format('the rows of %s without a birth are not those planned (rows added or removed since): make a new plan (natal plan), then rehearse it', gap)
      WHEN inspection IS NOT NULL THEN
        format('natal preflight %s shows what to fix; then make a new plan (natal plan) and rehearse it', inspection)
      WHEN rerun IS NOT NULL THEN
        format('the identity of %s does not give each row one code (natal collection list %s); fix it, then make a new plan (natal plan) and rehearse it', rerun, rerun)
      ELSE format('something else wrote while it ran: rehearse again when it is quiet: natal rehearse %s', p_plan)
    END);
END
$$;

-- After a rehearsal's rollback its births are dead, but their entries stay in the registry's
-- index until a VACUUM (which natal cannot run: it needs the table's owner, outside a
-- transaction), and the apply that follows would meet one at every unique check, a heap
-- visit each: measured, that made the apply of 1,000,000 births about 40% slower
-- (docs/BENCHMARKS.md). An index scan that meets a dead entry marks it so in the index, and
-- the apply then passes over it; so the rehearsal scans what it wrote. A keyed or legacy
-- identity's codes start with the collection's name ('name::…', 'name~…'): one range of the
-- index each. A code column's codes are anywhere in it: one probe per row of the table.
-- (Under a collation that does not sort those prefixes together, less is marked: the apply
-- is slower, never wrong.)
CREATE OR REPLACE FUNCTION rehearsal_tidy(p_collections text[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_bitmapscan = off SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
  c collection_registry;
  pfx text;
  n bigint;
BEGIN
  FOR c IN SELECT * FROM collection_registry r WHERE r.collection_name = ANY (p_collections)
                                                 AND collection_table(r) IS NOT NULL
                                                 AND entity_code_sql(r, 't') IS NOT NULL LOOP
    IF c.birth_code_strategy = 'column' THEN
      PERFORM set_config('enable_seqscan', 'on', true);
      EXECUTE format('SELECT count(*) FROM %s WHERE EXISTS (SELECT 1 FROM birth_registry b WHERE b.entity_code = e.code)',
                     owner_rows_sql(collection_table(c), format('SELECT %s FROM %s AS t', entity_code_sql(c, 't'),
                                                                collection_table(c)), 'e(code text)')) INTO n;
      PERFORM set_config('enable_seqscan', 'off', true);
    ELSE
      FOREACH pfx IN ARRAY ARRAY[c.collection_name || '::', c.collection_name || '~'] LOOP
        SELECT count(*) INTO n FROM birth_registry b
        WHERE b.entity_code >= pfx AND b.entity_code < left(pfx, -1) || chr(ascii(right(pfx, 1)) + 1);
      END LOOP;
    END IF;
  END LOOP;
END
$$;
