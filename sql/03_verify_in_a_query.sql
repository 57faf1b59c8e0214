-- Verifying a token as an application does: one call, bound as a parameter
-- (never paste a token into SQL text: with log_statement = 'all' the text
-- would reach the server log).
--
--   SELECT valid, status, owner, scopes FROM tokens.verify($1);

SET ROLE example_app;

-- A service of the application mints a token for itself ...
SELECT token AS demo_token FROM tokens.mint('example: verify', ARRAY['docs:read'], owner => 'group:docs') \gset

-- ... and a request presents it. verify never raises: a malformed, unknown,
-- revoked or expired token is a row with valid = false and the reason.
SELECT valid, status, owner, scopes FROM tokens.verify(:'demo_token');
SELECT valid, status FROM tokens.verify('not a token');

-- Verification inside a query: only rows the token's scopes allow.
CREATE TEMP TABLE docs (id int, title text);
INSERT INTO docs VALUES (1, 'Runbook'), (2, 'Postmortem');
SELECT d.*
  FROM docs d, tokens.verify(:'demo_token') v
 WHERE v.valid AND (v.scopes IS NULL OR 'docs:read' = ANY (v.scopes));

-- Revocation is effective for the next transaction. The application acts
-- for the owner, as a member of tokens_revoker.
SELECT tokens.revoke((tokens.verify(:'demo_token')).token_id, actor => 'group:docs', reason => 'example finished');
SELECT valid, status FROM tokens.verify(:'demo_token');

RESET ROLE;
