-- natal demo, part 1: a sample platform shaped like the seed's (KB-7019, Birth Stage 2
-- QT-001), and its catalog as Stage 1 left it.
-- Runs in the demo's one build transaction with search_path = <app schema>, <natal schema>
-- and the setting natal_demo.owner (the owner of every collection).

-- What the platform holds, one row per collection:
--   identity  column | synthetic_id | legacy: what its rows carry
--   stage     wired      Stage 1 identified it; natal's auto-birth trigger is on it
--             unwired    Stage 1 identified it; still on the platform's old triggers
--                        (dot-birth-trigger-setup is frozen), so natal has not wired it
--             gap        registered before its table existed, so never identified nor
--                        wired: its rows were never born (QT-001's backfill targets)
--             unresolved has a table, but no identity natal can derive
--             no-table   registered, its table never created
--             staging    consumed or expired data: deliberately not governed
--   rows      fixed row count (NULL: a small count, or a share of the big remainder)
CREATE TEMP TABLE demo_collection (
  table_name text PRIMARY KEY,
  identity   text NOT NULL,
  stage      text NOT NULL,
  prefix     text NOT NULL UNIQUE,
  level      text NOT NULL,
  rows       bigint,
  share      numeric,
  codes      text[]
) ON COMMIT DROP;

INSERT INTO demo_collection (table_name, identity, stage, prefix, level, rows, share, codes) VALUES
  -- Stage 1, wired: 17 code columns, 16 synthetic ids, 1 legacy
  ('dot_tools',             'column',       'wired',   'TOOL', 'atom',     NULL, NULL, NULL),
  ('dot_domains',           'column',       'wired',   'DMN',  'atom',     NULL, NULL, NULL),
  ('dot_checks',            'column',       'wired',   'CHK',  'atom',     NULL, NULL, NULL),
  ('kb_documents',          'column',       'wired',   'KBD',  'compound', NULL, NULL, NULL),
  ('kb_glossary_terms',     'column',       'wired',   'GLT',  'atom',     NULL, NULL, NULL),
  ('norm_sources',          'column',       'wired',   'NSR',  'compound', NULL, NULL, NULL),
  ('norm_clauses',          'column',       'wired',   'NCL',  'atom',     NULL, NULL, NULL),
  ('field_types',           'column',       'wired',   'FTY',  'atom',     NULL, NULL, NULL),
  ('field_definitions',     'column',       'wired',   'FLD',  'atom',     NULL, NULL, NULL),
  ('policy_documents',      'column',       'wired',   'POL',  'compound', NULL, NULL, NULL),
  ('policy_rules',          'column',       'wired',   'PRL',  'atom',     NULL, NULL, NULL),
  ('controls',              'column',       'wired',   'CTL',  'molecule', NULL, NULL, NULL),
  ('reports',               'column',       'wired',   'RPT',  'compound', NULL, NULL, NULL),
  ('metrics',               'column',       'wired',   'MET',  'atom',     NULL, NULL, NULL),
  ('data_sources',          'column',       'wired',   'DSR',  'molecule', NULL, NULL, NULL),
  ('tga_tags',              'column',       'wired',   'TAG',  'atom',     129,  NULL, NULL),
  ('org_units',             'column',       'wired',   'ORG',  'molecule', NULL, NULL, NULL),
  ('apr_comments',          'synthetic_id', 'wired',   'APC',  'atom',     NULL, NULL, NULL),
  ('apr_delegations',       'synthetic_id', 'wired',   'APD',  'molecule', NULL, NULL, NULL),
  ('dot_runs',              'synthetic_id', 'wired',   'RUN',  'molecule', NULL, NULL, NULL),
  ('dot_run_steps',         'synthetic_id', 'wired',   'RST',  'atom',     NULL, NULL, NULL),
  ('kb_revisions',          'synthetic_id', 'wired',   'KBR',  'atom',     NULL, NULL, NULL),
  ('norm_citations',        'synthetic_id', 'wired',   'NCI',  'atom',     NULL, NULL, NULL),
  ('field_type_mappings',   'synthetic_id', 'wired',   'FTM',  'atom',     NULL, NULL, NULL),
  ('policy_exceptions',     'synthetic_id', 'wired',   'PEX',  'molecule', NULL, NULL, NULL),
  ('control_tests',         'synthetic_id', 'wired',   'CTT',  'molecule', NULL, NULL, NULL),
  ('evidence_items',        'synthetic_id', 'wired',   'EVI',  'atom',     NULL, NULL, NULL),
  ('report_runs',           'synthetic_id', 'wired',   'RPR',  'molecule', NULL, NULL, NULL),
  ('metric_samples',        'synthetic_id', 'wired',   'MSA',  'atom',     NULL, 0.3,  NULL),
  ('data_source_syncs',     'synthetic_id', 'wired',   'DSS',  'molecule', NULL, NULL, NULL),
  ('tga_tag_assignments',   'synthetic_id', 'wired',   'TGA',  'atom',     NULL, NULL, NULL),
  ('org_memberships',       'synthetic_id', 'wired',   'OMB',  'atom',     NULL, NULL, NULL),
  ('audit_events',          'synthetic_id', 'wired',   'AUD',  'atom',     NULL, 0.5,  NULL),
  ('ref_countries',         'legacy',       'wired',   'CTY',  'atom',     NULL, NULL,
   '{VN,FR,DE,JP,US,GB,IT,ES,NL,SE,NO,FI,DK,PL,CZ,AT,CH,BE,PT,IE}'),
  -- Stage 1, not wired by natal: 15 code columns, 15 synthetic ids, 1 legacy
  ('dot_pipelines',         'column',       'unwired', 'PPL',  'molecule', NULL, NULL, NULL),
  ('dot_tool_versions',     'column',       'unwired', 'DTV',  'atom',     NULL, NULL, NULL),
  ('kb_sections',           'column',       'unwired', 'KBS',  'atom',     NULL, NULL, NULL),
  ('entity_kinds',          'column',       'unwired', 'EKD',  'atom',     NULL, NULL, NULL),
  ('workflow_definitions',  'column',       'unwired', 'WFD',  'compound', NULL, NULL, NULL),
  ('workflow_steps',        'column',       'unwired', 'WFS',  'atom',     NULL, NULL, NULL),
  ('risk_categories',       'column',       'unwired', 'RSK',  'atom',     NULL, NULL, NULL),
  ('control_objectives',    'column',       'unwired', 'CTO',  'molecule', NULL, NULL, NULL),
  ('evidence_types',        'column',       'unwired', 'EVT',  'atom',     NULL, NULL, NULL),
  ('report_templates',      'column',       'unwired', 'RTP',  'compound', NULL, NULL, NULL),
  ('dashboards',            'column',       'unwired', 'DSH',  'compound', NULL, NULL, NULL),
  ('schema_versions',       'column',       'unwired', 'SCV',  'atom',     NULL, NULL, NULL),
  ('tga_tag_groups',        'column',       'unwired', 'TGG',  'molecule', NULL, NULL, NULL),
  ('access_roles',          'column',       'unwired', 'ROL',  'atom',     NULL, NULL, NULL),
  ('service_catalog',       'column',       'unwired', 'SVC',  'molecule', NULL, NULL, NULL),
  ('apr_attachments',       'synthetic_id', 'unwired', 'APA',  'atom',     NULL, NULL, NULL),
  ('dot_run_outputs',       'synthetic_id', 'unwired', 'ROU',  'atom',     NULL, NULL, NULL),
  ('kb_links',              'synthetic_id', 'unwired', 'KLN',  'atom',     NULL, NULL, NULL),
  ('workflow_instances',    'synthetic_id', 'unwired', 'WFI',  'molecule', NULL, NULL, NULL),
  ('workflow_transitions',  'synthetic_id', 'unwired', 'WFT',  'atom',     NULL, NULL, NULL),
  ('risk_assessments',      'synthetic_id', 'unwired', 'RAS',  'molecule', NULL, NULL, NULL),
  ('dashboard_widgets',     'synthetic_id', 'unwired', 'DWG',  'atom',     NULL, NULL, NULL),
  ('schema_migration_log',  'synthetic_id', 'unwired', 'SML',  'atom',     NULL, NULL, NULL),
  ('access_grants',         'synthetic_id', 'unwired', 'AGR',  'atom',     NULL, NULL, NULL),
  ('service_incidents',     'synthetic_id', 'unwired', 'SIN',  'molecule', NULL, NULL, NULL),
  ('notification_log',      'synthetic_id', 'unwired', 'NTF',  'atom',     NULL, 0.2,  NULL),
  ('task_queue_items',      'synthetic_id', 'unwired', 'TQI',  'atom',     NULL, NULL, NULL),
  ('import_batches',        'synthetic_id', 'unwired', 'IMB',  'molecule', NULL, NULL, NULL),
  ('change_requests',       'synthetic_id', 'unwired', 'CHR',  'molecule', NULL, NULL, NULL),
  ('user_feedback',         'synthetic_id', 'unwired', 'UFB',  'atom',     NULL, NULL, NULL),
  ('ref_currencies',        'legacy',       'unwired', 'CUR',  'atom',     NULL, NULL,
   '{VND,EUR,USD,JPY,GBP,CHF,SEK,NOK,DKK,PLN,CZK}'),
  -- QT-001's five backfill targets (their tables and rows come in part 2)
  ('dot_domain_rules',        'column',       'gap', 'DOM', 'atom',     67, NULL, NULL),
  ('apr_approvals',           'synthetic_id', 'gap', 'APR', 'molecule', 42, NULL, NULL),
  ('normative_relations',     'column',       'gap', 'NRL', 'molecule', 18, NULL, NULL),
  ('apr_action_types',        'legacy',       'gap', 'APT', 'atom',     6,  NULL,
   '{approve,reject,escalate,delegate,withdraw,reopen}'),
  ('field_type_equivalences', 'synthetic_id', 'gap', 'FTE', 'atom',     4,  NULL, NULL),
  -- no identity natal can derive, and no table at all
  ('tga_event_log',         'none',         'unresolved', 'TEL', 'atom', 37, NULL, NULL),
  ('kb_document_links',     'none',         'unresolved', 'KBL', 'atom', 24, NULL, NULL),
  ('iu_intake_record',      'none',         'no-table',   'IUR', 'atom', 0,  NULL, NULL),
  ('iu_intake_payload',     'none',         'no-table',   'IUP', 'atom', 0,  NULL, NULL),
  -- staging: never born
  ('iu_staging_record',     'synthetic_id', 'staging',    'ISR', 'atom', 25, NULL, NULL),
  ('iu_staging_payload',    'synthetic_id', 'staging',    'ISP', 'atom', 12, NULL, NULL);

-- Small tables: 3 to 59 rows each, the same on every run.
UPDATE demo_collection d SET rows = COALESCE(cardinality(d.codes), 3 + (o.n * 37) % 57)
FROM (SELECT table_name, row_number() OVER (ORDER BY table_name) AS n FROM demo_collection) AS o
WHERE o.table_name = d.table_name AND d.rows IS NULL AND d.share IS NULL;

-- The tables Stage 1 knew, empty for now (part 2 fills them). A code column is `code`; a
-- synthetic-id table has no code-like column at all, so classification cannot mistake it.
DO $$
DECLARE
  d demo_collection;
BEGIN
  FOR d IN SELECT * FROM demo_collection WHERE stage IN ('wired', 'unwired', 'staging') ORDER BY table_name LOOP
    CASE d.identity
      WHEN 'column' THEN
        EXECUTE format('CREATE TABLE %I (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, '
                       'code text NOT NULL UNIQUE, name text NOT NULL, _dot_origin text)', d.table_name);
      WHEN 'legacy' THEN
        EXECUTE format('CREATE TABLE %I (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, '
                       'code text NOT NULL UNIQUE, label text NOT NULL)', d.table_name);
      ELSE
        EXECUTE format('CREATE TABLE %I (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, '
                       'subject text NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())', d.table_name);
    END CASE;
  END LOOP;
END
$$;

-- An event log with no key and no code column: nothing identifies its rows (no-id).
CREATE TABLE tga_event_log (
  event       text NOT NULL,
  happened_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tga_event_log (event) SELECT 'tag event ' || g FROM generate_series(1, 37) AS g;

-- Links keyed by a pair, with two unique code columns: which is the identity is the owner's
-- call (needs-owner), and the owner has not made it yet.
CREATE TABLE kb_document_links (
  doc_id    integer NOT NULL,
  target_id integer NOT NULL,
  code      text NOT NULL UNIQUE,
  link_code text NOT NULL UNIQUE,
  PRIMARY KEY (doc_id, target_id)
);
INSERT INTO kb_document_links
SELECT g, g + 1, format_code('KBL', g), 'kb-link/' || g FROM generate_series(1, 24) AS g;

-- One species per collection; each species' catalog row is born (Case 3).
INSERT INTO entity_species (species_code, code_prefix, composition_level, name)
SELECT 'SPE-' || prefix, prefix, level, replace(table_name, '_', ' ')
FROM demo_collection ORDER BY table_name;

-- The catalog: every collection registered, owned by the platform's owner. Registration
-- derives what it can (a code column Stage 1 named, else a single-column key); a collection
-- whose table did not exist yet is recorded unclassified (no-table).
SELECT register_collection(current_schema(), d.table_name, 'SPE-' || d.prefix,
                           CASE d.stage WHEN 'staging' THEN 'staging' ELSE 'governed' END::governance_role,
                           current_setting('natal_demo.owner'),
                           CASE WHEN d.identity = 'column' AND d.stage IN ('wired', 'unwired') THEN 'code' END,
                           -- registered ahead of their tables: made in part 2, or never
                           d.stage IN ('gap', 'no-table'))
FROM demo_collection d ORDER BY d.table_name;

-- Stage 1's owner decisions: the ISO-coded reference tables keep their legacy codes.
SELECT set_identity(collection_name_of(current_schema(), d.table_name), 'legacy', 'code',
                    'Stage 1: ISO codes, not PREFIX-NNN', NULL, false, 'owner')
FROM demo_collection d WHERE d.identity = 'legacy' AND d.stage IN ('wired', 'unwired');
