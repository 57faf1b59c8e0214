-- pg_tokens 0.3.0 -> 0.4.0: usage-capped tokens.
--
-- A cap's credits live in a pool row. A verification never writes it in
-- the caller's transaction: with shared_preload_libraries it spends credits
-- leased from the pool in blocks, and each lease is written into the row in
-- place (outside any transaction, WAL-logged and flushed) before its first
-- credit is spent. A crash loses at most the unspent part of a lease; no
-- credit is ever granted twice.

CREATE TABLE tokens.credit_store (
    pool          bigint      PRIMARY KEY,
    -- The credits until the first refill.
    remaining     bigint      NOT NULL,
    -- The credits of every later period, each refill_every long.
    refill_amount bigint,
    refill_every  interval,
    -- When tokens.set_remaining was called: periods start here.
    started_at    timestamptz NOT NULL,
    -- Written in place by leases only: the period leased from and how many
    -- of its credits have been leased.
    period        bigint      NOT NULL DEFAULT 0,
    leased        bigint      NOT NULL DEFAULT 0
);
CREATE SEQUENCE tokens.credit_pool_seq;
SELECT pg_catalog.pg_extension_config_dump('tokens.credit_store', '');
SELECT pg_catalog.pg_extension_config_dump('tokens.credit_pool_seq', '');

-- The token's pool; NULL: no cap. A rotation's successor shares the pool
-- (the credits move with the token, never duplicated).
ALTER TABLE tokens.token_store ADD COLUMN credit_pool bigint;

CREATE FUNCTION tokens.set_remaining(
    id            uuid,
    remaining     bigint,
    refill_amount bigint   DEFAULT NULL,
    refill_every  interval DEFAULT NULL
) RETURNS void
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'set_remaining_wrapper';
REVOKE EXECUTE ON FUNCTION tokens.set_remaining(uuid, bigint, bigint, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.set_remaining(uuid, bigint, bigint, interval) TO tokens_writer, tokens_self_service;

-- The credits a capped token can still spend on this server in the current
-- period: not yet leased, plus the unspent part of this server's lease.
CREATE FUNCTION tokens.credits_left(token uuid, pool bigint) RETURNS bigint
LANGUAGE c STABLE PARALLEL RESTRICTED STRICT
AS 'MODULE_PATHNAME', 'credits_left_wrapper';
REVOKE EXECUTE ON FUNCTION tokens.credits_left(uuid, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.credits_left(uuid, bigint) TO tokens_reader, tokens_self_service;

-- The listing gains the cap: credits left, refill amount and interval.
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
       t.disabled_at,
       tokens.credits_left(t.id, t.credit_pool) AS remaining,
       p.refill_amount,
       p.refill_every
  FROM tokens.token_store t
  LEFT JOIN tokens.token_last_use u ON u.token_id = t.id
  LEFT JOIN tokens.credit_store p ON p.pool = t.credit_pool
 WHERE (SELECT pg_catalog.pg_has_role(CURRENT_USER, 'tokens_reader', 'USAGE'))
    OR t.owner = CURRENT_USER::text;

-- Pool rows are written in place by leases. An UPDATE (a new row version,
-- or a table rewrite through one) would lose those writes and could grant
-- credits twice, so no role may update them; set_remaining inserts a new
-- pool instead.
CREATE FUNCTION tokens.credit_refuse_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION 'tokens.credit_store rows are never updated: leases write them in place'
        USING ERRCODE = '42501',
              HINT = 'change a cap with tokens.set_remaining';
END
$$;
CREATE TRIGGER credit_store_no_update BEFORE UPDATE ON tokens.credit_store
    FOR EACH ROW EXECUTE FUNCTION tokens.credit_refuse_update();
REVOKE ALL ON FUNCTION tokens.credit_refuse_update() FROM PUBLIC;
