-- natal 0002: the catalog (species, collections, identity), code numbering, and the
-- source of the auto-birth trigger functions.
-- Functions carry `SET search_path FROM CURRENT`: they always see natal's own schema,
-- whatever the caller's search_path. Errors use natal's SQLSTATEs (class NB, see errors.ts).

-- What was wired, by whom and when (the trigger itself lives on the collection's table).
CREATE TABLE wired_trigger (
  collection_name text PRIMARY KEY
    REFERENCES collection_registry (collection_name) ON UPDATE CASCADE ON DELETE CASCADE,
  function_name   name NOT NULL UNIQUE,
  kind            text NOT NULL CHECK (kind IN ('statement', 'row')),
  wired_by        text NOT NULL DEFAULT session_user,
  wired_at        timestamptz NOT NULL DEFAULT now()
);
