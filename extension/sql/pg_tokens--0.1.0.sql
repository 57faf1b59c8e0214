-- pg_tokens 0.1.0: machine-to-machine API tokens inside PostgreSQL.
--
-- CREATE EXTENSION creates schema `tokens` (named in the control file). The
-- tables are reachable only through the functions and views below: the
-- functions run as the calling role (so grants and the actor rule see the
-- real caller) and switch to the extension's owner, with search_path pinned
-- to pg_catalog, only around their own queries.

-- The four administration roles (SPEC §3). Roles are cluster-wide, so they
-- are created only when missing and survive DROP EXTENSION.
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['tokens_reader', 'tokens_writer', 'tokens_revoker', 'tokens_self_service'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created meanwhile by a CREATE EXTENSION in another database
            END;
        END IF;
    END LOOP;
END
$roles$;

REVOKE ALL ON SCHEMA tokens FROM PUBLIC;
GRANT USAGE ON SCHEMA tokens TO PUBLIC;

-- Tokens: the SHA-256 of the plaintext, never the plaintext.
CREATE TABLE tokens.token_store (
    id          uuid        PRIMARY KEY,
    hash        bytea       NOT NULL CHECK (octet_length(hash) = 32),
    prefix      text        NOT NULL CHECK (char_length(prefix) = 12),
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80),
    kind        text        NOT NULL CHECK (kind IN ('service', 'personal')),
    owner       text        NOT NULL CHECK (char_length(owner) BETWEEN 1 AND 80),
    scopes      text[]      CHECK (cardinality(scopes) <= 16),
    expires_at  timestamptz,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    CONSTRAINT token_store_hash_key UNIQUE (hash)
);
CREATE INDEX token_store_owner_idx ON tokens.token_store (owner);

-- Last successful use, one row per token, apart from token_store so that
-- recording a use never holds a lock that a revoke or rotate would wait on.
CREATE TABLE tokens.token_last_use (
    token_id     uuid        PRIMARY KEY,
    last_used_at timestamptz
);

