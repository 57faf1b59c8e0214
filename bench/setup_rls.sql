-- The RLS example of sql/04_authorization.sql over 1M rows, ten tenants.
CREATE TABLE bench.docs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner text NOT NULL, title text NOT NULL);
INSERT INTO bench.docs (owner, title) SELECT 'tenant:' || (g % 10), 'document number ' || g FROM generate_series(1, 1000000) g;
CREATE INDEX ON bench.docs (owner);
VACUUM ANALYZE bench.docs;
ALTER TABLE bench.docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY docs_read ON bench.docs FOR SELECT
  USING (owner = (SELECT tokens.current_owner()) AND (SELECT tokens.has_scope('docs:read')));
CREATE TABLE bench.tenant_token (n int PRIMARY KEY, token text NOT NULL);
INSERT INTO bench.tenant_token SELECT n, (tokens.mint('tenant ' || n, ARRAY['docs:read'], owner => 'tenant:' || n)).token
  FROM generate_series(0, 9) n;
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_app') THEN CREATE ROLE bench_app LOGIN; END IF;
END $$;
GRANT USAGE ON SCHEMA bench TO bench_app;
GRANT SELECT ON bench.docs, bench.tenant_token TO bench_app;
