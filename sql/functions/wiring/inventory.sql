-- What a wired collection's generated functions are made from, as a digest: the collection
-- and its species, natal's schema and the text of its definitions (natal init); the table
-- as natal reads it — its kind and owner, its columns (type, type's owner, schema and base
-- type: whether natal converts it; not null, identity, generated, collation; the default,
-- which the gateway's insert of a row writes for a column its data leaves out), its unique
-- indexes (the key: columns, key columns apart from INCLUDE ones), and those of each partition
-- (pg_partition_tree has no row for a table that is not partitioned); and the code columns
-- of the other collections of its species, which a code column's gateway probes, and their
-- tables' owners (whose tables the row's insert probes). While this
-- digest is the one recorded at wiring, generating the sources again would give the ones
-- recorded (wired_sources); `natal triggers` and `natal doctor` generate them again anyway.
CREATE OR REPLACE FUNCTION wiring_inputs(c collection_registry, rel regclass) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  RETURN md5(concat_ws(E'\n',
    to_jsonb(c)::text, to_jsonb(collection_species(c.collection_name))::text, natal_schema(),
    -- (a table distributed since, or no longer: wired with triggers or without, citus.sql)
    citus_table_kind(rel),
    (SELECT string_agg(d.name || ':' || d.checksum, ',' ORDER BY d.name) FROM natal_definitions d),
    (SELECT string_agg(concat_ws(':', p.relid::oid,
              (SELECT concat_ws(':', k.relkind, k.relowner) FROM pg_class k WHERE k.oid = p.relid),
              (SELECT string_agg(concat_ws(':', a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull,
                                           a.attidentity, a.attgenerated, a.attcollation, y.typnamespace,
                                           y.typowner, y.typbasetype, d.adbin::text), ',' ORDER BY a.attnum)
               FROM pg_attribute a JOIN pg_type y ON y.oid = a.atttypid
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               WHERE a.attrelid = p.relid AND a.attnum > 0 AND NOT a.attisdropped),
              (SELECT string_agg(concat_ws(':', i.indkey::text, i.indnkeyatts, i.indisprimary, i.indisunique,
                                           i.indpred IS NULL, i.indexprs IS NULL), ',' ORDER BY i.indexrelid)
               FROM pg_index i WHERE i.indrelid = p.relid AND i.indisunique)), ';' ORDER BY p.relid::oid)
     FROM (SELECT rel AS relid UNION ALL SELECT t.relid FROM pg_partition_tree(rel) AS t WHERE t.relid <> rel) AS p),
    -- the code columns a gateway probes (gateway_source): the species' other collections'
    CASE WHEN c.birth_code_strategy = 'column' THEN (
      SELECT string_agg(concat_ws(':', to_jsonb(o)::text, collection_table(o)::oid,
                                  (SELECT k.relowner FROM pg_class k WHERE k.oid = collection_table(o)), a.attrelid, a.attname,
                                  a.atttypid, a.attisdropped, trusted_type(a.atttypid),
                                  citus_table_kind(collection_table(o))), ';' ORDER BY o.collection_name)
      FROM collection_registry o
      JOIN species_collection_map m ON m.collection_name = o.collection_name
      LEFT JOIN pg_attribute a ON a.attrelid = collection_table(o) AND a.attname = o.birth_code_column
      WHERE m.species_code = (collection_species(c.collection_name)).species_code
        AND o.birth_code_strategy IN ('column', 'legacy')) END));
END
$$;

