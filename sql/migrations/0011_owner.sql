-- natal 0011: who may hand a collection to another owner. The owner permits backfills of
-- the collection, so a plan's author must not be able to make herself its owner: once a
-- collection has an owner, only that owner or natal's administrator (a superuser, or the
-- role that owns natal's schema, acting as itself) can change it. A collection without an
-- owner can be given one by anyone who may write the catalog.

-- natal's administrator: the session's own role (not a name given with --as) when it is a
-- superuser or owns natal's schema.
CREATE FUNCTION is_administrator() RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT actor() = session_user::text
     AND (COALESCE((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user), false)
          OR (SELECT n.nspowner FROM pg_namespace n WHERE n.nspname = natal_schema())
             = (SELECT r.oid FROM pg_roles r WHERE r.rolname = session_user))
$$;

CREATE FUNCTION owner_change_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  IF OLD.owner IS NOT NULL AND NEW.owner IS DISTINCT FROM OLD.owner
     AND actor() <> OLD.owner AND NOT is_administrator() THEN
    RAISE EXCEPTION USING ERRCODE = 'NB021',
      MESSAGE = format('only %s, the owner of %s, or natal''s administrator can give it another owner (not %s)',
                       OLD.owner, OLD.collection_name, actor()),
      HINT = format('ask %s', OLD.owner);
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER natal_owner_guard BEFORE UPDATE OF owner ON collection_registry
  FOR EACH ROW EXECUTE FUNCTION owner_change_guard();
