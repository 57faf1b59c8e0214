//! The SQL API of SPEC §1–§2 (mint, verify, revoke, rotate, define_scope and
//! the views), called as an application does: a non-superuser login role.

use pg_tokens_tests::sql::{
    audit_of, mint, sealed_chain, try_mint, try_revoke, try_rotate, verify,
};
use pg_tokens_tests::{message, sqlstate, Cluster};

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

#[test]
fn mint_returns_the_token_once_and_stores_only_its_hash() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let m = try_mint(
        &mut app,
        "'deploy bot', ARRAY['docs:read','docs:write'], now() + interval '1 day', owner => 'group:platform'",
        &[],
    )
    .unwrap();

    assert_eq!(m.token.len(), 36);
    assert!(m.token.starts_with("tbm_"));
    assert_eq!(m.prefix, m.token[..12]);
    assert_eq!(m.name, "deploy bot");
    assert_eq!(m.kind, "service");
    assert_eq!(m.owner, "group:platform");
    assert_eq!(
        m.scopes,
        Some(vec!["docs:read".into(), "docs:write".into()])
    );
    assert!(m.expires_at.is_some());
    assert_eq!(m.id.get_version_num(), 7, "ids are UUIDv7");

    // What is stored: the SHA-256 of the whole plaintext, never the plaintext.
    let mut admin = db.admin();
    let row = admin
        .query_one(
            "SELECT hash = sha256(convert_to($2, 'UTF8')), prefix FROM tokens.token_store WHERE id = $1",
            &[&m.id, &m.token],
        )
        .unwrap();
    assert!(row.get::<_, bool>(0));
    let anywhere: i64 = admin
        .query_one(
            "SELECT count(*) FROM tokens.token_store t WHERE t::text LIKE '%' || $1 || '%'",
            &[&&m.token[12..]],
        )
        .unwrap()
        .get(0);
    assert_eq!(anywhere, 0, "no column holds the secret part");

    // The view never shows the hash, and the audit row says who minted what.
    let cols: Vec<String> = admin
        .query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = 'tokens.tokens'::regclass AND attnum > 0 ORDER BY attnum",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        cols,
        [
            "id",
            "prefix",
            "name",
            "kind",
            "owner",
            "scopes",
            "expires_at",
            "last_used_at",
            "created_at",
            "revoked_at",
            "status",
            "allowed_ips",
            "uses_24h",
            "rate_limit_requests",
            "rate_limit_per",
            "disabled_at",
            "remaining",
            "refill_amount",
            "refill_every"
        ]
    );
    let audit = audit_of(&mut app, m.id);
    assert_eq!(audit.len(), 1);
    let (action, actor, db_role, meta) = &audit[0];
    assert_eq!(
        (action.as_str(), actor.as_str(), db_role.as_str()),
        ("token.create", role.as_str(), role.as_str())
    );
    let meta = meta.as_ref().unwrap();
    assert_eq!(meta["name"], "deploy bot");
    assert_eq!(meta["kind"], "service");
    assert_eq!(
        meta["scopes"],
        serde_json::json!(["docs:read", "docs:write"])
    );
    assert!(meta["expires_at"].is_string());
}

#[test]
fn owner_defaults_to_the_calling_role_and_two_mints_differ() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let a = mint(&mut app, "a");
    let b = mint(&mut app, "a");
    assert_eq!(a.owner, role);
    assert_ne!(a.token, b.token);
    assert_ne!(a.id, b.id);
    assert!(a.id < b.id, "time-ordered ids");
}

