-- Who must permit a plan: the owner of each collection as the plan pinned it (NULL owners
-- are listed too). A later change of owner makes the plan stale, not its permits void.
CREATE OR REPLACE FUNCTION plan_owners(p_plan bigint) RETURNS TABLE (collection_name text, owner text)
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT i.collection_name, i.identity->>'owner' FROM backfill_plan_item i
  WHERE i.plan_id = p_plan ORDER BY i.collection_name
$$;

-- Why p_actor's permit would not count (NULL when it would): a permit comes from the owner
-- of a collection in the plan (the owner role, or a member of it when it is a group role),
-- and counts for the collections that actor acts for. The owners are pinned in the plan
-- (backfill_identity), so a change of owner makes the plan stale.
CREATE OR REPLACE FUNCTION permit_refusal(p_plan bigint, p_actor text) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT CASE
    WHEN bool_or(acts_for(p_actor, o.owner)) THEN NULL
    WHEN bool_and(o.owner IS NULL) THEN
      format('no collection of plan %s has an owner to permit it (natal collection set TABLE --owner NAME)', p_plan)
    ELSE format('a permit comes from an owner of the plan''s collections (%s), not %s',
                string_agg(DISTINCT o.owner, ', '), p_actor)
  END
  FROM plan_owners(p_plan) o
$$;

-- The first collection of the plan that has no permit from its owner for this fingerprint,
-- as 'collection (owner)'; NULL when every one has. A permit by the plan's author or by
-- one of its reviewers does not count: author, reviewer and permitter are three roles.
CREATE OR REPLACE FUNCTION missing_permit(p_plan bigint, p_fingerprint text) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT format('%s (%s)', o.collection_name, COALESCE(o.owner, 'no owner'))
  FROM plan_owners(p_plan) o, backfill_plan p
  WHERE p.plan_id = p_plan AND (
        o.owner IS NULL
     OR NOT EXISTS (SELECT 1 FROM backfill_approval a
                    WHERE a.plan_id = p_plan AND a.kind = 'permit' AND a.fingerprint = p_fingerprint
                      AND acts_for(a.actor, o.owner) AND a.actor <> p.author
                      AND NOT EXISTS (SELECT 1 FROM backfill_approval r
                                      WHERE r.plan_id = p_plan AND r.kind = 'review' AND r.actor = a.actor)))
  ORDER BY o.collection_name LIMIT 1
$$;

-- The plan's latest rehearsal of its fingerprint (the summary ledger row), NULL when there
-- is none. A rehearsal recorded before natal kept the fingerprint in it counts for its plan:
-- an intact plan's fingerprint never changes.
CREATE OR REPLACE FUNCTION last_rehearsal(p backfill_plan) RETURNS birth_backfill_ledger
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT l.* FROM birth_backfill_ledger l
  WHERE l.plan_id = p.plan_id AND l.step = 'REHEARSAL' AND l.collection_name IS NULL
    AND COALESCE(l.detail->>'fingerprint', p.fingerprint) = p.fingerprint
  ORDER BY l.ledger_id DESC LIMIT 1
$$;

-- The gate's first step (the seed's order: the dry run proven, then review, permit and
-- apply): the latest rehearsal of the plan's fingerprint passed, else NB027, saying what to
-- do. p_doing: what the caller would do to the plan ('reviewed', 'permitted', 'applied').
CREATE OR REPLACE FUNCTION assert_rehearsed(p backfill_plan, p_doing text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  l birth_backfill_ledger := last_rehearsal(p);
  failure jsonb;
BEGIN
  IF l.ledger_id IS NULL THEN
    IF EXISTS (SELECT 1 FROM birth_backfill_ledger x
               WHERE x.plan_id = p.plan_id AND x.step = 'REHEARSAL' AND x.collection_name IS NULL) THEN
      RAISE EXCEPTION USING ERRCODE = 'NB027',
        MESSAGE = format('plan %s changed since its rehearsal (its fingerprint is not the one rehearsed), so it cannot be %s',
                         p.plan_id, p_doing),
        HINT = format('rehearse it again: natal rehearse %s', p.plan_id);
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'NB027',
      MESSAGE = format('plan %s has not been rehearsed, so it cannot be %s', p.plan_id, p_doing),
      HINT = format('rehearse it first: natal rehearse %s', p.plan_id);
  END IF;
  IF NOT COALESCE((l.detail->>'ok')::boolean, false) THEN
    failure := CASE WHEN l.detail ? 'why' AND l.detail->>'why' IS NOT NULL
                 THEN jsonb_build_object('why', l.detail->'why', 'next', l.detail->'next')
                 -- (a rehearsal recorded before natal kept why: from its per-collection rows)
                 ELSE rehearsal_failure(p.plan_id, jsonb_build_object(
                        'net_births', l.detail->'net_births', 'outside_moved', l.detail->'outside_moved',
                        'collections', (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                                                  'collection', c.collection_name, 'expected', c.expected,
                                                  'born', c.actual, 'rerun_delta', c.rerun_delta,
                                                  'inspection_failed', c.detail->'inspection_failed')), '[]')
                                        FROM birth_backfill_ledger c
                                        WHERE c.plan_id = p.plan_id AND c.step = 'REHEARSAL'
                                          AND c.collection_name IS NOT NULL AND c.recorded_at = l.recorded_at)))
               END;
    RAISE EXCEPTION USING ERRCODE = 'NB027',
      MESSAGE = format('plan %s''s rehearsal failed (%s), so it cannot be %s', p.plan_id,
                       COALESCE(failure->>'why', 'see natal ledger --plan ' || p.plan_id), p_doing),
      HINT = COALESCE(failure->>'next', format('fix what it found, then rehearse again: natal rehearse %s', p.plan_id));
  END IF;
