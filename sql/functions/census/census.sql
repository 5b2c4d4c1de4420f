-- The full census: for each collection its rows, births, gap (rows without a birth),
-- phantoms (births whose row is gone without a recorded death) and deaths (gone with one).
-- An empty table counts as one: 0 rows, gap and phantoms 0 where the table exists and has
-- an identity; NULLs where it has neither.
--
-- Counted the way reconciliation tools compare two sides, and exact:
-- 1. Sums. Each table's rows and each collection's living births (born, no recorded death)
--    are summed in one pass over each side: a count and a sum of the codes' 64-bit hashes.
--    Where the two agree, the table's codes are the living births': no gap, no phantom, and
--    every other birth of the collection is a death.
-- 2. Buckets. A big collection whose sums differ (census_match_limit() rows and births) is
--    summed again by hash bucket of its codes, and only the buckets that differ go on.
-- 3. Rows. The rows of a collection whose sums differ (of its differing buckets, for a big
--    one) are looked up one by one in the registry: a row with no birth of its collection is
--    in the gap; the living births left without a row are phantoms, the dead ones deaths.
--
-- census_counts returns {collections: [{collection_name, rows, births, gap, phantoms,
-- deaths}], registry_births, foreign, births_per_day}: the registry's births in all, how many
-- have a code in another collection's namespace ('<other>::…', for duplicate_risk) and, with
-- p_days, births_per_day(p_days, p_top)'s rows (the dashboard's chart), all read in the same
-- pass over the registry. It runs with its caller's rights: census() and census_recount()
-- are natal's definer's, for the reader role.
CREATE OR REPLACE FUNCTION census(p_collections text[])
RETURNS TABLE (collection_name text, rows bigint, births bigint, gap bigint, phantoms bigint, deaths bigint)
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
BEGIN
  PERFORM assert_natal_role('reader');
  RETURN QUERY
    SELECT x.collection_name, x.rows, x.births, x.gap, x.phantoms, x.deaths
    FROM jsonb_to_recordset(census_counts(p_collections) -> 'collections')
      AS x(collection_name text, rows bigint, births bigint, gap bigint, phantoms bigint, deaths bigint);
END
$$;

CREATE OR REPLACE FUNCTION census_counts(p_collections text[], p_days integer DEFAULT NULL, p_top integer DEFAULT 6)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  known text[];       -- the collections whose rows can be counted: a table and an identity
  codes text[];       -- each one's code expression over alias t
  tables regclass[];
  dead text[];        -- the codes of these collections' births with a recorded death
  sums jsonb;         -- 1: per collection rows, births, living births, and whether they agree
  differ text[];      -- the collections whose sums differ
  masks bigint[];     -- each one's bucket mask (0: its rows are looked up in full)
  buckets jsonb := '{}';  -- 2: a big one's buckets that differ, and their living births
  looked jsonb := '{}';   -- 3: per collection that differs, gap, and births its rows found
  k integer;
  one jsonb;
  rows_sql text;
  scan boolean;
  seed bigint := census_seed();
  registry_births bigint;
  foreign_births bigint;
  per_day jsonb;
  got jsonb[];        -- 1's rows: the registry's by collection and by day, the tables' sums
  since timestamptz := CASE WHEN p_days IS NOT NULL THEN births_since(p_days) END;
  unique_codes boolean;
