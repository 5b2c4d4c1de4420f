CREATE OR REPLACE FUNCTION census_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
BEGIN
  INSERT INTO census_change (relid) VALUES (TG_RELID);
  RETURN NULL;
END
$$;

-- The governed collections a kept census covers (natal's catalog aside), each with the
-- fingerprint of what its numbers depend on: the table (oid and file: a truncate, a rewrite
-- or a new table changes it), its identity, and its triggers and the registry's, as they are
-- and as they were (disabled and enabled again in between, a statement may have gone
-- unseen). NULL where a census of it cannot be kept: a partitioned or inherited table, a
-- partition or a child (a statement on one does not fire the other's statement triggers),
-- or a trigger missing or disabled. The census triggers fire ALWAYS, so that writes in
-- replica mode (session_replication_role, logical replication) are recorded too.
CREATE OR REPLACE FUNCTION census_fingerprints() RETURNS jsonb
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT COALESCE(jsonb_object_agg(r.collection_name, (
           SELECT md5(concat_ws('|', k.oid, pg_relation_filenode(k.oid), entity_code_sql(r, 't'),
                                -- a trigger disabled and enabled again, dropped or re-made, is a
                                -- new pg_trigger row version: its xmin tells (0 statements missed)
                                (SELECT string_agg(t.tgname || ':' || t.xmin::text, ',' ORDER BY t.tgname)
                                 FROM pg_trigger t
                                 WHERE t.tgrelid IN (k.oid, 'birth_registry'::regclass)
                                   AND t.tgname IN ('natal_birth_auto', 'natal_census_change'))))
           FROM pg_class k
           WHERE k.oid = collection_table(r) AND k.relkind = 'r' AND NOT k.relhassubclass
             AND NOT k.relispartition AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = k.oid)
             AND EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = k.oid AND t.tgname = 'natal_birth_auto'
                           AND t.tgenabled IN ('O', 'A'))
             AND EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = k.oid AND t.tgname = 'natal_census_change'
                           AND t.tgenabled = 'A'))), '{}')
  FROM collection_registry r
  WHERE r.governance_role = 'governed' AND r.table_schema <> natal_schema()
    AND collection_table(r) IS NOT NULL AND entity_code_sql(r, 't') IS NOT NULL
$$;

-- A wired collection's census trigger (census_trigger_sql): one row in census_change per
-- statement that deletes, truncates or re-codes its rows, so that a kept census knows it
-- cannot count forward. Only while the kept census is on: off, nothing reads census_change,
-- and the trigger cost every single-row DELETE a second statement trigger and an insert
-- (docs/BENCHMARKS.md). Turning keeping on installs it on every wired collection, and the
-- census kept so far is dropped then, so no statement before it matters.
CREATE OR REPLACE FUNCTION wire_census_change(c collection_registry, rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
  EXECUTE format('DROP TRIGGER IF EXISTS natal_census_change ON %s', rel);
  IF census_keeping() THEN
    EXECUTE census_trigger_sql(c, rel);
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER natal_census_change', rel);
  END IF;
END
$$;

-- Whether the kept census is on: births record the transaction that made them.
CREATE OR REPLACE FUNCTION census_keeping() RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT EXISTS (SELECT 1 FROM pg_attrdef d
                 JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                 WHERE d.adrelid = 'birth_registry'::regclass AND a.attname = 'born_xid')
$$;

-- Turns the kept census on or off. Off (the default) births cost what they cost before
-- 0014 (no default, no index on born_xid), and every census counts in full. On, every birth records txid_current(): in the
-- triggers benchmark that cost the gateway about a tenth of its rate and single-row inserts
-- a few percent (docs/BENCHMARKS.md), and a census of collections that only grew through
-- their triggers and the gateway costs about a count(*). Either way the census kept so far
-- is dropped: the next census counts everything and, when on, keeps that. The ALTER waits
-- for every transaction writing births, so no birth made after it lacks its transaction.
CREATE OR REPLACE FUNCTION set_census_keeping(p_on boolean) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
  coll text;
  c collection_registry;
BEGIN
  PERFORM assert_natal_role('admin');
  IF p_on THEN
    ALTER TABLE birth_registry ALTER COLUMN born_xid SET DEFAULT txid_current();
    -- BRIN: the births since a census sit at the end of the registry, and an insert into a
    -- block range not yet summarized costs the index next to nothing (into one VACUUM has
    -- summarized, it widens the summary: the bulk benchmark pays about 8% for the index).
    CREATE INDEX IF NOT EXISTS birth_registry_born_xid ON birth_registry USING brin (born_xid);
  ELSE
    ALTER TABLE birth_registry ALTER COLUMN born_xid DROP DEFAULT;
    DROP INDEX IF EXISTS birth_registry_born_xid;
  END IF;
  -- every wired collection's census trigger, on or off with it (the list read first: natal's
  -- own catalog tables are wired too, and their triggers change)
  FOREACH coll IN ARRAY (SELECT COALESCE(array_agg(w.collection_name ORDER BY w.collection_name), '{}')
                         FROM wired_trigger w) LOOP
    c := find_collection(coll);
    -- (not on a Citus table wired without triggers: wire_without_triggers)
    IF collection_table(c) IS NOT NULL AND NOT citus_triggerless(collection_table(c)) THEN
      PERFORM wire_census_change(c, collection_table(c));
    END IF;
  END LOOP;
  DELETE FROM census_baseline;
  -- and a census that took its snapshot before this and keeps after it must not be trusted
  INSERT INTO census_change (relid) VALUES ('birth_registry'::regclass);
  RETURN p_on;
