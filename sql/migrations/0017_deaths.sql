-- natal 0017: deaths and re-keys.
--
-- A wired collection records the end of its entities: a DELETE, a TRUNCATE, or a change of a
-- row's identity (a re-key). The birth stays (a registry never forgets); the death says when,
-- how, by which origin and who. One row of entity_death per statement that ended entities,
-- with their codes in an array: measured on 200,000 deleted rows, one death row per entity
-- (with its index) cost 9x the unwired DELETE; one row for the statement, 2.2x.
-- Looking a code's death up needs each code in an index: a statement of a few rows records a
-- death row per code (entity_code, indexed), a big one leaves filing its codes into
-- entity_death_code to the next inspection (filed false until then); readers look in all
-- three (sql/functions/lifecycle/deaths.sql).
CREATE TYPE death_kind AS ENUM ('delete', 'truncate', 'rekey');

CREATE TABLE entity_death (
  death_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  collection_name text NOT NULL,
  how             death_kind NOT NULL,
  died_at         timestamptz NOT NULL DEFAULT now(),
  died_xid        bigint NOT NULL DEFAULT txid_current(),
  dot_origin      text NOT NULL,
  actor           text NOT NULL DEFAULT session_user,
  codes           text[] NOT NULL,      -- the codes of the rows that ended
  rekeyed_to      text[],               -- a re-key: the new code of each, in the same order
  entity_code     text,                 -- a death of one code (a small statement's, a re-key's)
  filed           boolean NOT NULL DEFAULT false
);
-- A big array is read rarely and whole: stored out of line, uncompressed (cheaper to write).
ALTER TABLE entity_death ALTER COLUMN codes SET STORAGE EXTERNAL;
ALTER TABLE entity_death ALTER COLUMN rekeyed_to SET STORAGE EXTERNAL;
CREATE INDEX entity_death_unfiled_idx ON entity_death (collection_name) WHERE NOT filed;
CREATE INDEX entity_death_one_idx ON entity_death (entity_code) WHERE entity_code IS NOT NULL;

-- Each code of a big death, once filed, to find a code's deaths by the code.
CREATE TABLE entity_death_code (
  entity_code text NOT NULL,
  death_id    bigint NOT NULL,           -- (no foreign key: only natal writes it)
  rekeyed_to  text
);
CREATE INDEX entity_death_code_idx ON entity_death_code (entity_code);

-- A code born by a re-key names the code it replaced.
ALTER TABLE birth_registry ADD COLUMN rekeyed_from text;

-- census() gained a column, deaths (sql/functions makes it again, after this).
DROP FUNCTION IF EXISTS census(text[]);