#[test]
fn verify_reports_each_status() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = try_mint(
        &mut app,
        "'svc', ARRAY['docs:read'], now() + interval '1 hour'",
        &[],
    )
    .unwrap();

    let v = verify(&mut app, Some(&m.token));
    assert!(v.valid);
    assert_eq!(v.status, "valid");
    assert_eq!(v.token_id, Some(m.id));
    assert_eq!(v.kind.as_deref(), Some("service"));
    assert_eq!(v.owner, Some(m.owner.clone()));
    assert_eq!(v.name.as_deref(), Some("svc"));
    assert_eq!(v.scopes, Some(vec!["docs:read".to_string()]));
    assert_eq!(v.expires_at, m.expires_at);

    let unknown = format!("tbm_{}", "A".repeat(32));
    let v = verify(&mut app, Some(&unknown));
    assert_eq!(
        (v.valid, v.status.as_str(), v.token_id),
        (false, "unknown", None)
    );

    // Expired: moved into the past behind the API's back.
    db.admin()
        .execute(
            "UPDATE tokens.token_store SET expires_at = now() - interval '1 second' WHERE id = $1",
            &[&m.id],
        )
        .unwrap();
    let v = verify(&mut app, Some(&m.token));
    assert_eq!(
        (v.valid, v.status.as_str(), v.token_id),
        (false, "expired", Some(m.id))
    );
    assert_eq!(
        (v.kind, v.owner, v.name, v.scopes, v.expires_at),
        (None, None, None, None, None)
    );

    // Revoked wins over expired.
    assert!(try_revoke(&mut app, m.id, None).unwrap());
    let v = verify(&mut app, Some(&m.token));
    assert_eq!(
        (v.valid, v.status.as_str(), v.token_id),
        (false, "revoked", Some(m.id))
    );
}

#[test]
fn verify_never_raises_on_malformed_input() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let good = mint(&mut app, "x").token;
    let megabyte = "tbm_".to_string() + &"A".repeat(1 << 20);
    let cases: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("tbm_".into()),
        Some(good[..35].to_string()),
        Some(format!("{good}A")),
        Some(good.replacen("tbm_", "tbx_", 1)),
        Some(good.replacen("tbm_", "TBM_", 1)),
        Some(format!("tbm_{}", "+".repeat(32))),
        Some(format!("tbm_{}", "/".repeat(32))),
        Some(format!("tbm_{}=", "A".repeat(31))),
        Some(format!(" {}", &good[..35])),
        Some(format!("tbm_{}", "é".repeat(16))),
        Some(format!("tbm_{}", "🔑".repeat(8))),
        Some(megabyte),
        Some(format!("{good}\n")),
        Some("'; DROP TABLE tokens.token_store; --".into()),
    ];
    for case in cases {
        let v = verify(&mut app, case.as_deref());
        assert_eq!(
            (v.valid, v.status.as_str(), v.token_id),
            (false, "malformed", None),
            "{:?}",
            case.map(|c| c.chars().take(40).collect::<String>())
        );
    }
    assert!(
        verify(&mut app, Some(&good)).valid,
        "the session is still healthy"
    );
}

#[test]
fn revoke_takes_effect_for_the_next_transaction_and_only_once() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let (_, mut other) = db.client(&[]);
    let m = mint(&mut app, "x");

    // A transaction that started before the revoke committed may still see
    // the token valid; every transaction that starts after sees it revoked.
    assert!(verify(&mut other, Some(&m.token)).valid);
    assert!(app
        .query_one(
            "SELECT tokens.revoke($1, reason => 'rotated by hand')",
            &[&m.id]
        )
        .unwrap()
        .get::<_, bool>(0));
    let v = verify(&mut other, Some(&m.token));
    assert_eq!(v.status, "revoked");

    // Again: false, and no second audit row.
    assert!(!try_revoke(&mut app, m.id, None).unwrap());
    let audit = audit_of(&mut app, m.id);
    assert_eq!(
        audit.iter().map(|a| a.0.as_str()).collect::<Vec<_>>(),
        ["token.create", "token.revoke"]
    );
    assert_eq!(audit[1].1, role);
    assert_eq!(
        audit[1].3,
        Some(serde_json::json!({"reason": "rotated by hand"}))
    );

    let status: String = app
        .query_one("SELECT status FROM tokens.tokens WHERE id = $1", &[&m.id])
        .unwrap()
        .get(0);
    assert_eq!(status, "revoked");
}

