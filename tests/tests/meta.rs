//! Token metadata (SPEC §2 `set_meta`, `meta` as a mint argument): a JSON
//! object of at most 4096 bytes, returned by verify and authenticate when
//! valid, audited, carried by rotation.

use pg_tokens_tests::sql::{audit_of, mint, try_mint, try_revoke, try_rotate, verify};
use pg_tokens_tests::{sqlstate, Cluster};
use serde_json::json;

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

#[test]
fn meta_from_mint_and_set_meta_comes_back_from_verify() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let (_, mut plain) = db.client(&[]);
    let m = try_mint(
        &mut app,
        "'svc', meta => $1::jsonb",
        &[&json!({"plan": "pro", "tenant": 42})],
    )
    .unwrap();
    let v = verify(&mut plain, Some(&m.token));
    assert_eq!(v.meta, Some(json!({"plan": "pro", "tenant": 42})));
    let created = audit_of(&mut app, m.id)
        .into_iter()
        .find(|r| r.0 == "token.create")
        .unwrap();
    assert_eq!(
        created.3.unwrap()["meta"],
        json!({"plan": "pro", "tenant": 42}),
        "the create event records it"
    );
    let mut tx = plain.transaction().unwrap();
    let meta: Option<serde_json::Value> = tx
        .query_one("SELECT (tokens.authenticate($1)).meta", &[&m.token])
        .unwrap()
        .get(0);
    assert_eq!(meta, Some(json!({"plan": "pro", "tenant": 42})));
    tx.commit().unwrap();

    // Big numbers and nesting are kept exactly as jsonb has them.
    let exact = "{\"n\": 123456789012345678901234567890.5, \"nested\": {\"a\": [1, 2]}}";
    app.execute(
        "SELECT tokens.set_meta($1, $2::text::jsonb)",
        &[&m.id, &exact],
    )
    .unwrap();
    let text: String = plain
        .query_one("SELECT (tokens.verify($1)).meta::text", &[&m.token])
        .unwrap()
        .get(0);
    assert_eq!(text, exact);
    let audit = audit_of(&mut app, m.id);
    let row = audit
        .iter()
        .find(|r| r.0 == "token.meta")
        .expect("token.meta audited");
    let audited: String = app
        .query_one(
            "SELECT (meta -> 'meta')::text FROM tokens.audit_log WHERE target = 'token:' || $1::uuid AND action = 'token.meta'",
            &[&m.id],
        )
        .unwrap()
        .get(0);
    assert_eq!(audited, exact);
    let _ = row;

    // Cleared with NULL; only a valid verification carries it.
    app.execute(
        "SELECT tokens.set_meta($1, $2::text::jsonb)",
        &[&m.id, &"{\"k\": 1}"],
    )
    .unwrap();
    let next = try_rotate(&mut app, m.id, "1 hour", None).unwrap();
    assert_eq!(
        verify(&mut plain, Some(&next.token)).meta,
        Some(json!({"k": 1})),
        "rotation carries meta"
    );
    assert!(try_revoke(&mut app, next.id, None).unwrap());
    assert_eq!(
        verify(&mut plain, Some(&next.token)).meta,
        None,
        "a refusal carries no meta"
    );
    app.execute("SELECT tokens.set_meta($1, NULL)", &[&m.id])
        .unwrap();
    assert_eq!(verify(&mut plain, Some(&m.token)).meta, None);
    let plain_mint = mint(&mut app, "no meta");
    assert_eq!(verify(&mut plain, Some(&plain_mint.token)).meta, None);
}

#[test]
fn meta_must_be_an_object_of_at_most_4096_bytes() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "svc");
    // Exactly 4096 bytes as meta::text is allowed.
    let fits = format!("{{\"k\": \"{}\"}}", "x".repeat(4096 - 9));
    app.execute(
        "SELECT tokens.set_meta($1, $2::text::jsonb)",
        &[&m.id, &fits],
    )
    .unwrap();
    let over = format!("{{\"k\": \"{}\"}}", "x".repeat(4096 - 8));
    for bad in ["[1, 2]", "\"plan\"", "42", "true", "null", over.as_str()] {
        let before = db.counts();
        let r = app.execute(
            "SELECT tokens.set_meta($1, $2::text::jsonb)",
            &[&m.id, &bad],
        );
        assert_eq!(
            sqlstate(&r),
            "22023",
            "set_meta {}",
            &bad[..bad.len().min(20)]
        );
        let r = try_mint(&mut app, "'x', meta => $1::text::jsonb", &[&bad]);
        assert_eq!(sqlstate(&r), "22023", "mint {}", &bad[..bad.len().min(20)]);
        assert_eq!(db.counts(), before, "nothing written");
    }
}

