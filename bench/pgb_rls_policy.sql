-- The example RLS policy over 1M rows: the token's owner sees its rows.
\set n random(0, 9)
BEGIN;
SELECT status FROM tokens.authenticate((SELECT token FROM bench.tenant_token WHERE n = :n));
SELECT count(*), sum(length(title)) FROM bench.docs;
COMMIT;