#[test]
fn revoke_is_visible_to_a_transaction_started_after_it_commits() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let (_, mut reader) = db.client(&[]);
    let m = mint(&mut app, "x");
    let mut tx = reader.transaction().unwrap();
    tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .unwrap();
    let before: bool = tx
        .query_one("SELECT (tokens.verify($1)).valid", &[&m.token])
        .unwrap()
        .get(0);
    assert!(before);
    assert!(try_revoke(&mut app, m.id, None).unwrap());
    tx.commit().unwrap();
    for iso in ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"] {
        let mut tx = reader.transaction().unwrap();
        tx.batch_execute(&format!("SET TRANSACTION ISOLATION LEVEL {iso}"))
            .unwrap();
        let status: String = tx
            .query_one("SELECT (tokens.verify($1)).status", &[&m.token])
            .unwrap()
            .get(0);
        assert_eq!(status, "revoked", "{iso}");
        tx.commit().unwrap();
    }
}

#[test]
fn rotate_with_and_without_grace() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let old = try_mint(
        &mut app,
        "'ci', ARRAY['deploy'], now() + interval '7 days', 'service', 'group:ci'",
        &[],
    )
    .unwrap();
    // The owner is a group: a trusted server acts for it.
    let new = try_rotate(&mut app, old.id, "1 hour", Some("group:ci")).unwrap();
    assert_ne!(new.token, old.token);
    assert_ne!(new.id, old.id);
    assert_eq!(
        (
            &new.name,
            &new.kind,
            &new.owner,
            &new.scopes,
            new.expires_at
        ),
        (
            &old.name,
            &old.kind,
            &old.owner,
            &old.scopes,
            old.expires_at
        )
    );

    // During the grace period both work; the old one cannot be rotated again.
    assert!(verify(&mut app, Some(&old.token)).valid);
    assert!(verify(&mut app, Some(&new.token)).valid);
    let again = try_rotate(&mut app, old.id, "0", Some("group:ci"));
    assert_eq!(sqlstate(&again), "22023");
    assert!(
        message(&again).contains("grace period"),
        "{}",
        message(&again)
    );

    // Revoking a token in its grace period ends it now.
    assert!(try_revoke(&mut app, old.id, Some("group:ci")).unwrap());
    assert_eq!(verify(&mut app, Some(&old.token)).status, "revoked");
    assert!(verify(&mut app, Some(&new.token)).valid);

    // Grace 0: the old token stops at once.
    let newer = try_rotate(&mut app, new.id, "0", Some("group:ci")).unwrap();
    assert_eq!(verify(&mut app, Some(&new.token)).status, "revoked");
    assert!(verify(&mut app, Some(&newer.token)).valid);

    let audit = audit_of(&mut app, new.id);
    let actions: Vec<&str> = audit.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(actions, ["token.create", "token.rotate"]);
    assert_eq!(audit[1].1, "group:ci", "actor is the owner acted for");
    assert_eq!(audit[1].2, role, "db_role is the calling role");
    assert_eq!(
        audit[1].3.as_ref().unwrap()["new_token_id"],
        newer.id.to_string()
    );
    let created = audit_of(&mut app, newer.id);
    assert_eq!(created[0].0, "token.create");
    assert_eq!(
        created[0].3.as_ref().unwrap()["rotated_from"],
        new.id.to_string()
    );

    // Rotating a revoked token is refused.
    let r = try_rotate(&mut app, new.id, "0", Some("group:ci"));
    assert_eq!(sqlstate(&r), "22023");
}

#[test]
fn rotate_refuses_an_expired_token() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "x");
    db.admin()
        .execute(
            "UPDATE tokens.token_store SET expires_at = now() - interval '1 minute' WHERE id = $1",
            &[&m.id],
        )
        .unwrap();
    let before = db.counts();
    let r = try_rotate(&mut app, m.id, "0", None);
    assert_eq!(sqlstate(&r), "22023");
    assert!(message(&r).contains("expired"));
    assert_eq!(db.counts(), before);
}

