-- An application's request: authenticate, write, audit with tokens.audit.
\set g random(1, 100000)
BEGIN;
SELECT status FROM tokens.authenticate((SELECT token FROM bench.sample WHERE g = :g));
INSERT INTO bench.app_docs (owner, body) VALUES (tokens.current_owner(), 'x');
SELECT tokens.audit('doc.create', 'doc:' || :g);
COMMIT;
