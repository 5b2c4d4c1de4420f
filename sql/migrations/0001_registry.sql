-- natal 0001: the registry.
-- Runs with search_path set to natal's schema, so every name here lands in it.
-- Names follow the seed system (entity_species, collection_registry,
-- species_collection_map, birth_registry, birth_backfill_ledger) so its people recognise them.


CREATE TYPE governance_role AS ENUM ('governed', 'staging', 'excluded');

-- How an entity's code is derived from its row.
CREATE TYPE identity_strategy AS ENUM ('column', 'synthetic_id', 'legacy', 'composite', 'unclassified');

-- How a birth came to be.
CREATE TYPE birth_operation AS ENUM ('catalog', 'trigger', 'gateway', 'backfill', 'import');

CREATE TYPE inspection_status AS ENUM ('pending', 'passed', 'failed');

CREATE TYPE ledger_step AS ENUM ('PLAN', 'REHEARSAL', 'APPLY', 'ROLLBACK');

CREATE TYPE approval_kind AS ENUM ('review', 'permit');

CREATE TYPE plan_status AS ENUM ('planned', 'applied', 'superseded');

CREATE TYPE run_status AS ENUM ('running', 'completed', 'failed', 'rolled_back');

-- A kind of entity. Its code prefix numbers the codes the birth-first gateway hands out.
CREATE TABLE entity_species (
  species_code      text PRIMARY KEY CHECK (species_code ~ '^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$'),
  code_prefix       text NOT NULL UNIQUE CHECK (code_prefix ~ '^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$'),
  composition_level text NOT NULL CHECK (composition_level ~ '^\S(.*\S)?$'),
  name              text,
  entity_code       text UNIQUE,             -- the catalog row's own birth (Case 3)
  created_by        text NOT NULL DEFAULT session_user,
  created_at        timestamptz NOT NULL DEFAULT now()
);

-- A table whose rows are entities, with its governance role and identity.
CREATE TABLE collection_registry (
  collection_name        text PRIMARY KEY CHECK (collection_name <> ''),
  table_schema           name NOT NULL,
  table_name             name NOT NULL,
  governance_role        governance_role NOT NULL DEFAULT 'governed',
  owner                  text CHECK (owner <> ''),
  entity_code            text UNIQUE,        -- the catalog row's own birth (Case 3)
  strict_mode            boolean NOT NULL DEFAULT false,  -- no insert without a prior birth
  -- identity: how an entity's code is derived (the seed's birth_code_* metadata)
  birth_code_strategy    identity_strategy NOT NULL DEFAULT 'unclassified',
  birth_code_column      name,               -- column / legacy: the code column
  birth_code_key_columns name[],             -- the key: pk column(s) for synthetic_id / composite
  birth_code_reason      text,               -- why unclassified, or the owner's note
  birth_code_evidence    jsonb,              -- what classification saw
  birth_code_source      text NOT NULL DEFAULT 'registration'
    CHECK (birth_code_source IN ('registration', 'classify', 'owner')),
  birth_code_set_by      text,
  birth_code_set_at      timestamptz,
  registered_by          text NOT NULL DEFAULT session_user,
  registered_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (table_schema, table_name),
  CONSTRAINT identity_column_present CHECK (
    birth_code_strategy NOT IN ('column', 'legacy') OR birth_code_column IS NOT NULL),
  CONSTRAINT identity_key_present CHECK (
    (birth_code_strategy <> 'synthetic_id' OR cardinality(birth_code_key_columns) = 1)
    AND (birth_code_strategy <> 'composite' OR cardinality(birth_code_key_columns) >= 2)),
  CONSTRAINT identity_unclassified_reason CHECK (
    birth_code_strategy <> 'unclassified'
    OR birth_code_reason IN ('no-id', 'needs-owner', 'no-table', 'duplicate-codes', 'null-codes')),
  CONSTRAINT identity_set_together CHECK (
    (birth_code_set_by IS NULL) = (birth_code_set_at IS NULL))
);

