-- natal 0019: wiring records what it generated from what.
--
-- The trigger inventory (and so every census) compared each wired collection's installed
-- functions with sources generated again from the catalog: ~8 ms a collection. Wiring now
-- records a digest of what the sources were generated from (wiring_inputs) and of the
-- sources as installed (wired_sources); while the inputs are unchanged, the inventory
-- compares the installed functions with that record, and generates again only when they
-- changed (or for a collection wired before 0019).
ALTER TABLE wired_trigger ADD COLUMN inputs text;
ALTER TABLE wired_trigger ADD COLUMN sources text;