BEGIN
  SELECT array_agg(x.collection_name), array_agg(x.code), array_agg(x.rel)
    INTO known, codes, tables
  FROM (SELECT r.collection_name, collection_table(r) AS rel, entity_code_sql(r, 't') AS code
        FROM collection_registry r WHERE r.collection_name = ANY (p_collections) OFFSET 0) AS x
  WHERE x.rel IS NOT NULL AND x.code IS NOT NULL;
  known := COALESCE(known, '{}');
  SELECT COALESCE(array_agg(DISTINCT d.entity_code), '{}') INTO dead
  FROM recorded_deaths(p_collections) AS d
  WHERE EXISTS (SELECT 1 FROM birth_registry b WHERE b.entity_code = d.entity_code AND b.collection_name = d.collection_name);

  -- 1. Sums (over the whole registry: it has no index by collection, and is read once; with
  -- p_days, the recent births are counted by day and origin in the same pass). The registry's
  -- and the tables' are two queries of one snapshot (census_query's p_then): a query that
  -- reads a table through its owner's function (parallel unsafe: a subtransaction) is read
  -- by one process, and the registry, the bigger side, is read in parallel apart from it.
  SELECT array_agg(q) INTO got
  FROM census_query(format($q$
    WITH bd AS (
      SELECT bb.collection_name AS collection, %s AS day, %s AS origin, count(*) AS births,
             count(*) FILTER (WHERE NOT bb.entity_code = ANY ($2)) AS n,
             -- (hashed only for the collections asked for; the others are only counted)
             sum(hashtextextended(bb.entity_code, $4))
               FILTER (WHERE bb.collection_name = ANY ($1) AND NOT bb.entity_code = ANY ($2)) AS s,
             count(*) FILTER (WHERE strpos(bb.entity_code, '::') > 0
                                AND NOT starts_with(bb.entity_code, bb.collection_name || '::')) AS foreign
      FROM birth_registry bb GROUP BY 1, 2, 3
    ),
    b AS (
      SELECT bd.collection, sum(bd.births) AS births, sum(bd.n) AS n, sum(bd.s) AS s, sum(bd.foreign) AS foreign
      FROM bd GROUP BY 1
    )
    SELECT jsonb_build_object('collection', b.collection, 'births', b.births, 'living', b.n,
                              'sum', COALESCE(b.s, 0), 'foreign', b.foreign)
    FROM b
    UNION ALL
    SELECT jsonb_build_object('day', d.day, 'origin', d.origin, 'births', d.births) FROM (%s) AS d
  $q$,
       CASE WHEN p_days IS NULL THEN 'NULL::date' ELSE format('CASE WHEN bb.born_at >= $5 THEN %s END', birth_day_sql('bb')) END,
       CASE WHEN p_days IS NULL THEN 'NULL::text' ELSE 'CASE WHEN bb.born_at >= $5 THEN bb.dot_origin END' END,
       births_per_day_sql('bd', '$6')),
    p_collections, dead, NULL, seed, since, p_top,
    format('SELECT jsonb_build_object(''table'', t.collection, ''rows'', t.n, ''sum'', COALESCE(t.s, 0)) FROM (%s) AS t',
           census_rows_sql(known, codes, tables, 'sums', seed))) AS q;
  WITH b AS (SELECT q ->> 'collection' AS collection, (q ->> 'births')::bigint AS births,
                    (q ->> 'living')::bigint AS living, (q ->> 'sum')::numeric AS sum,
                    (q ->> 'foreign')::bigint AS foreign
             FROM unnest(got) AS q WHERE q ? 'collection'),
       t AS (SELECT q ->> 'table' AS collection, (q ->> 'rows')::bigint AS rows, (q ->> 'sum')::numeric AS sum
             FROM unnest(got) AS q WHERE q ? 'table')
  SELECT jsonb_object_agg(x.collection, jsonb_build_object('collection', x.collection,
           'rows', COALESCE(t.rows, 0), 'births', COALESCE(b.births, 0), 'living', COALESCE(b.living, 0),
           'foreign', COALESCE(b.foreign, 0),
           'same', COALESCE(t.rows, 0) = COALESCE(b.living, 0) AND COALESCE(t.sum, 0) = COALESCE(b.sum, 0)))
           FILTER (WHERE x.collection = ANY (p_collections)),
         COALESCE(sum(b.births), 0), COALESCE(sum(b.foreign), 0)
    INTO sums, registry_births, foreign_births
  FROM b FULL JOIN t ON t.collection = b.collection
  CROSS JOIN LATERAL (SELECT COALESCE(b.collection, t.collection) AS collection) AS x;
  SELECT COALESCE(jsonb_agg(q ORDER BY q ->> 'day', q ->> 'origin'), '[]') INTO per_day
  FROM unnest(got) AS q WHERE q ? 'day';
  sums := COALESCE(sums, '{}');

  SELECT array_agg(known[i]), array_agg(census_bucket_mask((sums -> known[i] ->> 'rows')::bigint,
                                                           (sums -> known[i] ->> 'living')::bigint))
    INTO differ, masks
  FROM generate_subscripts(known, 1) AS i
  WHERE NOT COALESCE((sums -> known[i] ->> 'same')::boolean, true);

  -- 2. Buckets, for a big collection that differs.
  FOR k IN 1 .. COALESCE(array_length(differ, 1), 0) LOOP
    CONTINUE WHEN masks[k] = 0;
    SELECT jsonb_build_object('buckets', COALESCE(jsonb_agg(q -> 'bucket'), '[]'),
                              'living', COALESCE(sum((q ->> 'living')::bigint), 0))
      INTO one
    FROM census_query(format($q$
      WITH t AS (%s),
      b AS (
        SELECT x.h & $3 AS bucket, count(*) AS n, sum(x.h) AS s
        FROM (SELECT hashtextextended(bb.entity_code, $4) AS h FROM birth_registry bb
              WHERE bb.collection_name = $1[1] AND NOT bb.entity_code = ANY ($2) OFFSET 0) AS x
        GROUP BY 1
      )
      SELECT jsonb_build_object('bucket', COALESCE(t.bucket, b.bucket), 'living', COALESCE(b.n, 0))
      FROM t FULL JOIN b ON b.bucket = t.bucket
      WHERE COALESCE(t.n, 0) <> COALESCE(b.n, 0) OR COALESCE(t.s, 0) <> COALESCE(b.s, 0)
    $q$, census_rows_sql(ARRAY[differ[k]], ARRAY[codes[array_position(known, differ[k])]],
                         ARRAY[tables[array_position(known, differ[k])]], 'buckets', seed, masks[k])),
      ARRAY[differ[k]], dead, masks[k], seed) AS q;
    buckets := buckets || jsonb_build_object(differ[k], one);
  END LOOP;

  -- 3. Rows, looked up.
  IF differ IS NOT NULL THEN
    SELECT string_agg(census_rows_sql(ARRAY[differ[j]], ARRAY[codes[array_position(known, differ[j])]],
                                      ARRAY[tables[array_position(known, differ[j])]],
                                      'codes', seed, masks[j], buckets -> differ[j] -> 'buckets'), ' UNION ALL ')
      INTO rows_sql FROM generate_subscripts(differ, 1) AS j;
    -- Few rows are looked up one by one through the registry's index; many, against the
    -- births of their collections read in one pass (cheaper past ~1 row in 30 births).
    SELECT sum(CASE WHEN masks[j] = 0 THEN (sums -> differ[j] ->> 'rows')::bigint
                    ELSE (sums -> differ[j] ->> 'rows')::bigint
                         * jsonb_array_length(buckets -> differ[j] -> 'buckets') / (masks[j] + 1) END) * 30
           > GREATEST((SELECT k.reltuples FROM pg_class k WHERE k.oid = 'birth_registry'::regclass), 1)
      INTO scan FROM generate_subscripts(differ, 1) AS j;
    -- (a key the table keeps unique gives each code once: no need to count codes apart)
    SELECT bool_and(r.birth_code_strategy IN ('synthetic_id', 'composite')
                    AND uniqueness_of(collection_table(r), r.birth_code_key_columns) IS NOT DISTINCT FROM 'table')
      INTO unique_codes FROM collection_registry r WHERE r.collection_name = ANY (differ);
    SELECT jsonb_object_agg(q ->> 'collection', q) INTO looked
    FROM census_query(format($q$
      SELECT jsonb_build_object('collection', g.collection,
               'gap', COALESCE(sum(g.n) FILTER (WHERE NOT g.born), 0),
               'living', count(*) FILTER (WHERE g.born AND NOT g.dead),
               'dead', count(*) FILTER (WHERE g.dead))
      FROM (
        -- each code once (a code column may repeat one), and its birth
        SELECT e.collection, e.code, %s AS n, b.entity_code IS NOT NULL AS born,
               COALESCE(b.entity_code = ANY ($2), false) AS dead
        FROM (%s) AS e
        %s
        %s
      ) AS g
      GROUP BY g.collection
    $q$, CASE WHEN unique_codes THEN '1' ELSE 'count(*)' END, rows_sql, CASE WHEN scan
      THEN 'LEFT JOIN (SELECT bb.entity_code, bb.collection_name FROM birth_registry bb WHERE bb.collection_name = ANY ($1)) AS b
              ON b.entity_code = e.code AND b.collection_name = e.collection'
      ELSE 'LEFT JOIN LATERAL (SELECT bb.entity_code FROM birth_registry bb
                               WHERE bb.entity_code = e.code AND bb.collection_name = e.collection LIMIT 1) AS b ON true'
      END, CASE WHEN NOT unique_codes THEN 'GROUP BY e.collection, e.code, b.entity_code' ELSE '' END), differ, dead) AS q;
  END IF;
  RETURN jsonb_build_object('registry_births', registry_births, 'foreign', foreign_births,
                            'births_per_day', CASE WHEN p_days IS NOT NULL THEN per_day END,
                            'collections', (
    SELECT COALESCE(jsonb_agg(jsonb_build_object('collection_name', x.collection_name, 'rows', x.rows,
             'births', x.births, 'gap', x.gap, 'phantoms', x.phantoms, 'deaths', x.deaths)), '[]')
    FROM (SELECT r.collection_name,
           CASE WHEN r.collection_name = ANY (known) THEN COALESCE((s ->> 'rows')::bigint, 0) END AS rows,
           COALESCE((s ->> 'births')::bigint, 0) AS births,
           CASE WHEN r.collection_name = ANY (known) THEN COALESCE((l ->> 'gap')::bigint, 0) END AS gap,
           CASE WHEN r.collection_name = ANY (known) AND r.collection_name = ANY (differ)
                THEN COALESCE((buckets -> r.collection_name ->> 'living')::bigint, (s ->> 'living')::bigint)
                     - COALESCE((l ->> 'living')::bigint, 0)
                WHEN r.collection_name = ANY (known) THEN 0 END AS phantoms,
           CASE WHEN r.collection_name = ANY (known)
                THEN COALESCE((s ->> 'births')::bigint - (s ->> 'living')::bigint, 0) - COALESCE((l ->> 'dead')::bigint, 0) END
             AS deaths
          FROM collection_registry r
          CROSS JOIN LATERAL (SELECT sums -> r.collection_name AS s, looked -> r.collection_name AS l) AS y
          WHERE r.collection_name = ANY (p_collections)) AS x));
