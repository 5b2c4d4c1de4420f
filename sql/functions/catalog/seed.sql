-- natal's own catalog tables are collections whose rows are born (Case 3): species rows
-- are SPE-NNN, collection rows COL-NNN. Made once, on a fresh schema, after the functions
-- exist; the first four codes are given here (the catalog trigger numbers a row only once
-- its collection is in the species map), and the code sequences move past them.
CREATE OR REPLACE FUNCTION seed_catalog() RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM entity_species WHERE species_code = 'SPE-SPE') THEN
    RETURN false;
  END IF;
  -- (each insert makes its prefix's code sequence: natal_species_sequence)
  INSERT INTO entity_species (species_code, code_prefix, composition_level, name, entity_code) VALUES
    ('SPE-SPE', 'SPE', 'catalog', 'species (a row of entity_species)', 'SPE-001'),
    ('SPE-COL', 'COL', 'catalog', 'collection (a row of collection_registry)', 'SPE-002');
  INSERT INTO collection_registry (collection_name, table_schema, table_name, governance_role,
                                   birth_code_strategy, birth_code_column, birth_code_reason,
                                   birth_code_set_by, birth_code_set_at, entity_code)
  SELECT collection_name_of(natal_schema(), t), natal_schema(), t, 'governed'::governance_role,
         'column'::identity_strategy, 'entity_code', 'natal catalog', session_user, now(), 'COL-00' || o
  FROM unnest(ARRAY['entity_species', 'collection_registry']::name[]) WITH ORDINALITY AS u(t, o);
  INSERT INTO species_collection_map (collection_name, species_code) VALUES
    (collection_name_of(natal_schema(), 'entity_species'), 'SPE-SPE'),
    (collection_name_of(natal_schema(), 'collection_registry'), 'SPE-COL');
  INSERT INTO birth_registry (entity_code, collection_name, species_code, composition_level,
                              dot_origin, governance_role, operation)
  SELECT s.entity_code, collection_name_of(natal_schema(), 'entity_species'), 'SPE-SPE', 'catalog',
         'natal:init', 'governed'::governance_role, 'catalog'::birth_operation
  FROM entity_species s
  UNION ALL
  SELECT r.entity_code, collection_name_of(natal_schema(), 'collection_registry'), 'SPE-COL', 'catalog',
         'natal:init', 'governed', 'catalog'
  FROM collection_registry r;
  PERFORM sync_code_sequence('SPE');
  PERFORM sync_code_sequence('COL');
  PERFORM wire(collection_name_of(natal_schema(), 'entity_species'));
  PERFORM wire(collection_name_of(natal_schema(), 'collection_registry'));
  RETURN true;
END
$$;

-- After natal init has (re-)applied these definitions: the catalog seeded on a fresh schema,
-- and every wired collection re-wired, so that its generated trigger and gateway functions
-- are what the definitions make now; then the dispatcher.
CREATE OR REPLACE FUNCTION after_definitions() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  PERFORM seed_catalog();
  PERFORM rewire_if_wired(w.collection_name) FROM wired_trigger w ORDER BY w.collection_name;
  PERFORM regenerate_create_entity();
  PERFORM chain_fill();
  PERFORM definers_without_row_security();
  PERFORM apply_privileges();
END
$$;

-- Every function of natal's that runs with its definer's rights runs with row_security off:
-- natal reads and writes application tables (census, backfill, show, the gateway), and a
-- table's owner could otherwise put a row-level security policy on it (FORCE ROW LEVEL
-- SECURITY) that hides rows from a census. Off, PostgreSQL refuses such a query instead
-- ("query would be affected by row-level security policy"); the owner's reader
-- (owner_read.sql) runs with the setting of natal's function that calls it. The functions
-- natal generates per collection get the same setting when they are made (install_function,
-- regenerate_create_entity). The exceptions: the gateway's row inserts and probes, and the
-- readers, run as the table's owner (install_function_as), and the auto-birth and update
-- trigger functions read no application table (only their statement's rows and natal's own
-- tables), so they go without it (install_function).
CREATE OR REPLACE FUNCTION definers_without_row_security() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
           WHERE p.pronamespace = quote_ident(natal_schema())::regnamespace AND p.prosecdef
             AND NOT COALESCE(p.proconfig, '{}') @> ARRAY['row_security=off']
             -- (not the gateway's row inserts: they run as their table's owner, not as natal;
             -- nor the auto-birth and update functions, which read no application table)
             AND p.proname !~ '^(gateway_row|gateway_probe|read_as|birth_auto|birth_upd)_[0-9a-f]{16}$' LOOP
    EXECUTE format('ALTER FUNCTION %s SET row_security = off', f);
  END LOOP;
END
$$;