-- The functions a wired collection's triggers and gateway run, as installed, as a digest:
-- what wiring recorded (wired_trigger.sources), and what the inventory compares with it.
CREATE OR REPLACE FUNCTION wired_sources(c collection_registry, rel regclass) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  RETURN md5(concat_ws(E'\n',
    (SELECT concat_ws(':', (t.tgtype & 1) = 1, p.prosrc) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
     WHERE t.tgrelid = rel AND t.tgname = 'natal_birth_auto'),
    (SELECT p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
     WHERE t.tgrelid = rel AND t.tgname = 'natal_birth_update'),
    (SELECT p.prosrc FROM pg_proc p
     WHERE p.oid = to_regprocedure(format('%I.%I(jsonb,text)', natal_schema(), gateway_function(c.collection_name)))),
    (SELECT p.prosrc FROM pg_proc p
     WHERE p.oid = to_regprocedure(format('%I.%I()', natal_schema(), death_function(c.collection_name)))),
    -- and the table owners' functions the gateway calls: its row's insert, and the probes it
    -- names (gateway_row_source, gateway_probe_source)
    (SELECT p.prosrc FROM pg_proc p
     WHERE p.oid = to_regprocedure(format('%I.%I(jsonb,text,text)', natal_schema(), gateway_row_function(c.collection_name)))),
    (SELECT string_agg(p.prosrc, E'\n' ORDER BY f.name)
     FROM (SELECT DISTINCT m[1] AS name
           FROM pg_proc g, regexp_matches(g.prosrc, '(gateway_probe_[0-9a-f]{16})', 'g') AS m
           WHERE g.oid = to_regprocedure(format('%I.%I(jsonb,text)', natal_schema(), gateway_function(c.collection_name)))) AS f
     JOIN pg_proc p ON p.oid = to_regprocedure(format('%I.%I(text)', natal_schema(), f.name)))));
END
$$;

