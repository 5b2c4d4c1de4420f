-- natal 0020: distributed tables (Citus) are governed without triggers.
--
-- A distributed or reference table's rows are written on the workers, where a trigger cannot
-- write a birth into the coordinator's registry; such a collection is wired by its gateway
-- alone (kind 'gateway': births birth-first on the coordinator, and by backfill for rows
-- written around it). sql/functions/catalog/citus.sql.
ALTER TABLE wired_trigger DROP CONSTRAINT wired_trigger_kind_check;
ALTER TABLE wired_trigger ADD CONSTRAINT wired_trigger_kind_check CHECK (kind IN ('statement', 'row', 'gateway'));
