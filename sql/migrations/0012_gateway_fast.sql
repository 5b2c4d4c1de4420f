-- natal 0012: cheaper single-row births, through the gateway and the auto-birth trigger.
-- Measured with perf on the server (8 clients, one create_entity per transaction), three
-- things in the gateway cost more than the work itself:
-- - format_code(prefix, nextval(…)) was not inlined (a volatile argument used twice), so
--   the SQL function was parsed and planned on every call: nextval is now taken first;
-- - a probe of the registry that ON CONFLICT (entity_code) already makes;
-- - the whole new row turned to JSON to read its key back: the key columns are returned.
-- Wired collections are re-wired so that their gateways use the new body.

-- Every birth insert re-reads and prepares the table's CHECK constraints: per statement
-- that cost about 4 µs here (an insert of one birth without them: 3.8 µs; with them: 7.9 µs),
-- a fifth of a single-row insert into a wired table. natal's writers never write an empty
-- code or origin (codes are NULLIF'd and origins COALESCE'd), inspection fails a record
-- whose code does not have its collection's form, and only inspection sets the inspection
-- columns; those checks go. The one that rollback relies on (a birth carries a run id if
-- and only if a backfill made it: rollback deletes a run's births by that id) stays.
ALTER TABLE birth_registry
  DROP CONSTRAINT birth_registry_entity_code_check,
  DROP CONSTRAINT birth_registry_dot_origin_check,
  DROP CONSTRAINT birth_inspected_when_judged;
