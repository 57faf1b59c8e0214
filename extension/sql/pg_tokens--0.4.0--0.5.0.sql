-- pg_tokens 0.4.0 -> 0.5.0: security hardening.

-- The schema must be pg_tokens' own: owned by the role installing (or
-- upgrading) the extension, and holding nothing but the extension's
-- objects. A schema someone else owns can be renamed and replaced by a
-- look-alike under the statements the extension runs as its owner; a
-- foreign object in it could be picked up by them. (A schema that CREATE
-- EXTENSION created itself always passes.)
DO $schema$
DECLARE
    ext pg_catalog.oid;
    nsp pg_catalog.oid;
    nsp_owner pg_catalog.name;
    foreign_objects pg_catalog.text;
BEGIN
    SELECT e.oid, e.extnamespace, n.nspowner::pg_catalog.regrole::pg_catalog.name
      INTO ext, nsp, nsp_owner
      FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
     WHERE e.extname OPERATOR(pg_catalog.=) 'pg_tokens';
    IF nsp_owner OPERATOR(pg_catalog.<>) CURRENT_USER THEN
        RAISE EXCEPTION 'schema tokens is owned by role %, not by %: pg_tokens installs only into a schema it creates or one the installing role owns', nsp_owner, CURRENT_USER
              USING ERRCODE = 'insufficient_privilege',
                    HINT = pg_catalog.format('Drop or rename that schema and let CREATE EXTENSION create it, or, once you have checked what it holds, run ALTER SCHEMA tokens OWNER TO %I.', CURRENT_USER);
    END IF;
    WITH RECURSIVE ours(classid, objid) AS (
        SELECT d.classid, d.objid FROM pg_catalog.pg_depend d
         WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid OPERATOR(pg_catalog.=) ext AND d.deptype OPERATOR(pg_catalog.=) 'e'
        UNION
        SELECT d.classid, d.objid FROM pg_catalog.pg_depend d
          JOIN ours o ON d.refclassid OPERATOR(pg_catalog.=) o.classid AND d.refobjid OPERATOR(pg_catalog.=) o.objid
         WHERE d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['a', 'i']::"char"[])
    ), in_schema(classid, objid) AS (
        SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, oid FROM pg_catalog.pg_class WHERE relnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, oid FROM pg_catalog.pg_proc WHERE pronamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, oid FROM pg_catalog.pg_type WHERE typnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, oid FROM pg_catalog.pg_operator WHERE oprnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass, oid FROM pg_catalog.pg_collation WHERE collnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass, oid FROM pg_catalog.pg_conversion WHERE connamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass, oid FROM pg_catalog.pg_opclass WHERE opcnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass, oid FROM pg_catalog.pg_opfamily WHERE opfnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, oid FROM pg_catalog.pg_statistic_ext WHERE stxnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL SELECT 'pg_catalog.pg_ts_config'::pg_catalog.regclass, oid FROM pg_catalog.pg_ts_config WHERE cfgnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL SELECT 'pg_catalog.pg_ts_dict'::pg_catalog.regclass, oid FROM pg_catalog.pg_ts_dict WHERE dictnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL SELECT 'pg_catalog.pg_ts_parser'::pg_catalog.regclass, oid FROM pg_catalog.pg_ts_parser WHERE prsnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL SELECT 'pg_catalog.pg_ts_template'::pg_catalog.regclass, oid FROM pg_catalog.pg_ts_template WHERE tmplnamespace OPERATOR(pg_catalog.=) nsp
    )
    SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(s.classid, s.objid, 0), ', ' ORDER BY 1)
      INTO foreign_objects
      FROM in_schema s
     WHERE NOT EXISTS (SELECT FROM ours o WHERE o.classid OPERATOR(pg_catalog.=) s.classid AND o.objid OPERATOR(pg_catalog.=) s.objid);
    IF foreign_objects IS NOT NULL THEN
        RAISE EXCEPTION 'schema tokens holds objects that are not part of pg_tokens: %', foreign_objects
              USING ERRCODE = 'insufficient_privilege',
                    HINT = 'pg_tokens installs only into a schema of its own: move or drop those objects, or let CREATE EXTENSION create the schema.';
    END IF;
END
$schema$;

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

