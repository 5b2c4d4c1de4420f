-- The planner's picture of birth_registry, refreshed when much has changed since the last
-- ANALYZE (autovacuum's rule: 10% + 1,000 rows). Called before the anti-joins of plan,
-- apply and rollback: a registry that grew by a million births in an apply still looks
-- empty to the planner until autovacuum comes by, and an anti-join planned on that picture
-- scans the whole registry once per row. (A role that does not own the table gets a
-- warning from ANALYZE, not an error.) SKIP_LOCKED: it never waits for a lock, so that
-- another session's ANALYZE (a census's, held in an open transaction) cannot hold an apply
-- up; then the statistics stay as they are.
CREATE OR REPLACE FUNCTION refresh_registry_stats() RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
             WHERE s.relid = 'birth_registry'::regclass
               AND s.n_mod_since_analyze > 1000 + 0.1 * greatest(c.reltuples, 0)) THEN
    ANALYZE (SKIP_LOCKED) birth_registry;
    RETURN true;
  END IF;
  RETURN false;
END
$$;

-- What a plan pins for a collection besides its gap: everything that decides which code a
-- row gets and what its birth says. A change to any of it makes the plan stale.
CREATE OR REPLACE FUNCTION backfill_identity(c collection_registry) RETURNS jsonb
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
CREATE OR REPLACE FUNCTION backfill_refusal(c collection_registry) RETURNS text
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
CREATE OR REPLACE FUNCTION checksum_sql(c collection_registry, alias text) RETURNS text
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

