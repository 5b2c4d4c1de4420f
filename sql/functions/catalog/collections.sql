-- Case 3: a catalog row (species, collection) gets its own code before it is inserted;
-- the catalog collections are wired like any other, so the row is then born.
CREATE OR REPLACE FUNCTION assign_catalog_code() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  prefix text;
BEGIN
  IF NEW.entity_code IS NULL THEN
    prefix := (collection_species(collection_name_of(TG_TABLE_SCHEMA, TG_TABLE_NAME))).code_prefix;
    NEW.entity_code := next_code(prefix);
  END IF;
  RETURN NEW;
END
$$;

-- A new species gets its code sequence, already past codes that exist under its prefix.
CREATE OR REPLACE FUNCTION create_species_sequence() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %s AS bigint', code_sequence(NEW.code_prefix));
  PERFORM sync_code_sequence(NEW.code_prefix);
  RETURN NULL;
END
$$;

-- Registers a table as a collection (Case 3: the catalog row itself is born by the wired
-- catalog trigger). Never fails for lack of an identity: that is recorded as unclassified.
CREATE OR REPLACE FUNCTION register_collection(p_schema name, p_table name, p_species text,
                                    p_role governance_role DEFAULT 'governed',
                                    p_owner text DEFAULT NULL,
                                    p_code_column name DEFAULT NULL,
                                    p_no_table boolean DEFAULT false)
RETURNS collection_registry
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  v_name text := collection_name_of(p_schema, p_table);
  rel regclass := table_named(p_schema, p_table);
  pk name[];
  c collection_registry;
  strategy identity_strategy;
  reason text;
BEGIN
  PERFORM assert_natal_role('admin');
  IF EXISTS (SELECT 1 FROM collection_registry r WHERE r.collection_name = v_name) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB010',
      MESSAGE = format('collection %s is already registered', v_name),
      HINT = 'change it with: natal collection set TABLE …';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM entity_species WHERE species_code = p_species) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB011',
      MESSAGE = format('species %s does not exist', p_species),
      HINT = 'add it with: natal species add CODE --prefix PREFIX --level LEVEL';
  END IF;
  PERFORM assert_owner_exists(p_owner);
  PERFORM assert_registrable(p_schema, p_table, p_no_table);
  IF rel IS NOT NULL THEN
    PERFORM assert_definer_acts_on(rel);
  END IF;
  IF rel IS NOT NULL THEN
    pk := key_columns(rel);
    IF p_code_column IS NOT NULL AND NOT has_column(rel, p_code_column) THEN
      RAISE EXCEPTION USING ERRCODE = 'NB009',
        MESSAGE = format('table %s has no column %I', rel, p_code_column),
        HINT = 'name an existing column with --code-column';
    END IF;
    IF p_code_column IS NOT NULL THEN
      PERFORM assert_codes_unique(v_name, rel, p_code_column);
    END IF;
  END IF;
  IF p_code_column IS NOT NULL THEN
    strategy := 'column';
  ELSIF cardinality(pk) = 1 THEN
    strategy := 'synthetic_id';
  ELSE
    strategy := 'unclassified';
    reason := CASE WHEN rel IS NULL THEN 'no-table'
                   WHEN pk IS NULL THEN 'no-id'
                   ELSE 'needs-owner' END;
  END IF;
  INSERT INTO collection_registry AS r (collection_name, table_schema, table_name, governance_role,
                                        owner, birth_code_strategy, birth_code_column,
                                        birth_code_key_columns, birth_code_reason,
                                        birth_code_set_by, birth_code_set_at)
  VALUES (v_name, p_schema, p_table, p_role, p_owner, strategy, p_code_column, pk, reason,
          CASE WHEN strategy <> 'unclassified' THEN session_user END,
          CASE WHEN strategy <> 'unclassified' THEN now() END)
  RETURNING r.* INTO c;
  INSERT INTO species_collection_map (collection_name, species_code) VALUES (v_name, p_species);
  -- Codes already in the table's code column must never be handed out again.
  PERFORM sync_code_sequence((SELECT code_prefix FROM entity_species WHERE species_code = p_species));
  -- Wired collections of the species re-wire, so their gateways probe this table too.
  IF strategy = 'column' THEN
    PERFORM rewire_if_wired(m.collection_name)
    FROM species_collection_map m
    WHERE m.species_code = p_species AND m.collection_name <> v_name;
  END IF;
  RETURN c;
END
$$;

-- A table to register: it exists and is a table (plain or partitioned), or the user says
-- the collection is registered ahead of its table (p_no_table). A view, a materialized view
-- or a foreign table is named for what it is; a missing table with a name that differs only
-- in case or quoting is suggested.
CREATE OR REPLACE FUNCTION assert_registrable(p_schema name, p_table name, p_no_table boolean) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  kind "char";
  near text;
