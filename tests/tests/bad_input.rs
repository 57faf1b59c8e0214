//! Bad input, table-driven: every case is a clear PostgreSQL error with the
//! documented SQLSTATE, a message saying what is allowed, no plaintext token
//! in the message, and nothing written. Every function of schema `tokens`
//! that takes input has cases (or is listed in NEVER_REFUSES_INPUT).

use std::collections::BTreeSet;

use pg_tokens_tests::sql::{mint, try_mint, try_revoke};
use pg_tokens_tests::{detail, message, sqlstate, Cluster, Db};
use uuid::Uuid;

struct Case {
    what: &'static str,
    sql: String,
    state: &'static str,
}

fn case(what: &'static str, state: &'static str, sql: impl Into<String>) -> Case {
    Case {
        what,
        sql: sql.into(),
        state,
    }
}

/// JSON of exactly 4097 bytes as `octet_length(meta::text)`: `{"k": "` (7),
/// 4088 x's, `"}` (2).
const META_4097: &str = "jsonb_build_object('k', repeat('x', 4088))";

/// The bad inputs: `t` a live plaintext (pasted where it does not belong:
/// no message may repeat it), `id` the caller's token, `their_id` another
/// owner's token, `revoked_id` a revoked token of the caller's.
fn cases(t: &str, id: Uuid, their_id: Uuid, revoked_id: Uuid) -> Vec<Case> {
    let seventeen = "(SELECT array_agg('s' || g) FROM generate_series(1, 17) g)";
    let huge = "(SELECT array_agg('s' || g) FROM generate_series(1, 100000) g)";
    vec![
        // mint: name
        case("name NULL", "22023", "SELECT tokens.mint(NULL)"),
        case("name empty", "22023", "SELECT tokens.mint('')"),
        case(
            "name 81 chars",
            "22023",
            "SELECT tokens.mint(repeat('n', 81))",
        ),
        case(
            "name 81 multibyte chars",
            "22023",
            "SELECT tokens.mint(repeat('é', 81))",
        ),
        case(
            "name a megabyte",
            "22023",
            "SELECT tokens.mint(repeat('n', 1048576))",
        ),
        case(
            "name with a newline",
            "22023",
            "SELECT tokens.mint(E'a\\nb')",
        ),
        case("name with a tab", "22023", "SELECT tokens.mint(E'a\\tb')"),
        case(
            "name with an escape sequence",
            "22023",
            "SELECT tokens.mint(E'\\x1b[31mred')",
        ),
        case(
            "name with DEL",
            "22023",
            "SELECT tokens.mint('a' || chr(127))",
        ),
        case(
            "name with a C1 control",
            "22023",
            "SELECT tokens.mint('a' || chr(133))",
        ),
        case(
            "name is a token plus a newline",
            "22023",
            format!("SELECT tokens.mint(E'{t}\\n')"),
        ),
        // mint: scopes
        case(
            "17 scopes",
            "22023",
            format!("SELECT tokens.mint('n', {seventeen})"),
        ),
        case(
            "100k scopes",
            "22023",
            format!("SELECT tokens.mint('n', {huge})"),
        ),
        case(
            "duplicate scope",
            "22023",
            "SELECT tokens.mint('n', ARRAY['a', 'a'])",
        ),
        case("empty scope", "22023", "SELECT tokens.mint('n', ARRAY[''])"),
        case(
            "NULL scope element",
            "22023",
            "SELECT tokens.mint('n', ARRAY['a', NULL])",
        ),
        case(
            "41-char scope",
            "22023",
            "SELECT tokens.mint('n', ARRAY[repeat('a', 41)])",
        ),
        case(
            "upper-case scope",
            "22023",
            "SELECT tokens.mint('n', ARRAY['Docs:read'])",
        ),
        case(
            "scope with a leading digit",
            "22023",
            "SELECT tokens.mint('n', ARRAY['1docs'])",
        ),
        case(
            "scope with a space",
            "22023",
            "SELECT tokens.mint('n', ARRAY['docs read'])",
        ),
        case(
            "scope with a slash",
            "22023",
            "SELECT tokens.mint('n', ARRAY['docs/read'])",
        ),
        case(
            "non-ASCII scope",
            "22023",
            "SELECT tokens.mint('n', ARRAY['dócs'])",
        ),
        case(
            "scope that is a token",
            "22023",
            format!("SELECT tokens.mint('n', ARRAY['{t}'])"),
        ),
        case(
            "two-dimensional scopes",
            "22023",
            "SELECT tokens.mint('n', ARRAY[['a'], ['b']])",
        ),
        // mint: expiry
        case(
            "expiry now",
            "22023",
            "SELECT tokens.mint('n', NULL, now())",
        ),
        case(
            "expiry in the past",
            "22023",
            "SELECT tokens.mint('n', NULL, now() - interval '1 day')",
        ),
        case(
            "expiry -infinity",
            "22023",
            "SELECT tokens.mint('n', NULL, '-infinity')",
        ),
        // mint: kind
        case(
            "kind not service/personal",
            "22023",
            "SELECT tokens.mint('n', kind => 'group')",
        ),
        case(
            "kind upper case",
            "22023",
            "SELECT tokens.mint('n', kind => 'Service')",
        ),
        case(
            "kind NULL",
            "22023",
            "SELECT tokens.mint('n', kind => NULL)",
        ),
        // mint: owner
        case(
            "owner empty",
            "22023",
            "SELECT tokens.mint('n', owner => '')",
        ),
        case(
            "owner 81 chars",
            "22023",
            "SELECT tokens.mint('n', owner => repeat('o', 81))",
        ),
        case(
            "owner with a newline",
            "22023",
            format!("SELECT tokens.mint('n', owner => E'{t}\\n')"),
        ),
        // revoke
        case(
            "revoke an unknown id",
            "P0002",
            format!("SELECT tokens.revoke('{}')", uuid::Uuid::now_v7()),
        ),
        case("revoke NULL id", "22023", "SELECT tokens.revoke(NULL)"),
        case(
            "revoke another owner's token",
            "42501",
            format!("SELECT tokens.revoke('{their_id}')"),
        ),
        case(
            "revoke with a 201-char reason",
            "22023",
            format!("SELECT tokens.revoke('{id}', reason => repeat('r', 201))"),
        ),
        case(
            "revoke with an empty actor",
            "22023",
            format!("SELECT tokens.revoke('{id}', actor => '')"),
        ),
        case(
            "revoke with an actor holding a control char",
            "22023",
            format!("SELECT tokens.revoke('{id}', actor => E'{t}\\r')"),
        ),
        // rotate
        case(
            "rotate an unknown id",
            "P0002",
            format!("SELECT tokens.rotate('{}')", uuid::Uuid::now_v7()),
        ),
        case("rotate NULL id", "22023", "SELECT tokens.rotate(NULL)"),
        case(
            "rotate another owner's token",
            "42501",
            format!("SELECT tokens.rotate('{their_id}')"),
        ),
        case(
            "rotate a revoked token",
            "22023",
            format!("SELECT tokens.rotate('{revoked_id}')"),
        ),
        case(
            "rotate with negative grace",
            "22023",
            format!("SELECT tokens.rotate('{id}', '-1 second')"),
        ),
        case(
            "rotate with 31 days of grace",
            "22023",
            format!("SELECT tokens.rotate('{id}', '31 days')"),
        ),
        case(
            "rotate with 2 months of grace",
            "22023",
            format!("SELECT tokens.rotate('{id}', '2 months')"),
        ),
        case(
            "rotate with absurd grace",
            "22023",
            format!("SELECT tokens.rotate('{id}', '178000000 years')"),
        ),
        case(
            "rotate with NULL grace",
            "22023",
            format!("SELECT tokens.rotate('{id}', NULL)"),
        ),
        case(
            "rotate for another actor, wrongly",
            "42501",
            format!("SELECT tokens.rotate('{id}', '0', '{t}')"),
        ),
        // set_rate_limit
        case(
            "rate limit of NULL id",
            "22023",
            "SELECT tokens.set_rate_limit(NULL, 5, '1 second')",
        ),
        case(
            "rate limit of 0 requests",
            "22023",
            format!("SELECT tokens.set_rate_limit('{id}', 0, '1 second')"),
        ),
        case(
            "rate limit of -3 requests",
            "22023",
            format!("SELECT tokens.set_rate_limit('{id}', -3, '1 minute')"),
        ),
        case(
            "rate limit with NULL per",
            "22023",
            format!("SELECT tokens.set_rate_limit('{id}', 5, NULL)"),
        ),
        case(
            "rate limit per 999 ms",
            "22023",
            format!("SELECT tokens.set_rate_limit('{id}', 5, '999 milliseconds')"),
        ),
        case(
            "rate limit per 25 hours",
            "22023",
            format!("SELECT tokens.set_rate_limit('{id}', 5, '25 hours')"),
        ),
        case(
            "rate limit per a month",
            "22023",
            format!("SELECT tokens.set_rate_limit('{id}', 5, '1 month')"),
        ),
        case(
            "rate limit per negative",
            "22023",
            format!("SELECT tokens.set_rate_limit('{id}', 5, '-1 second')"),
        ),
        case(
            "rate limit of an unknown token",
            "P0002",
            "SELECT tokens.set_rate_limit('00000000-0000-7000-8000-000000000000', 5, '1 second')",
        ),
        // set_owner_limits
        case(
            "owner limits negative remaining",
            "22023",
            "SELECT tokens.set_owner_limits('group:bad', NULL, NULL, -1, NULL, NULL)",
        ),
        case(
            "owner limits refill without remaining",
            "22023",
            "SELECT tokens.set_owner_limits('group:bad', NULL, NULL, NULL, 5, '1 day')",
        ),
        // import
        case(
            "import with a NULL hash",
            "22023",
            "SELECT tokens.import(NULL, 'legacy_', 'imported')",
        ),
        case(
            "import with a hash of 31 bytes",
            "22023",
            "SELECT tokens.import(substring(sha256('k'::bytea) from 2), 'legacy_', 'imported')",
        ),
        case(
            "import with a prefix of 13 characters",
            "22023",
            "SELECT tokens.import(sha256('bad-input-key'::bytea), 'legacy_123456', 'imported')",
        ),
        case(
            "import with an empty prefix",
            "22023",
            "SELECT tokens.import(sha256('bad-input-key'::bytea), '', 'imported')",
        ),
        case(
            "import with a past expiry",
            "22023",
            "SELECT tokens.import(sha256('bad-input-key'::bytea), 'legacy_', 'imported', expires_at => now() - interval '1 day')",
        ),
        // import_meta_text: the helper behind import, granted to tokens_writer
        case(
            "import_meta_text with text that is not JSON",
            "22023",
            "SELECT tokens.import_meta_text(sha256('bad-input-key'::bytea), 'legacy_', 'n', NULL, NULL, 'service', NULL, 'not json')",
        ),
        case(
            "import_meta_text with an unknown kind",
            "22023",
            "SELECT tokens.import_meta_text(sha256('bad-input-key'::bytea), 'legacy_', 'n', NULL, NULL, 'robot', NULL, NULL)",
        ),
        // set_policy
        case(
            "policy unknown",
            "22023",
            "SELECT tokens.set_policy('max_age', '1 day')",
        ),
        case(
            "policy interval out of range",
            "22023",
            "SELECT tokens.set_policy('max_lifetime', '30 seconds')",
        ),
        case(
            "policy boolean not a boolean",
            "22023",
            "SELECT tokens.set_policy('require_expiry', 'maybe')",
        ),
        // ack_events
        case(
            "ack events NULL",
            "22023",
            "SELECT tokens.ack_events(NULL)",
        ),
        // set_remaining
        case(
            "credits of NULL id",
            "22023",
            "SELECT tokens.set_remaining(NULL, 5)",
        ),
        case(
            "credits negative",
            "22023",
            format!("SELECT tokens.set_remaining('{id}', -1)"),
        ),
        case(
            "credits refill amount without interval",
            "22023",
            format!("SELECT tokens.set_remaining('{id}', 10, 5)"),
        ),
        case(
            "credits refill interval without amount",
            "22023",
            format!("SELECT tokens.set_remaining('{id}', 10, NULL, '1 hour')"),
        ),
        case(
            "credits refill without remaining",
            "22023",
            format!("SELECT tokens.set_remaining('{id}', NULL, 5, '1 hour')"),
        ),
        case(
            "credits refill amount negative",
            "22023",
            format!("SELECT tokens.set_remaining('{id}', 10, -5, '1 hour')"),
        ),
        case(
            "credits refilled every 999 ms",
            "22023",
            format!("SELECT tokens.set_remaining('{id}', 10, 5, '999 milliseconds')"),
        ),
        case(
            "credits refilled every negative interval",
            "22023",
            format!("SELECT tokens.set_remaining('{id}', 10, 5, '-1 day')"),
        ),
        case(
            "credits refilled every 11 years",
            "22023",
            format!("SELECT tokens.set_remaining('{id}', 10, 5, '11 years')"),
        ),
        case(
            "credits of an unknown token",
            "P0002",
            "SELECT tokens.set_remaining('00000000-0000-7000-8000-000000000000', 5)",
        ),
        // usage
        case(
            "usage of NULL id",
            "22023",
            "SELECT * FROM tokens.usage(NULL, now(), '1 hour')",
        ),
        case(
            "usage since NULL",
            "22023",
            format!("SELECT * FROM tokens.usage('{id}', NULL, '1 hour')"),
        ),
        case(
            "usage bucket NULL",
            "22023",
            format!("SELECT * FROM tokens.usage('{id}', now(), NULL)"),
        ),
        case(
            "usage bucket 30 s",
            "22023",
            format!("SELECT * FROM tokens.usage('{id}', now() - interval '1 hour', '30 seconds')"),
        ),
        case(
            "usage bucket 90 s",
            "22023",
            format!("SELECT * FROM tokens.usage('{id}', now() - interval '1 hour', '90 seconds')"),
        ),
        case(
            "usage bucket negative",
            "22023",
            format!("SELECT * FROM tokens.usage('{id}', now() - interval '1 hour', '-1 hour')"),
        ),
        case(
            "usage of 10,001 buckets",
            "22023",
            format!(
                "SELECT * FROM tokens.usage('{id}', now() - interval '10001 minutes', '1 minute')"
            ),
        ),
        case(
            "usage since -infinity",
            "22023",
            format!("SELECT * FROM tokens.usage('{id}', '-infinity', '1 day')"),
        ),
        case(
            "usage of an unknown token",
            "P0002",
            "SELECT * FROM tokens.usage('00000000-0000-7000-8000-000000000000', now(), '1 hour')",
        ),
        // define_scope
        case(
            "define a NULL scope",
            "22023",
            "SELECT tokens.define_scope(NULL, 'd')",
        ),
        case(
            "define an upper-case scope",
            "22023",
            "SELECT tokens.define_scope('Bad', 'd')",
        ),
        case(
            "define a scope with a 201-char description",
            "22023",
            "SELECT tokens.define_scope('ok', repeat('d', 201))",
        ),
        case(
            "define a scope with a control char in its description",
            "22023",
            "SELECT tokens.define_scope('ok', E'a\\x07')",
        ),
        // mint: encodings the server itself refuses before the call
        case(
            "name with a NUL character",
            "54000",
            "SELECT tokens.mint('a' || chr(0))",
        ),
        case(
            "name of invalid UTF-8",
            "22021",
            "SELECT tokens.mint(convert_from('\\xc3'::bytea, 'UTF8'))",
        ),
        // mint: more scopes, kind, owner
        case(
            "scopes of only a NULL",
            "22023",
            "SELECT tokens.mint('n', ARRAY[NULL]::text[])",
        ),
        case(
            "100k NULL scopes",
            "22023",
            "SELECT tokens.mint('n', array_fill(NULL::text, ARRAY[100000]))",
        ),
        case(
            "a scope of a megabyte",
            "22023",
            "SELECT tokens.mint('n', ARRAY[repeat('a', 1048576)])",
        ),
        case("kind empty", "22023", "SELECT tokens.mint('n', kind => '')"),
        case(
            "owner with DEL",
            "22023",
            "SELECT tokens.mint('n', owner => 'a' || chr(127))",
        ),
        case(
            "owner a megabyte",
            "22023",
            "SELECT tokens.mint('n', owner => repeat('o', 1048576))",
        ),
        // mint: meta
        case(
            "meta a JSON array",
            "22023",
            "SELECT tokens.mint('n', meta => '[1, 2]')",
        ),
        case(
            "meta a JSON string",
            "22023",
            format!("SELECT tokens.mint('n', meta => '\"{t}\"')"),
        ),
        case(
            "meta a JSON number",
            "22023",
            "SELECT tokens.mint('n', meta => '1')",
        ),
        case(
            "meta JSON null",
            "22023",
            "SELECT tokens.mint('n', meta => 'null')",
        ),
        case(
            "meta of 4097 bytes",
            "22023",
            format!("SELECT tokens.mint('n', meta => {META_4097})"),
        ),
        case(
            "meta a megabyte",
            "22023",
            "SELECT tokens.mint('n', meta => jsonb_build_object('k', repeat('x', 1048576)))",
        ),
        case(
            "meta not JSON",
            "22P02",
            "SELECT tokens.mint('n', meta => '{\"k\": ')",
        ),
        case(
            "meta with a NUL escape",
            "22P05",
            "SELECT tokens.mint('n', meta => '{\"k\": \"\\u0000\"}')",
        ),
        // mint_meta_text: the helper behind mint, granted to tokens_writer
        case(
            "mint_meta_text with text that is not JSON",
            "22023",
            "SELECT tokens.mint_meta_text('n', NULL, NULL, 'service', NULL, 'not json')",
        ),
        case(
            "mint_meta_text with a JSON array",
            "22023",
            "SELECT tokens.mint_meta_text('n', NULL, NULL, 'service', NULL, '[1]')",
        ),
        case(
            "mint_meta_text with an empty name",
            "22023",
            "SELECT tokens.mint_meta_text('', NULL, NULL, 'service', NULL, NULL)",
        ),
        // revoke, rotate: more
        case(
            "revoke with a megabyte reason",
            "22023",
            format!("SELECT tokens.revoke('{id}', reason => repeat('r', 1048576))"),
        ),
        case(
            "revoke with an 81-char actor",
            "22023",
            format!("SELECT tokens.revoke('{id}', actor => repeat('a', 81))"),
        ),
        case(
            "rotate with 30 days and a second of grace",
            "22023",
            format!("SELECT tokens.rotate('{id}', '30 days 1 second')"),
        ),
        case(
            "rotate with an empty actor",
            "22023",
            format!("SELECT tokens.rotate('{id}', '0', '')"),
        ),
        // set_rate_limit: more
        case(
            "rate limit per 0 seconds",
            "22023",
            format!("SELECT tokens.set_rate_limit('{id}', 5, '0 seconds')"),
        ),
        case(
            "rate limit of 2^31 requests",
            "22003",
            format!("SELECT tokens.set_rate_limit('{id}', '2147483648', '1 second')"),
        ),
        // set_allowed_ips
        case(
            "allowlist of NULL id",
            "22023",
            "SELECT tokens.set_allowed_ips(NULL, '{10.0.0.0/8}')",
        ),
        case(
            "allowlist empty",
            "22023",
            format!("SELECT tokens.set_allowed_ips('{id}', '{{}}')"),
        ),
        case(
            "allowlist of 65 networks",
            "22023",
            format!(
                "SELECT tokens.set_allowed_ips('{id}', \
                   (SELECT array_agg(('10.0.' || g || '.0/24')::cidr) FROM generate_series(1, 65) g))"
            ),
        ),
        case(
            "allowlist of 100k networks",
            "22023",
            format!(
                "SELECT tokens.set_allowed_ips('{id}', \
                   (SELECT array_agg(('10.' || g / 65536 || '.' || g / 256 % 256 || '.' || g % 256 || '/32')::cidr) \
                      FROM generate_series(1, 100000) g))"
            ),
        ),
        case(
            "allowlist of only a NULL",
            "22023",
            format!("SELECT tokens.set_allowed_ips('{id}', ARRAY[NULL]::cidr[])"),
        ),
        case(
            "allowlist with a NULL network",
            "22023",
            format!("SELECT tokens.set_allowed_ips('{id}', ARRAY['10.0.0.0/8', NULL]::cidr[])"),
        ),
        case(
            "two-dimensional allowlist",
            "22023",
            format!("SELECT tokens.set_allowed_ips('{id}', '{{{{10.0.0.0/8}},{{10.1.0.0/16}}}}')"),
        ),
        case(
            "allowlist with a /33",
            "22P02",
            format!("SELECT tokens.set_allowed_ips('{id}', '{{10.0.0.0/33}}')"),
        ),
        case(
            "allowlist with host bits set",
            "22P02",
            format!("SELECT tokens.set_allowed_ips('{id}', '{{10.0.0.1/8}}')"),
        ),
        case(
            "allowlist with a host name",
            "22P02",
            format!("SELECT tokens.set_allowed_ips('{id}', '{{example.com}}')"),
        ),
        case(
            "allowlist with an IPv6 /129",
            "22P02",
            format!("SELECT tokens.set_allowed_ips('{id}', '{{::1/129}}')"),
        ),
        case(
            "allowlist of an unknown token",
            "P0002",
            "SELECT tokens.set_allowed_ips('00000000-0000-7000-8000-000000000000', '{10.0.0.0/8}')",
        ),
        // set_allowed_ips_text: the helper behind it, granted to tokens_writer
        case(
            "allowed_ips_text not a network",
            "22023",
            format!("SELECT tokens.set_allowed_ips_text('{id}', '{{nonsense}}')"),
        ),
        case(
            "allowed_ips_text with host bits right of the mask",
            "22023",
            format!("SELECT tokens.set_allowed_ips_text('{id}', '{{10.0.0.1/8}}')"),
        ),
        case(
            "allowed_ips_text empty",
            "22023",
            format!("SELECT tokens.set_allowed_ips_text('{id}', '{{}}')"),
        ),
        // set_meta
        case(
            "meta of NULL id",
            "22023",
            "SELECT tokens.set_meta(NULL, '{}')",
        ),
        case(
            "set meta to an array",
            "22023",
            format!("SELECT tokens.set_meta('{id}', '[]')"),
        ),
        case(
            "set meta to JSON null",
            "22023",
            format!("SELECT tokens.set_meta('{id}', 'null')"),
        ),
        case(
            "set meta to a boolean",
            "22023",
            format!("SELECT tokens.set_meta('{id}', 'true')"),
        ),
        case(
            "set meta of 4097 bytes",
            "22023",
            format!("SELECT tokens.set_meta('{id}', {META_4097})"),
        ),
        case(
            "set meta to text that is not JSON",
            "22P02",
            format!("SELECT tokens.set_meta('{id}', '{{')"),
        ),
        case(
            "meta of an unknown token",
            "P0002",
            "SELECT tokens.set_meta('00000000-0000-7000-8000-000000000000', '{}')",
        ),
        // set_meta_text: the helper behind it, granted to tokens_writer
        case(
            "meta_text not JSON",
            "22023",
            format!("SELECT tokens.set_meta_text('{id}', 'nope')"),
        ),
        case(
            "meta_text an array",
            "22023",
            format!("SELECT tokens.set_meta_text('{id}', '[1]')"),
        ),
        // disable / enable
        case("disable NULL", "22023", "SELECT tokens.disable(NULL)"),
        case("enable NULL", "22023", "SELECT tokens.enable(NULL)"),
        case(
            "disable an unknown token",
            "P0002",
            "SELECT tokens.disable('00000000-0000-7000-8000-000000000000')",
        ),
        case(
            "enable an unknown token",
            "P0002",
            "SELECT tokens.enable('00000000-0000-7000-8000-000000000000')",
        ),
        // usage: more
        case(
            "usage bucket 0",
            "22023",
            format!("SELECT * FROM tokens.usage('{id}', now() - interval '1 hour', '0')"),
        ),
        case(
            "usage of a million buckets",
            "22023",
            format!("SELECT * FROM tokens.usage('{id}', now() - interval '1000000 minutes', '1 minute')"),
        ),
        // audit
        case("audit action NULL", "22023", "SELECT tokens.audit(NULL, 't')"),
        case("audit action empty", "22023", "SELECT tokens.audit('', 't')"),
        case(
            "audit action reserved",
            "22023",
            "SELECT tokens.audit('token.create', 't')",
        ),
        case(
            "audit action upper case",
            "22023",
            "SELECT tokens.audit('Invoice.paid', 't')",
        ),
        case(
            "audit action 81 chars",
            "22023",
            "SELECT tokens.audit(repeat('a', 81), 't')",
        ),
        case(
            "audit action with a space",
            "22023",
            "SELECT tokens.audit('invoice paid', 't')",
        ),
        case(
            "audit action a token",
            "22023",
            format!("SELECT tokens.audit('{t}', 't')"),
        ),
        case(
            "audit target 201 chars",
            "22023",
            "SELECT tokens.audit('a.b', repeat('t', 201))",
        ),
        case(
            "audit target with a newline",
            "22023",
            "SELECT tokens.audit('a.b', E't\\n')",
        ),
        case(
            "audit meta an array",
            "22023",
            "SELECT tokens.audit('a.b', 't', '[]')",
        ),
        case(
            "audit meta a string",
            "22023",
            "SELECT tokens.audit('a.b', 't', '\"s\"')",
        ),
        case(
            "audit meta JSON null",
            "22023",
            "SELECT tokens.audit('a.b', 't', 'null')",
        ),
        case(
            "audit meta of 4097 bytes",
            "22023",
            format!("SELECT tokens.audit('a.b', 't', {META_4097})"),
        ),
        case(
            "audit meta setting via",
            "22023",
            "SELECT tokens.audit('a.b', 't', '{\"via\": \"token\"}')",
        ),
        case(
            "audit meta setting token_id",
            "22023",
            "SELECT tokens.audit('a.b', 't', '{\"token_id\": \"x\"}')",
        ),
        // verify_audit_chain against a checkpoint
        case(
            "checkpoint id 0",
            "22023",
            "SELECT tokens.verify_audit_chain(0, decode(repeat('00', 32), 'hex'))",
        ),
        case(
            "checkpoint hash of 31 bytes",
            "22023",
            "SELECT tokens.verify_audit_chain(1, decode(repeat('00', 31), 'hex'))",
        ),
        case(
            "checkpoint NULL",
            "22023",
            "SELECT tokens.verify_audit_chain(NULL, NULL)",
        ),
        // define_scope: more
        case(
            "define an empty scope",
            "22023",
            "SELECT tokens.define_scope('', 'd')",
        ),
        case(
            "define a 41-char scope",
            "22023",
            "SELECT tokens.define_scope(repeat('a', 41), 'd')",
        ),
        // require_scope: without a principal, whatever the scope
        case(
            "require a NULL scope",
            "42501",
            "SELECT tokens.require_scope(NULL)",
        ),
        case(
            "require a megabyte scope",
            "42501",
            "SELECT tokens.require_scope(repeat('s', 1048576))",
        ),
    ]
}