-- The scope catalogue: once it has an entry, mint accepts only its scopes.
CREATE TABLE tokens.scope_catalog (
    scope       text        PRIMARY KEY CHECK (scope ~ '^[a-z][a-z0-9.:_-]*$' AND char_length(scope) <= 40),
    description text        CHECK (char_length(description) <= 200),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- The audit log: append-only, each row chained to the previous one by
-- SHA-256 (see tokens.audit_row_hash) so an edit made with triggers disabled
-- is detectable. ids are gapless, assigned under the append lock.
CREATE TABLE tokens.audit_store (
    id       bigint      PRIMARY KEY,
    at       timestamptz NOT NULL,
    actor    text        NOT NULL,
    db_role  text        NOT NULL,
    action   text        NOT NULL,
    target   text,
    meta     jsonb,
    hash     bytea       NOT NULL CHECK (octet_length(hash) = 32)
);
CREATE INDEX audit_store_target_idx ON tokens.audit_store (target, id);

-- The append lock: one row, updated by the first audit append of each
-- (sub)transaction and so locked until it ends. Concurrent writers queue on
-- it and never fork the chain; a REPEATABLE READ writer whose snapshot
-- misses a concurrent append gets a serialization failure instead of a
-- fork. Created by the first append (not here), so that pg_restore can load
-- the dumped row without a conflict.
CREATE TABLE tokens.audit_lock (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    appends  bigint  NOT NULL
);

CREATE FUNCTION tokens.audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION 'the token audit log is append-only: % is not allowed', TG_OP
        USING ERRCODE = '42501',
              HINT = 'audit rows are never updated, deleted or truncated, by any role';
END
$$;
CREATE TRIGGER audit_store_append_only BEFORE UPDATE OR DELETE ON tokens.audit_store
    FOR EACH ROW EXECUTE FUNCTION tokens.audit_refuse_change();
CREATE TRIGGER audit_store_no_truncate BEFORE TRUNCATE ON tokens.audit_store
    FOR EACH STATEMENT EXECUTE FUNCTION tokens.audit_refuse_change();
CREATE TRIGGER audit_lock_no_truncate BEFORE TRUNCATE ON tokens.audit_lock
    FOR EACH STATEMENT EXECUTE FUNCTION tokens.audit_refuse_change();
REVOKE ALL ON FUNCTION tokens.audit_refuse_change() FROM PUBLIC;

-- pg_dump keeps the rows of extension tables registered here (SPEC §6).
SELECT pg_catalog.pg_extension_config_dump('tokens.token_store', '');
SELECT pg_catalog.pg_extension_config_dump('tokens.token_last_use', '');
SELECT pg_catalog.pg_extension_config_dump('tokens.scope_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('tokens.audit_store', '');
SELECT pg_catalog.pg_extension_config_dump('tokens.audit_lock', '');

-- Result types.
CREATE TYPE tokens.minted AS (
    token      text,
    id         uuid,
    prefix     text,
    name       text,
    kind       text,
    owner      text,
    scopes     text[],
    expires_at timestamptz,
    created_at timestamptz
);

CREATE TYPE tokens.verification AS (
    valid      boolean,
    status     text,
    token_id   uuid,
    kind       text,
    owner      text,
    name       text,
    scopes     text[],
    expires_at timestamptz
);

-- Functions. None is SECURITY DEFINER: each checks the calling role itself
-- and reaches the tables as the extension's owner with a pinned search_path.
CREATE FUNCTION tokens.mint(
    name       text,
    scopes     text[]      DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL,
    kind       text        DEFAULT 'service',
    owner      text        DEFAULT NULL
) RETURNS tokens.minted
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mint_wrapper';

CREATE FUNCTION tokens.verify(token text) RETURNS tokens.verification
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'verify_wrapper';

CREATE FUNCTION tokens.revoke(id uuid, actor text DEFAULT NULL, reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'revoke_wrapper';

CREATE FUNCTION tokens.rotate(id uuid, grace interval DEFAULT '0', actor text DEFAULT NULL)
RETURNS tokens.minted
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'rotate_wrapper';

CREATE FUNCTION tokens.define_scope(scope text, description text)
RETURNS void
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'define_scope_wrapper';

-- The status rule of SPEC §1, shared by verify and the tokens.tokens view.
CREATE FUNCTION tokens.token_status(revoked_at timestamptz, expires_at timestamptz, at timestamptz)
RETURNS text
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'token_status_wrapper';

-- The audit chain's hash of one row (settings-independent canonical form).
CREATE FUNCTION tokens.audit_row_hash(
    previous bytea, id bigint, at timestamptz, actor text, db_role text,
    action text, target text, meta text
) RETURNS bytea
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'audit_row_hash_wrapper';

-- Views. tokens_reader sees every token; anyone else granted the view
-- (tokens_self_service) sees only the tokens it owns.
CREATE VIEW tokens.tokens WITH (security_barrier) AS
SELECT t.id, t.prefix, t.name, t.kind, t.owner, t.scopes, t.expires_at,
       u.last_used_at, t.created_at, t.revoked_at,
       tokens.token_status(t.revoked_at, t.expires_at, pg_catalog.now()) AS status
  FROM tokens.token_store t
  LEFT JOIN tokens.token_last_use u ON u.token_id = t.id
 WHERE (SELECT pg_catalog.pg_has_role(CURRENT_USER, 'tokens_reader', 'USAGE'))
    OR t.owner = CURRENT_USER::text;

CREATE VIEW tokens.audit_log AS
SELECT id, at, actor, db_role, action, target, meta
  FROM tokens.audit_store;

CREATE VIEW tokens.scopes AS
SELECT scope, description, created_at
  FROM tokens.scope_catalog;

-- Privileges (SPEC §3).
REVOKE ALL ON ALL TABLES IN SCHEMA tokens FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tokens.mint(text, text[], timestamptz, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tokens.revoke(uuid, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tokens.rotate(uuid, interval, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tokens.define_scope(text, text) FROM PUBLIC;

GRANT SELECT ON tokens.tokens, tokens.audit_log, tokens.scopes TO tokens_reader;
GRANT SELECT ON tokens.tokens, tokens.scopes TO tokens_self_service;
GRANT SELECT ON tokens.scopes TO tokens_writer;
GRANT EXECUTE ON FUNCTION tokens.mint(text, text[], timestamptz, text, text) TO tokens_writer, tokens_self_service;
GRANT EXECUTE ON FUNCTION tokens.rotate(uuid, interval, text) TO tokens_writer, tokens_self_service;
GRANT EXECUTE ON FUNCTION tokens.revoke(uuid, text, text) TO tokens_revoker, tokens_self_service;
GRANT EXECUTE ON FUNCTION tokens.define_scope(text, text) TO tokens_writer;