END
$$;

-- The key of the census's code hashes, new for each count (a census, an apply's confirm), so
-- that codes cannot be made to collide on purpose.
CREATE OR REPLACE FUNCTION census_seed() RETURNS bigint
LANGUAGE sql VOLATILE
AS $$ SELECT ('x' || left(md5(gen_random_uuid()::text), 16))::bit(64)::bigint $$;

-- Runs one of the census's queries (built from the catalog) and returns its rows: through
-- RETURN QUERY, so that PostgreSQL may read a big table in parallel, which it does not for a
-- query whose result goes INTO a variable. With p_then, runs that query after it, with the
-- same arguments, and returns its rows too: a STABLE function's queries all see the snapshot
-- of the statement that calls it, so the two count the same moment, and each may be read in
-- parallel (a query that calls an owner's reader, parallel unsafe, is read by one process:
-- the registry's apart from the tables'). Runs with its caller's rights.
CREATE OR REPLACE FUNCTION census_query(p_sql text, p_collections text[], p_dead text[], p_mask bigint DEFAULT NULL,
                                        p_seed bigint DEFAULT 0, p_since timestamptz DEFAULT NULL,
                                        p_top integer DEFAULT NULL, p_then text DEFAULT NULL)
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT SET jit = off SET work_mem = '64MB'
AS $$
BEGIN
  RETURN QUERY EXECUTE p_sql USING p_collections, p_dead, p_mask, p_seed, p_since, p_top;
  IF p_then IS NOT NULL THEN
    RETURN QUERY EXECUTE p_then USING p_collections, p_dead, p_mask, p_seed, p_since, p_top;
  END IF;
