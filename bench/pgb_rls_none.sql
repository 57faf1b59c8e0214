-- The same query without RLS: the table owner filters by hand.
\set n random(0, 9)
BEGIN;
SELECT count(*), sum(length(title)) FROM bench.docs WHERE owner = 'tenant:' || :n;
COMMIT;