-- The same checksum, from a birth's code (what an apply's insert returns): the key back out
-- of '<collection>::<key>' for a synthetic id over an integer key, else the code's hash.
CREATE OR REPLACE FUNCTION code_checksum_sql(c collection_registry, code text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  IF checksum_sql(c, 't') LIKE 'hashint8extended(%' THEN
    RETURN format('hashint8extended(substr(%s, %s)::bigint, 0)', code, length(c.collection_name || '::') + 1);
  END IF;
  RETURN format('hashtextextended(%s, 0)', code);
END
$$;

-- A resumed apply's measure (0007) counts the births its run made as missing: those are
-- the run's *backfill* births, now that a hand-written birth may carry the run's id too.
CREATE OR REPLACE FUNCTION backfill_measure(c collection_registry, p_run bigint DEFAULT NULL,
                                 OUT expected bigint, OUT checksum text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  unborn boolean := false;
  rel regclass := collection_table(c);
BEGIN
  -- (a keyed collection codes its rows in its namespace only: whether a row is born is
  -- whether its code is, so an empty namespace is a gap of every row, found without reading
  -- the registry; a resumed run's own births are looked past, in a pass over it)
  IF c.birth_code_strategy IN ('synthetic_id', 'composite') AND p_run IS NULL THEN
    unborn := NOT namespace_born(c.collection_name || '::');
  ELSIF c.birth_code_strategy IN ('synthetic_id', 'composite') THEN
    SELECT NOT EXISTS (SELECT 1 FROM birth_registry b
                       WHERE starts_with(b.entity_code, c.collection_name || '::')
                         AND (b.run_id IS DISTINCT FROM p_run OR b.operation <> 'backfill'))
      INTO unborn;
  END IF;
  -- (the table read as its owner: owner_read.sql)
  IF unborn THEN
    EXECUTE format('SELECT r.n, r.s FROM %s',
                   owner_rows_sql(rel, format('SELECT count(*), COALESCE(sum(%s), 0)::text FROM %s AS t',
                                              checksum_sql(c, 't'), rel), 'r(n bigint, s text)'))
      INTO expected, checksum;
    RETURN;
  END IF;
  EXECUTE format($q$
    SELECT count(g.code), COALESCE(sum(g.h), 0)::text
    FROM %s
    WHERE NOT EXISTS (SELECT 1 FROM birth_registry b
                      WHERE b.entity_code = g.code %s)
  $q$, owner_rows_sql(rel, format('SELECT %s, %s FROM %s AS t', entity_code_sql(c, 't'), checksum_sql(c, 't'), rel),
                      'g(code text, h bigint)'),
       CASE WHEN p_run IS NULL THEN '' ELSE format('AND (b.run_id IS DISTINCT FROM %s OR b.operation <> ''backfill'')', p_run) END)
  INTO expected, checksum;
END
$$;

-- A plan's fingerprint: its author, natal's version and, per collection, the identity, the
-- gap count and the checksum. Approvals are bound to it; the apply recomputes it.
CREATE OR REPLACE FUNCTION backfill_fingerprint(p_plan bigint, p_author text, p_version text, p_items jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT encode(sha256(convert_to(concat_ws(E'\n', 'natal-plan', p_plan::text, p_author, p_version,
           (SELECT string_agg(concat_ws(E'\t', i->>'collection', i->>'identity', i->>'expected', i->>'checksum'),
                              E'\n' ORDER BY i->>'collection')
            FROM jsonb_array_elements(p_items) AS i)), 'UTF8')), 'hex')
$$;

-- The plan's items as stored, in the shape backfill_fingerprint reads.
CREATE OR REPLACE FUNCTION stored_items(p_plan bigint) RETURNS jsonb
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT COALESCE(jsonb_agg(jsonb_build_object('collection', i.collection_name, 'identity', i.identity::text,
                                               'expected', i.expected::text, 'checksum', i.codes_checksum)
                            ORDER BY i.collection_name), '[]')
  FROM backfill_plan_item i WHERE i.plan_id = p_plan
$$;

-- The same items as they are now (p_run: a resumed apply's own births count as missing).
-- (p_measure false: the gap is taken as planned, for a caller that measures it itself, as
-- a new apply does range by range: pin_ranges.)
CREATE OR REPLACE FUNCTION live_items(p_plan bigint, p_run bigint DEFAULT NULL, p_measure boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT SET jit = off
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
    IF p_measure THEN
      SELECT * INTO m FROM backfill_measure(c, p_run);
    ELSE
      SELECT i.expected, i.codes_checksum AS checksum INTO m FROM backfill_plan_item i
      WHERE i.plan_id = p_plan AND i.collection_name = c.collection_name;
    END IF;
    items := items || jsonb_build_object('collection', c.collection_name, 'identity', backfill_identity(c)::text,
                                         'expected', m.expected::text, 'checksum', m.checksum);
  END LOOP;
  RETURN items;
END
$$;

CREATE OR REPLACE FUNCTION find_plan(p_plan bigint) RETURNS backfill_plan
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

CREATE OR REPLACE FUNCTION plan_collections(p_plan bigint) RETURNS text[]
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT COALESCE(array_agg(collection_name ORDER BY collection_name), '{}')
  FROM backfill_plan_item WHERE plan_id = p_plan
$$;

-- Plan (the dry run): the exact gap of each collection, pinned by a fingerprint, with PLAN
-- ledger rows. Writes no birth. p_not_eligible: the collections the preflight turned away,
-- with their failed checks, kept in the ledger so the plan says what it left out and why.
CREATE OR REPLACE FUNCTION create_plan(p_collections text[], p_version text, p_not_eligible jsonb DEFAULT '[]')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry;
  m record;
  why text;
  items jsonb := '[]';
  v_plan bigint;
  v_actor text := actor();
  found integer := 0;
  complete text[] := '{}';
BEGIN
  PERFORM assert_natal_role('operator');
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
    found := found + 1;
    SELECT * INTO m FROM backfill_measure(c);
    IF m.expected = 0 THEN
      complete := complete || c.collection_name;
    END IF;
    INSERT INTO backfill_plan_item (plan_id, collection_name, identity, expected, codes_checksum)
    VALUES (v_plan, c.collection_name, backfill_identity(c), m.expected, m.checksum);
    INSERT INTO birth_backfill_ledger (step, plan_id, collection_name, actor, dry_run, expected, detail)
    VALUES ('PLAN', v_plan, c.collection_name, v_actor, true, m.expected,
            jsonb_build_object('checksum', m.checksum));
  END LOOP;
  IF cardinality(p_collections) <> found THEN
    RAISE EXCEPTION USING ERRCODE = 'NB001', MESSAGE = 'cannot plan: a named collection is not registered',
      HINT = 'natal collection list';
  END IF;
  -- Nothing to birth: no plan is recorded (the exception takes the plan row with it). The
  -- eligible collections with no gap stay in a plan that has births elsewhere: they were
  -- dry-run too (the seed's "eligible"), with 0 expected.
  IF NOT EXISTS (SELECT 1 FROM backfill_plan_item WHERE plan_id = v_plan AND expected > 0) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB033',
      MESSAGE = format('nothing to plan: %s eligible collection(s) with no gap, every row has its birth (%s)',
                       cardinality(complete), array_to_string(complete, ', ')),
      HINT = 'natal status shows what else needs attention';
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
CREATE OR REPLACE FUNCTION assert_plan_intact(p backfill_plan) RETURNS void
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

-- A plan moves forward only: planned → applied or superseded, applied → superseded (after a
-- rollback). An applied or superseded plan set back to planned would apply again on its
-- old approvals.
CREATE OR REPLACE FUNCTION plan_forward_only() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
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

DROP TRIGGER IF EXISTS natal_plan_forward_only ON backfill_plan;
CREATE TRIGGER natal_plan_forward_only BEFORE UPDATE OF status ON backfill_plan
  FOR EACH ROW EXECUTE FUNCTION plan_forward_only();