BEGIN
  SELECT k.relkind INTO kind FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace
  WHERE n.nspname = p_schema AND k.relname = p_table;
  IF kind IN ('r', 'p') THEN
    PERFORM assert_not_citus_table(table_named(p_schema, p_table), format('%I.%I', p_schema, p_table));
    RETURN;
  END IF;
  IF kind IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB031',
      MESSAGE = format('%I.%I is %s, not a table: natal births the rows of tables', p_schema, p_table,
                       CASE kind WHEN 'v' THEN 'a view' WHEN 'm' THEN 'a materialized view'
                                 WHEN 'f' THEN 'a foreign table' WHEN 'S' THEN 'a sequence'
                                 WHEN 'i' THEN 'an index' WHEN 'I' THEN 'an index' WHEN 'c' THEN 'a composite type'
                                 ELSE 'not a table' END),
      HINT = CASE kind WHEN 'v' THEN 'register the table the view reads from; inserts through an updatable view are born by its table''s trigger'
                       WHEN 'f' THEN 'register the table in the database that holds it'
                       ELSE 'register a table' END;
  END IF;
  IF p_no_table THEN
    RETURN;
  END IF;
  SELECT format('%I.%I', n.nspname, k.relname) INTO near
  FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace
  WHERE lower(n.nspname) = lower(p_schema) AND lower(k.relname) = lower(p_table) AND k.relkind IN ('r', 'p')
  ORDER BY n.nspname, k.relname LIMIT 1;
  RAISE EXCEPTION USING ERRCODE = 'NB005',
    MESSAGE = format('table %I.%I does not exist%s', p_schema, p_table,
                     CASE WHEN near IS NOT NULL THEN format(' (did you mean %s? unquoted names fold to lower case, as in SQL)', near) ELSE '' END),
    HINT = 'check the name; to register the collection ahead of its table, add --no-table';
END
$$;

-- natal collection remove: undoes a registration that has no births (its entities' births;
-- its own catalog birth goes with it). Unwired first. A collection with births, or named in
-- a plan or the ledger, stays: its history is the registry's.
CREATE OR REPLACE FUNCTION remove_collection(p_collection text) RETURNS collection_registry
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  born bigint;
  plan bigint;
BEGIN
  PERFORM assert_natal_role('admin');
  PERFORM 1 FROM collection_registry r WHERE r.collection_name = c.collection_name FOR UPDATE;
  IF c.table_schema = natal_schema() THEN
    RAISE EXCEPTION USING ERRCODE = 'NB032',
      MESSAGE = format('collection %s is natal''s own catalog', c.collection_name),
      HINT = 'it cannot be removed';
  END IF;
  SELECT count(*) INTO born FROM birth_registry b WHERE b.collection_name = c.collection_name;
  IF born > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'NB032',
      MESSAGE = format('collection %s has %s births: a registry never forgets them', c.collection_name, born),
      HINT = format('to stop governing it: natal collection set %s --role excluded (a backfill''s births go with natal rollback RUN)', c.collection_name);
  END IF;
  SELECT min(i.plan_id) INTO plan FROM backfill_plan_item i WHERE i.collection_name = c.collection_name;
  IF plan IS NULL THEN
    SELECT min(l.plan_id) INTO plan FROM birth_backfill_ledger l WHERE l.collection_name = c.collection_name;
  END IF;
  IF plan IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB032',
      MESSAGE = format('collection %s is in plan %s: a plan''s history stays as it was', c.collection_name, plan),
      HINT = format('to stop governing it: natal collection set %s --role excluded', c.collection_name);
  END IF;
  PERFORM unwire(c.collection_name);
  DELETE FROM birth_registry b WHERE b.entity_code = c.entity_code AND b.operation = 'catalog';
  DELETE FROM collection_registry r WHERE r.collection_name = c.collection_name;
  RETURN c;
END
$$;

-- natal's administrator: the session's own role (not a name given with --as) when it is a
-- superuser or a member of natal's admin role.
CREATE OR REPLACE FUNCTION is_administrator() RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT actor() = session_user::text
     AND (COALESCE((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user), false)
          OR (NOT is_embedded() AND pg_has_role(session_user, natal_role('admin'), 'MEMBER')))
$$;

