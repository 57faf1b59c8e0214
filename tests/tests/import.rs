//! Import of existing keys (issue 18 item 6): `tokens.import` takes the
//! SHA-256 of a key made by a hand-written table, and verify then accepts
//! that key as it accepts a minted token: owner, scopes, meta, rotation,
//! revocation, authenticate, dump/restore. Never the plaintext in.

use pg_tokens_tests::sql::{audit_of, try_mint, try_revoke, try_rotate, verify};
use pg_tokens_tests::{message, sqlstate, Cluster};
use postgres::Client;
use uuid::Uuid;

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

/// A key in the shape of a typical hand-written system.
const LEGACY: &str = "sk_live_4f9a1c22e7b84d0f9e3b6a5c7d8e9f01";

/// `tokens.import` of `key`'s SHA-256, computed in SQL as a migration would
/// from a column of hex digests or of the plaintexts themselves.
fn import(c: &mut Client, key: &str, args: &str) -> Result<Uuid, postgres::Error> {
    c.query_one(
        &format!("SELECT tokens.import(sha256(convert_to($1, 'UTF8')), 'sk_live_4f9a', {args})"),
        &[&key],
    )
    .map(|r| r.get(0))
}

#[test]
fn an_imported_key_verifies_with_its_owner_scopes_and_meta_and_is_audited() {
    let db = Cluster::shared().database();
    let (writer, mut app) = db.client(APP);
    app.batch_execute("SELECT tokens.define_scope('docs:read', 'read documents')")
        .unwrap();
    let id = import(
        &mut app,
        LEGACY,
        "'billing job', scopes => '{docs:read}', owner => 'billing', \
         expires_at => now() + interval '30 days', meta => '{\"from\": \"api_keys\"}'",
    )
    .expect("import");

    let v = verify(&mut app, Some(LEGACY));
    assert!(v.valid, "{v:?}");
    assert_eq!(v.status, "valid");
    assert_eq!(v.token_id, Some(id));
    assert_eq!(v.owner.as_deref(), Some("billing"));
    assert_eq!(v.name.as_deref(), Some("billing job"));
    assert_eq!(v.kind.as_deref(), Some("service"));
    assert_eq!(v.scopes, Some(vec!["docs:read".to_string()]));
    assert!(v.expires_at.is_some());
    assert_eq!(v.meta, Some(serde_json::json!({"from": "api_keys"})));

    // Listed with the prefix it was given; the key itself is nowhere.
    let prefix: String = app
        .query_one("SELECT prefix FROM tokens.tokens WHERE id = $1", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(prefix, "sk_live_4f9a");
    let stored: i64 = db
        .admin()
        .query_one(
            "SELECT count(*) FROM tokens.token_store t WHERE t::text LIKE '%' || $1 || '%'",
            &[&LEGACY],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored, 0);

    let audit = audit_of(&mut app, id);
    assert_eq!(audit.len(), 1, "{audit:?}");
    let (action, actor, db_role, meta) = &audit[0];
    assert_eq!(action, "token.import");
    assert_eq!(actor, &writer);
    assert_eq!(db_role, &writer);
    assert_eq!(
        meta.as_ref()
            .and_then(|m| m.get("prefix"))
            .and_then(|p| p.as_str()),
        Some("sk_live_4f9a")
    );

    // A near miss is still malformed (it is not a stored key), one byte off
    // included, and so is a key too short to have been imported.
    let mut other = LEGACY.to_string();
    other.pop();
    other.push('2');
    assert_eq!(verify(&mut app, Some(&other)).status, "malformed");
    assert_eq!(verify(&mut app, Some("short")).status, "malformed");
    // Required scopes apply to it as to any token.
    let denied: String = app
        .query_one(
            "SELECT status FROM tokens.verify($1, '{docs:write}')",
            &[&LEGACY],
        )
        .unwrap()
        .get(0);
    assert_eq!(denied, "forbidden");

    // authenticate makes it the transaction's principal.
    let mut tx = app.transaction().unwrap();
    let status: String = tx
        .query_one("SELECT status FROM tokens.authenticate($1)", &[&LEGACY])
        .unwrap()
        .get(0);
    assert_eq!(status, "valid");
    let owner: Option<String> = tx
        .query_one("SELECT tokens.current_owner()", &[])
        .unwrap()
        .get(0);
    assert_eq!(owner.as_deref(), Some("billing"));
    tx.commit().unwrap();
}

#[test]
fn an_imported_key_rotates_to_a_minted_token_and_revokes() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let id = import(&mut app, LEGACY, "'old key', owner => 'svc'").unwrap();
    let next = try_rotate(&mut app, id, "1 hour", Some("svc")).expect("rotate an imported key");
    assert!(
        next.token.starts_with("tbm_"),
        "the successor is a minted token"
    );
    assert_eq!(next.owner, "svc");
    assert!(
        verify(&mut app, Some(LEGACY)).valid,
        "the old key has its grace"
    );
    assert!(verify(&mut app, Some(&next.token)).valid);

    let other = "legacy-key-0123456789abcdef";
    let second = import(&mut app, other, "'second', owner => 'svc'").unwrap();
    assert!(try_revoke(&mut app, second, Some("svc")).unwrap());
    assert_eq!(verify(&mut app, Some(other)).status, "revoked");
}

