-- One apply at a time per registry. apply_lock names the session applying: its backend pid
-- and a random advisory key it took at session level (so a killed session frees it). The
-- lock is alive while that pid holds that key in this database (pg_locks.database): only
-- natal's definer writes apply_lock, and a key anyone else takes is held by another pid,
-- so no other database and no role outside natal can take or fake it.
CREATE OR REPLACE FUNCTION apply_lock_holder() RETURNS integer
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT k.pid FROM apply_lock k
  WHERE k.pid <> 0 AND EXISTS (
    SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.pid = k.pid AND l.classid = 28257::oid
      AND l.objsubid = 2 AND l.objid::bigint = (k.lock_key::bigint & 4294967295)
      AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()))
$$;

-- The run the live lock holder is applying (NULL when no apply holds the lock).
CREATE OR REPLACE FUNCTION apply_lock_run() RETURNS bigint
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$ SELECT k.run_id FROM apply_lock k WHERE apply_lock_holder() IS NOT NULL $$;

-- Takes the lock for this session, or refuses; returns the advisory key it holds. Two
-- sessions taking it at once wait on apply_lock's row, and the second sees the first.
CREATE OR REPLACE FUNCTION apply_lock_take() RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  k integer;
BEGIN
  PERFORM 1 FROM apply_lock FOR UPDATE;
  IF apply_lock_holder() = pg_backend_pid() THEN
    RAISE EXCEPTION USING ERRCODE = 'NB019', MESSAGE = 'this session is already applying a plan',
      HINT = 'finish that apply first';
  END IF;
  IF apply_lock_holder() IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB019',
      MESSAGE = format('another apply is running (backend pid %s)', apply_lock_holder()),
      HINT = 'wait for it to finish, then try again';
  END IF;
  LOOP
    k := floor(random() * 2147483647)::integer;
    EXIT WHEN pg_try_advisory_lock(28257, k);
  END LOOP;
  UPDATE apply_lock SET pid = pg_backend_pid(), lock_key = k, run_id = NULL, taken_by = actor(), taken_at = now();
  RETURN k;
END
$$;

-- Gives the lock back when this session holds it (apply_finish, or after a failed batch).
CREATE OR REPLACE FUNCTION apply_lock_give() RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  -- (the row first, as apply_lock_take takes it: a session that would take the lock waits for
  -- this one to commit. Released the other way, advisory lock first, a session could take the
  -- lock between the two steps and then have its ownership wiped by this UPDATE.)
  PERFORM 1 FROM apply_lock FOR UPDATE;
  IF apply_lock_holder() IS DISTINCT FROM pg_backend_pid() THEN
    RETURN false;
  END IF;
  UPDATE apply_lock SET pid = 0, run_id = NULL WHERE pid = pg_backend_pid();
  PERFORM pg_advisory_unlock(28257, (SELECT k.lock_key FROM apply_lock k));
  RETURN true;
END
$$;

-- A run that commits running must have passed the gate: checked at commit (a deferred
-- constraint trigger), so a run row written around apply_begin, or a rehearsal-mode write
-- into one, cannot commit births for a plan that is not approved, is frozen or applied,
-- or while no apply holds the lock for it. A rehearsal's run never commits: one that
-- reaches a commit is refused.
CREATE OR REPLACE FUNCTION run_gate() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  r backfill_run;
BEGIN
  SELECT * INTO r FROM backfill_run WHERE run_id = NEW.run_id;
  IF FOUND AND r.rehearsal THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = format('run %s is a rehearsal, and a rehearsal is never committed', r.run_id),
      HINT = format('rehearse with natal rehearse %s; apply with natal apply %s', r.plan_id, r.plan_id);
  END IF;
  IF FOUND AND r.status = 'running' THEN
    PERFORM assert_apply_allowed(find_plan(r.plan_id));
    IF apply_lock_run() IS DISTINCT FROM r.run_id THEN
      RAISE EXCEPTION USING ERRCODE = 'NB019', MESSAGE = format('run %s is written by no apply', r.run_id),
        HINT = format('natal apply %s', r.plan_id);
    END IF;
  END IF;
  RETURN NULL;
END
$$;

