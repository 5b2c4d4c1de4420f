-- Citus. natal's own objects live on the coordinator, as local tables (natal's sessions turn
-- Citus's DDL propagation off: src/db/server.ts), and natal governs the coordinator's local
-- tables as on any server. A distributed or reference table is governed without triggers:
-- its rows are written on the workers, where a trigger could not write a birth into the
-- coordinator's registry, so its entities are born birth-first by the gateway on the
-- coordinator and, for rows written around it, by a backfill; the census finds those rows as
-- orphans meanwhile. natal reads such a table only as the table's owner (owner_read.sql, the
-- gateway's functions of the owner's), so Citus's connections to the workers are the owner's,
-- and natal's definer (NOLOGIN) never needs one. A Citus local table is not governed
-- (docs/SCALE.md).

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
                WHEN p.partmethod IN ('a', 'r') THEN 'append- or range-distributed'
                WHEN p.colocationid <> 0 THEN 'single-shard distributed' ELSE 'Citus local' END
    FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1
  $q$ INTO kind USING rel;
  RETURN kind;
END
$$;

-- Whether rel's rows are written on the workers (a distributed or reference table): natal
-- governs it without triggers (births by the gateway and by backfill).
CREATE OR REPLACE FUNCTION citus_triggerless(rel regclass) RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$ SELECT COALESCE(citus_table_kind(rel) IN ('distributed', 'single-shard distributed', 'reference'), false) $$;

-- What Citus makes of rel when natal does not govern it (a Citus local table, an append- or
-- range-distributed one), else NULL.
CREATE OR REPLACE FUNCTION citus_ungoverned_kind(rel regclass) RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$ SELECT k FROM (SELECT citus_table_kind(rel) AS k) AS x WHERE k IN ('Citus local', 'append- or range-distributed') $$;

-- Refuses a table Citus manages that natal does not govern, saying why and what to do instead.
CREATE OR REPLACE FUNCTION assert_not_citus_table(rel regclass, p_collection text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
  kind text := citus_ungoverned_kind(rel);
BEGIN
  IF kind IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB034',
      MESSAGE = format('%s is a %s table (Citus): natal does not govern Citus local tables (Citus keeps copies of their triggers'' functions on the workers), nor append- or range-distributed ones',
                       p_collection, kind),
      HINT = 'keep the table a plain table of the coordinator, or distribute it (natal governs both), or see docs/SCALE.md';
  END IF;
END
$$;
