-- natal 0007: the gated backfill (QT-001): plan → rehearse → approve → apply → rollback,
-- freezes, and who is acting. The gate lives here, in the functions that write, so a client
-- that bypasses the CLI meets the same refusals.

-- Births carry their run id, but no index on it: measured on a 1,000,000-birth apply, the
-- partial index 0001 made on run_id cost 75% on top of the insert itself (every birth of a
-- run has the same key). A rollback reads the registry once to find a run's births instead.
DROP INDEX birth_registry_run_idx;

-- Who is acting. On a server: the session's database role, so separation of duties is the
-- roles PostgreSQL authenticated, not a value a caller can type. Embedded (PGlite, one
-- user), the name given with --as (the natal.actor setting), else that one user.
CREATE FUNCTION actor() RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT CASE WHEN version() LIKE '%PGlite%'
              THEN COALESCE(NULLIF(current_setting('natal.actor', true), ''), session_user::text)
              ELSE session_user::text END
$$;

-- The actor columns of what the gate trusts (plan authors, approvals) and of runs are
-- always the actor, however the row is written: a client that inserts an approval around
-- approve_plan() still cannot sign it with someone else's name.
CREATE FUNCTION stamp_actor() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  IF TG_TABLE_NAME = 'backfill_plan' THEN
    NEW.author := actor();
  ELSE
    NEW.actor := actor();
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER natal_stamp_actor BEFORE INSERT OR UPDATE OF author ON backfill_plan
  FOR EACH ROW EXECUTE FUNCTION stamp_actor();
CREATE TRIGGER natal_stamp_actor BEFORE INSERT OR UPDATE OF actor ON backfill_approval
  FOR EACH ROW EXECUTE FUNCTION stamp_actor();
CREATE TRIGGER natal_stamp_actor BEFORE INSERT OR UPDATE OF actor ON backfill_run
  FOR EACH ROW EXECUTE FUNCTION stamp_actor();

-- Approvals are never changed: a review or permit moved to another plan or fingerprint
-- would be a signature its actor did not give. (Deleting one only withdraws consent.)
CREATE FUNCTION approval_immutable() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'NB016', MESSAGE = 'approvals cannot be changed',
    HINT = 'approve the plan again; a new plan needs new approvals';
END
$$;
CREATE TRIGGER natal_approval_immutable BEFORE UPDATE ON backfill_approval
  FOR EACH ROW EXECUTE FUNCTION approval_immutable();

-- A plan moves forward only: planned → applied or superseded, applied → superseded (after a
-- rollback). An applied or superseded plan set back to planned would apply again on its
-- old approvals.
CREATE FUNCTION plan_forward_only() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status
     AND NOT ((OLD.status = 'planned' AND NEW.status IN ('applied', 'superseded'))
              OR (OLD.status = 'applied' AND NEW.status = 'superseded')) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017',
      MESSAGE = format('plan %s cannot go from %s to %s', OLD.plan_id, OLD.status, NEW.status),
      HINT = 'make a new plan: natal plan';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER natal_plan_forward_only BEFORE UPDATE OF status ON backfill_plan
  FOR EACH ROW EXECUTE FUNCTION plan_forward_only();

