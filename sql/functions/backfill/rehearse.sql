-- Rehearsal: in one transaction, apply the plan, check births = expected per collection,
-- apply again (rerun delta must be 0), check nothing outside the plan moved (births of
-- other collections, row counts of governed tables), inspect, and roll it all back. Then a
-- REHEARSAL ledger row per collection with the numbers, and the net births (0).
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
  INSERT INTO birth_backfill_ledger (step, plan_id, collection_name, actor, dry_run, expected, actual, rerun_delta, detail)
  SELECT 'REHEARSAL', p_plan, x->>'collection', v_actor, true, (x->>'expected')::bigint, (x->>'born')::bigint,
         (x->>'rerun_delta')::bigint, jsonb_build_object('inspection_failed', (x->>'inspection_failed')::bigint)
  FROM jsonb_array_elements(result->'collections') AS x;
  INSERT INTO birth_backfill_ledger (step, plan_id, actor, dry_run, expected, actual, rerun_delta, detail)
  VALUES ('REHEARSAL', p_plan, v_actor, true, p.expected_total,
          (SELECT COALESCE(sum((x->>'born')::bigint), 0) FROM jsonb_array_elements(result->'collections') AS x),
          (SELECT COALESCE(sum((x->>'rerun_delta')::bigint), 0) FROM jsonb_array_elements(result->'collections') AS x),
          jsonb_build_object('net_births', result->'net_births', 'outside_moved', result->'outside_moved',
                             'ok', result->'ok', 'rolled_back', true));
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
  SELECT string_agg(format('SELECT %L AS k, count(*) AS n FROM %s', r.collection_name, collection_table(r)), ' UNION ALL ')
    INTO counts
  FROM collection_registry r
  WHERE r.governance_role = 'governed' AND collection_table(r) IS NOT NULL AND r.table_schema <> natal_schema();
  EXECUTE format('SELECT COALESCE(jsonb_object_agg(k, n), ''{}'') FROM (%s) AS x',
                 COALESCE(counts, 'SELECT NULL::text AS k, 0 AS n WHERE false')) INTO result;
  RETURN jsonb_build_object('rows', result, 'other_births',
    (SELECT count(*) FROM birth_registry b WHERE NOT (b.collection_name = ANY (p_collections))));
END
$$;