END
$$;

-- Keeps a census taken in the caller's (repeatable read) snapshot: `p_collections` holds
-- {name: {rows, births, gap, phantoms}} for every collection census_fingerprints names.
-- Returns false, keeping nothing, when one is missing or cannot be kept, or when the session
-- cannot write (read only, another census keeping at the same moment).
-- Not a definer: it writes with its caller's rights, and only natal's owner may write
-- natal's tables, so only census_recount and census_kept_forward (definers, which count
-- what they keep themselves) keep a census; no client can hand it numbers of its own.
CREATE OR REPLACE FUNCTION census_keep(p_collections jsonb, p_risk jsonb, p_registry_births bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY INVOKER SET search_path FROM CURRENT
AS $$
DECLARE
  prints jsonb;
  kept jsonb;
BEGIN
  IF NOT census_keeping()
     OR current_setting('transaction_isolation') NOT IN ('repeatable read', 'serializable')
     OR current_setting('transaction_read_only')::boolean
     OR NOT EXISTS (SELECT 1 FROM pg_trigger t
                    WHERE t.tgrelid = 'birth_registry'::regclass AND t.tgname = 'natal_census_change'
                      AND t.tgenabled = 'A') THEN
    RETURN false;
  END IF;
  -- (the fingerprints cost a few milliseconds a collection: made only when they can be kept)
  prints := census_fingerprints();
  IF EXISTS (SELECT 1 FROM jsonb_each(prints) p
             WHERE jsonb_typeof(p.value) <> 'string' OR NOT p_collections ? p.key
                OR EXISTS (SELECT 1 FROM unnest(ARRAY['rows', 'births', 'gap', 'phantoms']) AS f
                           WHERE jsonb_typeof(p_collections -> p.key -> f) IS DISTINCT FROM 'number')) THEN
    RETURN false;
  END IF;
  SELECT jsonb_object_agg(p.key, (p_collections -> p.key) || jsonb_build_object('fingerprint', p.value))
    INTO kept FROM jsonb_each(prints) p;
  BEGIN
    INSERT INTO census_baseline (snapshot, collections, risk, registry_births)
    VALUES (txid_current_snapshot(), COALESCE(kept, '{}'), p_risk, p_registry_births)
    ON CONFLICT (id) DO UPDATE
      SET snapshot = EXCLUDED.snapshot, collections = EXCLUDED.collections, risk = EXCLUDED.risk,
          registry_births = EXCLUDED.registry_births, taken_at = now(), taken_by = session_user;
    DELETE FROM census_change c WHERE txid_visible_in_snapshot(c.xid, txid_current_snapshot());
  EXCEPTION WHEN serialization_failure OR insufficient_privilege THEN
    -- another census kept at the same moment; or a caller other than natal's own functions
    RETURN false;
  END;
  RETURN true;
END
$$;

-- A full census of p_collections (census() and duplicate_risk(), at the caller's snapshot),
-- kept for the next census when p_keep and it covers every collection a kept census names:
-- {counted: [census rows], risk: [duplicate_risk rows], registry_births, kept_at}, and with
-- p_days births_per_day (births_per_day(p_days, p_top)'s rows, read in the census's pass
-- over the registry). A reader's census is kept too, for natal counted what it keeps.
CREATE OR REPLACE FUNCTION census_recount(p_collections text[], p_keep boolean, p_days integer DEFAULT NULL,
                                          p_top integer DEFAULT 6) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  all_counted jsonb;
  counted jsonb;
  risk jsonb;
  births bigint;
  kept boolean := false;
BEGIN
  PERFORM assert_natal_role('reader');
  -- (the planner's picture of the registry, as plan and apply refresh it: after an apply of
  -- 100,000 births unseen by autovacuum, the lookup of a collection's rows against its
  -- births was planned as if the registry were empty, a scan of it for each row: plan.sql)
  PERFORM refresh_registry_stats();
  -- (one pass over the registry counts the census, the registry's births, and whether any
  -- birth is coded in another collection's namespace, which duplicate_risk would look for)
  all_counted := census_counts(p_collections, p_days, p_top);
  counted := all_counted -> 'collections';
  births := (all_counted ->> 'registry_births')::bigint;
  SELECT COALESCE(jsonb_agg(to_jsonb(d)), '[]') INTO risk
  FROM duplicate_risk(p_collections, (all_counted ->> 'foreign')::bigint > 0) AS d;
  IF p_keep THEN
    kept := census_keep((SELECT COALESCE(jsonb_object_agg(c ->> 'collection_name', c - 'collection_name'), '{}')
                         FROM jsonb_array_elements(counted) AS c), risk, births);
  END IF;
  RETURN jsonb_build_object('counted', counted, 'risk', risk, 'registry_births', births,
                            'kept_at', CASE WHEN kept THEN to_jsonb(now()) END,
                            'births_per_day', all_counted -> 'births_per_day');
END
$$;

-- The births made since a kept census: those its snapshot does not see. Read through the
-- BRIN index (sequential scans off: without statistics the planner would read the whole
-- registry to find a handful of births).
CREATE OR REPLACE FUNCTION census_births_since(p_snapshot txid_snapshot)
RETURNS TABLE (entity_code text, collection_name text, operation birth_operation)
LANGUAGE sql STABLE SET search_path FROM CURRENT SET enable_seqscan = off
AS $$
  SELECT b.entity_code, b.collection_name, b.operation
  FROM birth_registry b
  WHERE b.born_xid >= txid_snapshot_xmin(p_snapshot)
    AND NOT txid_visible_in_snapshot(b.born_xid, p_snapshot)
$$;

-- The census counted forward from the kept one, or NULL when that cannot be proven right.
-- Returns {collections: {name: {rows, births, gap, phantoms}}, risk, registry_births,
-- births_since, taken_at} for every kept collection: the caller reports the ones it asked for.
CREATE OR REPLACE FUNCTION census_kept(p_since_limit integer DEFAULT 10000) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  base census_baseline;
  -- (made once the kept census is known to be there: it costs a few milliseconds a collection)
  prints jsonb;
  codes text[];
  owners text[];
  other bigint;
  parts text;
  counted jsonb;
  result jsonb := '{}';
  k record;
BEGIN
  PERFORM assert_natal_role('reader');
  SELECT * INTO base FROM census_baseline;
  IF NOT FOUND OR NOT census_keeping() THEN
    RETURN NULL;
  END IF;
  prints := census_fingerprints();
  -- The same collections, the same tables and identities, every trigger firing.
  IF prints IS DISTINCT FROM (SELECT COALESCE(jsonb_object_agg(c.key, c.value -> 'fingerprint'), '{}')
                              FROM jsonb_each(base.collections) c)
     OR EXISTS (SELECT 1 FROM jsonb_each(prints) p WHERE jsonb_typeof(p.value) <> 'string')
     OR NOT EXISTS (SELECT 1 FROM pg_trigger t
                    WHERE t.tgrelid = 'birth_registry'::regclass AND t.tgname = 'natal_census_change'
                      AND t.tgenabled = 'A') THEN
    RETURN NULL;
  END IF;
  -- Nothing deleted, truncated or re-coded since.
  IF EXISTS (SELECT 1 FROM census_change c WHERE NOT txid_visible_in_snapshot(c.xid, base.snapshot)) THEN
    RETURN NULL;
  END IF;
  -- The births since: trigger and gateway births of kept collections only, and few enough
  -- to be checked against every kept table.
  SELECT array_agg(s.entity_code), array_agg(s.collection_name),
         count(*) FILTER (WHERE s.operation NOT IN ('trigger', 'gateway') OR NOT base.collections ? s.collection_name)
    INTO codes, owners, other
  FROM census_births_since(base.snapshot) s;
  IF other > 0 OR cardinality(codes) > p_since_limit THEN
    RETURN NULL;
  END IF;
  -- Each kept table: its rows now and, when there are births since, how many of them it
  -- produces: its own (each must have its row) and other collections' (a new duplicate
  -- risk). One statement for them all; with no births since, a plain count(*) each. Each
  -- table is read as its owner (owner_read.sql), and gives its count and the codes since.
  SELECT string_agg(CASE WHEN codes IS NULL THEN
           format('SELECT %L::text AS collection, r.rows, 0 AS own_codes, 0 AS foreign_codes FROM %s',
                  r.collection_name, owner_rows_sql(collection_table(r), format('SELECT count(*) FROM %s', collection_table(r)),
                                                    'r(rows bigint)'))
         ELSE format(
           'SELECT %L::text AS collection, r.rows, '
           '(SELECT count(*) FROM unnest(r.found) AS f(code) JOIN since AS n ON n.code = f.code WHERE n.owner = %L) AS own_codes, '
           '(SELECT count(*) FROM unnest(r.found) AS f(code) JOIN since AS n ON n.code = f.code WHERE n.owner <> %2$L) AS foreign_codes '
           'FROM %s',
           r.collection_name, r.collection_name,
           owner_rows_sql(collection_table(r), format(
             'SELECT count(*), COALESCE(array_agg(e.code) FILTER (WHERE e.code = ANY ($1::text[])), ''{}'') '
             'FROM (SELECT %s AS code FROM %s AS t) AS e', entity_code_sql(r, 't'), collection_table(r)),
             'r(rows bigint, found text[])', '$1')) END, ' UNION ALL ')
    INTO parts
  FROM collection_registry r WHERE base.collections ? r.collection_name;
  IF parts IS NOT NULL THEN
    EXECUTE format($q$
      WITH since AS (SELECT * FROM unnest($1::text[], $2::text[]) AS s(code, owner))
      SELECT jsonb_object_agg(w.collection, jsonb_build_object('rows', w.rows, 'own_codes', w.own_codes,
                                                      'foreign_codes', w.foreign_codes))
      FROM (%s) AS w
    $q$, parts) INTO counted USING COALESCE(codes, '{}'), COALESCE(owners, '{}');
  END IF;
  FOR k IN SELECT c.key AS name, c.value AS was, counted -> c.key AS now_,
                  (SELECT count(*) FROM unnest(owners) AS o WHERE o = c.key) AS born
           FROM jsonb_each(base.collections) c LOOP
    -- A new code that another table produces is a new duplicate risk: count again.
    IF (k.now_ ->> 'foreign_codes')::bigint IS DISTINCT FROM 0 THEN
      RETURN NULL;
    END IF;
    -- Every new birth has its row, and the rows grew by as many: every new row came with a
    -- new birth of its collection.
    IF (k.now_ ->> 'own_codes')::bigint IS DISTINCT FROM k.born
       OR (k.now_ ->> 'rows')::bigint - (k.was ->> 'rows')::bigint IS DISTINCT FROM k.born
       OR (k.was ->> 'gap') IS NULL OR (k.was ->> 'phantoms') IS NULL OR (k.was ->> 'deaths') IS NULL THEN
      RETURN NULL;
    END IF;
    result := result || jsonb_build_object(k.name, jsonb_build_object(
      'rows', (k.now_ ->> 'rows')::bigint,
      'births', (k.was ->> 'births')::bigint + k.born,
      'gap', (k.was ->> 'gap')::bigint,
      'phantoms', (k.was ->> 'phantoms')::bigint,
      'deaths', (k.was ->> 'deaths')::bigint));
  END LOOP;
  RETURN jsonb_build_object('collections', result, 'risk', base.risk,
                            'registry_births', base.registry_births + COALESCE(cardinality(codes), 0),
                            'births_since', COALESCE(cardinality(codes), 0), 'taken_at', base.taken_at);
END
$$;

-- census_kept(), and kept again when it counted forward past new births, so that the next
-- census starts from here (taken_at is then now).
CREATE OR REPLACE FUNCTION census_kept_forward(p_since_limit integer DEFAULT 10000) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  k jsonb := census_kept(p_since_limit);
BEGIN
  -- (nested: with no kept census, k is NULL, and SQL's AND would still call census_keep)
  IF k IS NOT NULL AND (k ->> 'births_since')::bigint > 0 THEN
    IF census_keep(k -> 'collections', k -> 'risk', (k ->> 'registry_births')::bigint) THEN
      k := k || jsonb_build_object('taken_at', now());
    END IF;
  END IF;
  RETURN k;
END
$$;

DROP TRIGGER IF EXISTS natal_census_change ON birth_registry;
CREATE TRIGGER natal_census_change
  AFTER DELETE OR TRUNCATE OR UPDATE OF entity_code, collection_name ON birth_registry
  FOR EACH STATEMENT EXECUTE FUNCTION census_changed();

ALTER TABLE birth_registry ENABLE ALWAYS TRIGGER natal_census_change;