-- The SQL wrappers bind what they call when they are created (SQL-standard
-- bodies), not by name at each call: a schema renamed and replaced under
-- them cannot slip a look-alike function into a caller's call
-- (verify_audit_chain, which runs as the extension's owner, is replaced
-- below in the same way).
CREATE OR REPLACE FUNCTION tokens.mint(
    name       text,
    scopes     text[]      DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL,
    kind       text        DEFAULT 'service',
    owner      text        DEFAULT NULL,
    meta       jsonb       DEFAULT NULL
) RETURNS tokens.minted
LANGUAGE sql VOLATILE PARALLEL UNSAFE
RETURN tokens.mint_meta_text($1, $2, $3, $4, $5, $6::pg_catalog.text);

CREATE OR REPLACE FUNCTION tokens.set_meta(id uuid, meta jsonb) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT tokens.set_meta_text($1, $2::pg_catalog.text);
END;

CREATE OR REPLACE FUNCTION tokens.set_allowed_ips(id uuid, allowed cidr[]) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT tokens.set_allowed_ips_text($1, $2::pg_catalog.text[]);
END;

-- Rate-limit windows as the flush last wrote them from shared memory: an
-- entry whose window is on record may be evicted from a full table, and
-- its window is read back at the token's next verification (so a flood of
-- rate-limited tokens cannot pin the table, and a window outlives a
-- restart). PostgreSQL microseconds for the length, as shared memory has it.
CREATE TABLE tokens.rate_windows (
    token_id   uuid PRIMARY KEY,
    opened_at  timestamptz NOT NULL,
    admitted   bigint NOT NULL,
    per_micros bigint NOT NULL
);
REVOKE ALL ON tokens.rate_windows FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('tokens.rate_windows', '');

-- The audit log without a global lock (issue 14). An append is one row in
-- audit_store (its id from a sequence: ids are unique, not gapless) and one
-- in the queue audit_unsealed; nothing is shared between appending
-- transactions. The sealer (the background worker, within a second; or
-- tokens.seal_audit()) gives each committed event the next position in
-- audit_chain, with the hash chained to the previous position's, in one
-- pass, and takes it off the queue. An aborted event never commits, so it
-- never gets a position; a sealed row never moves. Rows written before the
-- upgrade keep their hash: their position is their id.
CREATE SEQUENCE tokens.audit_id_seq;
SELECT pg_catalog.setval('tokens.audit_id_seq', max(id)) FROM tokens.audit_store HAVING max(id) IS NOT NULL;
ALTER TABLE tokens.audit_store ALTER COLUMN hash DROP NOT NULL;

CREATE TABLE tokens.audit_chain (
    position  bigint      PRIMARY KEY,
    event_id  bigint      NOT NULL UNIQUE,
    hash      bytea       NOT NULL,
    sealed_at timestamptz NOT NULL
);
INSERT INTO tokens.audit_chain (position, event_id, hash, sealed_at)
SELECT id, id, hash, at FROM tokens.audit_store ORDER BY id;

CREATE TABLE tokens.audit_unsealed (
    event_id bigint PRIMARY KEY
);

CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON tokens.audit_chain
    FOR EACH ROW EXECUTE FUNCTION tokens.audit_refuse_change();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON tokens.audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION tokens.audit_refuse_change();
REVOKE ALL ON tokens.audit_chain, tokens.audit_unsealed FROM PUBLIC;
REVOKE ALL ON SEQUENCE tokens.audit_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('tokens.audit_chain', '');
SELECT pg_catalog.pg_extension_config_dump('tokens.audit_unsealed', '');
SELECT pg_catalog.pg_extension_config_dump('tokens.audit_id_seq', '');

-- The sealer's lock (one sealer at a time) is the one row of audit_lock,
-- which appends no longer touch; the first seal creates it (not this
-- script, so that pg_restore can load a dumped row).

