-- natal demo on a server: the reviewer and the owner get natal's roles for the demo's
-- schema, as `natal access grant` gives them (the reviewer reviews; the owner decides
-- identities and permits), and natal's definer acts on the platform's tables with their owner's rights
-- (the demo's own role made them). Settings: natal_demo.reviewer, natal_demo.owner,
-- natal_demo.schema.
DO $$
DECLARE
  s text := current_setting('natal_demo.schema');
BEGIN
  EXECUTE format('GRANT %I TO %I', s || '_reviewer', current_setting('natal_demo.reviewer'));
  -- the owner decides the identities natal cannot (natal's admin does that) and permits
  EXECUTE format('GRANT %I, %I TO %I', s || '_reader', s || '_admin', current_setting('natal_demo.owner'));
  EXECUTE format('GRANT %I TO %I', current_user, s || '_definer');
END
$$;
