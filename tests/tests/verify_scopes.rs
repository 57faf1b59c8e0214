//! `tokens.verify(token, required_scopes)` (SPEC §2, §7): `forbidden` unless
//! the token grants every required scope, in its place in the order of
//! refusals, spending no rate-limit slot, never raising.

use pg_tokens_tests::sql::{try_mint, try_revoke, verify_requiring};
use pg_tokens_tests::{eventually, Cluster};

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

#[test]
fn forbidden_unless_every_required_scope_is_granted() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let reader = try_mint(&mut app, "'reader', ARRAY['docs:read', 'docs:list']", &[]).unwrap();
    let all = try_mint(&mut app, "'all'", &[]).unwrap();
    let none = try_mint(&mut app, "'none', ARRAY[]::text[]", &[]).unwrap();
    let (_, mut plain) = db.client(&[]);
    let status = |c: &mut postgres::Client, t: &str, req: &str| verify_requiring(c, t, req).status;

    for (token, required, want) in [
        (&reader.token, "'{docs:read}'", "valid"),
        (&reader.token, "'{docs:list,docs:read}'", "valid"),
        (&reader.token, "'{docs:read,docs:write}'", "forbidden"),
        (&reader.token, "NULL", "valid"),
        (&reader.token, "'{}'", "valid"),
        (&reader.token, "ARRAY[NULL]", "forbidden"),
        (&reader.token, "ARRAY['docs:read', NULL]", "forbidden"),
        (&all.token, "'{docs:read,billing:admin}'", "valid"),
        (&all.token, "ARRAY[NULL]", "forbidden"),
        (&none.token, "'{docs:read}'", "forbidden"),
        (&none.token, "'{}'", "valid"),
    ] {
        assert_eq!(status(&mut plain, token, required), want, "{required}");
    }
    // A refusal names the token and nothing else about it.
    let v = verify_requiring(&mut plain, &reader.token, "'{docs:write}'");
    assert_eq!(
        (v.valid, v.token_id, v.owner, v.scopes),
        (false, Some(reader.id), None, None)
    );
    let v = verify_requiring(&mut plain, &reader.token, "'{docs:read}'");
    assert_eq!(
        v.scopes,
        Some(vec!["docs:read".to_string(), "docs:list".to_string()])
    );

    // Never raises: malformed tokens, NULLs, arrays of two dimensions.
    for (token, required) in [("", "'{a}'"), ("tbm_x", "NULL")] {
        assert_eq!(status(&mut plain, token, required), "malformed");
    }
    assert_eq!(
        status(&mut plain, &reader.token, "'{{docs:read},{docs:list}}'"),
        "valid"
    );
    let null: Option<String> = plain
        .query_one("SELECT (tokens.verify(NULL, NULL)).status", &[])
        .unwrap()
        .get(0);
    assert_eq!(null.as_deref(), Some("malformed"));
}

#[test]
fn forbidden_comes_after_revoked_and_ip_denied_and_spends_no_rate_limit_slot() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let t = try_mint(&mut app, "'t', ARRAY['docs:read']", &[]).unwrap();
    app.execute("SELECT tokens.set_rate_limit($1, 1, '1 hour')", &[&t.id])
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            verify_requiring(&mut app, &t.token, "'{docs:write}'").status,
            "forbidden"
        );
    }
    assert_eq!(
        verify_requiring(&mut app, &t.token, "'{docs:read}'").status,
        "valid",
        "no slot spent"
    );
    assert_eq!(
        verify_requiring(&mut app, &t.token, "'{docs:read}'").status,
        "rate_limited"
    );
    assert_eq!(
        verify_requiring(&mut app, &t.token, "'{docs:write}'").status,
        "forbidden",
        "forbidden comes before rate_limited"
    );
    // Refusals are counted as denied.
    eventually("usage counts the refusals", || {
        app.query_one(
            "SELECT sum(count)::int8, sum(denied)::int8 FROM tokens.usage($1, now() - interval '1 hour', '1 hour')",
            &[&t.id],
        )
        .map(|r| (r.get::<_, Option<i64>>(0), r.get::<_, Option<i64>>(1)) == (Some(1), Some(5)))
        .unwrap_or(false)
    });

    // The Unix socket is not in 10/8: ip_denied comes first.
    app.execute(
        "SELECT tokens.set_allowed_ips($1, '{10.0.0.0/8}')",
        &[&t.id],
    )
    .unwrap();
    assert_eq!(
        verify_requiring(&mut app, &t.token, "'{docs:write}'").status,
        "ip_denied"
    );
    assert!(try_revoke(&mut app, t.id, None).unwrap());
    assert_eq!(
        verify_requiring(&mut app, &t.token, "'{docs:write}'").status,
        "revoked"
    );
}