-- The trigger inventory: one row per registered collection (or per one of those given).
-- p_full: generate every source again and compare, whatever wiring recorded (natal triggers,
-- natal doctor); else only where the collection's inputs changed since it was wired.
CREATE OR REPLACE FUNCTION trigger_inventory(p_collections text[] DEFAULT NULL, p_full boolean DEFAULT false)
RETURNS TABLE (collection_name text, governance_role governance_role, has_table boolean,
               present boolean, enabled boolean, functional boolean, kind text, problem text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry;
  rel regclass;
  t_enabled "char";
  t_per_row boolean;
  t_proname name;
  t_prosrc text;
  t_ours boolean;
  want_kind text;
  want_body text;
  want_error text;
  gw_want text;
  gw_have text;
  gw_row_ok boolean;
  upd_want text;
  upd_have text;
  recorded text;       -- wiring's record of the sources, while its inputs are unchanged
  recorded_kind text;
  citus text;          -- what Citus makes of the table (citus.sql), NULL for a plain one
BEGIN
  FOR c IN SELECT * FROM collection_registry r
           WHERE p_collections IS NULL OR r.collection_name = ANY (p_collections)
           ORDER BY r.collection_name LOOP
    collection_name := c.collection_name;
    governance_role := c.governance_role;
    rel := collection_table(c);
    has_table := rel IS NOT NULL;
    citus := citus_ungoverned_kind(rel);
    t_enabled := NULL; t_per_row := NULL; t_proname := NULL; t_prosrc := NULL; t_ours := NULL;
    IF rel IS NOT NULL THEN
      SELECT t.tgenabled, (t.tgtype & 1) = 1, p.proname, p.prosrc, n.nspname = natal_schema()
        INTO t_enabled, t_per_row, t_proname, t_prosrc, t_ours
      FROM pg_trigger t
      JOIN pg_proc p ON p.oid = t.tgfoid
      JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE t.tgrelid = rel AND t.tgname = 'natal_birth_auto';
    END IF;
    present := t_proname IS NOT NULL;
    enabled := present AND t_enabled <> 'D';
    kind := CASE WHEN NOT present THEN NULL WHEN t_per_row THEN 'row' ELSE 'statement' END;
    want_kind := NULL; want_body := NULL; want_error := NULL; gw_want := NULL; upd_want := NULL;
    upd_have := NULL;
    IF rel IS NOT NULL THEN
      SELECT p.prosrc INTO upd_have
      FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE t.tgrelid = rel AND t.tgname = 'natal_birth_update' AND t.tgenabled <> 'D';
    END IF;
    recorded := NULL;
    IF c.governance_role = 'governed' AND rel IS NOT NULL AND NOT p_full THEN
      SELECT w.kind, w.sources INTO recorded_kind, recorded FROM wired_trigger w
      WHERE w.collection_name = c.collection_name AND w.inputs = wiring_inputs(c, rel);
    END IF;
    IF recorded IS NOT NULL THEN
      -- unchanged since wiring: the installed functions must be those wiring installed
      IF wired_sources(c, rel) = recorded THEN
        want_kind := kind; want_body := t_prosrc; upd_want := upd_have;
      ELSE
        want_kind := recorded_kind; want_body := '(changed since wiring)';
      END IF;
    ELSIF c.governance_role = 'governed' THEN
      BEGIN
        SELECT s.kind, s.body INTO want_kind, want_body FROM auto_birth_source(c.collection_name) s;
        gw_want := CASE WHEN c.table_schema <> natal_schema() THEN gateway_source(c.collection_name) END;
        SELECT s.body INTO upd_want FROM auto_birth_source(c.collection_name, 'row') s;
      EXCEPTION WHEN SQLSTATE 'NB002' OR SQLSTATE 'NB003' OR SQLSTATE 'NB005' OR SQLSTATE 'NB006' THEN
        want_error := SQLERRM;
      END;
    END IF;
    SELECT p.prosrc INTO gw_have FROM pg_proc p
    WHERE p.oid = to_regprocedure(format('%I.%I(jsonb,text)', natal_schema(), gateway_function(c.collection_name)));
    IF recorded IS NOT NULL THEN
      gw_want := CASE WHEN c.table_schema <> natal_schema() THEN gw_have END;
    END IF;
    -- the gateway's row insert and probes: the table owners', as natal made them
    -- (gateway_row_source, gateway_probe_source)
    -- (their bodies: as wiring made them while the inputs are unchanged, wired_sources holds
    -- them; generated again and compared otherwise)
    gw_row_ok := gw_want IS NULL OR (
      owner_function_intact(c, format('%I.%I(jsonb,text,text)', natal_schema(), gateway_row_function(c.collection_name)),
                            CASE WHEN recorded IS NULL THEN gateway_row_source(c.collection_name) END)
      AND NOT EXISTS (
        SELECT 1 FROM gateway_probed(c.collection_name) AS o
        -- (the probes the installed gateway calls: a table new since is a stale configuration)
        WHERE strpos(gw_have, gateway_probe_function(o.collection_name)) > 0
          AND NOT owner_function_intact(o, format('%I.%I(text)', natal_schema(), gateway_probe_function(o.collection_name)),
                                        CASE WHEN recorded IS NULL THEN gateway_probe_source(o.collection_name) END)));
    problem := CASE
      WHEN c.governance_role <> 'governed' AND present THEN
        'wired but ' || c.governance_role::text || ': it should not be'
      WHEN c.governance_role <> 'governed' THEN NULL
      WHEN NOT has_table THEN 'no table'
      WHEN citus IS NOT NULL THEN
        'a ' || citus || ' table (Citus): natal does not govern Citus local tables (docs/SCALE.md)'
      WHEN want_error IS NOT NULL AND present THEN 'stale configuration: ' || want_error
      WHEN want_error IS NOT NULL THEN 'cannot be wired: ' || want_error
      WHEN NOT present THEN 'missing: run natal wire'
      WHEN NOT t_ours OR t_proname <> auto_birth_function(c.collection_name) THEN
        'points at a function that is not natal''s (' || t_proname || ')'
      WHEN t_enabled = 'D' THEN 'disabled'
      WHEN upd_have IS NULL THEN 'update trigger missing or disabled: run natal wire'
      -- (the row's insert probes the tables of its owner's of the species: a collection or
      -- table that changed since wiring changes it too)
      WHEN NOT gw_row_ok AND NOT EXISTS (SELECT 1 FROM wired_trigger w
                                         WHERE w.collection_name = c.collection_name
                                           AND w.inputs = wiring_inputs(c, rel)) THEN
        'stale configuration: the collection changed since it was wired; run natal wire'
      WHEN NOT gw_row_ok THEN
        'gateway insert or probe altered or missing (its functions must be the table owners'', as natal made them): run natal wire'
      WHEN t_prosrc IS DISTINCT FROM want_body OR kind IS DISTINCT FROM want_kind
           OR gw_have IS DISTINCT FROM gw_want OR upd_have IS DISTINCT FROM upd_want THEN
        'stale configuration: the collection changed since it was wired; run natal wire'
      ELSE COALESCE(partition_wiring_problem(rel, auto_birth_function(c.collection_name),
                                             update_birth_function(c.collection_name)),
                    death_wiring_problem(c, rel, recorded IS NULL))
    END;
    functional := c.governance_role = 'governed' AND present AND problem IS NULL;
    -- A distributed or reference table (Citus) is wired without triggers: its gateway alone
    -- (citus.sql); a natal trigger on the coordinator's shell of it would never fire.
    IF c.governance_role = 'governed' AND rel IS NOT NULL AND citus_triggerless(rel) THEN
      present := EXISTS (SELECT 1 FROM wired_trigger w
                         WHERE w.collection_name = c.collection_name AND w.kind = 'gateway');
      enabled := present;
      kind := CASE WHEN present THEN 'gateway' END;
      problem := CASE
        WHEN EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = rel AND g.tgname LIKE 'natal\_%') THEN
          'a natal trigger on the coordinator''s shell of a ' || citus_table_kind(rel)
            || ' table, where it never fires (its rows are written on the workers): run natal wire'
        WHEN c.strict_mode THEN
          'cannot be wired: strict, and a ' || citus_table_kind(rel)
            || ' table (Citus): no trigger runs on the workers to refuse a row without a prior birth'
        WHEN want_error IS NOT NULL THEN 'cannot be wired: ' || want_error
        WHEN NOT present THEN 'missing: run natal wire'
        -- (the gateway's functions as wiring installed them: one dropped or replaced since)
        WHEN recorded IS NOT NULL AND wired_sources(c, rel) IS DISTINCT FROM recorded THEN
          'gateway altered or missing since it was wired: run natal wire'
        WHEN NOT gw_row_ok AND recorded IS NULL THEN
          'stale configuration: the collection changed since it was wired; run natal wire'
        WHEN NOT gw_row_ok THEN
          'gateway insert or probe altered or missing (its functions must be the table owners'', as natal made them): run natal wire'
        -- (generated again, p_full: a gateway unlike the one its unchanged inputs make)
        WHEN gw_have IS DISTINCT FROM gw_want AND EXISTS (
               SELECT 1 FROM wired_trigger w
               WHERE w.collection_name = c.collection_name AND w.inputs = wiring_inputs(c, rel)) THEN
          'gateway altered or missing since it was wired: run natal wire'
        WHEN gw_have IS DISTINCT FROM gw_want THEN
          'stale configuration: the collection changed since it was wired; run natal wire'
      END;
      functional := problem IS NULL;
    END IF;
    RETURN NEXT;
  END LOOP;
END
$$;

-- Whether a function natal makes to run as a collection's table owner (install_owner_function)
-- is as natal made it: that owner's, SECURITY DEFINER, with natal's search_path and body (a
-- NULL p_body: the body is known to be as wiring made it, from wired_sources).
CREATE OR REPLACE FUNCTION owner_function_intact(c collection_registry, p_function text, p_body text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  RETURN EXISTS (
    SELECT 1 FROM pg_proc p JOIN pg_class k ON k.oid = collection_table(c)
    WHERE p.oid = to_regprocedure(p_function)
      AND p.prosecdef AND p.proowner = k.relowner
      AND p.proconfig = ARRAY['search_path=pg_catalog, pg_temp']
      AND (p_body IS NULL OR p.prosrc = p_body));
END
$$;
