-- Database-side authorization: the token is checked in the same transaction
-- as the data it guards, and the database itself enforces owner and scopes.
--
-- The application opens a transaction, authenticates the presented token,
-- then runs ordinary queries:
--
--   BEGIN;
--   SELECT valid, status FROM tokens.authenticate($1);   -- bind the token
--   SELECT * FROM example.docs;                          -- RLS does the rest
--   COMMIT;                                              -- the principal ends here

CREATE SCHEMA IF NOT EXISTS example;
GRANT USAGE ON SCHEMA example TO example_app;

-- 1. A multi-tenant table: each row belongs to a token owner.
CREATE TABLE IF NOT EXISTS example.docs (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner     text   NOT NULL DEFAULT tokens.current_owner(),
    title     text   NOT NULL,
    body      text,
    -- stamped by the trigger below
    written_by_token uuid
);
CREATE INDEX IF NOT EXISTS docs_owner_idx ON example.docs (owner);
GRANT SELECT, INSERT, UPDATE, DELETE ON example.docs TO example_app;

ALTER TABLE example.docs ENABLE ROW LEVEL SECURITY;

-- Reads: the token's owner sees its own rows, and only with docs:read.
-- Written as (SELECT tokens.current_owner()), the principal is read once per
-- query (an InitPlan), not once per row, and the owner index can be used.
DROP POLICY IF EXISTS docs_read ON example.docs;
CREATE POLICY docs_read ON example.docs FOR SELECT
    USING (owner = (SELECT tokens.current_owner()) AND (SELECT tokens.has_scope('docs:read')));

-- Writes need docs:write, and only into the owner's own rows.
DROP POLICY IF EXISTS docs_write ON example.docs;
CREATE POLICY docs_write ON example.docs FOR ALL
    USING (owner = (SELECT tokens.current_owner()) AND (SELECT tokens.has_scope('docs:write')))
    WITH CHECK (owner = (SELECT tokens.current_owner()) AND (SELECT tokens.has_scope('docs:write')));

-- 2. A trigger that refuses writes without docs:write (SQLSTATE 42501, with
-- the missing scope named) and stamps each written row with the token id.
CREATE OR REPLACE FUNCTION example.stamp_doc() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tokens.require_scope('docs:write');
    NEW.written_by_token := tokens.current_token_id();
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS docs_stamp ON example.docs;
CREATE TRIGGER docs_stamp BEFORE INSERT OR UPDATE ON example.docs
    FOR EACH ROW EXECUTE FUNCTION example.stamp_doc();

-- 3. Try it as the application would.
SET ROLE example_app;
SELECT token AS writer_token FROM tokens.mint('docs editor', ARRAY['docs:read', 'docs:write'], owner => 'tenant:acme') \gset
SELECT token AS reader_token FROM tokens.mint('docs reader', ARRAY['docs:read'], owner => 'tenant:acme') \gset

BEGIN;
SELECT valid, status, owner FROM tokens.authenticate(:'writer_token');
INSERT INTO example.docs (title, body) VALUES ('Runbook', 'Restart the thing.');
-- An application's own audit event: attributed to the token's owner, with
-- "via": "token" and the token id recorded in meta.
SELECT tokens.audit('doc.create', 'doc:Runbook', '{"words": 3}');
COMMIT;

BEGIN;
SELECT valid, status FROM tokens.authenticate(:'reader_token');
SELECT title, owner, written_by_token IS NOT NULL AS stamped FROM example.docs;
-- Without docs:write the write is refused: 42501, nothing written.
SAVEPOINT try_write;
\set ON_ERROR_STOP 0
INSERT INTO example.docs (title) VALUES ('Not allowed');
\set ON_ERROR_STOP 1
ROLLBACK TO SAVEPOINT try_write;
COMMIT;

-- After the transaction, no principal: the table looks empty.
SELECT count(*) AS visible_without_a_token FROM example.docs;
RESET ROLE;
SELECT actor, db_role, action, target, meta FROM tokens.audit_log WHERE action = 'doc.create';
