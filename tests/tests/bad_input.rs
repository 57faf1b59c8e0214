//! Bad input, table-driven: every case is a clear PostgreSQL error with the
//! documented SQLSTATE, a message saying what is allowed, no plaintext token
//! in the message, and nothing written.

use pg_tokens_tests::sql::{mint, try_mint, try_revoke};
use pg_tokens_tests::{message, sqlstate, Cluster};

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

    let seventeen = "(SELECT array_agg('s' || g) FROM generate_series(1, 17) g)";
    let huge = "(SELECT array_agg('s' || g) FROM generate_series(1, 100000) g)";
    let cases = vec![
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
    ];
    assert!(cases.len() >= 40, "{} cases", cases.len());

    let scopes = |db: &pg_tokens_tests::Db| -> i64 {
        db.admin()
            .query_one("SELECT count(*) FROM tokens.scope_catalog", &[])
            .unwrap()
            .get(0)
    };
    for c in &cases {
        let before = (db.counts(), scopes(&db));
        let r = app.batch_execute(&c.sql);
        assert_eq!(sqlstate(&r), c.state, "{}: {:?}", c.what, r);
        let msg = message(&r);
        assert!(msg.len() > 20, "{}: message too terse: {msg}", c.what);
        assert!(
            !msg.contains(&t[4..]),
            "{}: the message repeats a plaintext token",
            c.what
        );
        assert_eq!(
            (db.counts(), scopes(&db)),
            before,
            "{}: something was written",
            c.what
        );
    }
    // The session is healthy and the live token untouched.
    assert!(pg_tokens_tests::sql::verify(&mut app, Some(t)).valid);
    let _ = me;
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
