-- Whether a role's code is trusted to run with natal's definer's rights: PostgreSQL's own
-- objects, and a superuser's (an extension's, installed by one). A superuser can do anything
-- anyway; anyone else's function run as natal could write natal's tables.
-- (a SQL function with no settings of its own, and every name in pg_catalog: PostgreSQL
-- inlines it into the query that calls it, instead of planning it again on each call)
CREATE OR REPLACE FUNCTION trusted_owner(p_oid oid, p_owner oid) RETURNS boolean
LANGUAGE sql STABLE
AS $$
  SELECT p_oid OPERATOR(pg_catalog.<) 16384::pg_catalog.oid
         OR COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) p_owner), false)
$$;

-- Whether a value of type p_type can be made in an expression without running code of a role
-- natal does not trust (trusted_owner): a type of PostgreSQL's or a superuser's, an enum, or
-- an array of such. A domain can carry a CHECK of its owner's, and a composite or range type
-- can hold one.
CREATE OR REPLACE FUNCTION code_free_type(p_type oid) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  t pg_type;
BEGIN
  LOOP
    SELECT * INTO t FROM pg_type y WHERE y.oid = p_type;
    IF NOT FOUND OR trusted_owner(t.oid, t.typowner) OR t.typtype = 'e' THEN
      RETURN true;
    END IF;
    EXIT WHEN t.typtype <> 'b' OR t.typelem = 0;
    p_type := t.typelem;
  END LOOP;
  RETURN false;
END
$$;

