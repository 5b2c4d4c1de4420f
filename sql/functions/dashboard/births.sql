-- Births per day over the last p_days days (UTC), by origin (dot_origin): the p_top origins
-- with the most births in that time each on their own, the rest as 'other'. The dashboard's
-- chart; readable by natal's readers. A census counted in full gives the same rows from its
-- own pass over the registry (census_recount's p_days): both shape them with
-- births_per_day_sql.
CREATE OR REPLACE FUNCTION births_per_day(p_days integer DEFAULT 30, p_top integer DEFAULT 6)
RETURNS TABLE (day date, origin text, births bigint)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT SET max_parallel_workers_per_gather = 0
AS $$
BEGIN
  -- (in one process: the dashboard may ask it beside a census, which reads in parallel)
  RETURN QUERY EXECUTE format($q$
    WITH bd AS (
      SELECT %s AS day, b.dot_origin AS origin, count(*) AS births
      FROM birth_registry b WHERE b.born_at >= $1 GROUP BY 1, 2
    )
    SELECT d.day, d.origin, d.births FROM (%s) AS d ORDER BY 1, 2
  $q$, birth_day_sql('b'), births_per_day_sql('bd', '$2')) USING births_since(p_days), p_top;
END
$$;

-- The first instant of the first of the last p_days days, UTC's.
CREATE OR REPLACE FUNCTION births_since(p_days integer) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
BEGIN
  IF p_days IS NULL OR p_days < 1 OR p_days > 3660 THEN
    RAISE EXCEPTION USING ERRCODE = 'NB026', MESSAGE = format('days must be 1 to 3660, not %s', p_days),
      HINT = 'ask for the births of the last 30 days, for example';
  END IF;
  RETURN ((now() AT TIME ZONE 'UTC')::date - (p_days - 1))::timestamp AT TIME ZONE 'UTC';
END
$$;

-- A birth's day (UTC's, whatever the session's time zone), as SQL over alias p_alias.
CREATE OR REPLACE FUNCTION birth_day_sql(p_alias text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT format('(%I.born_at AT TIME ZONE ''UTC'')::date', p_alias) $$;

-- The chart's rows (day, origin, births) from births counted by day and origin in p_source
-- (a relation with columns day, origin, births; a NULL day is not counted): the top origins
-- (as many as the query parameter p_top names) each on their own, the rest as 'other'.
CREATE OR REPLACE FUNCTION births_per_day_sql(p_source text, p_top text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT format($q$
    WITH recent AS (
      SELECT s.day, s.origin, sum(s.births) AS births FROM %1$s AS s WHERE s.day IS NOT NULL GROUP BY 1, 2
    ), top AS (
      SELECT r.origin FROM recent r GROUP BY r.origin ORDER BY sum(r.births) DESC, r.origin LIMIT %2$s
    )
    SELECT r.day, CASE WHEN t.origin IS NULL THEN 'other' ELSE r.origin END AS origin, sum(r.births)::bigint AS births
    FROM recent r LEFT JOIN top t ON t.origin = r.origin
    GROUP BY 1, 2
  $q$, p_source, p_top)
$$;
