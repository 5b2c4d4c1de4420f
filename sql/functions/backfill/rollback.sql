-- Rollback: as in 0007, with the operation in every test of a birth's run.
CREATE OR REPLACE FUNCTION rollback_run(p_run bigint, p_dry_run boolean DEFAULT false)
RETURNS TABLE (collection_name text, born bigint, removed bigint, gap_after bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  r backfill_run;
  v_actor text := actor();
  counts jsonb;
  c collection_registry;
  left_over bigint;
BEGIN
  PERFORM assert_natal_role('operator');
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
    -- The removed codes stay findable (natal show): one 'rollback' row per collection, its
    -- codes filed by the next inspection like a big death's (0018).
    WITH removed AS (
      DELETE FROM birth_registry b WHERE b.run_id = p_run AND b.operation = 'backfill'
      RETURNING b.collection_name, b.entity_code
    ), filed AS (
      INSERT INTO entity_death (collection_name, how, dot_origin, codes, run_id, filed)
      SELECT x.collection_name, 'rollback', format('natal:rollback of run %s', p_run), array_agg(x.entity_code), p_run, false
      FROM removed x GROUP BY x.collection_name
      RETURNING cardinality(codes) AS n
    )
    SELECT COALESCE(sum(n), 0) INTO left_over FROM filed;
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