#[test]
fn scope_catalogue_restricts_mint_once_it_has_entries() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    // Empty catalogue: any valid scope.
    try_mint(&mut app, "'a', ARRAY['anything']", &[]).unwrap();
    app.execute(
        "SELECT tokens.define_scope('docs:read', 'Read documents')",
        &[],
    )
    .unwrap();
    app.execute(
        "SELECT tokens.define_scope('docs:write', 'Write documents')",
        &[],
    )
    .unwrap();
    try_mint(&mut app, "'b', ARRAY['docs:read']", &[]).unwrap();
    try_mint(&mut app, "'c', ARRAY[]::text[]", &[]).unwrap();
    try_mint(&mut app, "'d'", &[]).unwrap();
    let before = db.counts();
    let r = try_mint(&mut app, "'e', ARRAY['docs:read', 'billing']", &[]);
    assert_eq!(sqlstate(&r), "22023");
    assert!(message(&r).contains("\"billing\""), "{}", message(&r));
    assert_eq!(db.counts(), before);

    let scopes: Vec<String> = app
        .query("SELECT scope FROM tokens.scopes ORDER BY scope", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(scopes, ["docs:read", "docs:write"]);
    // Redefining updates the description.
    app.execute(
        "SELECT tokens.define_scope('docs:read', 'Read any document')",
        &[],
    )
    .unwrap();
    let d: String = app
        .query_one(
            "SELECT description FROM tokens.scopes WHERE scope = 'docs:read'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(d, "Read any document");
}

#[test]
fn empty_scopes_and_infinite_expiry() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = try_mint(&mut app, "'id only', ARRAY[]::text[], 'infinity'", &[]).unwrap();
    assert_eq!(m.scopes, Some(vec![]));
    assert_eq!(m.expires_at, None, "infinity is stored as never");
    let v = verify(&mut app, Some(&m.token));
    assert!(v.valid);
    assert_eq!(v.scopes, Some(vec![]));
}

#[test]
fn recording_a_use_never_waits_for_a_lock() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "x");
    // Another transaction holds the token's last-use row and the token row.
    let mut holder = db.admin();
    let mut tx = holder.transaction().unwrap();
    tx.execute(
        "SELECT FROM tokens.token_last_use WHERE token_id = $1 FOR UPDATE",
        &[&m.id],
    )
    .unwrap();
    tx.execute(
        "SELECT FROM tokens.token_store WHERE id = $1 FOR UPDATE",
        &[&m.id],
    )
    .unwrap();
    let (_, mut other) = db.client(&[]);
    other.batch_execute("SET lock_timeout = '2s'").unwrap();
    let v = verify(&mut other, Some(&m.token));
    assert!(v.valid);
    tx.rollback().unwrap();

    // And a verifying transaction left open does not make a revoke wait.
    let (_, mut verifier) = db.client(&[]);
    let mut open = verifier.transaction().unwrap();
    let valid: bool = open
        .query_one("SELECT (tokens.verify($1)).valid", &[&m.token])
        .unwrap()
        .get(0);
    assert!(valid);
    app.batch_execute("SET lock_timeout = '2s'").unwrap();
    assert!(try_revoke(&mut app, m.id, None).unwrap());
    open.commit().unwrap();
}

#[test]
fn audit_log_is_append_only_even_for_superusers() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    mint(&mut app, "x");
    let mut admin = db.admin();
    sealed_chain(&mut admin);
    for sql in [
        "UPDATE tokens.audit_store SET actor = 'mallory'",
        "DELETE FROM tokens.audit_store",
        "TRUNCATE tokens.audit_store",
        "UPDATE tokens.audit_chain SET hash = '\\x00'",
        "DELETE FROM tokens.audit_chain",
        "TRUNCATE tokens.audit_chain",
    ] {
        let r = admin.batch_execute(sql);
        assert_eq!(sqlstate(&r), "42501", "{sql}");
    }
    // The view joins the chain: not updatable at all.
    for sql in [
        "UPDATE tokens.audit_log SET actor = 'mallory'",
        "DELETE FROM tokens.audit_log",
    ] {
        let r = admin.batch_execute(sql);
        assert!(!sqlstate(&r).is_empty(), "{sql}");
    }
    assert_eq!(db.counts().1, 1);
    assert_eq!(sealed_chain(&mut admin), (1, true));
}

