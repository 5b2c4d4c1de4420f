-- The migrations table, created before the first migration (search_path is natal's schema).
CREATE TABLE IF NOT EXISTS natal_migrations (
  id            integer PRIMARY KEY,
  name          text NOT NULL,
  checksum      text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
  natal_version text NOT NULL,
  applied_at    timestamptz NOT NULL DEFAULT now(),
  applied_by    text NOT NULL DEFAULT session_user
);
