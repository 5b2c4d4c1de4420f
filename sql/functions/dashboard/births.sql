-- Births per day over the last p_days days, by origin (dot_origin): the p_top origins with
-- the most births in that time each on their own, the rest as 'other'. The dashboard's
-- chart; readable by natal's readers.
CREATE OR REPLACE FUNCTION births_per_day(p_days integer DEFAULT 30, p_top integer DEFAULT 6)
RETURNS TABLE (day date, origin text, births bigint)
LANGUAGE sql STABLE SET search_path FROM CURRENT
AS $$
  WITH recent AS (
    SELECT (b.born_at AT TIME ZONE 'UTC')::date AS day, b.dot_origin, count(*) AS births
    FROM birth_registry b
    WHERE b.born_at >= (now() AT TIME ZONE 'UTC')::date - (p_days - 1)
    GROUP BY 1, 2
  ), top AS (
    SELECT r.dot_origin FROM recent r GROUP BY r.dot_origin
    ORDER BY sum(r.births) DESC, r.dot_origin LIMIT p_top
  )
  SELECT r.day, CASE WHEN t.dot_origin IS NULL THEN 'other' ELSE r.dot_origin END AS origin,
         sum(r.births)::bigint
  FROM recent r LEFT JOIN top t ON t.dot_origin = r.dot_origin
  GROUP BY 1, 2 ORDER BY 1, 2
$$;
