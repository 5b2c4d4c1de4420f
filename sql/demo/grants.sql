-- natal demo on a server: what the reviewer and the owner need on the demo's two schemas to
-- decide identities and approve plans. Settings: natal_demo.roles and
-- natal_demo.schemas (JSON arrays).
DO $$
DECLARE
  r text;
  s text;
BEGIN
  FOR r IN SELECT jsonb_array_elements_text(current_setting('natal_demo.roles')::jsonb) LOOP
    FOR s IN SELECT jsonb_array_elements_text(current_setting('natal_demo.schemas')::jsonb) LOOP
      EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, r);
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', s, r);
      EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO %I', s, r);
      EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I', s, r);
    END LOOP;
  END LOOP;
END
$$;
