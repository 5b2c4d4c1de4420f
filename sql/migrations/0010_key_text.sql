-- natal 0010: every key value has a code. 0002 wrote a timestamp, timestamptz or date key
-- with to_char, which gives NULL for ±infinity (such a row got no code, so no birth), and a
-- float key through numeric, which keeps 15 significant digits (0.3 and 0.30000000000000004
-- got one code) and, before PostgreSQL 14, fails on ±Infinity. Finite values keep the
-- text they had, so existing codes do not change; wired collections are re-wired so that
-- their trigger and gateway functions use the new forms.
CREATE OR REPLACE FUNCTION key_text_sql(rel regclass, col name, alias text) RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT CASE a.atttypid
    WHEN 'timestamptz'::regtype THEN
      format('CASE WHEN isfinite(%1$I.%2$I) THEN to_char((%1$I.%2$I) AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.US"Z"'') ELSE (%1$I.%2$I)::text END',
             alias, col)
    WHEN 'timestamp'::regtype THEN
      format('CASE WHEN isfinite(%1$I.%2$I) THEN to_char(%1$I.%2$I, ''YYYY-MM-DD"T"HH24:MI:SS.US'') ELSE (%1$I.%2$I)::text END',
             alias, col)
    WHEN 'date'::regtype THEN
      format('CASE WHEN isfinite(%1$I.%2$I) THEN to_char(%1$I.%2$I, ''YYYY-MM-DD'') ELSE (%1$I.%2$I)::text END', alias, col)
    -- a float: its decimal text when that reads back as the same value (what 0002 wrote),
    -- else the exact IEEE 754 bits in hex; Infinity, -Infinity and NaN as words
    WHEN 'float4'::regtype THEN format(
      'CASE WHEN (%1$I.%2$I)::float8 IN (''Infinity'', ''-Infinity'', ''NaN'') THEN (%1$I.%2$I)::text'
      ' WHEN ((%1$I.%2$I)::numeric)::float4 = %1$I.%2$I THEN ((%1$I.%2$I)::numeric)::text'
      ' ELSE ''0x'' || encode(float4send(%1$I.%2$I), ''hex'') END', alias, col)
    WHEN 'float8'::regtype THEN format(
      'CASE WHEN %1$I.%2$I IN (''Infinity'', ''-Infinity'', ''NaN'') THEN (%1$I.%2$I)::text'
      ' WHEN ((%1$I.%2$I)::numeric)::float8 = %1$I.%2$I THEN ((%1$I.%2$I)::numeric)::text'
      ' ELSE ''0x'' || encode(float8send(%1$I.%2$I), ''hex'') END', alias, col)
    WHEN 'interval'::regtype THEN format('(extract(epoch FROM %I.%I))::text', alias, col)
    ELSE format('(%I.%I)::text', alias, col)
  END
  FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col
$$;

SELECT rewire_if_wired(collection_name) FROM wired_trigger ORDER BY collection_name;
