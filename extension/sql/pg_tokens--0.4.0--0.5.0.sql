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
-- them cannot slip a look-alike function into a caller's call (and
-- verify_audit_chain runs as the extension's owner).
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

CREATE OR REPLACE FUNCTION tokens.verify_audit_chain() RETURNS bigint
LANGUAGE sql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  SELECT min(a.id)
    FROM (SELECT s.id, s.hash,
                 tokens.audit_row_hash(lag(s.hash) OVER w, s.id, s.at, s.actor, s.db_role,
                                       s.action, s.target, s.meta::text) AS expected,
                 row_number() OVER w AS n
            FROM tokens.audit_store s
          WINDOW w AS (ORDER BY s.id)) a
   WHERE a.id <> a.n OR a.hash IS DISTINCT FROM a.expected;
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