-- position and sealed at the end (a view keeps its columns' order); hash
-- is the chain's (NULL until sealed).
CREATE OR REPLACE VIEW tokens.audit_log AS
SELECT s.id, s.at, s.actor, s.db_role, s.action, s.target, s.meta,
       c.position, c.position IS NOT NULL AS sealed, c.hash
  FROM tokens.audit_store s
  LEFT JOIN tokens.audit_chain c ON c.event_id OPERATOR(pg_catalog.=) s.id;
-- Refused as the tables refuse it (the join makes the view not updatable
-- anyway): 42501 for every role.
CREATE TRIGGER audit_log_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON tokens.audit_log
    FOR EACH ROW EXECUTE FUNCTION tokens.audit_refuse_change();

-- Seals what has committed; the number of rows sealed. The background
-- worker calls it within a second of a commit; without
-- shared_preload_libraries, call it yourself (cron).
CREATE FUNCTION tokens.seal_audit() RETURNS bigint
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'seal_audit_wrapper';
REVOKE EXECUTE ON FUNCTION tokens.seal_audit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.seal_audit() TO tokens_writer;

-- The chain checked by position: the first position whose event is gone,
-- whose hash does not follow from the previous position's hash and the
-- event's content, or that breaks the gapless sequence; NULL when intact.
CREATE OR REPLACE FUNCTION tokens.verify_audit_chain() RETURNS bigint
LANGUAGE sql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  SELECT min(a.position)
    FROM (SELECT c.position, c.hash, s.id AS event,
                 tokens.audit_row_hash(lag(c.hash) OVER w, s.id, s.at, s.actor, s.db_role,
                                       s.action, s.target, s.meta::text) AS expected,
                 row_number() OVER w AS n
            FROM tokens.audit_chain c
            LEFT JOIN tokens.audit_store s ON s.id = c.event_id
          WINDOW w AS (ORDER BY c.position)) a
   WHERE a.position <> a.n OR a.event IS NULL OR a.hash IS DISTINCT FROM a.expected;
END;

-- The chain's head as of the last sealed row, to keep outside the
-- database; no row while nothing is sealed.
CREATE FUNCTION tokens.audit_checkpoint(OUT id bigint, OUT hash bytea, OUT at timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  SELECT c.position, c.hash, c.sealed_at FROM tokens.audit_chain c ORDER BY c.position DESC LIMIT 1;
END;
REVOKE EXECUTE ON FUNCTION tokens.audit_checkpoint() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.audit_checkpoint() TO tokens_reader;

-- The chain against a checkpoint kept outside: the first position that
-- breaks the chain, or the checkpoint's own when the log no longer hashes
-- to it (a rewrite with every later hash recomputed, or rows removed);
-- NULL when the log up to the checkpoint still hashes to it and every
-- later row follows.
CREATE FUNCTION tokens.verify_audit_chain(checkpoint_id bigint, checkpoint_hash bytea) RETURNS bigint
LANGUAGE c STABLE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'verify_audit_chain_at_wrapper';
REVOKE EXECUTE ON FUNCTION tokens.verify_audit_chain(bigint, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.verify_audit_chain(bigint, bytea) TO tokens_reader;

-- Events (issue 18): a durable outbox of what happened to tokens, for
-- consumers that act on it (mail, chat, a ticket). Written by the
-- extension only, in the transaction that causes the event, or by the
-- background worker for time-based ones; `NOTIFY pg_tokens_events` with
-- the event's id goes out when that transaction commits. Never the
-- plaintext, nor any part of it. A consumer reads what is newer than the
-- last id it handled, then acknowledges up to it (tokens.ack_events);
-- unacknowledged events are kept for pg_tokens.event_retention (30 days).
CREATE TABLE tokens.event_store (
    id       bigint      GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL,
    kind     text        NOT NULL,
    token_id uuid,
    owner    text,
    detail   jsonb
);
CREATE INDEX event_store_at ON tokens.event_store (at);
REVOKE ALL ON tokens.event_store FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('tokens.event_store', '');
SELECT pg_catalog.pg_extension_config_dump('tokens.event_store_id_seq', '');

-- What consumers read: the outbox, oldest first by id.
CREATE VIEW tokens.events AS
    SELECT id, at, kind, token_id, owner, detail FROM tokens.event_store;
REVOKE ALL ON tokens.events FROM PUBLIC;
GRANT SELECT ON tokens.events TO tokens_reader;

-- Deletes the events up to `upto` (a consumer has handled them); the
-- number deleted. 22023 for a NULL upto.
CREATE FUNCTION tokens.ack_events(upto bigint) RETURNS bigint
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ack_events_wrapper';
REVOKE EXECUTE ON FUNCTION tokens.ack_events(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.ack_events(bigint) TO tokens_reader;

-- What the background worker does once a minute in each database (events
-- past their retention go, time-based events are written), now, in the
-- caller's transaction: without shared_preload_libraries, call it from
-- cron.
CREATE FUNCTION tokens.run_lifecycle() RETURNS void
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'run_lifecycle_wrapper';
REVOKE EXECUTE ON FUNCTION tokens.run_lifecycle() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.run_lifecycle() TO tokens_writer;

-- Which events a token has had, so that each comes once (token.expiring,
-- token.expired, token.reused; token.credits_low until its credits are
-- back), or once per window (token.rate_limited, until `until`), whatever
-- the worker's restarts, a tokens.run_lifecycle() called meanwhile,
-- concurrent verifications, or acknowledged events.
CREATE TABLE tokens.event_marks (
    token_id uuid NOT NULL,
    kind     text NOT NULL,
    until    timestamptz,
    PRIMARY KEY (token_id, kind)
);
REVOKE ALL ON tokens.event_marks FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('tokens.event_marks', '');

-- find_leaked writes a token.leaked event for each live token it finds.
ALTER FUNCTION tokens.find_leaked(text) VOLATILE;

-- issue 18: policies. Per database, set by tokens_writer with
-- tokens.set_policy and audited as token.policy; listed (every known
-- policy, set or not) in tokens.policies.
CREATE TABLE tokens.policy_store (
    name   text        PRIMARY KEY,
    value  text        NOT NULL,
    set_at timestamptz NOT NULL,
    set_by text        NOT NULL
);
REVOKE ALL ON tokens.policy_store FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('tokens.policy_store', '');

CREATE VIEW tokens.policies AS
    SELECT k.name, s.value, k.default_value, k.description, s.set_at, s.set_by
      FROM (VALUES
        (1, 'max_lifetime', NULL,
         'mint and rotate refuse an expiry later than now + this interval, or none (22023)'),
        (2, 'require_expiry', 'false',
         'mint refuses a token that never expires (22023)'),
        (3, 'revoke_unused_after', NULL,
         'the background worker revokes tokens not used for this interval (reason inactive)'),
        (4, 'revoke_on_reuse', 'false',
         'presenting a rotated token after its grace disables its successor too')
      ) AS k(ord, name, default_value, description)
      LEFT JOIN tokens.policy_store s ON s.name OPERATOR(pg_catalog.=) k.name
     ORDER BY k.ord;
REVOKE ALL ON tokens.policies FROM PUBLIC;
GRANT SELECT ON tokens.policies TO tokens_reader;

-- Sets policy `name` to `value` (NULL: back to its default).
CREATE FUNCTION tokens.set_policy(name text, value text) RETURNS void
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'set_policy_wrapper';
CREATE FUNCTION tokens.set_policy(name text, value boolean) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT tokens.set_policy($1, $2::pg_catalog.text);
END;
CREATE FUNCTION tokens.set_policy(name text, value interval) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT tokens.set_policy($1, $2::pg_catalog.text);
END;
REVOKE EXECUTE ON FUNCTION tokens.set_policy(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tokens.set_policy(text, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tokens.set_policy(text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.set_policy(text, text) TO tokens_writer;
GRANT EXECUTE ON FUNCTION tokens.set_policy(text, boolean) TO tokens_writer;
GRANT EXECUTE ON FUNCTION tokens.set_policy(text, interval) TO tokens_writer;

-- issue 18: reuse detection. Each rotation's predecessor and successor, so
-- that presenting a token after its grace can find the live end of its
-- chain. Rotations before 0.5.0 come from the audit log.
CREATE TABLE tokens.rotations (
    predecessor uuid        PRIMARY KEY,
    successor   uuid        NOT NULL,
    rotated_at  timestamptz NOT NULL
);
REVOKE ALL ON tokens.rotations FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('tokens.rotations', '');
INSERT INTO tokens.rotations (predecessor, successor, rotated_at)
    SELECT pg_catalog.substr(target, 7)::uuid, (meta OPERATOR(pg_catalog.->>) 'new_token_id')::uuid, at
      FROM tokens.audit_store
     WHERE action OPERATOR(pg_catalog.=) 'token.rotate' AND target OPERATOR(pg_catalog.~) '^token:'
    ON CONFLICT DO NOTHING;

-- issue 18: a cost per call (item 5)
-- As the scoped verify, spending `cost` credits of a capped token (and of
-- its owner's pool, below): 0 checks without spending; a token with fewer
-- credits left than `cost` is usage_exceeded and spends nothing. 22023
-- for a cost below 0 or above 1,000 (the one way this verify raises).
-- Callable by every role, like verify.
CREATE FUNCTION tokens.verify(token text, required_scopes text[], cost integer) RETURNS tokens.verification
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'verify_cost_wrapper';

-- issue 18: owner limits (item 4)
-- One rate limit and one credit pool shared by every token of an owner,
-- checked by verify together with each token's own: both must admit, the
-- refusal says which (rate_limited / usage_exceeded), and a refusal spends
-- nothing from either. Kept as a token's are: the rate window in shared
-- memory (under a key derived from the database and the owner), the
-- credits in a pool of tokens.credit_store, leased like a capped token's.
CREATE TABLE tokens.owner_limit_store (
    owner         text PRIMARY KEY,
    rate_requests integer,
    rate_per      interval,
    credit_pool   bigint
);
REVOKE ALL ON tokens.owner_limit_store FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('tokens.owner_limit_store', '');

-- NULLs clear: requests and per together, remaining (with its refill) on
-- its own; with neither, the owner has no shared limits. A new cap starts
-- a new pool (its periods start now). Audited as token.owner_limits with
-- the target owner:<owner>.
CREATE FUNCTION tokens.set_owner_limits(
    owner         text,
    requests      integer,
    per           interval,
    remaining     bigint,
    refill_amount bigint,
    refill_every  interval
) RETURNS void
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'set_owner_limits_wrapper';
REVOKE EXECUTE ON FUNCTION tokens.set_owner_limits(text, integer, interval, bigint, bigint, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.set_owner_limits(text, integer, interval, bigint, bigint, interval) TO tokens_writer;

-- The owners' shared limits, as set (remaining: the cap of each period).
CREATE VIEW tokens.owner_limits AS
SELECT o.owner, o.rate_requests, o.rate_per,
       p.remaining, p.refill_amount, p.refill_every
  FROM tokens.owner_limit_store o
  LEFT JOIN tokens.credit_store p ON p.pool = o.credit_pool;
REVOKE ALL ON tokens.owner_limits FROM PUBLIC;
GRANT SELECT ON tokens.owner_limits TO tokens_reader;

-- issue 18: PostgREST (and self-hosted Supabase) front door, for
-- `db-pre-request = "tokens.postgrest_pre_request"`. Reads the token from
-- `x-api-key`, or from `Authorization: Bearer tbm_...` (a bearer without
-- the tbm_ prefix is a JWT, left to PostgREST), authenticates it for the
-- request's transaction, and answers an invalid one with PostgREST's 401
-- (SQLSTATE PT401: HTTP 401 with {"code":"PT401","message":...}). No
-- token: the request goes on unauthenticated. The token is never repeated
-- in the error. Callable by every role, like authenticate.
CREATE FUNCTION tokens.postgrest_pre_request() RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog
AS $$
DECLARE
    headers   jsonb := COALESCE(NULLIF(current_setting('request.headers', true), ''), '{}')::jsonb;
    presented text;
    verdict   tokens.verification;
BEGIN
    IF jsonb_typeof(headers) IS DISTINCT FROM 'object' THEN
        RETURN;
    END IF;
    presented := substring(headers ->> 'authorization' FROM '^[Bb][Ee][Aa][Rr][Ee][Rr][[:space:]]+(tbm_.*)$');
    IF presented IS NULL THEN
        presented := headers ->> 'x-api-key';
    END IF;
    IF presented IS NULL OR presented = '' THEN
        RETURN;
    END IF;
    verdict := tokens.authenticate(presented);
    IF NOT verdict.valid THEN
        RAISE SQLSTATE 'PT401' USING
            MESSAGE = 'invalid API token',
            DETAIL = 'the token presented is ' || verdict.status,
            HINT = 'present a valid token in the x-api-key header or as Authorization: Bearer';
    END IF;
END
$$;

-- issue 18: import of existing keys. A team moving from a hand-written
-- table passes each key's SHA-256 (never the plaintext) and a display
-- prefix; the key then verifies like a minted token (verify hashes a
-- presented key that is not in the tbm_ format when it is 16 to 512
-- visible ASCII characters). tokens_writer only, audited as token.import;
-- a hash already stored is refused with 23505.
CREATE FUNCTION tokens.import_meta_text(hash bytea, prefix text, name text, scopes text[], expires_at timestamptz, kind text, owner text, meta text)
RETURNS uuid
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'import_meta_text_wrapper';
CREATE FUNCTION tokens.import(
    hash       bytea,
    prefix     text,
    name       text,
    scopes     text[]      DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL,
    kind       text        DEFAULT 'service',
    owner      text        DEFAULT NULL,
    meta       jsonb       DEFAULT NULL
) RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL UNSAFE
AS $$ SELECT tokens.import_meta_text($1, $2, $3, $4, $5, $6, $7, $8::pg_catalog.text) $$;
REVOKE EXECUTE ON FUNCTION tokens.import_meta_text(bytea, text, text, text[], timestamptz, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tokens.import(bytea, text, text, text[], timestamptz, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tokens.import_meta_text(bytea, text, text, text[], timestamptz, text, text, text) TO tokens_writer;
GRANT EXECUTE ON FUNCTION tokens.import(bytea, text, text, text[], timestamptz, text, text, jsonb) TO tokens_writer;