#[test]
fn a_hash_already_stored_is_refused_and_nothing_is_written() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let first = import(&mut app, LEGACY, "'once'").unwrap();
    let before = db.counts();
    let again = import(&mut app, LEGACY, "'twice'");
    assert_eq!(sqlstate(&again), "23505", "{again:?}");
    let text = message(&again);
    assert!(text.contains(&first.to_string()), "{text}");
    assert!(text.contains("imported once"), "{text}");
    assert!(!text.contains(LEGACY));
    assert_eq!(db.counts(), before);

    // A minted token's hash is stored too: importing it is refused as well.
    let minted = try_mint(&mut app, "'minted'", &[]).unwrap();
    let before = db.counts();
    let res = import(&mut app, &minted.token, "'copy'");
    assert_eq!(sqlstate(&res), "23505", "{res:?}");
    assert!(!message(&res).contains(&minted.token));
    assert_eq!(db.counts(), before);
}

#[test]
fn only_a_writer_imports_and_policies_apply() {
    let db = Cluster::shared().database();
    for roles in [
        &["tokens_reader"][..],
        &["tokens_revoker"],
        &["tokens_self_service"],
    ] {
        let (_, mut c) = db.client(roles);
        let before = db.counts();
        let res = import(&mut c, LEGACY, "'nope'");
        assert_eq!(sqlstate(&res), "42501", "{roles:?}: {res:?}");
        assert_eq!(db.counts(), before);
    }

    let (_, mut app) = db.client(APP);
    app.batch_execute("SELECT tokens.set_policy('require_expiry', 'true')")
        .unwrap();
    let before = db.counts();
    let res = import(&mut app, LEGACY, "'no expiry'");
    assert_eq!(sqlstate(&res), "22023", "{res:?}");
    assert_eq!(db.counts(), before);
    import(
        &mut app,
        LEGACY,
        "'with expiry', expires_at => now() + interval '1 day'",
    )
    .expect("an expiring key is admitted");
}

#[test]
fn an_imported_key_survives_dump_and_restore() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let id = import(&mut app, LEGACY, "'kept', owner => 'svc'").unwrap();
    let restored = db.dump_and_restore();
    let role = db.login_role(APP);
    let mut copy = db.cluster.connect(&role, &restored);
    let v = verify(&mut copy, Some(LEGACY));
    assert!(v.valid, "{v:?}");
    assert_eq!(v.token_id, Some(id));
    let again = import(&mut copy, LEGACY, "'again'");
    assert_eq!(sqlstate(&again), "23505");
    let _ = db
        .cluster
        .connect("postgres", "postgres")
        .batch_execute(&format!("DROP DATABASE {restored} WITH (FORCE)"));
}
