-- natal 0021: the census reads the registry and the tables in two queries of one snapshot.
--
-- census_query gained p_then, a second query run after the first with the same arguments
-- (sql/functions/census/census.sql makes it again, after this): a query that reads a table
-- through its owner's reader, which is parallel unsafe, is read by one process, and the
-- registry, the bigger side of a census, is now read apart from it, in parallel.
DROP FUNCTION IF EXISTS census_query(text, text[], text[], bigint, bigint, timestamptz, integer);