-- The first piece of code of a role natal does not trust (trusted_owner) that PostgreSQL
-- would run when natal reads `rel` with its definer's rights, as text ('index x calls function
-- f(integer) of bob'); NULL when there is none. Reading a table runs no code of its owner's,
-- but planning the read does: PostgreSQL simplifies the expressions of the table's indexes and
-- the predicates of its partial indexes, the CHECK constraints of its partitions, its
-- statistics' expressions and its partition key when it plans a query of it, and a function
-- an owner declares IMMUTABLE is then called, with the planner's rights. The same holds for
-- every partition and inheritance child the read reaches, and a foreign table among them is
-- read by its server's wrapper; and the partition key of each table above it (a partition's
-- constraint is made of them). What each object calls is in pg_depend: a function, an
-- operator's function, and a type that can carry a check (code_free_type).
-- (PL/pgSQL, with a generic plan, so that the query is planned once a session: natal asks
-- before and after each read, and planning it took a millisecond)
CREATE OR REPLACE FUNCTION owner_code(rel regclass) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
  RETURN (WITH RECURSIVE tree(relid) AS (
    SELECT rel::oid
    UNION
    SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.relid
  ),
  -- (and the tables above it: the partition constraint of a partition that is read is built
  -- from its ancestors' partition keys, which are simplified as they are loaded)
  ancestors(relid) AS (
    SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = rel
    UNION
    SELECT i.inhparent FROM pg_inherits i JOIN ancestors a ON i.inhrelid = a.relid
  ),
  holder(what, classid, objid, only_calls) AS (
    SELECT format('table %s', t.relid::regclass), 'pg_class'::regclass::oid, t.relid, true FROM tree t
    UNION ALL
    SELECT format('table %s, above it,', a.relid::regclass), 'pg_class'::regclass::oid, a.relid, true FROM ancestors a
    UNION ALL
    SELECT format('index %s', i.indexrelid::regclass), 'pg_class'::regclass::oid, i.indexrelid, false
    FROM pg_index i JOIN tree t ON i.indrelid = t.relid
    WHERE i.indexprs IS NOT NULL OR i.indpred IS NOT NULL
    UNION ALL
    SELECT format('constraint %I of %s', k.conname, k.conrelid::regclass), 'pg_constraint'::regclass::oid, k.oid, false
    FROM pg_constraint k JOIN tree t ON k.conrelid = t.relid
    WHERE k.contype = 'c'
    UNION ALL
    SELECT format('statistics %I.%I', n.nspname, s.stxname), 'pg_statistic_ext'::regclass::oid, s.oid, false
    FROM pg_statistic_ext s JOIN tree t ON s.stxrelid = t.relid JOIN pg_namespace n ON n.oid = s.stxnamespace
  ),
  found(what, code, ord) AS (
    SELECT h.what || ' calls ',
           CASE d.refclassid
             WHEN 'pg_proc'::regclass THEN
               (SELECT format('function %s of %s', p.oid::regprocedure, pg_get_userbyid(p.proowner))
                FROM pg_proc p WHERE p.oid = d.refobjid AND NOT trusted_owner(p.oid, p.proowner))
             WHEN 'pg_operator'::regclass THEN
               (SELECT format('operator %s, function %s of %s', o.oid::regoperator, p.oid::regprocedure,
                              pg_get_userbyid(p.proowner))
                FROM pg_operator o JOIN pg_proc p ON p.oid = o.oprcode
                WHERE o.oid = d.refobjid AND NOT trusted_owner(p.oid, p.proowner))
             WHEN 'pg_type'::regclass THEN
               (SELECT format('type %s of %s', y.oid::regtype, pg_get_userbyid(y.typowner))
                FROM pg_type y WHERE y.oid = d.refobjid AND NOT h.only_calls AND NOT code_free_type(y.oid))
           END, 1
    -- (each holder's own dependencies, through pg_depend's index on the dependent object:
    -- OFFSET 0 keeps the planner from hashing every dependency of the database instead;
    -- PostgreSQL's own objects are trusted, only the others are looked at)
    FROM holder h
    CROSS JOIN LATERAL (SELECT x.refclassid, x.refobjid FROM pg_depend x
                        WHERE x.classid = h.classid AND x.objid = h.objid AND x.refobjid >= 16384
                          AND x.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass, 'pg_type'::regclass)
                        OFFSET 0) AS d
    UNION ALL
    SELECT format('partition %s ', t.relid::regclass), 'is a foreign table, read by its server''s wrapper', 0
    FROM tree t JOIN pg_class k ON k.oid = t.relid
    WHERE k.relkind = 'f'
  )
  SELECT f.what || f.code FROM found f WHERE f.code IS NOT NULL ORDER BY f.ord, f.what LIMIT 1);
END
$$;

-- Refuses a collection whose table natal would read with code of a role it does not trust
-- (owner_code), with what calls what and how to make the table readable again.
CREATE OR REPLACE FUNCTION assert_no_owner_code(p_collection text, rel regclass) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  code text := owner_code(rel);
BEGIN
  IF code IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB006',
      MESSAGE = format('collection %s: natal reads no table with code of its owner''s in it: %s (PostgreSQL runs it when it plans a read, with the reader''s rights)',
                       p_collection, code),
      HINT = 'drop that object, or have a superuser own the code it calls, then try again';
  END IF;
END
$$;

-- After natal has read collections' tables with its rights: each name still leads to the
-- table read, with nothing of an owner's on it that planning the read would run. natal looks
-- before it reads (entity_code_sql), but a read that waits for a table's lock reads what the
-- name leads to once the wait is over, and an index can be committed between the look and
-- the read: the owner's code could then have run as natal's definer. The error rolls back
-- all it did.
-- (VOLATILE: it reads the catalog as it is now, not as the snapshot of the statement that
-- called it saw it, as a STABLE function would.)
CREATE OR REPLACE FUNCTION assert_read_unchanged(p_collections text[], p_tables regclass[]) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT
AS $$
DECLARE
  i integer;
  code text;
  c collection_registry;
  moved boolean;
BEGIN
  FOR i IN 1 .. COALESCE(cardinality(p_tables), 0) LOOP
    CONTINUE WHEN p_tables[i] IS NULL;
    code := owner_code(p_tables[i]);
    -- (a collection being registered has no row yet: its table is read by the name given)
    SELECT * INTO c FROM collection_registry r WHERE r.collection_name = p_collections[i];
    moved := CASE WHEN FOUND THEN collection_table(c) IS DISTINCT FROM p_tables[i]
                  ELSE NOT EXISTS (SELECT 1 FROM pg_class k WHERE k.oid = p_tables[i] AND k.relkind IN ('r', 'p')) END;
    IF code IS NOT NULL OR moved THEN
      RAISE EXCEPTION USING ERRCODE = 'NB006',
        MESSAGE = format('collection %s: its table changed while natal read it (%s); nothing was kept',
                         p_collections[i], COALESCE(code, 'its name no longer leads to the table natal read')),
        HINT = 'see what changed (natal triggers), then try again';
    END IF;
  END LOOP;
END
$$;
