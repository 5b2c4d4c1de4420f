-- A collection's name: the table's name in public (as the seed wrote them), else
-- schema.table; each part quoted only where PostgreSQL would need it.
CREATE OR REPLACE FUNCTION collection_name_of(table_schema name, table_name name) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE WHEN table_schema = 'public' THEN quote_ident(table_name)
              ELSE quote_ident(table_schema) || '.' || quote_ident(table_name) END
$$;

-- The schema natal's functions live in (their search_path starts with it).
CREATE OR REPLACE FUNCTION natal_schema() RETURNS name
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$ BEGIN RETURN current_schema(); END $$;

-- The collection row, or a clear error.
CREATE OR REPLACE FUNCTION find_collection(p_collection text) RETURNS collection_registry
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry;
BEGIN
  SELECT * INTO c FROM collection_registry WHERE collection_name = p_collection;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB001',
      MESSAGE = format('collection %s is not registered', p_collection),
      HINT = 'register it with: natal collection add TABLE --species CODE';
  END IF;
  RETURN c;
END
$$;

-- The collection's table, or NULL when it does not exist ("no table").
-- (The catalog helpers that call other functions are PL/pgSQL, not SQL: before PostgreSQL
-- 18, a SQL function plans its body again on every call, and the functions it calls with
-- it; PL/pgSQL keeps its plans for the session. A census asks them once per collection.)
CREATE OR REPLACE FUNCTION collection_table(c collection_registry) RETURNS regclass
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$ BEGIN RETURN table_named(c.table_schema, c.table_name); END $$;

-- A table by its schema and name, from the catalog: unlike to_regclass it needs no right on
-- the schema, so a reader who may not read the table still sees whether it exists.
-- Only a table (plain or partitioned): natal reads its collections' rows with its definer's
-- rights, and a view (or a foreign table) runs code of its owner's when it is read. A table
-- its owner has replaced by a view of the same name is a collection with no table.
-- (These catalog helpers are PL/pgSQL, their queries planned once a session: a SQL function
-- with a SET clause, or whose body holds a subquery, is planned again on each call, and a
-- census of 100 collections calls them thousands of times. No SET clause either, which costs
-- each call a setting saved and restored: every name is in pg_catalog.)
CREATE OR REPLACE FUNCTION table_named(p_schema name, p_table name) RETURNS regclass
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  RETURN (SELECT k.oid::pg_catalog.regclass FROM pg_catalog.pg_class k
          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace
          WHERE n.nspname OPERATOR(pg_catalog.=) p_schema AND k.relname OPERATOR(pg_catalog.=) p_table
            AND k.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::pg_catalog.char[]));
END
$$;

-- The species a collection is mapped to (NULL fields when unmapped).
CREATE OR REPLACE FUNCTION collection_species(p_collection text) RETURNS entity_species
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  s entity_species;
BEGIN
  SELECT e.* INTO s FROM species_collection_map m JOIN entity_species e USING (species_code)
  WHERE m.collection_name = p_collection;
  RETURN s;
END
$$;

-- The single-column primary key of a table, or NULL.
CREATE OR REPLACE FUNCTION single_key_column(rel regclass) RETURNS name
LANGUAGE sql STABLE
AS $$
  SELECT a.attname FROM pg_index i
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
  WHERE i.indrelid = rel AND i.indisprimary AND i.indnkeyatts = 1
$$;

-- All primary-key columns of a table, in key order (NULL when it has none).
CREATE OR REPLACE FUNCTION key_columns(rel regclass) RETURNS name[]
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  RETURN (SELECT pg_catalog.array_agg(a.attname ORDER BY k.ord)
          FROM pg_catalog.pg_index i
          CROSS JOIN LATERAL pg_catalog.generate_series(0, i.indnkeyatts OPERATOR(pg_catalog.-) 1) AS k(ord)
          JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid
                                        AND a.attnum OPERATOR(pg_catalog.=) i.indkey[k.ord]
          WHERE i.indrelid OPERATOR(pg_catalog.=) rel AND i.indisprimary);
END
$$;

CREATE OR REPLACE FUNCTION has_column(rel regclass, col name) RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attname OPERATOR(pg_catalog.=) col
                   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped);
END
$$;
