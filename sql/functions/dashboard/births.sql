-- Births per day over the last p_days days, by origin (dot_origin): the p_top origins with
-- the most births in that time each on their own, the rest as 'other'. The dashboard's
-- chart; readable by natal's readers. (A census counted in full gives the same rows from its
-- own pass over the registry: census_recount's p_days.)
CREATE OR REPLACE FUNCTION births_per_day(p_days integer DEFAULT 30, p_top integer DEFAULT 6)
RETURNS TABLE (day date, origin text, births bigint)
LANGUAGE sql STABLE SET search_path FROM CURRENT SET TimeZone = 'UTC' SET max_parallel_workers_per_gather = 0
AS $$
  -- (days in UTC, the session's time zone here: a row's date is then its timestamp's, with
  -- no conversion by zone name for each of a million rows; the bound is one timestamptz.
  -- In one process: the dashboard may ask it beside a census, which reads in parallel and
  -- would otherwise share its cores with this chart's workers.)
  SELECT t.day, t.origin, t.births
  FROM births_per_day_top((
    SELECT COALESCE(jsonb_agg(jsonb_build_object('day', x.day, 'origin', x.dot_origin, 'births', x.births)), '[]')
    FROM (SELECT b.born_at::date AS day, b.dot_origin, count(*) AS births
          FROM birth_registry b
          WHERE b.born_at >= (now()::date - (p_days - 1))::timestamptz
          GROUP BY 1, 2) AS x), p_top) AS t
$$;

-- The chart's rows from births counted by day and origin ([{day, origin, births}]): the
-- p_top origins with the most births each on their own, the rest as 'other'.
CREATE OR REPLACE FUNCTION births_per_day_top(p_recent jsonb, p_top integer)
RETURNS TABLE (day date, origin text, births bigint)
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  WITH recent AS (
    SELECT (e ->> 'day')::date AS day, e ->> 'origin' AS dot_origin, (e ->> 'births')::bigint AS births
    FROM jsonb_array_elements(p_recent) AS e
  ), top AS (
    SELECT r.dot_origin FROM recent r GROUP BY r.dot_origin
    ORDER BY sum(r.births) DESC, r.dot_origin LIMIT p_top
  )
  SELECT r.day, CASE WHEN t.dot_origin IS NULL THEN 'other' ELSE r.dot_origin END AS origin,
         sum(r.births)::bigint
  FROM recent r LEFT JOIN top t ON t.dot_origin = r.dot_origin
  GROUP BY 1, 2 ORDER BY 1, 2
$$;