#[test]
fn audit_rows_are_chained_once_sealed() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "x");
    try_rotate(&mut app, m.id, "0", None).unwrap();
    let mut admin = db.admin();
    // Recompute every link with the extension's own row hash, under session
    // settings that would change a text rendering of times and numbers.
    admin
        .batch_execute("SET TimeZone = 'Pacific/Chatham'; SET DateStyle = 'SQL, DMY'; SET extra_float_digits = -15")
        .unwrap();
    assert_eq!(sealed_chain(&mut admin), (3, true));
    // The log shows each event sealed, with its position and hash.
    let rows = admin
        .query(
            "SELECT sealed, position, hash IS NOT NULL FROM tokens.audit_log ORDER BY position",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 3);
    for (i, r) in rows.iter().enumerate() {
        assert!(r.get::<_, bool>(0));
        assert_eq!(r.get::<_, i64>(1), i as i64 + 1);
        assert!(r.get::<_, bool>(2));
    }
}

fn chain_is_intact(db: &pg_tokens_tests::Db) -> (i64, bool) {
    sealed_chain(&mut db.admin())
}

#[test]
fn concurrent_writers_and_bulk_mints_keep_one_chain() {
    let db = Cluster::shared().database();
    let role = db.login_role(APP);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut c = db.connect(&role);
                for i in 0..25 {
                    let m = mint(&mut c, &format!("c{i}"));
                    if i % 5 == 0 {
                        try_rotate(&mut c, m.id, "0", None).unwrap();
                    }
                }
            });
        }
    });
    assert_eq!(chain_is_intact(&db), (4 * 25 + 4 * 5 * 2, true));

    // Thousands of appends in one statement stay one chain.
    let mut c = db.connect(&role);
    c.execute(
        "SELECT tokens.mint('bulk ' || g) FROM generate_series(1, 2000) g",
        &[],
    )
    .unwrap();
    assert_eq!(chain_is_intact(&db), (4 * 25 + 4 * 5 * 2 + 2000, true));
}

#[test]
fn a_repeatable_read_writer_appends_without_waiting_or_failing() {
    // 0.4.0 serialised appends and failed (40001) a REPEATABLE READ writer
    // whose snapshot missed another's append; now appends share nothing.
    let db = Cluster::shared().database();
    let (_, mut a) = db.client(APP);
    let (_, mut b) = db.client(APP);
    mint(&mut a, "first");
    for level in ["REPEATABLE READ", "SERIALIZABLE"] {
        let mut tx = a.transaction().unwrap();
        tx.batch_execute(&format!("SET TRANSACTION ISOLATION LEVEL {level}"))
            .unwrap();
        tx.query_one("SELECT count(*) FROM tokens.audit_log", &[])
            .unwrap(); // takes the snapshot
        let mut open = b.transaction().unwrap();
        mint(&mut open, "meanwhile, not yet committed");
        tx.query_one("SELECT * FROM tokens.mint('late')", &[])
            .expect("an append never waits for or fails on another");
        tx.query_one("SELECT tokens.audit('doc.create', 'doc:1')", &[])
            .unwrap();
        open.commit().unwrap();
        tx.commit().unwrap();
    }
    assert_eq!(chain_is_intact(&db), (7, true));
}

#[test]
fn a_revoke_committed_after_this_transaction_began_is_not_repeated() {
    let db = Cluster::shared().database();
    let (_, mut a) = db.client(APP);
    let (_, mut b) = db.client(APP);
    let m = try_mint(&mut a, "'x', owner => 'group:x'", &[]).unwrap();
    let mut tx = a.transaction().unwrap();
    tx.query_one("SELECT 1", &[]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(try_revoke(&mut b, m.id, Some("group:x")).unwrap());
    let again: bool = tx
        .query_one("SELECT tokens.revoke($1, 'group:x')", &[&m.id])
        .unwrap()
        .get(0);
    assert!(!again, "already revoked: false");
    tx.commit().unwrap();
    let revokes = audit_of(&mut a, m.id)
        .iter()
        .filter(|r| r.0 == "token.revoke")
        .count();
    assert_eq!(revokes, 1, "no second audit row");
}