-- Which species a collection's entities are (one species per collection).
CREATE TABLE species_collection_map (
  collection_name text PRIMARY KEY
    REFERENCES collection_registry (collection_name) ON UPDATE CASCADE ON DELETE CASCADE,
  species_code    text NOT NULL
    REFERENCES entity_species (species_code) ON UPDATE CASCADE,
  mapped_by       text NOT NULL DEFAULT session_user,
  mapped_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX species_collection_map_species_idx ON species_collection_map (species_code);

-- A backfill plan: the exact set of births an apply may create, pinned by a fingerprint.
CREATE TABLE backfill_plan (
  plan_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  author         text NOT NULL DEFAULT session_user,
  created_at     timestamptz NOT NULL DEFAULT now(),
  natal_version  text NOT NULL,
  fingerprint    text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  expected_total bigint NOT NULL CHECK (expected_total >= 0),
  status         plan_status NOT NULL DEFAULT 'planned'
);

CREATE TABLE backfill_plan_item (
  plan_id         bigint NOT NULL REFERENCES backfill_plan (plan_id) ON DELETE CASCADE,
  collection_name text NOT NULL REFERENCES collection_registry (collection_name) ON UPDATE CASCADE,
  identity        jsonb NOT NULL,           -- the identity configuration planned under
  expected        bigint NOT NULL CHECK (expected >= 0),
  codes_checksum  text NOT NULL,            -- over the sorted missing codes
  PRIMARY KEY (plan_id, collection_name)
);

CREATE INDEX backfill_plan_item_collection_idx ON backfill_plan_item (collection_name);

-- Reviews and permits, each bound to the fingerprint it approved.
CREATE TABLE backfill_approval (
  approval_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  plan_id     bigint NOT NULL REFERENCES backfill_plan (plan_id) ON DELETE CASCADE,
  kind        approval_kind NOT NULL,
  actor       text NOT NULL DEFAULT session_user,
  fingerprint text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  note        text,
  approved_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (plan_id, kind, actor)
);

-- One execution of a plan; its cursor is committed with every batch so it can resume.
CREATE TABLE backfill_run (
  run_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  plan_id     bigint NOT NULL REFERENCES backfill_plan (plan_id),
  actor       text NOT NULL DEFAULT session_user,
  batch_size  integer NOT NULL CHECK (batch_size > 0),
  cursor      jsonb NOT NULL DEFAULT '{}',
  status      run_status NOT NULL DEFAULT 'running',
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CONSTRAINT run_finished_when_not_running CHECK ((status = 'running') = (finished_at IS NULL))
);

CREATE UNIQUE INDEX backfill_run_one_running_idx ON backfill_run (plan_id) WHERE status = 'running';

-- One row per governed entity: the birth record.
-- Every governed insert writes one of these, so the table carries only what it must: the
-- key, CHECKs, and no foreign keys. Measured on a 200,000-row insert, foreign keys to
-- collection_registry and entity_species alone cost more than the entity insert itself;
-- natal's own writers (triggers, gateway, backfill) take these values from the registry,
-- and inspection verifies them. entity_code is the key (the seed's birth_id is not kept).
CREATE TABLE birth_registry (
  entity_code       text PRIMARY KEY CHECK (entity_code <> ''),
  collection_name   text NOT NULL,
  species_code      text NOT NULL,
  composition_level text NOT NULL,
  dot_origin        text NOT NULL CHECK (dot_origin <> ''),
  born_at           timestamptz NOT NULL DEFAULT now(),
  governance_role   governance_role NOT NULL,
  -- natal's own: how and by which run the record was made, and its inspection
  operation         birth_operation NOT NULL,
  run_id            bigint,
  inspection_status inspection_status NOT NULL DEFAULT 'pending',
  inspected_at      timestamptz,
  inspection_note   text,
  CONSTRAINT birth_backfill_has_run CHECK ((operation = 'backfill') = (run_id IS NOT NULL)),
  CONSTRAINT birth_inspected_when_judged CHECK (
    (inspection_status = 'pending') = (inspected_at IS NULL))
);

-- Rollback finds exactly the births one run created (trigger births are not in it).
CREATE INDEX birth_registry_run_idx ON birth_registry (run_id) WHERE run_id IS NOT NULL;

-- Every PLAN / REHEARSAL / APPLY / ROLLBACK step, with expected and actual counts.
CREATE TABLE birth_backfill_ledger (
  ledger_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  step            ledger_step NOT NULL,
  plan_id         bigint NOT NULL REFERENCES backfill_plan (plan_id),
  run_id          bigint REFERENCES backfill_run (run_id),
  collection_name text REFERENCES collection_registry (collection_name) ON UPDATE CASCADE,
  actor           text NOT NULL DEFAULT session_user,
  dry_run         boolean NOT NULL,
  expected        bigint CHECK (expected >= 0),
  actual          bigint CHECK (actual >= 0),
  rerun_delta     bigint,
  detail          jsonb NOT NULL DEFAULT '{}',
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ledger_dry_steps CHECK (step NOT IN ('PLAN', 'REHEARSAL') OR dry_run),
  CONSTRAINT ledger_run_steps CHECK (step NOT IN ('APPLY', 'ROLLBACK') OR run_id IS NOT NULL)
);

CREATE INDEX birth_backfill_ledger_plan_idx ON birth_backfill_ledger (plan_id);

CREATE INDEX birth_backfill_ledger_run_idx ON birth_backfill_ledger (run_id) WHERE run_id IS NOT NULL;

-- A frozen operation ('backfill') or collection refuses to plan, apply or roll back.
CREATE TABLE operation_freeze (
  target    text PRIMARY KEY CHECK (target <> ''),
  reason    text NOT NULL CHECK (reason <> ''),
  frozen_by text NOT NULL DEFAULT session_user,
  frozen_at timestamptz NOT NULL DEFAULT now()
);
