-- The history the gate trusts (ledger rows and approvals) is append-only for everyone:
-- these triggers refuse UPDATE, DELETE and TRUNCATE, and no role but natal's definer may
-- write the tables at all. One exception: a row of a registry made before the hash chain
-- gets its link once (chain_fill), and nothing else about it may change then.
CREATE OR REPLACE FUNCTION append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.row_hash IS NULL
     AND to_jsonb(NEW) - 'chain_seq' - 'prev_hash' - 'row_hash' = to_jsonb(OLD) - 'chain_seq' - 'prev_hash' - 'row_hash' THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION USING ERRCODE = 'NB022',
    MESSAGE = format('%s is append-only: its rows cannot be changed or removed (%s)', TG_TABLE_NAME, TG_OP),
    HINT = 'natal records a new step instead; natal ledger --verify proves the history';
END
$$;

DROP TRIGGER IF EXISTS natal_append_only ON birth_backfill_ledger;
CREATE TRIGGER natal_append_only BEFORE UPDATE OR DELETE ON birth_backfill_ledger
  FOR EACH ROW EXECUTE FUNCTION append_only();
DROP TRIGGER IF EXISTS natal_append_only_truncate ON birth_backfill_ledger;
CREATE TRIGGER natal_append_only_truncate BEFORE TRUNCATE ON birth_backfill_ledger
  FOR EACH STATEMENT EXECUTE FUNCTION append_only();
DROP TRIGGER IF EXISTS natal_approval_immutable ON backfill_approval;
DROP TRIGGER IF EXISTS natal_append_only ON backfill_approval;
CREATE TRIGGER natal_append_only BEFORE UPDATE OR DELETE ON backfill_approval
  FOR EACH ROW EXECUTE FUNCTION append_only();
DROP TRIGGER IF EXISTS natal_append_only_truncate ON backfill_approval;
CREATE TRIGGER natal_append_only_truncate BEFORE TRUNCATE ON backfill_approval
  FOR EACH STATEMENT EXECUTE FUNCTION append_only();

