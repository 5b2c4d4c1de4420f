-- natal's roles (a server only; embedded, PGlite has one user and the roles do not exist).
-- natal init makes six NOLOGIN roles named after natal's schema (natal_… for schema natal):
--   <schema>_definer  owns the schema and every object in it; natal's functions that write
--                     run with its rights (SECURITY DEFINER). Nobody logs in as it or is
--                     a member of it.
--   <schema>_admin    species, collections, identity decisions, wiring, freezes, owners, access
--   <schema>_operator plan, rehearse, apply, resume, rollback, inspect
--   <schema>_reviewer review
--   <schema>_reader   status, census, preflight, triggers, ledger, report, doctor
--                     (admin, operator and reviewer are readers too)
--   <schema>_writer   an application: insert into wired tables, call create_entity
-- A permit comes from the collection's owner: any role, a group role too (its members permit).

-- Whether natal runs embedded (PGlite: one user, no roles; separation of duties is advisory).
CREATE OR REPLACE FUNCTION is_embedded() RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$ SELECT version() LIKE '%PGlite%' $$;

-- The name of one of natal's roles for this schema: natal_role('reviewer') = natal_reviewer.
CREATE OR REPLACE FUNCTION natal_role(p_role text) RETURNS name
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$ SELECT (natal_schema() || '_' || p_role)::name $$;

-- Whether natal's roles govern this schema: on a server, natal init makes them; embedded,
-- and in the scratch schema natal doctor builds, there are none (natal doctor reports a
-- server schema whose roles are gone).
CREATE OR REPLACE FUNCTION roles_managed() RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$ SELECT NOT is_embedded() AND EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = natal_role('definer')) $$;

-- Refuses a session whose role is not a member of natal's p_role (a superuser is every
-- role). Embedded there is one user, and the check passes.
CREATE OR REPLACE FUNCTION assert_natal_role(p_role text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  IF NOT roles_managed() OR pg_has_role(session_user, natal_role(p_role), 'MEMBER') THEN
    RETURN;
  END IF;
  RAISE EXCEPTION USING ERRCODE = 'NB023',
    MESSAGE = format('%s is not a natal %s', session_user, p_role),
    HINT = format('natal access grant %s %s', session_user, p_role);
END
$$;

-- Whether p_actor acts for p_owner: the owner itself, or a member of it (a group role).
-- Embedded, names are compared.
CREATE OR REPLACE FUNCTION acts_for(p_actor text, p_owner text) RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT CASE WHEN p_owner IS NULL OR p_actor IS NULL THEN false
              WHEN p_actor = p_owner THEN true
              WHEN is_embedded() THEN false
              ELSE EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = p_owner)
                   AND EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = p_actor)
                   AND pg_has_role(p_actor::name, p_owner::name, 'MEMBER') END
$$;

-- An owner must be a role that exists (on a server), or its permit could never come.
CREATE OR REPLACE FUNCTION assert_owner_exists(p_owner text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  IF p_owner IS NOT NULL AND NOT is_embedded()
     AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = p_owner) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB026',
      MESSAGE = format('owner %s is not a database role, so its permit could never come', p_owner),
      HINT = 'name an existing role (a group role is fine: any member of it may permit)';
  END IF;
END
$$;

-- natal access grant / revoke: makes a login a member of one of natal's roles, or no
-- longer. natal's definer holds the roles WITH ADMIN OPTION, so an admin grants through it.
CREATE OR REPLACE FUNCTION access_change(p_login text, p_role text, p_grant boolean) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  was boolean;
BEGIN
  PERFORM assert_natal_role('admin');
  IF is_embedded() THEN
    RAISE EXCEPTION USING ERRCODE = 'NB024',
      MESSAGE = 'embedded, natal has one user and no roles: separation of duties is advisory (--as names the actor)',
      HINT = 'roles are managed on a server (--db URL)';
  END IF;
  IF p_role NOT IN ('admin', 'operator', 'reviewer', 'reader', 'writer') THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = format('%s is not one of natal''s roles: admin, operator, reviewer, reader, writer', p_role),
      HINT = 'natal access grant LOGIN ROLE…';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = p_login) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009', MESSAGE = format('role %s does not exist', p_login),
      HINT = 'create it first: CREATE ROLE name LOGIN';
  END IF;
  -- natal's own roles are not people: granting admin to natal_reader would make every reader
  -- an admin, unseen by natal access list
  IF p_login IN (natal_role('admin'), natal_role('operator'), natal_role('reviewer'), natal_role('reader'),
                 natal_role('writer'), natal_role('definer')) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = format('%s is one of natal''s own roles, not a login: natal''s roles are given to people', p_login),
      HINT = 'natal access grant LOGIN ROLE…, with the login of a person or an application';
  END IF;
  was := pg_has_role(p_login::name, natal_role(p_role), 'MEMBER')
         AND EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                     WHERE g.rolname = natal_role(p_role) AND u.rolname = p_login);
  IF p_grant AND NOT was THEN
    EXECUTE format('GRANT %I TO %I', natal_role(p_role), p_login);
  ELSIF NOT p_grant AND was THEN
    EXECUTE format('REVOKE %I FROM %I', natal_role(p_role), p_login);
  END IF;
  RETURN was <> p_grant;
