-- pg_tokens 0.1.0 -> 0.2.0: database-side authorization.
--
-- tokens.authenticate makes a verified token the principal of the current
-- transaction; RLS policies and triggers read it through the principal
-- functions. The principal lives in backend memory (never a GUC) and ends
-- with the transaction.

CREATE FUNCTION tokens.authenticate(token text) RETURNS tokens.verification
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'authenticate_wrapper';

-- The principal functions: not SECURITY DEFINER and no SET clause, so they
-- stay plain, cheap C calls. PARALLEL RESTRICTED: the principal lives in the
-- leader's memory, which parallel workers do not share; written as
-- (SELECT tokens.current_owner()) in a policy, the value is computed once by
-- the leader and handed to the workers as a parameter.
CREATE FUNCTION tokens.current_token_id() RETURNS uuid
LANGUAGE c STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'current_token_id_wrapper';

CREATE FUNCTION tokens.current_owner() RETURNS text
LANGUAGE c STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'current_owner_wrapper';

CREATE FUNCTION tokens.current_scopes() RETURNS text[]
LANGUAGE c STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'current_scopes_wrapper';

CREATE FUNCTION tokens.has_scope(scope text) RETURNS boolean
LANGUAGE c STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'has_scope_wrapper';

-- VOLATILE: a call whose point is to raise must never be optimised away.
CREATE FUNCTION tokens.require_scope(scope text) RETURNS void
LANGUAGE c VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'require_scope_wrapper';

-- An application's own audit event, chained with the extension's.
CREATE FUNCTION tokens.audit(action text, target text, meta jsonb DEFAULT NULL) RETURNS bigint
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'audit_wrapper';

-- verify, authenticate, the principal functions and tokens.audit are
-- callable by every role (PUBLIC keeps EXECUTE on them).

-- Listings page through tokens newest first (the console's default order):
-- an index keeps the first page of 100k tokens an index probe, not a sort.
CREATE INDEX token_store_created_idx ON tokens.token_store (created_at, id);

-- IP allowlists: a token restricted to client networks. verify refuses it
-- from anywhere else as `ip_denied` (a Unix-socket connection passes only
-- when the list admits 127.0.0.1 or ::1).
ALTER TABLE tokens.token_store
    ADD COLUMN allowed_ips cidr[] CHECK (cardinality(allowed_ips) BETWEEN 1 AND 64);

-- The caller passes cidr[]; the C function takes their canonical text.
CREATE FUNCTION tokens.set_allowed_ips_text(id uuid, allowed text[]) RETURNS void
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'set_allowed_ips_text_wrapper';

CREATE FUNCTION tokens.set_allowed_ips(id uuid, allowed cidr[]) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
AS $$ SELECT tokens.set_allowed_ips_text($1, $2::pg_catalog.text[]) $$;

REVOKE EXECUTE ON FUNCTION tokens.set_allowed_ips_text(uuid, text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tokens.set_allowed_ips(uuid, cidr[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.set_allowed_ips_text(uuid, text[]) TO tokens_writer, tokens_self_service;
GRANT EXECUTE ON FUNCTION tokens.set_allowed_ips(uuid, cidr[]) TO tokens_writer, tokens_self_service;

CREATE OR REPLACE VIEW tokens.tokens WITH (security_barrier) AS
SELECT t.id, t.prefix, t.name, t.kind, t.owner, t.scopes, t.expires_at,
       u.last_used_at, t.created_at, t.revoked_at,
       tokens.token_status(t.revoked_at, t.expires_at, pg_catalog.now()) AS status,
       t.allowed_ips
  FROM tokens.token_store t
  LEFT JOIN tokens.token_last_use u ON u.token_id = t.id
 WHERE (SELECT pg_catalog.pg_has_role(CURRENT_USER, 'tokens_reader', 'USAGE'))
    OR t.owner = CURRENT_USER::text;