END
$$;

-- The gate of a review (by a natal reviewer other than the plan's author) or a permit (by an
-- owner of collections in the plan; every collection needs its owner's): raises the refusal
-- p_actor would meet, in the gate's order. The author, the reviewer and the permitter are
-- three different roles.
CREATE OR REPLACE FUNCTION assert_may_approve(p backfill_plan, p_kind approval_kind, v_actor text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  p_plan bigint := p.plan_id;
  why text;
BEGIN
  PERFORM assert_natal_role('reader');
  PERFORM assert_plan_intact(p);
  IF p.status <> 'planned' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB016', MESSAGE = format('plan %s is %s; it cannot be approved', p_plan, p.status),
      HINT = 'make a new plan: natal plan';
  END IF;
  IF p_kind = 'review' THEN
    PERFORM assert_natal_role('reviewer');
  END IF;
  IF v_actor = p.author THEN
    RAISE EXCEPTION USING ERRCODE = 'NB016',
      MESSAGE = format('%s wrote plan %s and cannot %s it', v_actor, p_plan, p_kind),
      HINT = format('the %s must come from another person (on a server: another database role)', p_kind);
  END IF;
  IF EXISTS (SELECT 1 FROM backfill_approval x
             WHERE x.plan_id = p_plan AND x.actor = v_actor AND x.kind <> p_kind) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB016',
      MESSAGE = format('%s already gave plan %s its %s and cannot also %s it', v_actor, p_plan,
                       CASE p_kind WHEN 'review' THEN 'permit' ELSE 'review' END, p_kind),
      HINT = 'the author, the reviewer and the permitter of a plan are three different people';
  END IF;
  IF p_kind = 'permit' THEN
    why := permit_refusal(p_plan, v_actor);
    IF why IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'NB016', MESSAGE = why,
        HINT = 'the owner of every collection in the plan permits it';
    END IF;
  END IF;
  -- Who may approve is settled; now whether the plan may be: only once it is rehearsed.
  PERFORM assert_rehearsed(p, CASE p_kind WHEN 'review' THEN 'reviewed' ELSE 'permitted' END);
END
$$;

-- A review or a permit, bound to the plan's fingerprint, once the gate lets it through.
CREATE OR REPLACE FUNCTION approve_plan(p_plan bigint, p_kind approval_kind, p_note text DEFAULT NULL)
RETURNS backfill_approval
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  p backfill_plan := find_plan(p_plan);
  v_actor text := actor();
  a backfill_approval;
BEGIN
  PERFORM assert_may_approve(p, p_kind, v_actor);
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

-- Whether the session's actor may give plan p_plan its review or permit now, without
-- giving it: {"allowed": true}, or the gate's own refusal {"allowed": false, "reason",
-- "hint"} (the page's Review and Permit buttons, disabled with the reason). Readable by
-- natal's readers; writes nothing.
CREATE OR REPLACE FUNCTION approval_check(p_plan bigint, p_kind approval_kind) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  msg text;
  hint text;
BEGIN
  PERFORM assert_may_approve(find_plan(p_plan), p_kind, actor());
  RETURN jsonb_build_object('allowed', true);
EXCEPTION WHEN OTHERS THEN
  IF SQLSTATE NOT LIKE 'NB%' THEN
    RAISE;
  END IF;
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
  RETURN jsonb_build_object('allowed', false, 'reason', msg, 'hint', NULLIF(hint, ''));
END
$$;

-- The gate every applying call passes: the plan is intact and not applied, nothing is
-- frozen, its latest rehearsal passed, a review by someone other than the author and a
-- permit by the owner(s), all bound to this fingerprint. (Staleness, the costly check, is
-- apply_begin's.)
CREATE OR REPLACE FUNCTION assert_apply_allowed(p backfill_plan) RETURNS void
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
  PERFORM assert_rehearsed(p, 'applied');
  IF NOT EXISTS (SELECT 1 FROM backfill_approval a
                 WHERE a.plan_id = p.plan_id AND a.kind = 'review' AND a.fingerprint = p.fingerprint) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB017', MESSAGE = format('plan %s has no review', p.plan_id),
      HINT = format('someone other than %s reviews it: natal approve %s --review', p.author, p.plan_id);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM backfill_approval a
                 WHERE a.plan_id = p.plan_id AND a.kind = 'review' AND a.fingerprint = p.fingerprint
                   AND a.actor <> p.author
                   AND NOT EXISTS (SELECT 1 FROM backfill_approval x
                                   WHERE x.plan_id = p.plan_id AND x.kind = 'permit' AND x.actor = a.actor)) THEN
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
