-- pg_tokens side of the benchmark: 100k tokens minted through the API, their
-- plaintext kept in a side table only because this is a benchmark fixture.
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE bench.sample (g int PRIMARY KEY, token text NOT NULL);
