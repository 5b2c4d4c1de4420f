-- natal demo: a small platform shaped like the seed's (search_path is the demo's app schema).
CREATE TABLE dot_domain_rules (
  id          serial PRIMARY KEY,
  code        text UNIQUE,
  name        text NOT NULL,
  _dot_origin text
);
-- 67 rules that predate the registry, already carrying codes DOM-001 … DOM-067.
INSERT INTO dot_domain_rules (code, name, _dot_origin)
SELECT 'DOM-' || lpad(g::text, 3, '0'), 'domain rule ' || g, 'dot-legacy-import'
FROM generate_series(1, 67) AS g;

CREATE TABLE apr_approvals (
  id         bigserial PRIMARY KEY,
  subject    text NOT NULL,
  decided_at timestamptz NOT NULL DEFAULT now()
);

-- Staging data is consumed or expired, never born.
CREATE TABLE iu_staging_record (
  id      serial PRIMARY KEY,
  payload text
);
