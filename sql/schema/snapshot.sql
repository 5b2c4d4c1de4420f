-- Everything natal's migrations create in schema $1, one row per object, with the
-- schema's own name replaced by '@' so two schemas can be compared.
WITH ns AS (
  SELECT oid, quote_ident(nspname) || '.' AS prefix FROM pg_namespace WHERE nspname = $1
),
objects AS (
  SELECT 'table' AS kind, c.relname::text AS name, c.relkind::text AS definition
  FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
    -- one code sequence per species, made when the species is registered
    AND NOT (c.relkind = 'S' AND c.relname LIKE 'code\_seq\_%' AND c.relname NOT IN ('code_seq_SPE', 'code_seq_COL'))
  UNION ALL
  SELECT 'column', c.relname || '.' || a.attname,
         format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
         || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
         || CASE a.attidentity WHEN '' THEN '' ELSE ' IDENTITY ' || a.attidentity::text END
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN ns ON c.relnamespace = ns.oid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'index', c.relname, pg_get_indexdef(c.oid)
  FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
  WHERE c.relkind IN ('i', 'I')
  UNION ALL
  SELECT 'constraint', r.relname || '.' || con.conname, pg_get_constraintdef(con.oid)
  FROM pg_constraint con
  JOIN pg_class r ON r.oid = con.conrelid
  JOIN ns ON r.relnamespace = ns.oid
  UNION ALL
  SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
         pg_get_function_result(p.oid) || ' '
         -- create_entity is regenerated on every wiring; its body is the wiring's to check
         || CASE WHEN p.proname = 'create_entity' THEN 'generated' ELSE md5(p.prosrc) END
         || COALESCE(' ' || replace(array_to_string(p.proconfig, ','),
                                    'search_path=' || rtrim(ns.prefix, '.'), 'search_path=@'), '')
  FROM pg_proc p JOIN ns ON p.pronamespace = ns.oid
  -- generated per wired collection (natal triggers checks them) or per table owner natal reads as (owner_read.sql)
  WHERE p.proname !~ '^(birth_auto|birth_upd|birth_death|gateway|gateway_row|gateway_probe|read_as)_[0-9a-f]{16}$'
  UNION ALL
  SELECT 'trigger', r.relname || '.' || t.tgname,
         pg_get_triggerdef(t.oid) || CASE t.tgenabled WHEN 'O' THEN '' WHEN 'D' THEN ' (DISABLED)'
                                           WHEN 'A' THEN ' (ALWAYS)' ELSE ' (REPLICA)' END
  FROM pg_trigger t
  JOIN pg_class r ON r.oid = t.tgrelid
  JOIN ns ON r.relnamespace = ns.oid
  WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'type', t.typname,
         COALESCE((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                   FROM pg_enum e WHERE e.enumtypid = t.oid), t.typtype::text)
  FROM pg_type t JOIN ns ON t.typnamespace = ns.oid
  WHERE t.typtype IN ('e', 'd', 'c') AND NOT EXISTS (
    SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
)
SELECT o.kind, replace(o.name, ns.prefix, '@.') AS name,
       regexp_replace(replace(o.definition, ns.prefix, '@.'), '(birth_auto|birth_upd|birth_death)_[0-9a-f]{16}', '\1_#', 'g')
         AS definition
FROM objects o, ns
ORDER BY o.kind, o.name;