END
$$;

-- The census's reading of tables, as SQL over each table (alias t) of p_known: `sums`, a row
-- (collection, n, s) per table with its rows' count and sum of their codes' hashes; `buckets`,
-- the same per hash bucket of p_mask (bucket, n, s; a NULL code in bucket -1); `codes`, the
-- rows' codes (collection, code), or with p_buckets those of the rows in these buckets only.
CREATE OR REPLACE FUNCTION census_rows_sql(p_known text[], p_codes text[], p_tables regclass[], p_what text,
                                           p_seed bigint, p_mask bigint DEFAULT 0, p_buckets jsonb DEFAULT NULL)
RETURNS text
LANGUAGE sql VOLATILE SET search_path FROM CURRENT
AS $$
  -- (each table read as its owner: owner_read.sql)
  SELECT COALESCE(string_agg(CASE p_what
           WHEN 'sums' THEN format('SELECT %L::text AS collection, r.n, r.s FROM %s', p_known[k],
             owner_rows_sql(p_tables[k], format('SELECT count(*), sum(hashtextextended(%s, %s)) FROM %s AS t',
                                                p_codes[k], p_seed, p_tables[k]), 'r(n bigint, s numeric)'))
           WHEN 'buckets' THEN format('SELECT r.bucket, r.n, r.s FROM %s',
             owner_rows_sql(p_tables[k], format(
               'SELECT COALESCE(e.h & %s, -1), count(*), sum(e.h)
                FROM (SELECT hashtextextended(%s, %s) AS h FROM %s AS t OFFSET 0) AS e GROUP BY 1',
               p_mask, p_codes[k], p_seed, p_tables[k]), 'r(bucket bigint, n bigint, s numeric)'))
           WHEN 'codes' THEN format('SELECT %L::text AS collection, e.code FROM %s', p_known[k],
             owner_rows_sql(p_tables[k], format(
               'SELECT e.code FROM (SELECT %s AS code FROM %s AS t OFFSET 0) AS e %s',
               p_codes[k], p_tables[k],
               CASE WHEN p_buckets IS NOT NULL THEN format(
                 'WHERE COALESCE(hashtextextended(e.code, %s) & %s, -1) IN (SELECT jsonb_array_elements_text(%L::jsonb)::bigint)',
                 p_seed, p_mask, p_buckets) ELSE '' END), 'e(code text)'))
         END, ' UNION ALL '),
         CASE p_what WHEN 'sums' THEN 'SELECT NULL::text AS collection, 0::bigint AS n, 0::numeric AS s WHERE false' END)
  FROM generate_subscripts(p_known, 1) AS k
