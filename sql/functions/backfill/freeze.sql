-- Refuses when backfill or one of the collections is frozen: who froze it, when and why.
CREATE OR REPLACE FUNCTION assert_thawed(p_collections text[]) RETURNS void
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

CREATE OR REPLACE FUNCTION freeze(p_target text, p_reason text) RETURNS operation_freeze
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  f operation_freeze;
BEGIN
  PERFORM assert_natal_role('admin');
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

CREATE OR REPLACE FUNCTION unfreeze(p_target text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
  SELECT assert_natal_role('admin');
  WITH gone AS (DELETE FROM operation_freeze WHERE target = p_target RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM gone)
$$;
