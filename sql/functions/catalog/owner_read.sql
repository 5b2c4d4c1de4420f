-- natal reads a collection's table as the table's owner. Reading a table runs code of its
-- owner's: PostgreSQL simplifies the table's index expressions and predicates, its
-- statistics' expressions, its partition keys and its partitions' CHECKs when it plans the
-- read, and a view put in the table's place runs its functions with the reader's rights.
-- Run with natal's definer's rights, such code could write natal's tables. So every read of
-- a collection's table (census, plan, apply, rehearsal, show, classify, inspection) is a
-- query natal writes and a function of the table's owner runs: whatever of the owner's
-- PostgreSQL runs then runs with the owner's rights, as when the owner reads it, and no
-- change the owner makes to the table while natal reads it (an index, a partition, a view
-- in its place, a schema renamed) gives it more. natal's definer only gets the rows back.

-- The function that reads as role p_owner: read_as_<16 hex digits>, one per owner.
CREATE OR REPLACE FUNCTION owner_reader_function(p_owner oid) RETURNS name
LANGUAGE sql IMMUTABLE
AS $$ SELECT ('read_as_' || left(md5(p_owner::text), 16))::name $$;

-- Its body refuses to run as anyone but the owner (the owner can alter its properties,
-- SECURITY INVOKER among them, not its body), with everything in that check named in
-- pg_catalog, so that no search_path set on the function changes what it compares. Then it
-- runs the query in a subtransaction that it always rolls back, keeping only the rows
-- (PL/pgSQL keeps what RETURN QUERY returned): whatever the owner's code did in natal's
-- session while it ran is undone before natal's code, or its client's, runs again. A plain
-- SET (search_path, natal.dot_origin, bytea_output, …) would otherwise outlive the call; an
-- object made in the session's temporary schema (a domain pg_temp.text, a table
-- pg_temp.pg_roles) would be found there first by a name the client writes without a schema;
-- a deferred trigger queued by a write would fire at commit as the session's role, a
-- superuser's too. PostgreSQL runs a table's owner's code in its own maintenance of the
-- table (a security-restricted operation) with the same care.
CREATE OR REPLACE FUNCTION owner_reader_source(p_owner name) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT format($body$
BEGIN
  IF current_user OPERATOR(pg_catalog.<>) %1$L::pg_catalog.name THEN
    RAISE EXCEPTION USING ERRCODE = 'NB025', MESSAGE = %2$L, HINT = %3$L;
  END IF;
  BEGIN
    RETURN QUERY EXECUTE p_query USING p_args;
    RAISE EXCEPTION USING ERRCODE = 'NB099';
  EXCEPTION WHEN SQLSTATE 'NB099' THEN
    NULL;
  END;
END
$body$, p_owner,
    format('natal''s reader as %s was altered: it runs as %s or not at all', p_owner, p_owner),
    'natal makes it again at its next read')
$$;

-- The reader of rel's owner, as a function name natal's queries call, made (or made again,
-- when its owner altered it) if it is not as natal makes it. natal's definer must act for
-- the owner (assert_definer_acts_on).
CREATE OR REPLACE FUNCTION owner_reader(rel regclass) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT
AS $$
DECLARE
  owner_oid oid := (SELECT k.relowner FROM pg_class k WHERE k.oid = rel);
  owner name := pg_get_userbyid(owner_oid);
  fn name := owner_reader_function(owner_oid);
  body text := owner_reader_source(owner);
BEGIN
  IF NOT owner_reader_intact(fn, owner_oid, body) THEN
    PERFORM assert_definer_acts_on(rel);
    -- (one session makes it; another that waited for it finds it made)
    PERFORM pg_advisory_xact_lock(hashtextextended('natal:owner_function:' || natal_schema() || '.' || fn, 0));
    IF NOT owner_reader_intact(fn, owner_oid, body) THEN
      PERFORM install_function_as(owner, fn, 'p_query text, p_args text[]', 'SETOF record', body,
                                  owner_reader_search_path(), 'STABLE');
    END IF;
  END IF;
  RETURN format('%I.%I', natal_schema(), fn);
END
$$;

-- Whether the reader fn is as natal makes it: the owner's, SECURITY DEFINER, STABLE, with
-- natal's search_path and body. (STABLE, so that the read sees the rows of the snapshot of
-- the statement that calls it, the one natal reads the registry with: a VOLATILE function
-- takes a snapshot of its own, and a row born between the two would be counted unborn.)
-- (PL/pgSQL: a SQL function with a SET clause is planned again on each call, and natal show
-- asks on each lookup.)
CREATE OR REPLACE FUNCTION owner_reader_intact(fn name, p_owner oid, p_body text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT
AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM pg_proc p
                 WHERE p.proname = fn AND p.pronamespace = quote_ident(natal_schema())::regnamespace
                   AND p.proowner = p_owner AND p.prosecdef AND p.provolatile = 's'
                   AND p.proconfig = ARRAY['search_path=' || owner_reader_search_path()] AND p.prosrc = p_body);
END
$$;

-- The reader's search_path: PostgreSQL's names first, then natal's schema, whose tables
-- natal's queries name without their schema (natal's catalog is a collection too, its owner
-- natal's definer; a table's owner has no access to that schema, and PostgreSQL passes over
-- it for them), and pg_temp last.
CREATE OR REPLACE FUNCTION owner_reader_search_path() RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT pg_catalog.format('pg_catalog, %I, pg_temp', pg_catalog.current_schema()) $$;

-- A FROM item that reads p_query, a query of rel (natal's, over rel and nothing of natal's),
-- as rel's owner: `natal.read_as_…(query, args) AS alias(column type, …)`, p_as the alias with
-- its columns, whose types the query's must be. p_args is a text[] expression, the query's
-- $1.
CREATE OR REPLACE FUNCTION owner_rows_sql(rel regclass, p_query text, p_as text, p_args text DEFAULT 'NULL::text[]')
RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT
AS $$
BEGIN
  RETURN format('%s(%L, %s) AS %s', owner_reader(rel), p_query, p_args, p_as);
END
$$;
