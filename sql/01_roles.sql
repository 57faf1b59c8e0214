-- Who may do what. Run as a superuser (or the role that installed the
-- extension) after `CREATE EXTENSION pg_tokens;`.
--
-- pg_tokens creates four NOLOGIN roles; you grant them to your login roles:
--   tokens_reader        read tokens.tokens and tokens.audit_log
--   tokens_writer        mint (any kind, any owner), rotate, define scopes
--   tokens_revoker       revoke
--   tokens_self_service  mint, see, rotate and revoke one's own personal tokens
-- verify() is callable by every role.

DO $$
BEGIN
    -- The application server: verifies tokens, and mints/rotates/revokes on
    -- behalf of its users (so it may pass actor => the token's owner).
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'example_app') THEN
        CREATE ROLE example_app LOGIN PASSWORD NULL;
    END IF;
    -- A platform admin who reads everything and administers service tokens.
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'example_admin') THEN
        CREATE ROLE example_admin LOGIN;
    END IF;
    -- A developer who manages only personal tokens of their own.
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'example_dev') THEN
        CREATE ROLE example_dev LOGIN;
    END IF;
END
$$;

GRANT tokens_writer, tokens_revoker TO example_app;
GRANT tokens_reader, tokens_writer, tokens_revoker TO example_admin;
GRANT tokens_self_service TO example_dev;

-- The scope catalogue: once it has an entry, mint accepts only its scopes.
SELECT tokens.define_scope('docs:read',  'Read documents');
SELECT tokens.define_scope('docs:write', 'Create and edit documents');
SELECT tokens.define_scope('deploy',     'Trigger deployments');
