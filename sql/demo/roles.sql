-- natal demo on a server: the people of the walk are database roles (natal's actor is the
-- session's role). Settings: natal_demo.roles (a JSON array), natal_demo.mark.
-- Roles are cluster-wide and several demos may run at once in other schemas: each role is
-- made once (a concurrent maker wins, the other moves on) and marked, and a role of the same
-- name that the demo did not make is never used.
DO $$
DECLARE
  r text;
  mark text := current_setting('natal_demo.mark');
BEGIN
  FOR r IN SELECT jsonb_array_elements_text(current_setting('natal_demo.roles')::jsonb) LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        EXECUTE format('COMMENT ON ROLE %I IS %L', r, mark);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END;
    END IF;
    IF shobj_description((SELECT oid FROM pg_roles WHERE rolname = r), 'pg_authid') IS DISTINCT FROM mark THEN
      RAISE EXCEPTION 'role % exists and was not made by natal demo; the demo will not act as it', r;
    END IF;
  END LOOP;
END
$$;
