-- pg_tokens 0.4.0 -> 0.5.0: security hardening.

-- Whether a token is the transaction's principal. current_scopes() is NULL
-- both without a principal and for a full-access token, so a policy that
-- means "authenticated" tests this instead.
CREATE FUNCTION tokens.is_authenticated() RETURNS boolean
LANGUAGE c STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'is_authenticated_wrapper';

-- meta and credits are what applications trust (a plan, a tenant, a
-- quota): tokens_writer sets them, a token's owner does not. Self-service
-- keeps the allowlist, the rate limit and disable/enable of its own
-- personal tokens. (mint_meta_text stays granted: the mint wrapper calls it,
-- and it refuses meta from anyone but tokens_writer.)
REVOKE EXECUTE ON FUNCTION tokens.set_meta(uuid, jsonb) FROM tokens_self_service;
REVOKE EXECUTE ON FUNCTION tokens.set_meta_text(uuid, text) FROM tokens_self_service;
REVOKE EXECUTE ON FUNCTION tokens.set_remaining(uuid, bigint, bigint, interval) FROM tokens_self_service;
