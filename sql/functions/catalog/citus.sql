-- Citus. natal's own objects live on the coordinator, as local tables (natal's sessions turn
-- Citus's DDL propagation off: src/db/server.ts), and natal governs the coordinator's local
-- tables as on any server. A table Citus manages (distributed, reference, or a Citus local
-- table) is not governed yet: its rows are written on the workers, where natal's triggers do
-- not run, and natal's definer does not log in to the workers to read them (docs/SCALE.md).

-- What Citus makes of rel: 'distributed', 'single-shard distributed' (a tenant schema's
-- table), 'reference' or 'Citus local'; NULL for a table Citus does not manage, and on a
-- server without Citus.
CREATE OR REPLACE FUNCTION citus_table_kind(rel regclass) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  kind text;
BEGIN
  IF rel IS NULL OR to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE $q$
    SELECT CASE WHEN p.partmethod = 'h' THEN 'distributed' WHEN p.repmodel = 't' THEN 'reference'
                WHEN p.colocationid <> 0 THEN 'single-shard distributed' ELSE 'Citus local' END
    FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1
  $q$ INTO kind USING rel;
  RETURN kind;
END
$$;

-- Refuses a table Citus manages, saying why and what to do instead.
CREATE OR REPLACE FUNCTION assert_not_citus_table(rel regclass, p_collection text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  kind text := citus_table_kind(rel);
BEGIN
  IF kind IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB034',
      MESSAGE = format('%s is a %s table (Citus): natal does not govern Citus tables yet (its rows are written on the workers, where natal''s triggers do not run)',
                       p_collection, kind),
      HINT = 'keep the table a local table of the coordinator (natal governs those), or see docs/SCALE.md';
  END IF;
END
$$;