-- The hash chain: every ledger row and approval carries sha256(previous hash, its table,
-- its content), the content being the row as JSON without the chain's own columns (times
-- in UTC, so the session's TimeZone cannot change it). chain_head keeps the last link.
CREATE OR REPLACE FUNCTION chain_hash(p_prev text, p_table text, p_row jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path FROM CURRENT
AS $$
  SELECT encode(sha256(convert_to(p_prev || E'\n' || p_table || E'\n'
                                  || (p_row - 'chain_seq' - 'prev_hash' - 'row_hash')::text, 'UTF8')), 'hex')
$$;

-- Links a new row to the chain (a BEFORE INSERT trigger; named to fire after the actor is
-- stamped). Rows are linked one at a time: chain_head is locked until the transaction ends.
CREATE OR REPLACE FUNCTION chain_link() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT SET timezone = 'UTC'
AS $$
DECLARE
  h chain_head;
BEGIN
  INSERT INTO chain_head (id, seq, hash) VALUES (true, 0, repeat('0', 64)) ON CONFLICT (id) DO NOTHING;
  SELECT * INTO h FROM chain_head FOR UPDATE;
  NEW.chain_seq := h.seq + 1;
  NEW.prev_hash := h.hash;
  NEW.row_hash := chain_hash(h.hash, TG_TABLE_NAME, to_jsonb(NEW));
  UPDATE chain_head SET seq = NEW.chain_seq, hash = NEW.row_hash;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS natal_trail ON birth_backfill_ledger;
CREATE TRIGGER natal_trail BEFORE INSERT ON birth_backfill_ledger
  FOR EACH ROW EXECUTE FUNCTION chain_link();
DROP TRIGGER IF EXISTS natal_trail ON backfill_approval;
CREATE TRIGGER natal_trail BEFORE INSERT ON backfill_approval
  FOR EACH ROW EXECUTE FUNCTION chain_link();

-- Rows made before the chain existed (a registry upgraded from natal 0.1) are linked once,
-- in the order they were written.
CREATE OR REPLACE FUNCTION chain_fill() RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT SET timezone = 'UTC'
AS $$
DECLARE
  r record;
  n bigint := 0;
  h chain_head;
  link text;
BEGIN
  INSERT INTO chain_head (id, seq, hash) VALUES (true, 0, repeat('0', 64)) ON CONFLICT (id) DO NOTHING;
  SELECT * INTO h FROM chain_head FOR UPDATE;
  FOR r IN
    SELECT * FROM (
      SELECT 'birth_backfill_ledger' AS tbl, l.ledger_id AS id, l.recorded_at AS at, to_jsonb(l) AS j
      FROM birth_backfill_ledger l WHERE l.row_hash IS NULL
      UNION ALL
      SELECT 'backfill_approval', a.approval_id, a.approved_at, to_jsonb(a)
      FROM backfill_approval a WHERE a.row_hash IS NULL) AS x
    ORDER BY x.at, x.tbl DESC, x.id
  LOOP
    h.seq := h.seq + 1;
    link := chain_hash(h.hash, r.tbl, r.j);
    IF r.tbl = 'birth_backfill_ledger' THEN
      UPDATE birth_backfill_ledger SET chain_seq = h.seq, prev_hash = h.hash, row_hash = link WHERE ledger_id = r.id;
    ELSE
      UPDATE backfill_approval SET chain_seq = h.seq, prev_hash = h.hash, row_hash = link WHERE approval_id = r.id;
    END IF;
    h.hash := link;
    n := n + 1;
  END LOOP;
  UPDATE chain_head SET seq = h.seq, hash = h.hash;
  RETURN n;
END
$$;

-- natal ledger --verify: the chain recomputed from the rows. {ok, rows, head, first_broken},
-- first_broken naming the first row whose link or content does not match (or the end of a
-- chain shorter than its head says: rows removed from its end).
CREATE OR REPLACE FUNCTION chain_verify() RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT SET timezone = 'UTC'
AS $$
DECLARE
  r record;
  prev text := repeat('0', 64);
  n bigint := 0;
  broken jsonb;
  h chain_head;
BEGIN
  FOR r IN
    SELECT * FROM (
      SELECT 'birth_backfill_ledger' AS tbl, l.ledger_id AS id, l.chain_seq, l.prev_hash, l.row_hash, to_jsonb(l) AS j
      FROM birth_backfill_ledger l
      UNION ALL
      SELECT 'backfill_approval', a.approval_id, a.chain_seq, a.prev_hash, a.row_hash, to_jsonb(a)
      FROM backfill_approval a) AS x
    ORDER BY x.chain_seq NULLS FIRST, x.tbl, x.id
  LOOP
    n := n + 1;
    IF broken IS NULL THEN
      broken := CASE
        WHEN r.chain_seq IS DISTINCT FROM n THEN
          jsonb_build_object('why', format('expected link %s, found %s: a row was removed or inserted before it',
                                           n, COALESCE(r.chain_seq::text, 'none')))
        WHEN r.prev_hash IS DISTINCT FROM prev THEN
          jsonb_build_object('why', 'its link to the previous row does not match: a row before it was changed or removed')
        WHEN r.row_hash IS DISTINCT FROM chain_hash(prev, r.tbl, r.j) THEN
          jsonb_build_object('why', 'its content does not match its hash: it was changed after it was written')
      END;
      IF broken IS NOT NULL THEN
        broken := broken || jsonb_build_object('table', r.tbl, 'id', r.id, 'link', r.chain_seq);
      END IF;
    END IF;
    prev := COALESCE(r.row_hash, prev);
  END LOOP;
  SELECT * INTO h FROM chain_head;
  IF broken IS NULL AND (COALESCE(h.seq, 0) <> n OR COALESCE(h.hash, repeat('0', 64)) <> prev) THEN
    broken := jsonb_build_object('table', 'chain_head', 'id', NULL, 'link', h.seq,
      'why', format('the chain holds %s rows but its head says %s: rows were removed from its end, or the head was changed',
                    n, COALESCE(h.seq, 0)));
  END IF;
  RETURN jsonb_build_object('ok', broken IS NULL, 'rows', n, 'head', COALESCE(h.hash, repeat('0', 64)),
                            'first_broken', broken);
END
$$;