#[test]
fn who_may_set_meta() {
    let db = Cluster::shared().database();
    let (_, mut writer) = db.client(&["tokens_writer"]);
    let (me, mut own) = db.client(&["tokens_self_service"]);
    let (_, mut plain) = db.client(&[]);
    // Applications trust meta (a plan, a tenant): its owner may not set it,
    // at mint or later (SPEC §7); 0.4.0 let tokens_self_service do both.
    let before = db.counts();
    let r = try_mint(
        &mut own,
        "'mine', kind => 'personal', meta => '{\"plan\": \"enterprise\"}'",
        &[],
    );
    assert_eq!(sqlstate(&r), "42501", "self-service mint with meta: {r:?}");
    assert!(
        pg_tokens_tests::message(&r).contains("set by tokens_writer only"),
        "{r:?}"
    );
    assert_eq!(db.counts(), before, "nothing written");
    let mine = try_mint(&mut own, "'mine', kind => 'personal'", &[]).unwrap();
    let service = try_mint(&mut writer, &format!("'svc', owner => '{me}'"), &[]).unwrap();
    let before = db.counts();
    let set = |c: &mut postgres::Client, id| {
        c.execute("SELECT tokens.set_meta($1, '{\"b\": 2}')", &[&id])
    };
    let set_text = |c: &mut postgres::Client, id| {
        c.execute("SELECT tokens.set_meta_text($1, '{\"b\": 2}')", &[&id])
    };
    for id in [mine.id, service.id] {
        assert_eq!(sqlstate(&set(&mut own, id)), "42501", "the owner");
        assert_eq!(
            sqlstate(&set_text(&mut own, id)),
            "42501",
            "the owner, text"
        );
        assert_eq!(sqlstate(&set(&mut plain, id)), "42501");
    }
    assert_eq!(db.counts(), before, "nothing written by a refusal");
    assert!(
        set(&mut writer, mine.id).is_ok(),
        "tokens_writer, a personal token"
    );
    assert!(set(&mut writer, service.id).is_ok());
    assert_eq!(
        verify(&mut own, Some(&mine.token)).meta,
        Some(json!({"b": 2})),
        "verify returns what the writer set"
    );
    assert_eq!(
        sqlstate(&writer.execute("SELECT tokens.set_meta(NULL, '{}')", &[])),
        "22023"
    );
}

/// The limit is on what is stored (`octet_length(meta::text)`), in every
/// entry point: the text entry points granted to writers took 4,070 bytes of
/// `1e1000` numbers and stored 581,750 bytes on 0.4.0.
#[test]
fn the_meta_limit_holds_for_what_is_stored_in_every_entry_point() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "svc");
    let fields: Vec<String> = (0..300).map(|i| format!("\"{i:x}\":1e1000")).collect();
    let bomb = format!("{{{}}}", fields.join(","));
    assert!(bomb.len() < 4096, "{} bytes given", bomb.len());
    let entry_points = [
        "SELECT tokens.set_meta_text($1, $2)",
        "SELECT tokens.set_meta($1, $2::text::jsonb)",
    ];
    for sql in entry_points {
        let before = db.counts();
        let r = app.execute(sql, &[&m.id, &bomb]);
        assert_eq!(sqlstate(&r), "22023", "{sql}");
        assert!(
            pg_tokens_tests::message(&r).contains("at most 4096 bytes"),
            "{r:?}"
        );
        assert_eq!(db.counts(), before, "nothing written by {sql}");
    }
    for args in [
        "'x', NULL, NULL, 'service', NULL, $1",
        "'x', meta => $1::text::jsonb",
    ] {
        let sql = if args.starts_with("'x', NULL") {
            format!("SELECT * FROM tokens.mint_meta_text({args})")
        } else {
            format!("SELECT * FROM tokens.mint({args})")
        };
        let before = db.counts();
        let r = app.query(&sql, &[&bomb]);
        assert_eq!(sqlstate(&r), "22023", "{sql}");
        assert_eq!(db.counts(), before, "nothing written by {sql}");
    }
    let stored: Option<String> = app
        .query_one("SELECT meta::text FROM tokens.verify($1)", &[&m.token])
        .unwrap()
        .get(0);
    assert_eq!(stored, None, "the meta was never set");
    // A small number in exponent form is stored as jsonb writes it, and fits.
    app.execute(
        "SELECT tokens.set_meta_text($1, $2)",
        &[&m.id, &"{\"n\": 1e3}"],
    )
    .unwrap();
    let stored: Option<String> = app
        .query_one("SELECT meta::text FROM tokens.verify($1)", &[&m.token])
        .unwrap()
        .get(0);
    assert_eq!(stored.as_deref(), Some("{\"n\": 1000}"));
}