#[test]
fn every_bad_input_is_refused_with_its_sqlstate_and_writes_nothing() {
    let db = Cluster::shared().database();
    let (me, mut app) = db.client(&["tokens_writer", "tokens_revoker", "tokens_reader"]);
    let (other, mut other_app) = db.client(&["tokens_writer", "tokens_revoker"]);
    // Live plaintexts, pasted into every kind of wrong argument below: no
    // message may repeat them.
    let live = mint(&mut app, "live");
    let others = mint(&mut other_app, "theirs");
    let revoked = mint(&mut app, "revoked");
    assert!(try_revoke(&mut app, revoked.id, None).unwrap());
    let t = &live.token;
    let (id, their_id, revoked_id) = (live.id, others.id, revoked.id);
    let _ = other;

    let cases = cases(t, id, their_id, revoked_id);
    assert!(cases.len() >= 40, "{} cases", cases.len());

    for c in &cases {
        let before = (db.counts(), written(&db));
        let r = app.batch_execute(&c.sql);
        assert_eq!(sqlstate(&r), c.state, "{}: {:?}", c.what, r);
        let msg = message(&r);
        assert!(msg.len() > 20, "{}: message too terse: {msg}", c.what);
        if c.state == "22023" {
            // The argument at fault, by its SQL name, for clients that
            // point at the field to fix.
            let detail = detail(&r);
            let argument = detail.strip_prefix("argument: ").unwrap_or_else(|| {
                panic!("{}: DETAIL {detail:?} does not name the argument", c.what)
            });
            let names = parameter_names(&mut app, &c.sql);
            assert!(
                names.iter().any(|n| n == argument),
                "{}: DETAIL names {argument:?}, not a parameter of the function called ({names:?})",
                c.what
            );
        }
        assert!(
            !msg.contains(&t[4..]),
            "{}: the message repeats a plaintext token",
            c.what
        );
        assert_eq!(
            (db.counts(), written(&db)),
            before,
            "{}: something was written",
            c.what
        );
    }
    // The session is healthy and the live token untouched.
    assert!(pg_tokens_tests::sql::verify(&mut app, Some(t)).valid);
    let _ = me;
    println!(
        "bad input: {} distinct cases ran, each refused with its SQLSTATE and nothing written",
        cases.len()
    );
}

