-- natal 0007: the gated backfill (QT-001): plan → rehearse → approve → apply → rollback,
-- freezes, and who is acting. The gate lives here, in the functions that write, so a client
-- that bypasses the CLI meets the same refusals.

-- Births carry their run id, but no index on it: measured on a 1,000,000-birth apply, the
-- partial index 0001 made on run_id cost 75% on top of the insert itself (every birth of a
-- run has the same key). A rollback reads the registry once to find a run's births instead.
DROP INDEX birth_registry_run_idx;