$$;

-- Above how many rows and living births a collection whose sums differ is summed by bucket
-- before its rows are looked up: 1,000,000, or the setting natal.census_match_limit (the
-- numbers are the same either way; tests set it to 0 to count small tables by bucket).
CREATE OR REPLACE FUNCTION census_match_limit() RETURNS bigint
LANGUAGE sql STABLE
AS $$ SELECT COALESCE(NULLIF(current_setting('natal.census_match_limit', true), '')::bigint, 1000000) $$;

-- The bucket mask of a collection whose sums differ: 0 (its rows looked up in full) up to
-- census_match_limit() rows and living births; else about 16 buckets for each row or birth
-- the counts say is missing, at least 16,384 and at most 65,536, so that few rows share a
-- bucket with a difference. (The counts' difference is only the least number of
-- differences: 500 orphans and 500 phantoms differ by none. With the 1,024 buckets that gave
-- such a gap in 10,000,000 rows, 62 % of the buckets differed and 6.2 million rows were
-- looked up one by one, 22 s of a 36 s census; with 16,384, 6 %. Summing by bucket costs
-- more with more buckets, little up to 16,384: 2.2, 2.3, 2.8 and 4.1 s for 1,024, 4,096,
-- 16,384 and 65,536 of one 10,000,000-row table, measured in session 23.)
CREATE OR REPLACE FUNCTION census_bucket_mask(p_rows bigint, p_living bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  SELECT CASE WHEN p_rows + p_living <= census_match_limit() THEN 0
              ELSE (1::bigint << LEAST(16, GREATEST(14, ceil(ln(16 * GREATEST(abs(p_rows - p_living), 1)) / ln(2))::int))) - 1
         END
$$;

-- Rows of a collection with no birth (orphans), or births with no row (phantoms).
CREATE OR REPLACE FUNCTION census_orphans(p_collection text, p_limit integer)
RETURNS TABLE (entity_code text, born_elsewhere text)
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  code_sql text := entity_code_sql(c, 't');
BEGIN
  PERFORM assert_natal_role('reader');
  IF rel IS NULL OR code_sql IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE format($q$
    SELECT e.code, o.collection_name
    FROM %s
    LEFT JOIN birth_registry AS o ON o.entity_code = e.code
    WHERE o.entity_code IS NULL OR o.collection_name <> $1
    ORDER BY e.code LIMIT $2
  $q$, owner_rows_sql(rel, format('SELECT %s FROM %s AS t', code_sql, rel), 'e(code text)'))
  USING c.collection_name, p_limit;
END
$$;

CREATE OR REPLACE FUNCTION census_phantoms(p_collection text, p_limit integer)
RETURNS TABLE (entity_code text, born_at timestamptz, dot_origin text)
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  code_sql text := entity_code_sql(c, 't');
BEGIN
  PERFORM assert_natal_role('reader');
  IF rel IS NULL OR code_sql IS NULL THEN
    RETURN QUERY SELECT b.entity_code, b.born_at, b.dot_origin FROM birth_registry b
                 WHERE b.collection_name = c.collection_name ORDER BY b.entity_code LIMIT p_limit;
    RETURN;
  END IF;
  RETURN QUERY EXECUTE format($q$
    SELECT b.entity_code, b.born_at, b.dot_origin
    FROM birth_registry AS b
    WHERE b.collection_name = $1
      AND NOT EXISTS (SELECT 1 FROM %s WHERE e.code = b.entity_code)
      AND NOT EXISTS (SELECT 1 FROM recorded_deaths(ARRAY[$1]) AS d WHERE d.entity_code = b.entity_code)
    ORDER BY b.entity_code LIMIT $2
  $q$, owner_rows_sql(rel, format('SELECT %s FROM %s AS t', code_sql, rel), 'e(code text)'))
  USING c.collection_name, p_limit;
END
$$;

-- p_registry false: the caller has counted no birth coded in another collection's namespace
-- (census_counts' `foreign`), so the registry need not be read for candidates.
CREATE OR REPLACE FUNCTION duplicate_risk(p_collections text[] DEFAULT NULL, p_registry boolean DEFAULT true)
RETURNS TABLE (entity_code text, collections text[], born_as text)
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  free_sql text;
  free_names text[];  -- the collections free_sql reads
  keyed text[];
  keyed_born text[];  -- those whose namespace holds a birth (its codes may be born elsewhere)
  candidates jsonb;
  k record;
  found_codes text[];
  keyed_hits jsonb := '[]';
BEGIN
  PERFORM assert_natal_role('reader');
  -- A keyed collection whose key the database keeps unique only within each partition
  -- produces its codes as freely as a code column: two partitions may share one.
  SELECT string_agg(format('SELECT %L::text AS collection, e.code FROM %s', x.collection_name,
                           owner_rows_sql(x.rel, format('SELECT %s FROM %s AS t', x.code, x.rel), 'e(code text)')),
                    ' UNION ALL ') FILTER (WHERE NOT x.keyed),
         array_agg(x.collection_name) FILTER (WHERE NOT x.keyed),
         array_agg(x.collection_name) FILTER (WHERE x.keyed)
    INTO free_sql, free_names, keyed
  FROM (SELECT r.collection_name, y.rel, entity_code_sql(r, 't') AS code,
               r.birth_code_strategy IN ('synthetic_id', 'composite')
                 AND uniqueness_of(y.rel, r.birth_code_key_columns) IS NOT DISTINCT FROM 'table' AS keyed
        FROM collection_registry r CROSS JOIN LATERAL (SELECT collection_table(r) AS rel OFFSET 0) AS y
        WHERE r.governance_role = 'governed' AND r.table_schema <> natal_schema() AND y.rel IS NOT NULL
        OFFSET 0) AS x
  WHERE x.code IS NOT NULL;
  free_sql := COALESCE(free_sql, 'SELECT NULL::text AS collection, NULL::text AS code WHERE false');
  free_names := COALESCE(free_names, '{}');
  -- Only risks to the collections asked about are returned (the last query keeps the codes
  -- they produce): the namespaces of the others need no looking into.
  keyed := ARRAY(SELECT u.name FROM unnest(keyed) AS u(name) WHERE p_collections IS NULL OR u.name = ANY (p_collections));
  -- A namespace that holds no birth has none born under another collection: where the
  -- registry's key says so in one probe each (namespace_born), only the others are looked
  -- for in the registry (a keyed collection's first plan reads no birth).
  keyed_born := CASE WHEN NOT p_registry THEN '{}'
                     WHEN codes_in_code_point_order()
                       THEN ARRAY(SELECT u.name FROM unnest(keyed) AS u(name) WHERE namespace_born(u.name || '::'))
                     ELSE keyed END;

  -- (c), candidates: codes in a keyed collection's namespace that a free column produces or
  -- that are born under another collection.
  EXECUTE format($q$
    SELECT COALESCE(jsonb_agg(DISTINCT jsonb_build_array(x.collection, x.code)), '[]')
    FROM (
      SELECT k.collection, f.code
      FROM (%s) AS f JOIN unnest($1::text[]) AS k(collection)
        ON starts_with(f.code, k.collection || '::')
      WHERE strpos(f.code, '::') > 0
      UNION ALL
      SELECT k.collection, b.entity_code
      FROM birth_registry b JOIN unnest($2::text[]) AS k(collection)
        ON starts_with(b.entity_code, k.collection || '::') AND b.collection_name <> k.collection
      WHERE cardinality($2::text[]) > 0 AND strpos(b.entity_code, '::') > 0
        AND NOT starts_with(b.entity_code, b.collection_name || '::')
    ) AS x
  $q$, free_sql) INTO candidates USING keyed, keyed_born;
  FOR k IN
    SELECT c->>0 AS collection, array_agg(c->>1) AS codes
    FROM jsonb_array_elements(candidates) AS c GROUP BY 1
  LOOP
    EXECUTE format('SELECT array_agg(e.code) FROM %s',
                   owner_rows_sql(collection_table(find_collection(k.collection)),
                                  format('SELECT e.code FROM (SELECT %s AS code FROM %s AS t) AS e WHERE e.code = ANY ($1::text[])',
                                         entity_code_sql(find_collection(k.collection), 't'),
                                         collection_table(find_collection(k.collection))),
                                  'e(code text)', '$1'))
      INTO found_codes USING k.codes;
    SELECT keyed_hits || COALESCE(jsonb_agg(jsonb_build_object('collection', k.collection, 'code', x)), '[]')
      INTO keyed_hits FROM unnest(found_codes) AS x;
  END LOOP;

  -- The codes a collection asked about produces are its code column's (free) or the
  -- candidates above: with neither, it has no risk, and the other collections' codes are
  -- not compared.
  IF p_collections IS NOT NULL AND NOT free_names && p_collections AND keyed_hits = '[]' THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH free AS (%s),
    keyed AS (SELECT h->>'collection' AS collection, h->>'code' AS code FROM jsonb_array_elements($2) AS h),
    produced AS (SELECT collection, code FROM free WHERE code IS NOT NULL
                 UNION ALL SELECT collection, code FROM keyed),
    risky AS (
      SELECT f.code FROM free f WHERE f.code IS NOT NULL GROUP BY f.code HAVING count(*) > 1
      UNION
      SELECT f.code FROM free f JOIN birth_registry b ON b.entity_code = f.code AND b.collection_name <> f.collection
      UNION
      SELECT y.code FROM keyed y
      WHERE EXISTS (SELECT 1 FROM free f WHERE f.code = y.code)
         OR EXISTS (SELECT 1 FROM birth_registry b WHERE b.entity_code = y.code AND b.collection_name <> y.collection)
    )
    SELECT r.code,
           (SELECT array_agg(DISTINCT p.collection ORDER BY p.collection) FROM produced p WHERE p.code = r.code),
           (SELECT b.collection_name FROM birth_registry b WHERE b.entity_code = r.code)
    FROM risky r
    WHERE $1::text[] IS NULL
       OR EXISTS (SELECT 1 FROM produced p WHERE p.code = r.code AND p.collection = ANY ($1))
    ORDER BY r.code
  $q$, free_sql) USING p_collections, keyed_hits;
END
$$;

-- The births of a collection whose rows are gone with a recorded death: each with its last
-- death (natal census TABLE --deaths).
CREATE OR REPLACE FUNCTION census_deaths(p_collection text, p_limit integer)
RETURNS TABLE (entity_code text, died_at timestamptz, how death_kind, dot_origin text, rekeyed_to text)
LANGUAGE plpgsql SECURITY DEFINER STABLE SET search_path FROM CURRENT SET jit = off
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  code_sql text := entity_code_sql(c, 't');
BEGIN
  PERFORM assert_natal_role('reader');
  RETURN QUERY EXECUTE format($q$
    SELECT DISTINCT ON (b.entity_code) b.entity_code, d.died_at, d.how, d.dot_origin, d.rekeyed_to
    FROM birth_registry AS b JOIN recorded_deaths(ARRAY[$1]) AS d ON d.entity_code = b.entity_code
    WHERE b.collection_name = $1 %s
    ORDER BY b.entity_code, d.death_id DESC LIMIT $2
  $q$, CASE WHEN rel IS NOT NULL AND code_sql IS NOT NULL
            THEN format('AND NOT EXISTS (SELECT 1 FROM %s WHERE e.code = b.entity_code)',
                        owner_rows_sql(rel, format('SELECT %s FROM %s AS t', code_sql, rel), 'e(code text)'))
            ELSE '' END) USING c.collection_name, p_limit;
END
$$;