END
$$;

-- natal access list: every role that is a direct member of one of natal's roles, with them.
CREATE OR REPLACE FUNCTION access_list() RETURNS TABLE (login text, roles text[])
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT u.rolname::text, array_agg(substr(g.rolname, length(natal_schema()) + 2) ORDER BY g.rolname)
  FROM pg_auth_members m
  JOIN pg_roles g ON g.oid = m.roleid
  JOIN pg_roles u ON u.oid = m.member
  WHERE g.rolname IN (natal_role('admin'), natal_role('operator'), natal_role('reviewer'),
                      natal_role('reader'), natal_role('writer'))
    AND u.rolname NOT IN (natal_role('definer'), natal_role('admin'), natal_role('operator'),
                          natal_role('reviewer'), natal_role('reader'), natal_role('writer'))
  GROUP BY u.rolname ORDER BY u.rolname
$$;

-- The privileges natal's roles have on its schema, set again by every natal init: nobody
-- but the definer writes a table; readers read; a writer calls create_entity. Every
-- function is the definer's; those that write check the caller's role themselves.
CREATE OR REPLACE FUNCTION apply_privileges() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  s text := quote_ident(natal_schema());
  fn text;
BEGIN
  IF NOT roles_managed() THEN
    RETURN;
  END IF;
  EXECUTE format('REVOKE ALL ON SCHEMA %s FROM PUBLIC', s);
  EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %s FROM PUBLIC', s);
  EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %s FROM PUBLIC', s);
  EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %s FROM PUBLIC', s);
  EXECUTE 'ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC';
  EXECUTE format('GRANT USAGE ON SCHEMA %s TO %I, %I', s, natal_role('reader'), natal_role('writer'));
  EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %I', s, natal_role('reader'));
  EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %s TO %I', s, natal_role('reader'));
  EXECUTE format('GRANT EXECUTE ON FUNCTION %s.create_entity(text, jsonb, text) TO %I', s, natal_role('writer'));
  -- but not the functions natal generates for each collection or table owner: the gateway's row
  -- inserts and probes, and the readers of owners' tables, run as the table's owner and natal's
  -- definer alone calls them (install_function_as: a reader could run any query as an owner); the
  -- trigger functions fire for the tables natal wired them to, and a role that could
  -- EXECUTE one could put it on a table of its own without a transition table, where the
  -- name natal_new (or natal_old) would be a temporary relation of that role's, read with
  -- natal's rights
  FOR fn IN SELECT p.oid::regprocedure::text FROM pg_proc p
            WHERE p.pronamespace = quote_ident(natal_schema())::regnamespace
              AND p.proname ~ '^(gateway_row|gateway_probe|read_as|gateway|birth_auto|birth_upd|birth_death)_[0-9a-f]{16}$' LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM %I', fn, natal_role('reader'));
  END LOOP;
  -- (and what natal create reads first: whether natal is installed, and the collection's name)
  EXECUTE format('GRANT SELECT ON %s.natal_migrations, %s.natal_definitions, %s.collection_registry TO %I',
                 s, s, s, natal_role('writer'));
  -- what natal generates per collection later is the definer's alone (create_entity is
  -- granted again each time it is made)
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT SELECT ON TABLES TO %I', s, natal_role('reader'));
END
$$;

-- natal's definer acts on a governed table with its owner's rights (it makes the triggers,
-- reads the rows, and inserts through the gateway): the owner's role is granted to it.
CREATE OR REPLACE FUNCTION assert_definer_acts_on(rel regclass) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  table_owner name := (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = rel);
  schema_owner name := (SELECT pg_get_userbyid(n.nspowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE c.oid = rel);
BEGIN
  IF NOT roles_managed() THEN
    RETURN;
  END IF;
  IF NOT has_schema_privilege(natal_role('definer'), (SELECT c.relnamespace FROM pg_class c WHERE c.oid = rel), 'USAGE') THEN
    table_owner := schema_owner;  -- the schema first: its owner lets natal in
  ELSIF pg_has_role(natal_role('definer'), table_owner, 'USAGE') THEN
    RETURN;
  END IF;
  RAISE EXCEPTION USING ERRCODE = 'NB025',
    MESSAGE = format('natal cannot act on %s: its owner %I has not let natal''s definer act for it', rel, table_owner),
    HINT = format('a superuser runs once: GRANT %I TO %I', table_owner, natal_role('definer'));
END
$$;
