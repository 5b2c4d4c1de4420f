-- Who is acting. On a server: the session's database role, so separation of duties is the
-- roles PostgreSQL authenticated, not a value a caller can type. Embedded (PGlite, one
-- user), the name given with --as (the natal.actor setting), else that one user.
CREATE OR REPLACE FUNCTION actor() RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT CASE WHEN version() LIKE '%PGlite%'
              THEN COALESCE(NULLIF(current_setting('natal.actor', true), ''), session_user::text)
              ELSE session_user::text END
$$;

-- The actor columns of what the gate trusts (plan authors, approvals) and of runs are
-- always the actor, however the row is written: a client that inserts an approval around
-- approve_plan() still cannot sign it with someone else's name.
CREATE OR REPLACE FUNCTION stamp_actor() RETURNS trigger
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

DROP TRIGGER IF EXISTS natal_stamp_actor ON backfill_plan;
CREATE TRIGGER natal_stamp_actor BEFORE INSERT OR UPDATE OF author ON backfill_plan
  FOR EACH ROW EXECUTE FUNCTION stamp_actor();

DROP TRIGGER IF EXISTS natal_stamp_actor ON backfill_approval;
CREATE TRIGGER natal_stamp_actor BEFORE INSERT OR UPDATE OF actor ON backfill_approval
  FOR EACH ROW EXECUTE FUNCTION stamp_actor();

DROP TRIGGER IF EXISTS natal_stamp_actor ON backfill_run;
CREATE TRIGGER natal_stamp_actor BEFORE INSERT OR UPDATE OF actor ON backfill_run
  FOR EACH ROW EXECUTE FUNCTION stamp_actor();
