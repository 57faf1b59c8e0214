-- pg_tokens 0.2.0 -> 0.3.0: usage analytics and per-token rate limits.
--
-- With shared_preload_libraries = 'pg_tokens', verify writes nothing: it
-- counts each token's uses (and refusals) in shared memory, and a
-- background worker flushes them here in batches, together with
-- last_used_at. Rate limits are enforced from the same shared memory.

-- A rate limit: at most rate_requests successful verifications per window
-- of rate_per (a fixed window that opens at the first success after the
-- previous one closed).
ALTER TABLE tokens.token_store
    ADD COLUMN rate_requests integer,
    ADD COLUMN rate_per interval,
    -- Suspended by tokens.disable (when), until tokens.enable.
    ADD COLUMN disabled_at timestamptz,
    -- Application data returned by verify: a JSON object of at most 4096
    -- bytes (checked by the extension before it writes).
    ADD COLUMN meta jsonb;

-- The extension validates every value before it writes it (pg_tokens_core,
-- unit- and property-tested), and the tables are reachable only through
-- it. CHECK constraints on top cost every single-row insert a re-parse of
-- their stored expressions (PostgreSQL rebuilds them per statement: about
-- 40% of a mint's instructions, measured with callgrind), so they go.
ALTER TABLE tokens.token_store
    DROP CONSTRAINT token_store_hash_check,
    DROP CONSTRAINT token_store_prefix_check,
    DROP CONSTRAINT token_store_name_check,
    DROP CONSTRAINT token_store_kind_check,
    DROP CONSTRAINT token_store_owner_check,
    DROP CONSTRAINT token_store_scopes_check,
    DROP CONSTRAINT token_store_allowed_ips_check;
ALTER TABLE tokens.audit_store DROP CONSTRAINT audit_store_hash_check;

-- Uses per token and minute, written only by the background flush.
-- count: successful verifications; denied: refusals of the token (revoked,
-- expired, ip_denied, rate_limited, ...). No foreign key: a flush never
-- waits on, or blocks, anything done to token_store.
CREATE TABLE tokens.usage_counts (
    token_id uuid        NOT NULL,
    bucket   timestamptz NOT NULL,
    count    bigint      NOT NULL DEFAULT 0,
    denied   bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (token_id, bucket)
);
SELECT pg_catalog.pg_extension_config_dump('tokens.usage_counts', '');

CREATE FUNCTION tokens.set_rate_limit(id uuid, requests integer, per interval) RETURNS void
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'set_rate_limit_wrapper';

REVOKE EXECUTE ON FUNCTION tokens.set_rate_limit(uuid, integer, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.set_rate_limit(uuid, integer, interval) TO tokens_writer, tokens_self_service;

-- A token's uses per bucket from since (truncated to the minute) to now.
CREATE FUNCTION tokens.usage(id uuid, since timestamptz, bucket interval)
RETURNS TABLE (bucket_start timestamptz, count bigint, denied bigint)
LANGUAGE c STABLE PARALLEL UNSAFE ROWS 100
AS 'MODULE_PATHNAME', 'usage_wrapper';

REVOKE EXECUTE ON FUNCTION tokens.usage(uuid, timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.usage(uuid, timestamptz, interval) TO tokens_reader, tokens_self_service;

-- Status with `disabled`: revoked, expired, disabled, the first that applies.
CREATE FUNCTION tokens.token_status(revoked_at timestamptz, expires_at timestamptz, disabled boolean, at timestamptz)
RETURNS text
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'token_status_disabled_wrapper';

-- A reversible suspension for incident response (verify says `disabled`).
CREATE FUNCTION tokens.disable(id uuid) RETURNS boolean
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'disable_wrapper';
CREATE FUNCTION tokens.enable(id uuid) RETURNS boolean
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'enable_wrapper';
REVOKE EXECUTE ON FUNCTION tokens.disable(uuid) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tokens.enable(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.disable(uuid) TO tokens_writer, tokens_self_service;
GRANT EXECUTE ON FUNCTION tokens.enable(uuid) TO tokens_writer, tokens_self_service;

-- The listing gains the disabled status, the last 24 hours' uses, the rate
-- limit and when the token was disabled.
CREATE OR REPLACE VIEW tokens.tokens WITH (security_barrier) AS
SELECT t.id, t.prefix, t.name, t.kind, t.owner, t.scopes, t.expires_at,
       u.last_used_at, t.created_at, t.revoked_at,
       tokens.token_status(t.revoked_at, t.expires_at, t.disabled_at IS NOT NULL, pg_catalog.now()) AS status,
       t.allowed_ips,
       (SELECT COALESCE(pg_catalog.sum(c.count), 0)::bigint
          FROM tokens.usage_counts c
         WHERE c.token_id = t.id
           AND c.bucket >= pg_catalog.now() - interval '24 hours') AS uses_24h,
       t.rate_requests AS rate_limit_requests,
       t.rate_per AS rate_limit_per,
       t.disabled_at
  FROM tokens.token_store t
  LEFT JOIN tokens.token_last_use u ON u.token_id = t.id
 WHERE (SELECT pg_catalog.pg_has_role(CURRENT_USER, 'tokens_reader', 'USAGE'))
    OR t.owner = CURRENT_USER::text;

-- Scope-checked verification: what a gateway or middleware calls in one
-- round trip. `forbidden` unless the token grants every required scope
-- (NULL scopes grant all; NULL or {} requires nothing; a NULL element is
-- never granted). Callable by every role, like verify.
CREATE FUNCTION tokens.verify(token text, required_scopes text[]) RETURNS tokens.verification
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'verify_scoped_wrapper';

-- Leak triage: every well-formed token in a pasted blob (a log, a chat
-- message), found by hash, with its status; `unknown` and no id when it is
-- not one of ours. Returns the 12-character prefix, never the plaintext.
-- Pass the blob as a bind parameter: a literal would reach the server log
-- under log_statement.
CREATE FUNCTION tokens.find_leaked(text text)
RETURNS TABLE (prefix text, token_id uuid, status text, owner text, name text)
LANGUAGE c STABLE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'find_leaked_wrapper';

REVOKE EXECUTE ON FUNCTION tokens.find_leaked(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.find_leaked(text) TO tokens_reader;

-- Metadata: verify (and authenticate) return the token's meta when valid.
ALTER TYPE tokens.verification ADD ATTRIBUTE meta jsonb;

-- mint gains a meta argument. The C functions take jsonb's own text, so
-- that its size is octet_length(meta::text) and its numbers are kept as
-- written; the SQL functions are plain wrappers (not SECURITY DEFINER).
DROP FUNCTION tokens.mint(text, text[], timestamptz, text, text);
CREATE FUNCTION tokens.mint_meta_text(name text, scopes text[], expires_at timestamptz, kind text, owner text, meta text)
RETURNS tokens.minted
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mint_meta_text_wrapper';
CREATE FUNCTION tokens.mint(
    name       text,
    scopes     text[]      DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL,
    kind       text        DEFAULT 'service',
    owner      text        DEFAULT NULL,
    meta       jsonb       DEFAULT NULL
) RETURNS tokens.minted
LANGUAGE sql VOLATILE PARALLEL UNSAFE
AS $$ SELECT tokens.mint_meta_text($1, $2, $3, $4, $5, $6::pg_catalog.text) $$;

CREATE FUNCTION tokens.set_meta_text(id uuid, meta text) RETURNS void
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'set_meta_text_wrapper';
CREATE FUNCTION tokens.set_meta(id uuid, meta jsonb) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
AS $$ SELECT tokens.set_meta_text($1, $2::pg_catalog.text) $$;

REVOKE EXECUTE ON FUNCTION tokens.mint_meta_text(text, text[], timestamptz, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tokens.mint(text, text[], timestamptz, text, text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tokens.set_meta_text(uuid, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tokens.set_meta(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.mint_meta_text(text, text[], timestamptz, text, text, text) TO tokens_writer, tokens_self_service;
GRANT EXECUTE ON FUNCTION tokens.mint(text, text[], timestamptz, text, text, jsonb) TO tokens_writer, tokens_self_service;
GRANT EXECUTE ON FUNCTION tokens.set_meta_text(uuid, text) TO tokens_writer, tokens_self_service;
GRANT EXECUTE ON FUNCTION tokens.set_meta(uuid, jsonb) TO tokens_writer, tokens_self_service;

-- The audit chain, checked: the id of the first row whose hash does not
-- follow from the previous row's hash and its own content (or whose id
-- breaks the gapless sequence), NULL when the chain is intact. An edit or a
-- deletion of any row but the newest is reported; so is one made with the
-- append-only triggers disabled, or before a dump that was restored.
CREATE FUNCTION tokens.verify_audit_chain() RETURNS bigint
LANGUAGE sql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT min(a.id)
    FROM (SELECT s.id, s.hash,
                 tokens.audit_row_hash(lag(s.hash) OVER w, s.id, s.at, s.actor, s.db_role,
                                       s.action, s.target, s.meta::text) AS expected,
                 row_number() OVER w AS n
            FROM tokens.audit_store s
          WINDOW w AS (ORDER BY s.id)) a
   WHERE a.id <> a.n OR a.hash IS DISTINCT FROM a.expected
$$;
REVOKE EXECUTE ON FUNCTION tokens.verify_audit_chain() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.verify_audit_chain() TO tokens_reader;