CREATE OR REPLACE FUNCTION owner_change_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  IF NEW.owner IS DISTINCT FROM OLD.owner AND NOT is_administrator()
     AND (OLD.owner IS NULL OR NOT acts_for(actor(), OLD.owner)) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB021',
      MESSAGE = CASE WHEN OLD.owner IS NULL
                  THEN format('only natal''s administrator gives %s its first owner (not %s)', OLD.collection_name, actor())
                  ELSE format('only %s, the owner of %s, or natal''s administrator can give it another owner (not %s)',
                              OLD.owner, OLD.collection_name, actor()) END,
      HINT = format('ask %s', COALESCE(OLD.owner, 'natal''s administrator'));
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS natal_catalog_code ON entity_species;
CREATE TRIGGER natal_catalog_code BEFORE INSERT ON entity_species
  FOR EACH ROW EXECUTE FUNCTION assign_catalog_code();

DROP TRIGGER IF EXISTS natal_catalog_code ON collection_registry;
CREATE TRIGGER natal_catalog_code BEFORE INSERT ON collection_registry
  FOR EACH ROW EXECUTE FUNCTION assign_catalog_code();

DROP TRIGGER IF EXISTS natal_species_sequence ON entity_species;
CREATE TRIGGER natal_species_sequence AFTER INSERT ON entity_species
  FOR EACH ROW EXECUTE FUNCTION create_species_sequence();

DROP TRIGGER IF EXISTS natal_owner_guard ON collection_registry;
CREATE TRIGGER natal_owner_guard BEFORE UPDATE OF owner ON collection_registry
  FOR EACH ROW EXECUTE FUNCTION owner_change_guard();

-- natal species add: a species, its catalog row born (Case 3) and its code sequence made.
CREATE OR REPLACE FUNCTION add_species(p_code text, p_prefix text, p_level text, p_name text)
RETURNS entity_species
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  s entity_species;
BEGIN
  PERFORM assert_natal_role('admin');
  INSERT INTO entity_species (species_code, code_prefix, composition_level, name)
  VALUES (p_code, p_prefix, p_level, p_name)
  RETURNING * INTO s;
  RETURN s;
END
$$;

-- natal collection set: a collection's role, owner, strictness and species (NULL: as it
-- is). A wired collection is re-wired to match, and a change of species re-wires the other
-- collections of both species (their gateways probe its code column).
CREATE OR REPLACE FUNCTION set_collection(p_collection text, p_role governance_role, p_owner text,
                                          p_strict boolean, p_species text)
RETURNS collection_registry
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  was text := (SELECT m.species_code FROM species_collection_map m WHERE m.collection_name = c.collection_name);
BEGIN
  -- An owner hands a collection over itself (natal_owner_guard says who may); anything else
  -- is the admin's.
  IF p_role IS NOT NULL OR p_strict IS NOT NULL OR p_species IS NOT NULL OR p_owner IS NULL THEN
    PERFORM assert_natal_role('admin');
  END IF;
  PERFORM assert_owner_exists(p_owner);
  IF p_strict AND c.birth_code_strategy <> 'column' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB026',
      MESSAGE = format('collection %s has no code column (identity %s): strict would refuse every insert, since the gateway needs one',
                       c.collection_name, c.birth_code_strategy),
      HINT = 'give it a code column first: natal identity set TABLE --strategy column --column COL';
  END IF;
  UPDATE collection_registry SET
    governance_role = COALESCE(p_role, governance_role),
    owner = COALESCE(p_owner, owner),
    strict_mode = COALESCE(p_strict, strict_mode)
  WHERE collection_name = c.collection_name;
  IF p_species IS NOT NULL THEN
    IF NOT EXISTS (SELECT 1 FROM entity_species s WHERE s.species_code = p_species) THEN
      RAISE EXCEPTION USING ERRCODE = 'NB011', MESSAGE = format('species %s does not exist', p_species),
        HINT = 'add it with: natal species add CODE --prefix PREFIX --level LEVEL';
    END IF;
    INSERT INTO species_collection_map (collection_name, species_code) VALUES (c.collection_name, p_species)
    ON CONFLICT (collection_name) DO UPDATE
      SET species_code = EXCLUDED.species_code, mapped_by = session_user, mapped_at = now();
    PERFORM sync_code_sequence((SELECT s.code_prefix FROM entity_species s WHERE s.species_code = p_species));
    PERFORM rewire_species(p_species, c.collection_name);
    IF was IS NOT NULL AND was <> p_species THEN
      PERFORM rewire_species(was, c.collection_name);
    END IF;
  END IF;
  -- The owner is not part of what the trigger and gateway functions do: handing a
  -- collection to another owner re-wires nothing.
  IF p_role IS NOT NULL OR p_strict IS NOT NULL OR p_species IS NOT NULL THEN
    PERFORM rewire_if_wired(c.collection_name);
  END IF;
  SELECT * INTO c FROM collection_registry WHERE collection_name = c.collection_name;
  RETURN c;
END
$$;
