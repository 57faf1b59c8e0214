-- The same request auditing into an unchained table of its own.
\set g random(1, 100000)
BEGIN;
SELECT status FROM tokens.authenticate((SELECT token FROM bench.sample WHERE g = :g));
INSERT INTO bench.app_docs (owner, body) VALUES (tokens.current_owner(), 'x');
INSERT INTO bench.plain_audit (actor, action, target) VALUES (tokens.current_owner(), 'doc.create', 'doc:' || :g);
COMMIT;
