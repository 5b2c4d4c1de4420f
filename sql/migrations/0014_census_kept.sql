-- natal 0014: a census kept between censuses.
--
-- An exact census from nothing must match every row of a collection against its births:
-- on a 1,000,000-row collection that costs 11-16 times a count(*) however it is written
-- (docs/BENCHMARKS.md). So a census now keeps what it counted, with the snapshot it counted
-- in (census_baseline), and the next census starts from there when it can prove that the
-- only changes since are rows born by their collection's own triggers:
--  - every birth made since (its born_xid not visible in the kept snapshot) is read through
--    a BRIN index; they must all be trigger or gateway births, of kept collections;
--  - nothing was deleted, truncated or re-coded since, in a kept table or in the registry:
--    statement triggers record each such statement in census_change;
--  - each kept table still is the table it was (oid, file, identity, triggers enabled), and
--    its rows grew by exactly the number of births its collection gained.
-- Then every new row was born with a new birth: the gap and the phantoms are what they were,
-- and rows and births are counted forward. A new code is checked against the codes every
-- other kept table produces, so a duplicate risk cannot appear unseen. Anything else (a
-- backfill, a rollback, an import, a delete, a row inserted with its trigger disabled, a
-- birth made for a row that does not exist) and the census counts everything again.
-- Only speed depends on the kept census, never the numbers: both ways give the same answer,
-- and tests compare them after every kind of change. Recording born_xid costs the insert
-- path (the gateway most), so the kept census is the owner's choice: off until
-- set_census_keeping(true) (natal census --keeping on).

-- The transaction that made a birth (top-level id with its epoch, as txid_current() gives),
-- recorded while the kept census is on (see set_census_keeping below): the column's
-- default is what turns it on. Births made before have none; they are all older than any
-- census kept after it.
ALTER TABLE birth_registry ADD COLUMN born_xid bigint;

-- Statements that may have changed a census other than by births: deletes, truncates and
-- changes of identity columns in a kept table, and deletes, truncates and re-codings of
-- births. One row per statement; a census that keeps its numbers clears those it has seen.
CREATE TABLE census_change (
  relid oid NOT NULL,
  xid   bigint NOT NULL DEFAULT txid_current(),
  at    timestamptz NOT NULL DEFAULT now()
);

-- The last census that could be kept: its snapshot and, per governed collection, what it
-- counted, with the fingerprint of the table it counted. One row.
CREATE TABLE census_baseline (
  id              boolean PRIMARY KEY DEFAULT true CHECK (id),
  snapshot        txid_snapshot NOT NULL,
  collections     jsonb NOT NULL,   -- {name: {fingerprint, rows, births, gap, phantoms}}
  risk            jsonb NOT NULL,   -- the duplicate risk of every governed collection
  registry_births bigint NOT NULL,
  taken_at        timestamptz NOT NULL DEFAULT now(),
  taken_by        text NOT NULL DEFAULT session_user
);