-- Starts (or, with p_resume, resumes) an apply of a plan: the gate, the lock, the staleness
-- check (the gap is recomputed and must be exactly the planned one), then a run row whose
-- cursor the batches advance. Refusals write nothing.
CREATE OR REPLACE FUNCTION apply_begin(p_plan bigint, p_batch_size integer, p_resume bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  p backfill_plan := find_plan(p_plan);
  r backfill_run;
  v_actor text := actor();
  stale record;
  live jsonb;
  lock_key integer;
  so_far bigint;
BEGIN
  PERFORM assert_natal_role('operator');
  IF p_batch_size IS NULL OR p_batch_size < 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = 'batch size must be a positive number',
      HINT = 'natal apply PLAN --batch-size N';
  END IF;
  PERFORM assert_apply_allowed(p);
  lock_key := apply_lock_take();
  BEGIN
    PERFORM refresh_registry_stats();
    IF p_resume IS NULL THEN
      SELECT * INTO r FROM backfill_run WHERE plan_id = p_plan AND status = 'running';
      IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'NB017',
          MESSAGE = format('run %s of plan %s was interrupted', r.run_id, p_plan),
          HINT = format('resume it: natal apply %s --resume %s (or roll it back: natal rollback %s)', p_plan, r.run_id, r.run_id);
      END IF;
    ELSE
      SELECT * INTO r FROM backfill_run WHERE run_id = p_resume;
      IF NOT FOUND OR r.plan_id <> p_plan THEN
        RAISE EXCEPTION USING ERRCODE = 'NB015', MESSAGE = format('run %s is not a run of plan %s', p_resume, p_plan),
          HINT = 'natal ledger --plan PLAN lists its runs';
      ELSIF r.status <> 'running' THEN
        RAISE EXCEPTION USING ERRCODE = 'NB015', MESSAGE = format('run %s is %s; only an interrupted run resumes', p_resume, r.status),
          HINT = 'natal ledger --run RUN';
      END IF;
    END IF;
    -- (a new run measures its gap range by range as it pins them, below)
    live := live_items(p_plan, p_resume, p_resume IS NOT NULL);
    SELECT s.collection_name, s.planned, s.live INTO stale
    FROM (SELECT x->>'collection' AS collection_name, x AS planned,
                 (SELECT l FROM jsonb_array_elements(live) AS l
                  WHERE l->>'collection' = x->>'collection') AS live
          FROM jsonb_array_elements(stored_items(p_plan)) AS x) AS s
    WHERE s.live IS DISTINCT FROM s.planned
    LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'NB018',
        MESSAGE = format('plan %s is stale: %s', p_plan,
          CASE WHEN stale.live IS NULL OR stale.live->>'expected' IS NULL
                 THEN format('%s cannot be backfilled now (%s)', stale.collection_name, stale.live->>'identity')
               WHEN stale.live->>'identity' <> stale.planned->>'identity'
                 THEN format('the identity or species of %s changed since planning', stale.collection_name)
               WHEN stale.live->>'expected' <> stale.planned->>'expected'
                 THEN format('%s planned %s births, its gap is now %s', stale.collection_name,
                             stale.planned->>'expected', stale.live->>'expected')
               ELSE format('the missing codes of %s changed since planning (same count, other codes)', stale.collection_name)
          END),
        HINT = 'make a new plan: natal plan';
    END IF;
    IF p_resume IS NULL THEN
      INSERT INTO backfill_run (plan_id, actor, batch_size, cursor)
      VALUES (p_plan, v_actor, p_batch_size,
              jsonb_build_object('collection', (plan_collections(p_plan))[1], 'after', NULL, 'done', '[]'::jsonb,
                                 'born', '{}'::jsonb, 'failed', '{}'::jsonb, 'batches', 0, 'part', 1))
      RETURNING * INTO r;
      PERFORM pin_ranges(r);
    ELSE
      PERFORM check_pending_ranges(r);
      so_far := (SELECT COALESCE(sum(v::bigint), 0) FROM jsonb_each_text(r.cursor->'born') AS e(k, v));
      INSERT INTO birth_backfill_ledger (step, plan_id, run_id, actor, dry_run, actual, detail)
      VALUES ('APPLY', p_plan, r.run_id, r.actor, false, so_far,
              jsonb_build_object('part', COALESCE((r.cursor->>'part')::int, 1), 'ended', 'interrupted',
                                 'cursor', r.cursor, 'resumed_by', v_actor));
      UPDATE backfill_run
      SET batch_size = p_batch_size,
          cursor = jsonb_set(cursor, '{part}', to_jsonb(COALESCE((cursor->>'part')::int, 1) + 1))
      WHERE run_id = r.run_id RETURNING * INTO r;
    END IF;
    UPDATE apply_lock SET run_id = r.run_id;
  EXCEPTION WHEN OTHERS THEN
    PERFORM pg_advisory_unlock(28257, lock_key);
    RAISE;
  END;
  RETURN r.run_id;
END
$$;

-- A keyed collection whose namespace holds no birth yet, as in its first backfill, has every
-- row unborn, and a range needs no probe of the registry: this SQL says so, to be checked in
-- the statement that counts the rows (so in one snapshot with them); false for other keys.
CREATE OR REPLACE FUNCTION unborn_sql(c collection_registry) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT CASE WHEN c.birth_code_strategy IN ('synthetic_id', 'composite')
              -- (a subquery: evaluated once for the statement, not for each row)
              THEN format('(SELECT NOT %I.namespace_born(%L))', natal_schema(), c.collection_name || '::')
              ELSE 'false' END
$$;

-- The ranges a new run will write, each with the births the plan approved in it (the
-- exact set: their number and the checksum of their codes), pinned in backfill_range. They
-- add up to the plan's numbers, or the plan is stale.
CREATE OR REPLACE FUNCTION pin_ranges(r backfill_run) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry;
  i backfill_plan_item;
  got record;
  rel regclass;
BEGIN
  FOR i IN SELECT * FROM backfill_plan_item x WHERE x.plan_id = r.plan_id ORDER BY x.collection_name LOOP
    c := find_collection(i.collection_name);
    rel := collection_table(c);
    IF cardinality(key_columns(rel)) = 1
       AND (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = (key_columns(rel))[1])
           IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype, 'text'::regtype,
               'varchar'::regtype, 'date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype, 'uuid'::regtype) THEN
      PERFORM pin_ranges_by_bounds(r, c);
    ELSE
      EXECUTE format('INSERT INTO backfill_range (run_id, collection_name, seq, after_key, upto_key, expected, checksum) '
                     'SELECT %s, %L, seq, after_key, upto_key, expected, checksum FROM (%s) AS x',
                     r.run_id, c.collection_name, (backfill_batch_sql(c, false)).ranges)
        USING r.batch_size;
    END IF;
    SELECT count(*) AS n, sum(x.expected) AS expected, COALESCE(sum(x.checksum::numeric), 0)::text AS checksum INTO got
    FROM backfill_range x WHERE x.run_id = r.run_id AND x.collection_name = c.collection_name;
    IF got.expected IS DISTINCT FROM i.expected OR got.checksum IS DISTINCT FROM i.codes_checksum THEN
      RAISE EXCEPTION USING ERRCODE = 'NB018',
        MESSAGE = format('plan %s is stale: %s', r.plan_id,
          CASE WHEN got.expected IS DISTINCT FROM i.expected
                 THEN format('%s planned %s births, its gap is now %s', c.collection_name, i.expected, got.expected)
               ELSE format('the missing codes of %s changed since planning (same count, other codes)', c.collection_name)
          END),
        HINT = 'make a new plan: natal plan';
    END IF;
  END LOOP;
END
$$;

-- The same for a single-column key, range by range in key order through the key's index (as
-- an apply's batches take them): each range is the next $2 rows after the last one's upper
-- key, and one statement gives its upper key, its births and their checksum, so the table is
-- read once, in order, with no sort. (A range counts its rows as unborn without looking them
-- up while the namespace is empty: unborn_sql, in the same statement.) The last range runs to
-- the end of the table.
CREATE OR REPLACE FUNCTION pin_ranges_by_bounds(r backfill_run, c collection_registry) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  rel regclass := collection_table(c);
  col name := (key_columns(rel))[1];
  typ text := column_type(rel, col);  -- (a domain's base type: a cast to the domain runs its owner's checks)
  -- (uuid has no max(): its text, in byte order, orders as it does)
  upto text := CASE WHEN typ = 'uuid' THEN 'max((g.k)::text COLLATE "C")::uuid' ELSE 'max(g.k)' END;
  -- The next $2 rows after the cursor $1 in key order, read as the table's owner
  -- (owner_read.sql): their keys and checksums, and their codes when some may be born.
  key_sum text := format('(t.%I)::%s, %s', col, typ, checksum_sql(c, 't'));
  rows_from text := format(' FROM %1$s AS t WHERE $1[1] IS NULL OR t.%2$I > (($1[1]::jsonb)->>0)::%3$s '
                           'ORDER BY t.%2$I LIMIT ($1[2])::bigint', rel, col, typ);
  step text;
  after jsonb;
  got record;
  n integer := 0;
BEGIN
  -- (the key's JSON is native for these types, as backfill_batch_sql's bounds give it: what
  -- the apply's ranges cast back)
  -- While no birth is in the collection's namespace, every row is unborn, and the owner's
  -- query sums the range itself; else its rows are looked up. Which of the two is decided in
  -- the step's statement, from the snapshot its read takes (the reader is STABLE): a row
  -- born by a concurrent insert is in both or in neither.
  -- (the look at the namespace made once for the statement, in a CTE: a rehearsal rolled back
  -- leaves its births' index entries, dead, which each look walks until they are vacuumed)
  step := format($q$
    WITH ns AS MATERIALIZED (SELECT %3$s AS empty)
    SELECT r.upto, r.n, r.n AS expected, r.checksum FROM %1$s WHERE (SELECT ns.empty FROM ns)
    UNION ALL
    SELECT jsonb_build_array(%4$s) AS upto, count(*) AS n,
           count(*) FILTER (WHERE g.unborn) AS expected, COALESCE(sum(g.h) FILTER (WHERE g.unborn), 0)::text AS checksum
    FROM (SELECT e.k, e.h, NOT EXISTS (SELECT 1 FROM birth_registry x WHERE x.entity_code = e.code) AS unborn
          FROM %2$s) AS g
    WHERE NOT (SELECT ns.empty FROM ns) HAVING NOT (SELECT ns.empty FROM ns)
  $q$,
    owner_rows_sql(rel, format('SELECT jsonb_build_array(%s), count(*), COALESCE(sum(g.h), 0)::text FROM (%s) AS g(k, h)',
                               upto, 'SELECT ' || key_sum || rows_from),
                   'r(upto jsonb, n bigint, checksum text)', 'ARRAY[$1::text, $2::text]'),
    owner_rows_sql(rel, 'SELECT ' || key_sum || ', ' || entity_code_sql(c, 't') || rows_from,
                   format('e(k %s, h bigint, code text)', typ), 'ARRAY[$1::text, $2::text]'),
    unborn_sql(c), upto);
  LOOP
    n := n + 1;
    EXECUTE step INTO got USING after, r.batch_size;
    INSERT INTO backfill_range (run_id, collection_name, seq, after_key, upto_key, expected, checksum)
    VALUES (r.run_id, c.collection_name, n, after, CASE WHEN got.n = r.batch_size THEN got.upto END,
            got.expected, got.checksum);
    EXIT WHEN got.n < r.batch_size;
    after := got.upto;
  END LOOP;
END
$$;

-- A resumed run's ranges not yet written must still hold exactly the births approved there.
CREATE OR REPLACE FUNCTION check_pending_ranges(r backfill_run) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  x backfill_range;
  n bigint;
  cs text;
BEGIN
  FOR x IN SELECT * FROM backfill_range g WHERE g.run_id = r.run_id AND NOT g.done ORDER BY g.collection_name, g.seq LOOP
    EXECUTE (backfill_batch_sql(find_collection(x.collection_name), false)).range_births INTO n, cs USING x.after_key, x.upto_key;
    IF n <> x.expected OR cs <> x.checksum THEN
      RAISE EXCEPTION USING ERRCODE = 'NB018',
        MESSAGE = format('plan %s is stale: range %s of %s held %s approved births, it now holds %s other ones',
                         r.plan_id, x.seq, x.collection_name, x.expected, n),
        HINT = format('the births so far stay (natal rollback %s undoes them); make a new plan: natal plan', r.run_id);
    END IF;
  END LOOP;
END
$$;

-- The SQL of one batch of one collection, as two statements:
--  bounds: the key of the row $2 rows after the cursor ($1, a JSON array of key values;
--          NULL from the start) in primary-key order; NULL when fewer rows are left, and
--          always NULL for a table without a primary key (one batch).
--  ins:    the births of the rows after $1 up to and including $2 (to the end when NULL),
--          with run id $3. A plain INSERT: the plan excluded every code already born, so it
--          costs what a raw insert costs (no anti-join probe, no RETURNING); when a
--          concurrent writer has born one of the codes since, the unique index says so and
--          apply_range runs the p_conflict form, with ON CONFLICT (entity_code) DO NOTHING.
--          With counts, it returns (births written, births that failed inspection).
-- Each birth is inspected as it is written, by inspection's rules (the entity exists, and
-- species, level and code prefix fit), so the apply needs no second pass over its births.
-- The code of a keyed identity (synthetic_id, composite) is built from the collection's
-- own prefix, so it always passes; column and legacy codes are counted.
CREATE OR REPLACE FUNCTION backfill_batch_sql(c collection_registry, p_conflict boolean,
                                   OUT bounds text, OUT ins text, OUT counts boolean,
                                   OUT pinned text, OUT range_births text, OUT ranges text)
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT
AS $$
DECLARE
  rel regclass := collection_table(c);
  sp entity_species := collection_species(c.collection_name);
  keys name[] := key_columns(rel);
  key_cols text;
  key_json text;
  key_cast text;
  key_cast2 text;
  range_sql text;
  unborn text;
  verdict text;
  origin text;
  origin_read text;
  read_cols text;
  code_sql text := entity_code_sql(c, 't');
  -- Every read of the table is a query of its own that its owner's reader runs
  -- (owner_read.sql), with the statement's cursors ($1 and $2, JSON arrays) as its $1[1] and
  -- $1[2]; natal's part (the registry) is the statement around it.
  cursors text := 'ARRAY[$1::text, $2::text]';
BEGIN
  IF keys IS NULL THEN
    bounds := 'SELECT NULL::jsonb';
    range_sql := 'true';
  ELSE
    -- A key value travels in the cursor as JSON: natively for the types whose JSON form
    -- reads back exactly with a cast from its text, as its text form for every other type
    -- (arrays, ranges, composites, jsonb, …).
    SELECT string_agg(format('t.%I', k), ', ' ORDER BY o),
           'jsonb_build_array(' || string_agg(
             CASE WHEN (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = k)
                       IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype,
                           'float4'::regtype, 'float8'::regtype, 'bool'::regtype, 'text'::regtype,
                           'varchar'::regtype, 'bpchar'::regtype, 'name'::regtype, 'date'::regtype,
                           'timestamp'::regtype, 'timestamptz'::regtype, 'uuid'::regtype)
                  THEN format('t.%I', k) ELSE format('(t.%I)::text', k) END, ', ' ORDER BY o) || ')',
           -- (a type's name travels as an argument of format, never in its format string: it
           -- may hold a %)
           -- (column_type: a domain's base type, never the domain, whose checks are its owner's code)
           string_agg(format('(($1[1]::jsonb)->>%s)::%s', o - 1, column_type(rel, k)), ', ' ORDER BY o),
           string_agg(format('(($1[2]::jsonb)->>%s)::%s', o - 1, column_type(rel, k)), ', ' ORDER BY o)
      INTO key_cols, key_json, key_cast, key_cast2
    FROM unnest(keys) WITH ORDINALITY AS u(k, o);
    -- (the JSON is built for the one row found, not for each row skipped)
    bounds := format('SELECT r.k FROM %s', owner_rows_sql(rel, format(
                'SELECT %1$s FROM (SELECT %3$s FROM %2$s AS t WHERE ($1[1] IS NULL OR (%3$s) > (%4$s)) '
                'ORDER BY %3$s OFFSET ($1[2])::bigint - 1 LIMIT 1) AS t', key_json, rel, key_cols, key_cast),
                'r(k jsonb)', cursors));
    range_sql := format('($1[1] IS NULL OR (%1$s) > (%2$s)) AND ($1[2] IS NULL OR (%1$s) <= (%3$s))',
                        key_cols, key_cast, key_cast2);
  END IF;
  -- (only a code column's values can lack an accepted prefix: the codes natal makes from a
  -- key, and legacy codes, carry one by construction, and are not tested row by row)
  IF c.birth_code_strategy = 'column' THEN
    SELECT '(' || string_agg(format('starts_with(n.code, %L)', pfx), ' OR ') || ')' INTO verdict
    FROM unnest(accepted_code_prefixes(c, sp)) AS pfx;
  ELSIF c.birth_code_strategy IN ('synthetic_id', 'composite', 'legacy') THEN
    verdict := 'true';
  END IF;
  verdict := COALESCE(verdict, 'false');
  -- (a table without _dot_origin gives its births one origin: a constant of the statement,
  -- not a column its owner's read returns with every row)
  IF has_column(rel, '_dot_origin') THEN
    origin := 'n.origin';
    origin_read := format(', (%s)::text', dot_origin_sql(c, 't'));
    read_cols := 'n(code text, origin text)';
  ELSE
    origin := dot_origin_sql(c, 't');
    origin_read := '';
    read_cols := 'n(code text)';
  END IF;
  ins := format($q$
    INSERT INTO birth_registry (entity_code, collection_name, species_code, composition_level, dot_origin,
                                governance_role, operation, run_id, inspection_status, inspected_at, inspection_note)
    SELECT n.code, %1$L, %2$L, %3$L, %8$s, 'governed', 'backfill', $3,
           CASE WHEN %4$s THEN 'passed'::inspection_status ELSE 'failed'::inspection_status END, now(),
           CASE WHEN %4$s THEN NULL ELSE %5$L END
    FROM %6$s
    WHERE n.code IS NOT NULL
    %7$s
  $q$,
    c.collection_name, sp.species_code, sp.composition_level, verdict,
    format('code does not match the %s identity (expected a prefix of %s)', c.birth_code_strategy,
           array_to_string(accepted_code_prefixes(c, sp), ' or ')),
    owner_rows_sql(rel, format('SELECT %s%s FROM %s AS t WHERE %s', code_sql, origin_read, rel, range_sql),
                   read_cols, cursors),
    -- Where codes are known to be born already, each is looked up first: an index probe
    -- costs less than a speculative insertion that ends in a conflict (a rehearsal's rerun
    -- meets a conflict on every row).
    CASE WHEN p_conflict THEN 'AND NOT EXISTS (SELECT 1 FROM birth_registry b WHERE b.entity_code = n.code)
    ON CONFLICT (entity_code) DO NOTHING' ELSE '' END,
    origin);
  -- Column and legacy codes can fail inspection: their insert counts what it wrote and how
  -- much of it failed (counts), exactly the births this statement made.
  -- An apply's range is pinned (backfill_range): its insert also returns the checksum of
  -- the codes it wrote, to be compared with what was approved there.
  pinned := format($q$
    WITH born AS (%s
      RETURNING entity_code, inspection_status)
    SELECT count(*), count(*) FILTER (WHERE inspection_status = 'failed'), COALESCE(sum(%s), 0)::text FROM born
  $q$, ins, code_checksum_sql(c, 'born.entity_code'));
  counts := c.birth_code_strategy IN ('column', 'legacy');
  IF counts THEN
    ins := format($q$
      WITH born AS (%s
        RETURNING inspection_status)
      SELECT count(*), count(*) FILTER (WHERE inspection_status = 'failed') FROM born
    $q$, ins);
  END IF;
  -- The ranges an apply of $1 rows each writes, with the births approved in each: one pass
  -- over the table in key order (the last range runs to the end of the table; the first
  -- from its start). range_births: the births of one range (after $1, up to $2), to check a
  -- resumed apply's pending ranges.
  unborn := unborn_sql(c);
  IF key_cols IS NULL THEN
    ranges := format($q$
      SELECT 1 AS seq, NULL::jsonb AS after_key, NULL::jsonb AS upto_key,
             count(*) FILTER (WHERE g.unborn) AS expected, COALESCE(sum(g.h) FILTER (WHERE g.unborn), 0)::text AS checksum
      FROM (SELECT (%1$s OR NOT EXISTS (SELECT 1 FROM birth_registry x WHERE x.entity_code = e.code)) AS unborn, e.h
            FROM %2$s) AS g
    $q$, unborn, owner_rows_sql(rel, format('SELECT %s, %s FROM %s AS t', code_sql, checksum_sql(c, 't'), rel),
                                'e(code text, h bigint)'));
  ELSE
    ranges := format($q$
      SELECT b.bucket + 1 AS seq, lag(b.last_key) OVER (ORDER BY b.bucket) AS after_key,
             CASE WHEN b.bucket = max(b.bucket) OVER () THEN NULL ELSE b.last_key END AS upto_key,
             b.expected, b.checksum
      FROM (SELECT g.bucket, (array_agg(g.k) FILTER (WHERE g.rn %% $1 = 0))[1] AS last_key,
                   count(*) FILTER (WHERE g.unborn) AS expected,
                   COALESCE(sum(g.h) FILTER (WHERE g.unborn), 0)::text AS checksum
            FROM (SELECT e.k, e.rn, e.bucket, e.h,
                         (%1$s OR NOT EXISTS (SELECT 1 FROM birth_registry x WHERE x.entity_code = e.code)) AS unborn
                  FROM %2$s) AS g
            GROUP BY g.bucket) AS b
      UNION ALL
      SELECT 1, NULL, NULL, 0, '0' WHERE NOT EXISTS (SELECT 1 FROM %3$s)
    $q$, unborn,
         owner_rows_sql(rel, format(
           'SELECT CASE WHEN row_number() OVER w %% ($1[1])::bigint = 0 THEN %1$s END, row_number() OVER w,
                   (row_number() OVER w - 1) / ($1[1])::bigint, %2$s, %3$s
            FROM %4$s AS t WINDOW w AS (ORDER BY %5$s)', key_json, code_sql, checksum_sql(c, 't'), rel, key_cols),
           'e(k jsonb, rn bigint, bucket bigint, code text, h bigint)', 'ARRAY[$1::text]'),
         owner_rows_sql(rel, format('SELECT 1 FROM %s LIMIT 1', rel), 'e(one integer)'));
  END IF;
  range_births := format($q$
    SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM birth_registry x WHERE x.entity_code = g.code)),
           COALESCE(sum(g.h) FILTER (WHERE NOT EXISTS (SELECT 1 FROM birth_registry x WHERE x.entity_code = g.code)), 0)::text
    FROM %s
  $q$, owner_rows_sql(rel, format('SELECT %s, %s FROM %s AS t WHERE %s', code_sql, checksum_sql(c, 't'), rel, range_sql),
                      'g(code text, h bigint)', cursors));
END
$$;

-- The run, checked for a caller that is about to write with it: it exists and is running,
-- and (outside a rehearsal) the gate holds and an apply holds the lock — this session
-- (p_main: the session that began the run) or, for the parallel lanes, another one.
CREATE OR REPLACE FUNCTION running_run(p_run bigint, p_rehearsal boolean, p_main boolean) RETURNS backfill_run
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  r backfill_run;
BEGIN
  SELECT * INTO r FROM backfill_run WHERE run_id = p_run;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB015', MESSAGE = format('run %s does not exist', p_run), HINT = 'natal ledger';
  END IF;
  IF r.status <> 'running' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB015', MESSAGE = format('run %s is %s', p_run, r.status), HINT = 'natal ledger --run RUN';
  END IF;
  -- A rehearsal's run exists only inside the rehearsal's transaction (made there, rolled
  -- back there): a run any other transaction can see is a real one and passes the gate.
  IF p_rehearsal <> r.rehearsal THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017',
      MESSAGE = format(CASE WHEN p_rehearsal THEN 'run %s is not a rehearsal' ELSE 'run %s is a rehearsal' END, p_run),
      HINT = 'rehearse with: natal rehearse PLAN; apply with: natal apply PLAN';
  END IF;
  IF p_rehearsal AND txid_status((txid_current() >> 32 << 32)
                                 | (SELECT x.xmin::text::bigint FROM backfill_run x WHERE x.run_id = p_run))
                     IS DISTINCT FROM 'in progress' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = format('run %s is not a rehearsal in progress', p_run),
      HINT = 'rehearse with: natal rehearse PLAN';
  END IF;
  IF NOT p_rehearsal THEN
    IF (p_main AND apply_lock_holder() IS DISTINCT FROM pg_backend_pid())
       OR apply_lock_run() IS DISTINCT FROM p_run THEN
      RAISE EXCEPTION USING ERRCODE = 'NB019',
        MESSAGE = format('this session does not hold run %s (it was started elsewhere or interrupted)', p_run),
        HINT = format('resume it: natal apply %s --resume %s', r.plan_id, p_run);
    END IF;
    PERFORM assert_apply_allowed(find_plan(r.plan_id));
  END IF;
  RETURN r;
END
$$;

-- The next ranges of rows to birth: up to p_parts consecutive ranges of p_limit rows of
-- the collection the cursor is on (p_limit NULL: the rest of it), as (after, upto) key
-- pairs; upto NULL means to the end of the collection. Reads only; apply_advance moves
-- the cursor once the ranges are written.
CREATE OR REPLACE FUNCTION apply_next(p_run bigint, p_limit integer, p_parts integer DEFAULT 1, p_rehearsal boolean DEFAULT false)
RETURNS TABLE (collection_name text, after_key jsonb, upto_key jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET enable_seqscan = off SET jit = off
AS $$
DECLARE
  r backfill_run := running_run(p_run, p_rehearsal, true);
  c collection_registry;
  bounds text;
  k jsonb;
BEGIN
  PERFORM assert_natal_role('operator');
  -- A run that pinned its ranges writes them, in order, those not written yet.
  IF EXISTS (SELECT 1 FROM backfill_range g WHERE g.run_id = p_run) THEN
    RETURN QUERY
      SELECT g.collection_name, g.after_key, g.upto_key FROM backfill_range g
      WHERE g.run_id = p_run AND NOT g.done
        AND g.collection_name = (SELECT min(x.collection_name) FROM backfill_range x WHERE x.run_id = p_run AND NOT x.done)
      ORDER BY g.seq LIMIT greatest(p_parts, 1);
    RETURN;
  END IF;
  collection_name := r.cursor->>'collection';
  IF collection_name IS NULL THEN
    RETURN;
  END IF;
  c := find_collection(collection_name);
  bounds := (backfill_batch_sql(c, false)).bounds;
  k := NULLIF(r.cursor->'after', 'null');
  FOR i IN 1 .. greatest(p_parts, 1) LOOP
    after_key := k;
    upto_key := NULL;
    IF p_limit IS NOT NULL THEN
      EXECUTE bounds INTO upto_key USING after_key, p_limit;
    END IF;
    RETURN NEXT;
    EXIT WHEN upto_key IS NULL;
    k := upto_key;
  END LOOP;
END
$$;

-- Births for one range of one collection (after → upto, as apply_next gave it), in one
-- transaction with the run's counters: a plain insert of rows nobody has born; if someone
-- (a trigger on a row inserted meanwhile, another session, a redone range after a kill)
-- has made one of them, the range is redone with ON CONFLICT DO NOTHING. The births that
-- result are the same either way. Ranges of one step may be written by parallel sessions.
CREATE OR REPLACE FUNCTION apply_range(p_run bigint, p_collection text, p_after jsonb, p_upto jsonb,
                            p_rehearsal boolean DEFAULT false, OUT born bigint, OUT failed bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off SET enable_nestloop = on
SET jit = off SET work_mem = '64MB'
AS $$
DECLARE
  r backfill_run := running_run(p_run, p_rehearsal, false);
  c collection_registry := find_collection(p_collection);
  batch record;
  pinned backfill_range;
  checksum text;
BEGIN
  PERFORM assert_natal_role('operator');
  IF NOT p_collection = ANY (plan_collections(r.plan_id)) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = format('%s is not in plan %s', p_collection, r.plan_id),
      HINT = 'natal ledger --plan PLAN';
  END IF;
  IF backfill_refusal(c) IS NOT NULL OR backfill_identity(c) <> (SELECT i.identity FROM backfill_plan_item i
                                                                WHERE i.plan_id = r.plan_id AND i.collection_name = c.collection_name) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB018',
      MESSAGE = format('plan %s is stale: %s changed since planning (%s)', r.plan_id, c.collection_name,
                       COALESCE(backfill_refusal(c), 'identity or species')),
      HINT = format('roll back this run (natal rollback %s) and make a new plan', p_run);
  END IF;
  -- The births and the run's counters commit together, so a range is all or nothing even
  -- if the server stops; what the commit need not do is wait for its WAL to reach the
  -- disk. apply_finish commits synchronously, so a finished apply is on disk; a crash
  -- before it loses at most the last ranges, births and counters alike, and --resume
  -- redoes them.
  IF NOT p_rehearsal THEN
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;
  batch := backfill_batch_sql(c, false);
  failed := 0;
  -- A range the run pinned (apply_begin): it must birth exactly what was approved there.
  SELECT * INTO pinned FROM backfill_range g
  WHERE g.run_id = p_run AND g.collection_name = c.collection_name
    AND g.after_key IS NOT DISTINCT FROM p_after AND g.upto_key IS NOT DISTINCT FROM p_upto;
  IF NOT FOUND AND EXISTS (SELECT 1 FROM backfill_range g WHERE g.run_id = p_run) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB015', MESSAGE = format('run %s has no such range of %s', p_run, p_collection),
      HINT = 'write the ranges natal.apply_next gives';
  ELSIF pinned.done THEN
    RAISE EXCEPTION USING ERRCODE = 'NB015', MESSAGE = format('range %s of %s in run %s is written already', pinned.seq,
                                                              p_collection, p_run),
      HINT = 'write the ranges natal.apply_next gives';
  END IF;
  BEGIN
    IF pinned.run_id IS NOT NULL THEN
      EXECUTE batch.pinned INTO born, failed, checksum USING p_after, p_upto, p_run;
    ELSIF batch.counts THEN
      EXECUTE batch.ins INTO born, failed USING p_after, p_upto, p_run;
    ELSE
      EXECUTE batch.ins USING p_after, p_upto, p_run;
      GET DIAGNOSTICS born = ROW_COUNT;
    END IF;
  EXCEPTION WHEN unique_violation THEN
    IF p_after IS NULL AND p_upto IS NULL THEN
      -- A whole collection (a rehearsal's rerun): one hash join over each side beats a
      -- million index probes.
      PERFORM set_config('enable_nestloop', 'off', true);
      PERFORM set_config('enable_hashjoin', 'on', true);
      PERFORM set_config('enable_seqscan', 'on', true);
    END IF;
    IF pinned.run_id IS NOT NULL THEN
      EXECUTE (backfill_batch_sql(c, true)).pinned INTO born, failed, checksum USING p_after, p_upto, p_run;
    ELSIF batch.counts THEN
      EXECUTE (backfill_batch_sql(c, true)).ins INTO born, failed USING p_after, p_upto, p_run;
    ELSE
      EXECUTE (backfill_batch_sql(c, true)).ins USING p_after, p_upto, p_run;
      GET DIAGNOSTICS born = ROW_COUNT;
    END IF;
  END;
  IF pinned.run_id IS NOT NULL THEN
    IF born <> pinned.expected OR checksum <> pinned.checksum THEN
      RAISE EXCEPTION USING ERRCODE = 'NB018',
        MESSAGE = format('plan %s is stale: range %s of %s would birth %s rows where %s were approved%s', r.plan_id,
                         pinned.seq, p_collection, born, pinned.expected,
                         CASE WHEN born = pinned.expected THEN ' (the same number of other rows)' ELSE '' END),
        HINT = format('rows appeared without their trigger or vanished since the apply began; the births so far stay (natal rollback %s undoes them); make a new plan: natal plan', p_run);
    END IF;
    UPDATE backfill_range g SET done = true
    WHERE g.run_id = p_run AND g.collection_name = pinned.collection_name AND g.seq = pinned.seq;
  END IF;
  -- The rows were read with their table's owner's rights (owner_read.sql), in a
  -- subtransaction rolled back; a session-level advisory lock let go there stays let go, and
  -- another apply could take the lock meanwhile. The range is kept only if the run still
  -- holds it, as it did when the range began (running_run).
  IF NOT p_rehearsal AND apply_lock_run() IS DISTINCT FROM p_run THEN
    RAISE EXCEPTION USING ERRCODE = 'NB019',
      MESSAGE = format('run %s lost natal''s apply lock while a range was written (code of a table''s owner that natal''s read ran, or the applying session ended): the range is not kept',
                       p_run),
      HINT = format('resume it: natal apply %s --resume %s', r.plan_id, p_run);
  END IF;
  UPDATE backfill_run x
  SET cursor = jsonb_set(jsonb_set(jsonb_set(x.cursor,
        '{born}', (x.cursor->'born') || jsonb_build_object(p_collection,
                    COALESCE((x.cursor->'born'->>p_collection)::bigint, 0) + born)),
        '{failed}', (x.cursor->'failed') || jsonb_build_object(p_collection,
                    COALESCE((x.cursor->'failed'->>p_collection)::bigint, 0) + failed)),
        '{batches}', to_jsonb(COALESCE((x.cursor->>'batches')::int, 0) + 1))
  WHERE x.run_id = p_run AND x.status = 'running';
  -- A rollback (or anything else) that ended the run meanwhile: these births go back too.
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB015', MESSAGE = format('run %s ended while a range was written', p_run),
      HINT = 'natal ledger --run RUN';
  END IF;
END
$$;

-- Moves the cursor past what apply_range wrote: to p_upto, or, when p_upto is NULL (the
-- collection's end), to the next collection of the plan. Returns whether the run is done.
-- The cursor only ever trails what is written: a range written but not yet passed is
-- written again after a kill, and births nothing twice.
CREATE OR REPLACE FUNCTION apply_advance(p_run bigint, p_collection text, p_upto jsonb, p_rehearsal boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  r backfill_run := running_run(p_run, p_rehearsal, true);
  cur jsonb := r.cursor;
  next_name text;
  next_after jsonb;
BEGIN
  PERFORM assert_natal_role('operator');
  -- A run with pinned ranges: the cursor is the first range not yet written.
  IF EXISTS (SELECT 1 FROM backfill_range g WHERE g.run_id = p_run) THEN
    SELECT g.collection_name, g.after_key INTO next_name, next_after FROM backfill_range g
    WHERE g.run_id = p_run AND NOT g.done ORDER BY g.collection_name, g.seq LIMIT 1;
    cur := jsonb_set(cur, '{collection}', COALESCE(to_jsonb(next_name), 'null'));
    cur := jsonb_set(cur, '{after}', COALESCE(next_after, 'null'));
    cur := jsonb_set(cur, '{done}', (SELECT COALESCE(jsonb_agg(DISTINCT g.collection_name), '[]') FROM backfill_range g
                                     WHERE g.run_id = p_run AND g.collection_name NOT IN
                                       (SELECT y.collection_name FROM backfill_range y WHERE y.run_id = p_run AND NOT y.done)));
    UPDATE backfill_run SET cursor = cur WHERE run_id = p_run;
    RETURN next_name IS NULL;
  END IF;
  IF cur->>'collection' IS DISTINCT FROM p_collection THEN
    RAISE EXCEPTION USING ERRCODE = 'NB015',
      MESSAGE = format('run %s is on %s, not %s', p_run, COALESCE(cur->>'collection', 'nothing'), p_collection),
      HINT = 'natal ledger --run RUN';
  END IF;
  IF p_upto IS NULL THEN
    next_name := (SELECT n FROM unnest(plan_collections(r.plan_id)) AS n WHERE n > p_collection ORDER BY n LIMIT 1);
    cur := jsonb_set(cur, '{done}', (cur->'done') || to_jsonb(p_collection));
    cur := jsonb_set(cur, '{after}', 'null');
    cur := jsonb_set(cur, '{collection}', COALESCE(to_jsonb(next_name), 'null'));
  ELSE
    cur := jsonb_set(cur, '{after}', p_upto);
  END IF;
  UPDATE backfill_run SET cursor = cur WHERE run_id = p_run;
  RETURN cur->>'collection' IS NULL;
END
$$;

-- One batch of a run on one session: the next range, written, and the cursor moved past
-- it, in one transaction (so a batch is all or nothing and a kill loses at most the batch
-- in flight). p_rehearsal: inside a rehearsal (no lock, no approvals), and p_limit NULL
-- for one batch per collection. Returns what it did; done when every collection of the
-- plan is through. (natal apply runs the same steps with its ranges on parallel sessions.)
CREATE OR REPLACE FUNCTION apply_batch(p_run bigint, p_limit integer DEFAULT NULL, p_rehearsal boolean DEFAULT false,
                            OUT collection_name text, OUT born bigint, OUT failed bigint,
                            OUT done boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  n record;
  w record;
BEGIN
  PERFORM assert_natal_role('operator');
  SELECT * INTO n FROM apply_next(p_run, p_limit, 1, p_rehearsal);
  IF NOT FOUND THEN
    done := true; born := 0; failed := 0;
    RETURN;
  END IF;
  collection_name := n.collection_name;
  SELECT * INTO w FROM apply_range(p_run, n.collection_name, n.after_key, n.upto_key, p_rehearsal);
  born := w.born;
  failed := w.failed;
  done := apply_advance(p_run, n.collection_name, n.upto_key, p_rehearsal);
END
$$;

-- The confirm of one collection: its rows, and how many have no birth (the gap), in one
-- pass. Right after an apply the registry's statistics are stale (it looks empty), so the
-- join method is chosen here from the collection's size, not left to the planner: a hash
-- join for a big collection (one pass over each side), index probes for a small one
-- (a handful of lookups, instead of hashing the whole registry).
CREATE OR REPLACE FUNCTION confirm_counts(c collection_registry, OUT rows bigint, OUT gap bigint)
LANGUAGE plpgsql SET search_path FROM CURRENT
SET jit = off SET work_mem = '64MB' SET enable_nestloop = on SET enable_hashjoin = on SET enable_mergejoin = on
AS $$
DECLARE
  rel regclass := collection_table(c);
  estimate real := (SELECT reltuples FROM pg_class WHERE oid = rel);
  seed bigint := census_seed();
  t jsonb;
  b jsonb;
BEGIN
  -- A keyed collection's codes are in its namespace only: when the table's rows and the
  -- namespace's births have the same count and the same sum of their codes' hashes (the
  -- census's sums), every row is born, found in two passes that PostgreSQL may run in
  -- parallel (census_query) instead of a join of every row with the registry. Otherwise (a
  -- gap, a death, a birth without its row) the join below counts the gap exactly.
  IF c.birth_code_strategy IN ('synthetic_id', 'composite') THEN
    -- (the two passes in one snapshot: census_query's p_then)
    SELECT (array_agg(q) FILTER (WHERE q ->> 'side' = 't'))[1] - 'side',
           (array_agg(q) FILTER (WHERE q ->> 'side' = 'b'))[1] - 'side'
      INTO t, b
    FROM census_query(format(
      'SELECT jsonb_build_object(''side'', ''t'', ''n'', x.n, ''s'', COALESCE(x.s, 0)::text) FROM (%s) AS x',
      census_rows_sql(ARRAY[c.collection_name], ARRAY[entity_code_sql(c, 't')], ARRAY[rel], 'sums', seed)),
      NULL, NULL, NULL, seed, NULL, NULL,
      format('SELECT jsonb_build_object(''side'', ''b'', ''n'', count(*), ''s'', COALESCE(sum(hashtextextended(b.entity_code, $4)), 0)::text)
              FROM birth_registry b WHERE starts_with(b.entity_code, %L)', c.collection_name || '::')) AS q;
    IF t = b THEN
      rows := (t ->> 'n')::bigint;
      gap := 0;
      RETURN;
    END IF;
  END IF;
  IF estimate <= 0 THEN  -- never analysed (-1 from PG 14, 0 before)
    EXECUTE format('SELECT r.n FROM %s', owner_rows_sql(rel, format('SELECT count(*) FROM %s', rel), 'r(n bigint)'))
      INTO estimate;
  END IF;
  IF estimate >= 20000 THEN
    PERFORM set_config('enable_nestloop', 'off', true);
  ELSE
    PERFORM set_config('enable_hashjoin', 'off', true);
    PERFORM set_config('enable_mergejoin', 'off', true);
  END IF;
  EXECUTE format($q$
    SELECT count(*), count(*) FILTER (WHERE b.entity_code IS NULL)
    FROM %s
    LEFT JOIN birth_registry b ON b.entity_code = e.code
  $q$, owner_rows_sql(rel, format('SELECT %s FROM %s AS t', entity_code_sql(c, 't'), rel), 'e(code text)'))
  INTO rows, gap;
END
$$;

-- Confirms a finished run: per collection rows, births of the run, gap after (rows with no
-- birth) and the first orphans when there are any; APPLY ledger rows; the run completed,
-- the plan applied; the lock released.
CREATE OR REPLACE FUNCTION apply_finish(p_run bigint)
RETURNS TABLE (collection_name text, expected bigint, born bigint, failed bigint, rows bigint, gap_after bigint,
               orphans text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  r backfill_run;
  c collection_registry;
  i backfill_plan_item;
BEGIN
  PERFORM assert_natal_role('operator');
  SELECT * INTO r FROM backfill_run WHERE run_id = p_run FOR UPDATE;
  IF NOT FOUND OR r.status <> 'running' OR r.cursor->>'collection' IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB015', MESSAGE = format('run %s is not a finished, running apply', p_run),
      HINT = 'natal ledger --run RUN';
  END IF;
  IF apply_lock_holder() IS DISTINCT FROM pg_backend_pid() OR apply_lock_run() IS DISTINCT FROM p_run THEN
    RAISE EXCEPTION USING ERRCODE = 'NB019', MESSAGE = format('this session does not hold run %s', p_run),
      HINT = format('natal apply %s --resume %s', r.plan_id, p_run);
  END IF;
  FOR i IN SELECT * FROM backfill_plan_item WHERE plan_id = r.plan_id ORDER BY backfill_plan_item.collection_name LOOP
    c := find_collection(i.collection_name);
    collection_name := c.collection_name;
    expected := i.expected;
    born := COALESCE((r.cursor->'born'->>c.collection_name)::bigint, 0);
    failed := COALESCE((r.cursor->'failed'->>c.collection_name)::bigint, 0);
    SELECT * INTO rows, gap_after FROM confirm_counts(c);
    orphans := CASE WHEN gap_after = 0 THEN '{}'::text[] ELSE
      (SELECT array_agg(o.entity_code) FROM census_orphans(c.collection_name, 10) o) END;
    INSERT INTO birth_backfill_ledger (step, plan_id, run_id, collection_name, actor, dry_run, expected, actual, detail)
    VALUES ('APPLY', r.plan_id, p_run, c.collection_name, actor(), false, expected, born,
            jsonb_build_object('rows', rows, 'gap_after', gap_after, 'inspection_failed', failed,
                               'orphans', to_jsonb(orphans), 'part', COALESCE((r.cursor->>'part')::int, 1),
                               'batch_size', r.batch_size));
    RETURN NEXT;
  END LOOP;
  UPDATE backfill_run SET status = 'completed', finished_at = now() WHERE run_id = p_run;
  UPDATE backfill_plan SET status = 'applied' WHERE plan_id = r.plan_id;
  PERFORM apply_lock_give();
END
$$;

-- Ends a run that met a stale range (apply_range refused it): its births so far stay, as
-- the ledger says; the run is failed (natal rollback RUN undoes it) and the lock given back.
CREATE OR REPLACE FUNCTION apply_stop(p_run bigint, p_why text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  r backfill_run;
BEGIN
  PERFORM assert_natal_role('operator');
  SELECT * INTO r FROM backfill_run WHERE run_id = p_run FOR UPDATE;
  IF NOT FOUND OR r.status <> 'running' OR apply_lock_holder() IS DISTINCT FROM pg_backend_pid()
     OR apply_lock_run() IS DISTINCT FROM p_run THEN
    RETURN false;
  END IF;
  INSERT INTO birth_backfill_ledger (step, plan_id, run_id, actor, dry_run, actual, detail)
  VALUES ('APPLY', r.plan_id, p_run, actor(), false,
          (SELECT COALESCE(sum(v::bigint), 0) FROM jsonb_each_text(r.cursor->'born') AS e(k, v)),
          jsonb_build_object('part', COALESCE((r.cursor->>'part')::int, 1), 'ended', 'stale', 'why', p_why,
                             'cursor', r.cursor));
  UPDATE backfill_run SET status = 'failed', finished_at = now() WHERE run_id = p_run;
  RETURN apply_lock_give();
END
$$;

-- Releases the apply lock after a failed batch (the run stays resumable).
CREATE OR REPLACE FUNCTION apply_release() RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
BEGIN
  PERFORM assert_natal_role('operator');
  RETURN apply_lock_give();
END
$$;

DROP TRIGGER IF EXISTS natal_run_gate ON backfill_run;
CREATE CONSTRAINT TRIGGER natal_run_gate AFTER INSERT OR UPDATE ON backfill_run
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION run_gate();
