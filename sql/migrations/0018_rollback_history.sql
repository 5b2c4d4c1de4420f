-- natal 0018: a rollback is an event in the history of the births it removed.
--
-- A rollback removes the births its run made; the ledger's ROLLBACK rows say how many. So
-- that `natal show CODE` can still say that CODE was born by run N and rolled back (and,
-- if it was born again since, both), the rollback files the removed codes as one row of
-- entity_death per collection, of kind 'rollback', with the run: found by code as a big
-- death's are. A rollback is not a death: the census, the status and a death's count leave
-- it out (recorded_deaths).
ALTER TYPE death_kind ADD VALUE IF NOT EXISTS 'rollback';
ALTER TABLE entity_death ADD COLUMN run_id bigint;
