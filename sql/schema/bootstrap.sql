-- The migrations table, created before the first migration (search_path is natal's schema).
CREATE TABLE IF NOT EXISTS natal_migrations (
  id            integer PRIMARY KEY,
  name          text NOT NULL,
  checksum      text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
  natal_version text NOT NULL,
  applied_at    timestamptz NOT NULL DEFAULT now(),
  applied_by    text NOT NULL DEFAULT session_user
);

-- The function files (sql/functions/…) as natal init last applied them: re-applied, all
-- together, when one of them changed (repeatable migrations, as Flyway calls them).
CREATE TABLE IF NOT EXISTS natal_definitions (
  name          text PRIMARY KEY,
  checksum      text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
  natal_version text NOT NULL,
  applied_at    timestamptz NOT NULL DEFAULT now(),
  applied_by    text NOT NULL DEFAULT session_user
);

-- What natal doctor expects the schema to be (the catalog the files make, built in a scratch
-- schema), recorded by the natal init that applied them, with the kept census off and on:
-- for a doctor run by a role that may not build it (one without CREATE on the database).
CREATE TABLE IF NOT EXISTS natal_expected_catalog (
  keeping       boolean PRIMARY KEY,
  server_major  integer NOT NULL,
  catalog       jsonb NOT NULL,
  recorded_at   timestamptz NOT NULL DEFAULT now()
);