/// The parameter names of every function of schema `tokens` the first call
/// in `sql` may be (all its overloads).
fn parameter_names(c: &mut postgres::Client, sql: &str) -> Vec<String> {
    let function = sql
        .split("tokens.")
        .nth(1)
        .and_then(|rest| rest.split('(').next())
        .unwrap_or_default();
    c.query(
        "SELECT DISTINCT unnest(proargnames) FROM pg_proc
          WHERE pronamespace = 'tokens'::regnamespace AND proname = $1",
        &[&function],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Everything a bad input could have changed: the tokens (with their
/// settings), the audit log and the scope catalogue, as a digest.
fn written(db: &Db) -> String {
    db.admin()
        .query_one(
            "SELECT md5(concat_ws('|',
                 (SELECT string_agg(t::text, ',' ORDER BY t.id) FROM tokens.token_store t),
                 (SELECT string_agg(a::text, ',' ORDER BY a.id) FROM tokens.audit_store a),
                 (SELECT string_agg(s::text, ',' ORDER BY s.scope) FROM tokens.scope_catalog s)))",
            &[],
        )
        .unwrap()
        .get(0)
}

/// Functions of schema `tokens` that take arguments but refuse none: they
/// never raise for any input (verify, authenticate, has_scope,
/// find_leaked: SPEC §2), or compute from their arguments alone.
const NEVER_REFUSES_INPUT: &[&str] = &[
    "verify",
    "authenticate",
    "has_scope",
    "find_leaked",
    "token_status",
    "audit_row_hash",
    "credits_left",
];

#[test]
fn the_cases_are_distinct_and_cover_every_function_that_takes_input() {
    let cases = cases(
        "tbm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let mut names = BTreeSet::new();
    let mut sql = BTreeSet::new();
    for c in &cases {
        assert!(names.insert(c.what), "two cases are named {:?}", c.what);
        assert!(sql.insert(c.sql.as_str()), "two cases run {:?}", c.sql);
    }
    let db = Cluster::shared().database();
    let takes_input: BTreeSet<String> = db
        .admin()
        .query(
            "SELECT DISTINCT proname::text FROM pg_proc \
              WHERE pronamespace = 'tokens'::regnamespace AND pronargs > 0",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let uncovered: Vec<&String> = takes_input
        .iter()
        .filter(|f| !NEVER_REFUSES_INPUT.contains(&f.as_str()))
        .filter(|f| {
            !cases
                .iter()
                .any(|c| c.sql.contains(&format!("tokens.{f}(")))
        })
        .collect();
    assert!(
        uncovered.is_empty(),
        "functions of schema tokens that take input but have no case in bad_input.rs: {uncovered:?}"
    );
    println!("bad input: {} distinct cases", cases.len());
}

#[test]
fn catalogue_refusal_writes_nothing() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(&["tokens_writer"]);
    app.execute("SELECT tokens.define_scope('docs:read', 'Read')", &[])
        .unwrap();
    let before = db.counts();
    let r = try_mint(&mut app, "'n', ARRAY['docs:write']", &[]);
    assert_eq!(sqlstate(&r), "22023");
    assert!(message(&r).contains("tokens.define_scope"));
    assert_eq!(db.counts(), before);
}
