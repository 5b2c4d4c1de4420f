-- natal 0016: inspection looks at what is new.
--
-- An inspection judges the births that are pending (made since the last one, by a trigger or
-- by hand); a birth that failed keeps its failure and is shown as known, and only
-- natal inspect --recheck judges passed and failed births again. Finding the pending births
-- of a collection must not read the whole registry, so they (and the failed ones, to count
-- them) are indexed. Births that passed, nearly all of them, are not in the index. Gateway
-- and backfill births are judged when they are made and enter it only when they fail;
-- every trigger birth enters it until it is inspected. That costs the insert path: about a
-- quarter more time for the births' own insert (400,000 births in one statement), and on a
-- loaded machine the bulk wired ÷ unwired ratio of 200,000 rows went from 1.68x to 2.67x and
-- from 2.12x to 2.91x (docs/BENCHMARKS.md, inspect).
CREATE INDEX birth_registry_uninspected_idx ON birth_registry (collection_name, inspection_status)
  WHERE inspection_status <> 'passed';

-- inspect() gained a column, known_failures (sql/functions makes it again, after this).
DROP FUNCTION IF EXISTS inspect(text[], boolean);
