-- natal 0015: trust. The gate holds against every role that is not a superuser, and what a
-- superuser does anyway is visible.
--  - The ledger and approvals are append-only (their triggers are in sql/functions) and
--    each row carries a hash chained to the previous one: sha256 of the previous hash and
--    the row's content, across both tables in the order they were written. chain_head
--    holds the last link, so a row removed from the end is seen too.
--  - A rehearsal's run is marked, and a marked run can never commit.
--  - One apply at a time per registry: apply_lock names the session applying (its backend
--    pid and a random advisory key it holds for as long as it lives), in this database.

ALTER TABLE birth_backfill_ledger
  ADD COLUMN chain_seq bigint UNIQUE,
  ADD COLUMN prev_hash text,
  ADD COLUMN row_hash  text;
ALTER TABLE backfill_approval
  ADD COLUMN chain_seq bigint UNIQUE,
  ADD COLUMN prev_hash text,
  ADD COLUMN row_hash  text;

CREATE TABLE chain_head (
  id   boolean PRIMARY KEY DEFAULT true CHECK (id),
  seq  bigint NOT NULL,
  hash text NOT NULL
);

ALTER TABLE backfill_run ADD COLUMN rehearsal boolean NOT NULL DEFAULT false;

CREATE TABLE apply_lock (
  id        boolean PRIMARY KEY DEFAULT true CHECK (id),
  run_id    bigint REFERENCES backfill_run (run_id),
  pid       integer NOT NULL,
  lock_key  integer NOT NULL,
  taken_by  text NOT NULL,
  taken_at  timestamptz NOT NULL DEFAULT now()
);

-- (apply_lock always has its one row: a session applying locks it while it takes the lock)
INSERT INTO apply_lock (id, pid, lock_key, taken_by) VALUES (true, 0, 0, 'natal');

-- The ranges an apply writes, pinned when it begins: per range of the collection's key, the
-- births the plan approved there (how many, and the checksum of their codes). A range whose
-- births would differ (rows that appeared without their trigger, or vanished) stops the
-- apply as stale instead of birthing rows nobody approved.
CREATE TABLE backfill_range (
  run_id          bigint NOT NULL REFERENCES backfill_run (run_id),
  collection_name text NOT NULL,
  seq             integer NOT NULL,
  after_key       jsonb,
  upto_key        jsonb,
  expected        bigint NOT NULL,
  checksum        text NOT NULL,
  done            boolean NOT NULL DEFAULT false,
  PRIMARY KEY (run_id, collection_name, seq)
);

-- Functions whose result changed shape (sql/functions makes them again, after this).
DROP FUNCTION IF EXISTS backfill_batch_sql(collection_registry, boolean);
