-- pg_tokens 0.4.0 -> 0.5.0: security hardening.

-- Whether a token is the transaction's principal. current_scopes() is NULL
-- both without a principal and for a full-access token, so a policy that
-- means "authenticated" tests this instead.
CREATE FUNCTION tokens.is_authenticated() RETURNS boolean
LANGUAGE c STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'is_authenticated_wrapper';
