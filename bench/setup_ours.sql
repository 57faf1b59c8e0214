-- pg_tokens side of the benchmark: 100k tokens minted through the API, their
-- plaintext kept in a side table only because this is a benchmark fixture.
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE bench.sample (g int PRIMARY KEY, token text NOT NULL);

-- An application's transaction: the document it writes, and the audit
-- table a team would write by hand (a plain INSERT, nothing chained).
CREATE TABLE bench.app_docs (id bigserial PRIMARY KEY, owner text, body text);
CREATE TABLE bench.plain_audit (
  id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL, action text NOT NULL, target text, meta jsonb
);
