-- The per-row form, owner = tokens.current_owner() without a sub-select.
\set n random(0, 9)
BEGIN;
SELECT status FROM tokens.authenticate((SELECT token FROM bench.tenant_token WHERE n = :n));
SELECT count(*), sum(length(title)) FROM bench.docs WHERE owner = tokens.current_owner();
COMMIT;
