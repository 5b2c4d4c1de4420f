-- natal 0003: registration and the birth-first gateway (QT-002).

-- Registers a table as a collection (Case 3: the catalog row itself is born by the wired
-- catalog trigger). Never fails for lack of an identity: that is recorded as unclassified.
CREATE FUNCTION register_collection(p_schema name, p_table name, p_species text,
                                    p_role governance_role DEFAULT 'governed',
                                    p_owner text DEFAULT NULL,
                                    p_code_column name DEFAULT NULL)
RETURNS collection_registry
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  v_name text := collection_name_of(p_schema, p_table);
  rel regclass := to_regclass(format('%I.%I', p_schema, p_table));
  pk name[];
  c collection_registry;
  strategy identity_strategy;
  reason text;
BEGIN
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
  IF rel IS NOT NULL THEN
    pk := key_columns(rel);
    IF p_code_column IS NOT NULL AND NOT has_column(rel, p_code_column) THEN
      RAISE EXCEPTION USING ERRCODE = 'NB009',
        MESSAGE = format('table %s has no column %I', rel, p_code_column),
        HINT = 'name an existing column with --code-column';
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
  RETURN c;
END
$$;

CREATE FUNCTION assert_not_frozen(p_collection text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  f operation_freeze;
BEGIN
  SELECT * INTO f FROM operation_freeze WHERE target = p_collection;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'NB004',
      MESSAGE = format('collection %s is frozen by %s since %s: %s', p_collection, f.frozen_by,
                       f.frozen_at, f.reason),
      HINT = 'ask them, then: natal unfreeze TABLE';
  END IF;
END
$$;

-- The birth-first gateway (QT-002). In one transaction: species check → next PREFIX-NNN →
-- birth record → entity row carrying the code (and _dot_origin) → match check → inspection.
-- If the entity insert fails, the birth goes with it: no phantom, ever.
CREATE FUNCTION create_entity(p_collection text, p_data jsonb, p_origin text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  sp entity_species := collection_species(p_collection);
  origin text := COALESCE(NULLIF(p_origin, ''), 'natal:create');
  unknown text;
  code text;
  born birth_registry;
  data jsonb;
  cols text;
  entity jsonb;
  entity_key jsonb;
BEGIN
  -- 1. species check
  IF c.governance_role <> 'governed' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB002',
      MESSAGE = format('collection %s is %s, not governed: the gateway births only governed entities',
                       p_collection, c.governance_role),
      HINT = 'natal collection set TABLE --role governed';
  END IF;
  PERFORM assert_not_frozen(c.collection_name);
  IF rel IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB005',
      MESSAGE = format('collection %s has no table (%I.%I does not exist)', p_collection,
                       c.table_schema, c.table_name),
      HINT = 'create the table first';
  END IF;
  IF sp.species_code IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB003',
      MESSAGE = format('collection %s is not in the species map', p_collection),
      HINT = 'natal collection set TABLE --species CODE';
  END IF;
  IF c.birth_code_strategy <> 'column' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB006',
      MESSAGE = format('collection %s has no code column (identity: %s): the gateway writes the new code into one',
                       p_collection, c.birth_code_strategy),
      HINT = 'register it with --code-column COL';
  END IF;
  IF p_data IS NULL OR jsonb_typeof(p_data) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = 'entity data must be a JSON object of column values',
      HINT = 'for example {"name": "x"}';
  END IF;
  IF p_data ? c.birth_code_column THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = format('entity data sets the code column %I; the gateway assigns the code', c.birth_code_column),
      HINT = 'leave it out';
  END IF;
  SELECT string_agg(format('%I', k), ', ') INTO unknown
  FROM jsonb_object_keys(p_data) AS k
  WHERE NOT has_column(rel, k);
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = format('table %s has no column %s', rel, unknown),
      HINT = 'use the table''s column names as keys';
  END IF;

  -- 2. next code, 3. birth first
  code := next_code(sp.code_prefix, c.collection_name);
  INSERT INTO birth_registry (entity_code, collection_name, species_code, composition_level,
                              dot_origin, governance_role, operation)
  VALUES (code, c.collection_name, sp.species_code, sp.composition_level, origin, 'governed', 'gateway')
  RETURNING * INTO born;

  -- 4. entity after, carrying the code and its origin
  data := p_data || jsonb_build_object(c.birth_code_column, code);
  IF has_column(rel, '_dot_origin') THEN
    data := data || jsonb_build_object('_dot_origin', origin);
  END IF;
  SELECT string_agg(format('%I', k), ', ') INTO cols FROM jsonb_object_keys(data) AS k;
  EXECUTE format('INSERT INTO %1$s AS t (%2$s) SELECT %2$s FROM jsonb_populate_record(NULL::%1$s, $1) '
                 'RETURNING to_jsonb(t.*)', rel, cols)
    INTO entity USING data;

  -- 5. match check: the row carries the birth's code
  IF entity ->> c.birth_code_column IS DISTINCT FROM code THEN
    RAISE EXCEPTION USING ERRCODE = 'NB008',
      MESSAGE = format('match check failed: %s was born but the row holds %s = %s', code,
                       c.birth_code_column, entity ->> c.birth_code_column),
      HINT = 'a trigger on the table changed the code; nothing was kept';
  END IF;

  -- 6. inspection: species, prefix, level and entity are right by construction
  UPDATE birth_registry SET inspection_status = 'passed', inspected_at = now()
  WHERE entity_code = code
  RETURNING * INTO born;

  SELECT jsonb_object_agg(k, entity -> k) INTO entity_key
  FROM unnest(COALESCE(key_columns(rel), ARRAY[c.birth_code_column]::name[])) AS k;
  RETURN jsonb_build_object(
    'entity_code', born.entity_code, 'birth_id', born.birth_id,
    'collection_name', born.collection_name, 'species_code', born.species_code,
    'composition_level', born.composition_level, 'dot_origin', born.dot_origin,
    'born_at', born.born_at, 'governance_role', born.governance_role,
    'operation', born.operation, 'inspection_status', born.inspection_status,
    'key', entity_key);
END
$$;
