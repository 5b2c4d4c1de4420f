-- natal 0004: wiring — installing, removing and inventorying auto-birth triggers and
-- gateway functions; then natal's own catalog tables are wired (Case 3).