-- Refuses when backfill or one of the collections is frozen: who froze it, when and why.
CREATE FUNCTION assert_thawed(p_collections text[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  f operation_freeze;
BEGIN
  SELECT * INTO f FROM operation_freeze
  WHERE target = 'backfill' OR target = ANY (p_collections)
  ORDER BY target <> 'backfill', target LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB004',
      MESSAGE = format('%s is frozen by %s since %s: %s',
                       CASE WHEN f.target = 'backfill' THEN 'backfill' ELSE 'collection ' || f.target END,
                       f.frozen_by, to_char(f.frozen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), f.reason),
      HINT = format('ask them, then: natal unfreeze %s', f.target);
  END IF;
END
$$;

CREATE FUNCTION freeze(p_target text, p_reason text) RETURNS operation_freeze
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  f operation_freeze;
BEGIN
  IF p_target <> 'backfill' THEN
    PERFORM find_collection(p_target);
  END IF;
  INSERT INTO operation_freeze (target, reason, frozen_by)
  VALUES (p_target, COALESCE(NULLIF(btrim(p_reason), ''), 'no reason given'), actor())
  ON CONFLICT (target) DO UPDATE SET reason = EXCLUDED.reason, frozen_by = EXCLUDED.frozen_by,
                                     frozen_at = now()
  RETURNING * INTO f;
  RETURN f;
END
$$;

CREATE FUNCTION unfreeze(p_target text) RETURNS boolean
LANGUAGE sql SET search_path FROM CURRENT
AS $$
  WITH gone AS (DELETE FROM operation_freeze WHERE target = p_target RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM gone)
$$;

-- The planner's picture of birth_registry, refreshed when much has changed since the last
-- ANALYZE (autovacuum's rule: 10% + 1,000 rows). Called before the anti-joins of plan,
-- apply and rollback: a registry that grew by a million births in an apply still looks
-- empty to the planner until autovacuum comes by, and an anti-join planned on that picture
-- scans the whole registry once per row. (A role that does not own the table gets a
-- warning from ANALYZE, not an error.)
CREATE FUNCTION refresh_registry_stats() RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
             WHERE s.relid = 'birth_registry'::regclass
               AND s.n_mod_since_analyze > 1000 + 0.1 * greatest(c.reltuples, 0)) THEN
    ANALYZE birth_registry;
    RETURN true;
  END IF;
  RETURN false;
END
$$;

-- What a plan pins for a collection besides its gap: everything that decides which code a
-- row gets and what its birth says. A change to any of it makes the plan stale.
CREATE FUNCTION backfill_identity(c collection_registry) RETURNS jsonb
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT jsonb_build_object(
    'strategy', c.birth_code_strategy, 'column', c.birth_code_column, 'key', c.birth_code_key_columns,
    'species', sp.species_code, 'prefix', sp.code_prefix, 'level', sp.composition_level,
    'code', entity_code_sql(c, 't'), 'origin', dot_origin_sql(c, 't'), 'owner', c.owner)
  FROM (SELECT (collection_species(c.collection_name)).*) AS sp
$$;

-- Why a collection cannot be backfilled (NULL when it can): the checks PostgreSQL can make
-- itself, so that a plan made without the CLI's preflight still holds only sound collections.
CREATE FUNCTION backfill_refusal(c collection_registry) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT CASE
    WHEN c.governance_role <> 'governed' THEN format('collection %s is %s, not governed', c.collection_name, c.governance_role)
    WHEN collection_table(c) IS NULL THEN format('collection %s has no table', c.collection_name)
    WHEN (collection_species(c.collection_name)).species_code IS NULL THEN
      format('collection %s is not in the species map', c.collection_name)
    WHEN entity_code_sql(c, 't') IS NULL THEN format('collection %s has no identity', c.collection_name)
    WHEN NOT EXISTS (SELECT 1 FROM wired_trigger w WHERE w.collection_name = c.collection_name) THEN
      format('collection %s is not wired (natal wire %s)', c.collection_name, c.collection_name)
  END
$$;

-- What the checksum of a gap sums, per row: a 64-bit hash that identifies the row's code
-- under the collection's identity. For a synthetic id over an integer key, the hash of the
-- key itself (the code is '<collection>::' and the key, and the identity, key included, is
-- pinned in the fingerprint beside the checksum); for every other identity, the code's.
CREATE FUNCTION checksum_sql(c collection_registry, alias text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  rel regclass := collection_table(c);
BEGIN
  IF c.birth_code_strategy = 'synthetic_id'
     AND (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = c.birth_code_key_columns[1])
         IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN
    RETURN format('hashint8extended((%I.%I)::bigint, 0)', alias, c.birth_code_key_columns[1]);
  END IF;
  RETURN format('hashtextextended(%s, 0)', entity_code_sql(c, alias));
END
$$;

-- The gap of a collection as the backfill sees it: (expected births, checksum over their
-- codes). The checksum is a sum of 64-bit hashes (checksum_sql), so it pins the set
-- whatever order the rows are read in, and one scan computes it. With p_run, the births
-- that run made count as missing (a resumed apply compares against its plan this way).
-- A keyed identity (synthetic_id, composite) whose namespace holds no birth yet — the
-- first backfill of a collection — has every row in its gap: one pass over the table,
-- without building or probing any code, gives the same numbers.
CREATE FUNCTION backfill_measure(c collection_registry, p_run bigint DEFAULT NULL,
                                 OUT expected bigint, OUT checksum text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  unborn boolean := false;
BEGIN
  IF c.birth_code_strategy IN ('synthetic_id', 'composite') THEN
    SELECT NOT EXISTS (SELECT 1 FROM birth_registry b
                       WHERE (b.collection_name = c.collection_name
                              OR starts_with(b.entity_code, c.collection_name || '::'))
                         AND (p_run IS NULL OR b.run_id IS DISTINCT FROM p_run))
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
       CASE WHEN p_run IS NULL THEN '' ELSE format('AND b.run_id IS DISTINCT FROM %s', p_run) END)
  INTO expected, checksum;
END
$$;

-- A plan's fingerprint: its author, natal's version and, per collection, the identity, the
-- gap count and the checksum. Approvals are bound to it; the apply recomputes it.
CREATE FUNCTION backfill_fingerprint(p_plan bigint, p_author text, p_version text, p_items jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT encode(sha256(convert_to(concat_ws(E'\n', 'natal-plan', p_plan::text, p_author, p_version,
           (SELECT string_agg(concat_ws(E'\t', i->>'collection', i->>'identity', i->>'expected', i->>'checksum'),
                              E'\n' ORDER BY i->>'collection')
            FROM jsonb_array_elements(p_items) AS i)), 'UTF8')), 'hex')
$$;

-- The plan's items as stored, in the shape backfill_fingerprint reads.
CREATE FUNCTION stored_items(p_plan bigint) RETURNS jsonb
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT COALESCE(jsonb_agg(jsonb_build_object('collection', i.collection_name, 'identity', i.identity::text,
                                               'expected', i.expected::text, 'checksum', i.codes_checksum)
                            ORDER BY i.collection_name), '[]')
  FROM backfill_plan_item i WHERE i.plan_id = p_plan
$$;

-- The same items as they are now (p_run: a resumed apply's own births count as missing).
CREATE FUNCTION live_items(p_plan bigint, p_run bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry;
  m record;
  items jsonb := '[]';
BEGIN
  FOR c IN
    SELECT r.* FROM backfill_plan_item i JOIN collection_registry r USING (collection_name)
    WHERE i.plan_id = p_plan ORDER BY r.collection_name
  LOOP
    IF backfill_refusal(c) IS NOT NULL THEN
      items := items || jsonb_build_object('collection', c.collection_name, 'identity', 'refused: ' || backfill_refusal(c),
                                           'expected', NULL, 'checksum', NULL);
      CONTINUE;
    END IF;
    SELECT * INTO m FROM backfill_measure(c, p_run);
    items := items || jsonb_build_object('collection', c.collection_name, 'identity', backfill_identity(c)::text,
                                         'expected', m.expected::text, 'checksum', m.checksum);
  END LOOP;
  RETURN items;
END
$$;

CREATE FUNCTION find_plan(p_plan bigint) RETURNS backfill_plan
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  p backfill_plan;
BEGIN
  SELECT * INTO p FROM backfill_plan WHERE plan_id = p_plan;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB014', MESSAGE = format('plan %s does not exist', p_plan),
      HINT = 'list plans with: natal ledger';
  END IF;
  RETURN p;
END
$$;

CREATE FUNCTION plan_collections(p_plan bigint) RETURNS text[]
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT COALESCE(array_agg(collection_name ORDER BY collection_name), '{}')
  FROM backfill_plan_item WHERE plan_id = p_plan
$$;

-- Plan (the dry run): the exact gap of each collection, pinned by a fingerprint, with PLAN
-- ledger rows. Writes no birth. p_not_eligible: the collections the preflight turned away,
-- with their failed checks, kept in the ledger so the plan says what it left out and why.
CREATE FUNCTION create_plan(p_collections text[], p_version text, p_not_eligible jsonb DEFAULT '[]')
RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry;
  m record;
  why text;
  items jsonb := '[]';
  v_plan bigint;
  v_actor text := actor();
BEGIN
  PERFORM assert_thawed(p_collections);
  PERFORM refresh_registry_stats();
  INSERT INTO backfill_plan (author, natal_version, fingerprint, expected_total)
  VALUES (v_actor, p_version, repeat('0', 64), 0) RETURNING plan_id INTO v_plan;
  FOR c IN SELECT r.* FROM collection_registry r WHERE r.collection_name = ANY (p_collections)
           ORDER BY r.collection_name LOOP
    why := backfill_refusal(c);
    IF why IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = 'cannot plan: ' || why,
        HINT = 'run natal preflight and fix what it lists';
    END IF;
    SELECT * INTO m FROM backfill_measure(c);
    INSERT INTO backfill_plan_item (plan_id, collection_name, identity, expected, codes_checksum)
    VALUES (v_plan, c.collection_name, backfill_identity(c), m.expected, m.checksum);
    INSERT INTO birth_backfill_ledger (step, plan_id, collection_name, actor, dry_run, expected, detail)
    VALUES ('PLAN', v_plan, c.collection_name, v_actor, true, m.expected,
            jsonb_build_object('checksum', m.checksum));
  END LOOP;
  IF cardinality(p_collections) <> (SELECT count(*) FROM backfill_plan_item WHERE plan_id = v_plan) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB001', MESSAGE = 'cannot plan: a named collection is not registered',
      HINT = 'natal collection list';
  END IF;
  UPDATE backfill_plan
  SET fingerprint = backfill_fingerprint(v_plan, v_actor, p_version, stored_items(v_plan)),
      expected_total = (SELECT COALESCE(sum(expected), 0) FROM backfill_plan_item WHERE plan_id = v_plan)
  WHERE plan_id = v_plan;
  INSERT INTO birth_backfill_ledger (step, plan_id, actor, dry_run, expected, detail)
  SELECT 'PLAN', v_plan, v_actor, true, p.expected_total,
         jsonb_build_object('fingerprint', p.fingerprint, 'collections', cardinality(p_collections),
                            'not_eligible', p_not_eligible, 'natal_version', p_version)
  FROM backfill_plan p WHERE p.plan_id = v_plan;
  RETURN v_plan;
END
$$;

-- The plan row and its items are what they were when planned (else NB017).
CREATE FUNCTION assert_plan_intact(p backfill_plan) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  IF p.fingerprint <> backfill_fingerprint(p.plan_id, p.author, p.natal_version, stored_items(p.plan_id))
     OR p.expected_total <> (SELECT COALESCE(sum(expected), 0) FROM backfill_plan_item WHERE plan_id = p.plan_id) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017',
      MESSAGE = format('plan %s was altered after it was made (its fingerprint no longer matches)', p.plan_id),
      HINT = 'make a new plan: natal plan';
  END IF;
END
$$;

-- Who must permit a plan: the owner of each collection as the plan pinned it (NULL owners
-- are listed too). A later change of owner makes the plan stale, not its permits void.
CREATE FUNCTION plan_owners(p_plan bigint) RETURNS TABLE (collection_name text, owner text)
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT i.collection_name, i.identity->>'owner' FROM backfill_plan_item i
  WHERE i.plan_id = p_plan ORDER BY i.collection_name
$$;

-- Why p_actor's permit would not count (NULL when it would): a permit comes from the owner
-- of a collection in the plan, and counts for the collections that actor owns. The owners
-- are pinned in the plan (backfill_identity), so a change of owner makes the plan stale.
CREATE FUNCTION permit_refusal(p_plan bigint, p_actor text) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT CASE
    WHEN bool_or(o.owner = p_actor) THEN NULL
    WHEN bool_and(o.owner IS NULL) THEN
      format('no collection of plan %s has an owner to permit it (natal collection set TABLE --owner NAME)', p_plan)
    ELSE format('a permit comes from an owner of the plan''s collections (%s), not %s',
                string_agg(DISTINCT o.owner, ', '), p_actor)
  END
  FROM plan_owners(p_plan) o
$$;

-- The first collection of the plan that has no permit from its owner for this fingerprint,
-- as 'collection (owner)'; NULL when every one has.
CREATE FUNCTION missing_permit(p_plan bigint, p_fingerprint text) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT format('%s (%s)', o.collection_name, COALESCE(o.owner, 'no owner'))
  FROM plan_owners(p_plan) o
  WHERE o.owner IS NULL
     OR NOT EXISTS (SELECT 1 FROM backfill_approval a
                    WHERE a.plan_id = p_plan AND a.kind = 'permit' AND a.fingerprint = p_fingerprint
                      AND a.actor = o.owner)
  ORDER BY o.collection_name LIMIT 1
$$;

-- A review (by anyone but the plan's author) or a permit (by an owner of collections in
-- the plan; every collection needs its owner's), bound to the plan's fingerprint.
CREATE FUNCTION approve_plan(p_plan bigint, p_kind approval_kind, p_note text DEFAULT NULL)
RETURNS backfill_approval
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  p backfill_plan := find_plan(p_plan);
  v_actor text := actor();
  why text;
  a backfill_approval;
BEGIN
  PERFORM assert_plan_intact(p);
  IF p.status <> 'planned' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB016', MESSAGE = format('plan %s is %s; it cannot be approved', p_plan, p.status),
      HINT = 'make a new plan: natal plan';
  END IF;
  IF p_kind = 'review' AND v_actor = p.author THEN
    RAISE EXCEPTION USING ERRCODE = 'NB016',
      MESSAGE = format('%s wrote plan %s and cannot review it', v_actor, p_plan),
      HINT = 'the review must come from another person (on a server: another database role)';
  END IF;
  IF p_kind = 'permit' THEN
    why := permit_refusal(p_plan, v_actor);
    IF why IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'NB016', MESSAGE = why,
        HINT = 'the owner of every collection in the plan permits it';
    END IF;
  END IF;
  -- Approving twice keeps the first approval (its time and note) as it was.
  INSERT INTO backfill_approval (plan_id, kind, actor, fingerprint, note)
  VALUES (p_plan, p_kind, v_actor, p.fingerprint, p_note)
  ON CONFLICT (plan_id, kind, actor) DO NOTHING
  RETURNING * INTO a;
  IF a.approval_id IS NULL THEN
    SELECT * INTO a FROM backfill_approval x WHERE x.plan_id = p_plan AND x.kind = p_kind AND x.actor = v_actor;
  END IF;
  RETURN a;
END
$$;

-- The gate every applying call passes: the plan is intact and not applied, nothing is
-- frozen, a review by someone other than the author and a permit by the owner(s), both
-- bound to this fingerprint. (Staleness, the costly check, is apply_begin's.)
CREATE FUNCTION assert_apply_allowed(p backfill_plan) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  why text;
BEGIN
  PERFORM assert_plan_intact(p);
  IF p.status = 'applied' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = format('plan %s was already applied', p.plan_id),
      HINT = 'nothing to do; natal census shows the result, natal ledger the steps';
  ELSIF p.status <> 'planned' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = format('plan %s is %s', p.plan_id, p.status),
      HINT = 'make a new plan: natal plan';
  END IF;
  PERFORM assert_thawed(plan_collections(p.plan_id));
  IF NOT EXISTS (SELECT 1 FROM backfill_approval a
                 WHERE a.plan_id = p.plan_id AND a.kind = 'review' AND a.fingerprint = p.fingerprint) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = format('plan %s has no review', p.plan_id),
      HINT = format('someone other than %s reviews it: natal approve %s --review', p.author, p.plan_id);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM backfill_approval a
                 WHERE a.plan_id = p.plan_id AND a.kind = 'review' AND a.fingerprint = p.fingerprint
                   AND a.actor <> p.author) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017',
      MESSAGE = format('plan %s was reviewed only by its author, %s', p.plan_id, p.author),
      HINT = format('someone else reviews it: natal approve %s --review', p.plan_id);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM backfill_approval a
                 WHERE a.plan_id = p.plan_id AND a.kind = 'permit' AND a.fingerprint = p.fingerprint) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = format('plan %s has no permit', p.plan_id),
      HINT = format('the owner permits it: natal approve %s --permit', p.plan_id);
  END IF;
  why := missing_permit(p.plan_id, p.fingerprint);
  IF why IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = format('plan %s has no permit from the owner of %s', p.plan_id, why),
      HINT = format('each collection''s owner permits it: natal approve %s --permit', p.plan_id);
  END IF;
END
$$;

-- One apply at a time per registry: a session-level advisory lock, held from apply_begin
-- to apply_finish (or until the session ends, so a killed apply frees it).
CREATE FUNCTION apply_lock_key() RETURNS integer
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$ SELECT hashtext('natal apply ' || natal_schema()) $$;

CREATE FUNCTION apply_lock_holder() RETURNS integer
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT l.pid FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 28257::oid AND l.objsubid = 2
    AND l.objid::bigint = (apply_lock_key()::bigint & 4294967295)
  LIMIT 1
$$;

-- A run that commits running must have passed the gate: checked at commit (a deferred
-- constraint trigger), so a run row written around apply_begin, or a rehearsal-mode write
-- into one, cannot commit births for a plan that is not approved, is frozen or applied,
-- or while no apply holds the lock. A rehearsal's run never commits, so never meets it.
CREATE FUNCTION run_gate() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  r backfill_run;
BEGIN
  SELECT * INTO r FROM backfill_run WHERE run_id = NEW.run_id;
  IF FOUND AND r.status = 'running' THEN
    PERFORM assert_apply_allowed(find_plan(r.plan_id));
    IF apply_lock_holder() IS NULL THEN
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
CREATE FUNCTION apply_begin(p_plan bigint, p_batch_size integer, p_resume bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  p backfill_plan := find_plan(p_plan);
  r backfill_run;
  v_actor text := actor();
  stale record;
  live jsonb;
  so_far bigint;
BEGIN
  IF p_batch_size IS NULL OR p_batch_size < 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = 'batch size must be a positive number',
      HINT = 'natal apply PLAN --batch-size N';
  END IF;
  PERFORM assert_apply_allowed(p);
  IF apply_lock_holder() = pg_backend_pid() THEN
    RAISE EXCEPTION USING ERRCODE = 'NB019', MESSAGE = 'this session is already applying a plan',
      HINT = 'finish that apply first';
  END IF;
  IF NOT pg_try_advisory_lock(28257, apply_lock_key()) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB019',
      MESSAGE = format('another apply is running (backend pid %s)', COALESCE(apply_lock_holder()::text, '?')),
      HINT = 'wait for it to finish, then try again';
  END IF;
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
    live := live_items(p_plan, p_resume);
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
    ELSE
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
  EXCEPTION WHEN OTHERS THEN
    PERFORM pg_advisory_unlock(28257, apply_lock_key());
    RAISE;
  END;
  RETURN r.run_id;
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
CREATE FUNCTION backfill_batch_sql(c collection_registry, p_conflict boolean,
                                   OUT bounds text, OUT ins text, OUT counts boolean)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  rel regclass := collection_table(c);
  sp entity_species := collection_species(c.collection_name);
  keys name[] := key_columns(rel);
  key_cols text;
  key_json text;
  key_cast text;
  range_sql text;
  verdict text;
  code_sql text := entity_code_sql(c, 't');
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
           string_agg(format('($%%1$s->>%s)::%s', o - 1,
                             (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                              WHERE a.attrelid = rel AND a.attname = k)), ', ' ORDER BY o)
      INTO key_cols, key_json, key_cast
    FROM unnest(keys) WITH ORDINALITY AS u(k, o);
    -- (the JSON is built for the one row found, not for each row skipped)
    bounds := format('SELECT %1$s FROM (SELECT %3$s FROM %2$s AS t WHERE ($1::jsonb IS NULL OR (%3$s) > (%4$s)) '
                     'ORDER BY %3$s OFFSET $2 - 1 LIMIT 1) AS t',
                     key_json, rel, key_cols, format(key_cast, 1));
    range_sql := format('($1::jsonb IS NULL OR (%1$s) > (%2$s)) AND ($2::jsonb IS NULL OR (%1$s) <= (%3$s))',
                        key_cols, format(key_cast, 1), format(key_cast, 2));
  END IF;
  SELECT '(' || string_agg(format('starts_with(n.code, %L)', pfx), ' OR ') || ')' INTO verdict
  FROM unnest(accepted_code_prefixes(c, sp)) AS pfx;
  verdict := COALESCE(verdict, 'false');
  ins := format($q$
    INSERT INTO birth_registry (entity_code, collection_name, species_code, composition_level, dot_origin,
                                governance_role, operation, run_id, inspection_status, inspected_at, inspection_note)
    SELECT n.code, %1$L, %2$L, %3$L, n.origin, 'governed', 'backfill', $3,
           CASE WHEN %4$s THEN 'passed' ELSE 'failed' END::inspection_status, now(),
           CASE WHEN %4$s THEN NULL ELSE %5$L END
    FROM (SELECT %6$s AS code, %7$s AS origin FROM %8$s AS t WHERE %9$s) AS n
    WHERE n.code IS NOT NULL
    %10$s
  $q$,
    c.collection_name, sp.species_code, sp.composition_level, verdict,
    format('code does not match the %s identity (expected a prefix of %s)', c.birth_code_strategy,
           array_to_string(accepted_code_prefixes(c, sp), ' or ')),
    code_sql, dot_origin_sql(c, 't'), rel, range_sql,
    -- Where codes are known to be born already, each is looked up first: an index probe
    -- costs less than a speculative insertion that ends in a conflict (a rehearsal's rerun
    -- meets a conflict on every row).
    CASE WHEN p_conflict THEN 'AND NOT EXISTS (SELECT 1 FROM birth_registry b WHERE b.entity_code = n.code)
    ON CONFLICT (entity_code) DO NOTHING' ELSE '' END);
  -- Column and legacy codes can fail inspection: their insert counts what it wrote and how
  -- much of it failed (counts), exactly the births this statement made.
  counts := c.birth_code_strategy IN ('column', 'legacy');
  IF counts THEN
    ins := format($q$
      WITH born AS (%s
        RETURNING inspection_status)
      SELECT count(*), count(*) FILTER (WHERE inspection_status = 'failed') FROM born
    $q$, ins);
  END IF;
END
$$;

-- The run, checked for a caller that is about to write with it: it exists and is running,
-- and (outside a rehearsal) the gate holds and an apply holds the lock — this session
-- (p_main: the session that began the run) or, for the parallel lanes, another one.
CREATE FUNCTION running_run(p_run bigint, p_rehearsal boolean, p_main boolean) RETURNS backfill_run
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
  IF p_rehearsal AND txid_status((txid_current() >> 32 << 32)
                                 | (SELECT x.xmin::text::bigint FROM backfill_run x WHERE x.run_id = p_run))
                     IS DISTINCT FROM 'in progress' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = format('run %s is not a rehearsal in progress', p_run),
      HINT = 'rehearse with: natal rehearse PLAN';
  END IF;
  IF NOT p_rehearsal THEN
    IF (p_main AND apply_lock_holder() IS DISTINCT FROM pg_backend_pid()) OR apply_lock_holder() IS NULL THEN
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
CREATE FUNCTION apply_next(p_run bigint, p_limit integer, p_parts integer DEFAULT 1, p_rehearsal boolean DEFAULT false)
RETURNS TABLE (collection_name text, after_key jsonb, upto_key jsonb)
LANGUAGE plpgsql SET search_path FROM CURRENT SET enable_seqscan = off SET jit = off
AS $$
DECLARE
  r backfill_run := running_run(p_run, p_rehearsal, true);
  c collection_registry;
  bounds text;
  k jsonb;
BEGIN
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
CREATE FUNCTION apply_range(p_run bigint, p_collection text, p_after jsonb, p_upto jsonb,
                            p_rehearsal boolean DEFAULT false, OUT born bigint, OUT failed bigint)
LANGUAGE plpgsql SET search_path FROM CURRENT
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off SET enable_nestloop = on
SET jit = off SET work_mem = '64MB'
AS $$
DECLARE
  r backfill_run := running_run(p_run, p_rehearsal, false);
  c collection_registry := find_collection(p_collection);
  batch record;
BEGIN
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
  BEGIN
    IF batch.counts THEN
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
    IF batch.counts THEN
      EXECUTE (backfill_batch_sql(c, true)).ins INTO born, failed USING p_after, p_upto, p_run;
    ELSE
      EXECUTE (backfill_batch_sql(c, true)).ins USING p_after, p_upto, p_run;
      GET DIAGNOSTICS born = ROW_COUNT;
    END IF;
  END;
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
CREATE FUNCTION apply_advance(p_run bigint, p_collection text, p_upto jsonb, p_rehearsal boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  r backfill_run := running_run(p_run, p_rehearsal, true);
  cur jsonb := r.cursor;
  next_name text;
BEGIN
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
CREATE FUNCTION apply_batch(p_run bigint, p_limit integer DEFAULT NULL, p_rehearsal boolean DEFAULT false,
                            OUT collection_name text, OUT born bigint, OUT failed bigint,
                            OUT done boolean)
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  n record;
  w record;
BEGIN
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
CREATE FUNCTION confirm_counts(c collection_registry, OUT rows bigint, OUT gap bigint)
LANGUAGE plpgsql SET search_path FROM CURRENT
SET jit = off SET work_mem = '64MB' SET enable_nestloop = on SET enable_hashjoin = on SET enable_mergejoin = on
AS $$
DECLARE
  rel regclass := collection_table(c);
  estimate real := (SELECT reltuples FROM pg_class WHERE oid = rel);
BEGIN
  IF estimate <= 0 THEN  -- never analysed (-1 from PG 14, 0 before)
    EXECUTE format('SELECT count(*) FROM %s', rel) INTO estimate;
  END IF;
  IF estimate >= 20000 THEN
    PERFORM set_config('enable_nestloop', 'off', true);
  ELSE
    PERFORM set_config('enable_hashjoin', 'off', true);
    PERFORM set_config('enable_mergejoin', 'off', true);
  END IF;
  EXECUTE format($q$
    SELECT count(*), count(*) FILTER (WHERE b.entity_code IS NULL)
    FROM (SELECT %s AS code FROM %s AS t) AS e
    LEFT JOIN birth_registry b ON b.entity_code = e.code
  $q$, entity_code_sql(c, 't'), rel) INTO rows, gap;
END
$$;

-- Confirms a finished run: per collection rows, births of the run, gap after (rows with no
-- birth) and the first orphans when there are any; APPLY ledger rows; the run completed,
-- the plan applied; the lock released.
CREATE FUNCTION apply_finish(p_run bigint)
RETURNS TABLE (collection_name text, expected bigint, born bigint, failed bigint, rows bigint, gap_after bigint,
               orphans text[])
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  r backfill_run;
  c collection_registry;
  i backfill_plan_item;
BEGIN
  SELECT * INTO r FROM backfill_run WHERE run_id = p_run FOR UPDATE;
  IF NOT FOUND OR r.status <> 'running' OR r.cursor->>'collection' IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB015', MESSAGE = format('run %s is not a finished, running apply', p_run),
      HINT = 'natal ledger --run RUN';
  END IF;
  IF apply_lock_holder() IS DISTINCT FROM pg_backend_pid() THEN
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
  PERFORM pg_advisory_unlock(28257, apply_lock_key());
END
$$;

-- Releases the apply lock after a failed batch (the run stays resumable).
CREATE FUNCTION apply_release() RETURNS boolean
LANGUAGE sql SET search_path FROM CURRENT
AS $$ SELECT pg_advisory_unlock(28257, apply_lock_key()) $$;

-- Rehearsal: in one transaction, apply the plan, check births = expected per collection,
-- apply again (rerun delta must be 0), check nothing outside the plan moved (births of
-- other collections, row counts of governed tables), inspect, and roll it all back. Then a
-- REHEARSAL ledger row per collection with the numbers, and the net births (0).
CREATE FUNCTION rehearse(p_plan bigint) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off
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
  PERFORM assert_plan_intact(p);
  IF p.status <> 'planned' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = format('plan %s is %s; only a planned plan is rehearsed', p_plan, p.status),
      HINT = 'make a new plan: natal plan';
  END IF;
  SELECT count(*) INTO total_before FROM birth_registry;
  BEGIN
    outside_before := outside_plan(names);
    INSERT INTO backfill_run (plan_id, actor, batch_size, cursor)
    VALUES (p_plan, v_actor, 2147483647,
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
CREATE FUNCTION outside_plan(p_collections text[]) RETURNS jsonb
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

-- Rollback: removes exactly the births the run made (births carry their run id; trigger and
-- gateway births have none), checks none is left and the counts match what the run
-- recorded, and writes ROLLBACK ledger rows. p_dry_run: only says what it would remove.
CREATE FUNCTION rollback_run(p_run bigint, p_dry_run boolean DEFAULT false)
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
  FROM (SELECT b.collection_name, count(*) AS n FROM birth_registry b WHERE b.run_id = p_run GROUP BY 1) AS x;
  IF NOT p_dry_run THEN
    DELETE FROM birth_registry b WHERE b.run_id = p_run;
    GET DIAGNOSTICS left_over = ROW_COUNT;
    IF left_over <> (SELECT COALESCE(sum(v::bigint), 0) FROM jsonb_each_text(counts) AS e(k, v))
       OR EXISTS (SELECT 1 FROM birth_registry b WHERE b.run_id = p_run) THEN
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
        MESSAGE = format('run %s recorded %s births of %s but %s carry its id; nothing was removed', p_run, born,
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

ALTER FUNCTION backfill_measure(collection_registry, bigint) SET jit = off;
ALTER FUNCTION live_items(bigint, bigint) SET jit = off;
ALTER FUNCTION create_plan(text[], text, jsonb) SET jit = off;
ALTER FUNCTION apply_begin(bigint, integer, bigint) SET jit = off;

CREATE CONSTRAINT TRIGGER natal_run_gate AFTER INSERT OR UPDATE ON backfill_run
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION run_gate();
