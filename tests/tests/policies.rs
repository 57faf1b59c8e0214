//! Policies (issue 18): `tokens.set_policy` by tokens_writer, audited,
//! listed in `tokens.policies`; `max_lifetime` and `require_expiry` at mint
//! and rotate, `revoke_unused_after` by the lifecycle pass, and reuse
//! detection (`token.reused`, policy `revoke_on_reuse`).

use pg_tokens_tests::sql::{audit_of, try_mint, try_rotate, verify};
use pg_tokens_tests::{message, sqlstate, Cluster, Db};
use postgres::Client;
use uuid::Uuid;

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

fn policy(c: &mut Client, name: &str) -> Option<String> {
    c.query_one(
        "SELECT value FROM tokens.policies WHERE name = $1",
        &[&name],
    )
    .expect("the policy is listed")
    .get(0)
}

fn set(c: &mut Client, name: &str, value: &str) {
    c.batch_execute(&format!("SELECT tokens.set_policy('{name}', {value})"))
        .unwrap_or_else(|e| panic!("set_policy {name} {value}: {e}"));
}

fn policy_rows(db: &Db<'_>) -> i64 {
    db.admin()
        .query_one("SELECT count(*) FROM tokens.policy_store", &[])
        .unwrap()
        .get(0)
}

fn kinds_of(c: &mut Client, id: Uuid) -> Vec<String> {
    c.query(
        "SELECT kind FROM tokens.events WHERE token_id = $1 ORDER BY id",
        &[&id],
    )
    .unwrap()
    .into_iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn a_writer_sets_policies_audited_and_a_reader_lists_them() {
    let db = Cluster::shared().database();
    let (writer, mut app) = db.client(APP);
    let names: Vec<(String, Option<String>, Option<String>)> = app
        .query(
            "SELECT name, value, default_value FROM tokens.policies",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        names,
        vec![
            ("max_lifetime".into(), None, None),
            ("require_expiry".into(), None, Some("false".into())),
            ("revoke_unused_after".into(), None, None),
            ("revoke_on_reuse".into(), None, Some("false".into())),
        ]
    );

    set(&mut app, "max_lifetime", "'90 days'");
    set(&mut app, "require_expiry", "true");
    set(&mut app, "revoke_unused_after", "interval '180 days'");
    set(&mut app, "revoke_on_reuse", "'on'");
    assert_eq!(policy(&mut app, "max_lifetime").as_deref(), Some("90 days"));
    assert_eq!(policy(&mut app, "require_expiry").as_deref(), Some("true"));
    assert_eq!(
        policy(&mut app, "revoke_unused_after").as_deref(),
        Some("180 days")
    );
    assert_eq!(policy(&mut app, "revoke_on_reuse").as_deref(), Some("true"));
    let set_by: String = app
        .query_one(
            "SELECT set_by FROM tokens.policies WHERE name = 'max_lifetime'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(set_by, writer);

    let audited: Vec<(String, String, serde_json::Value)> = app
        .query(
            "SELECT actor, target, meta FROM tokens.audit_log WHERE action = 'token.policy' ORDER BY id",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(audited.len(), 4);
    assert_eq!(audited[0].0, writer);
    assert_eq!(audited[0].1, "policy:max_lifetime");
    assert_eq!(
        audited[0].2,
        serde_json::json!({"name": "max_lifetime", "value": "90 days", "previous": null})
    );

    // The same value again changes nothing and audits nothing; NULL goes
    // back to the default.
    let (_, audit_before) = db.counts();
    set(&mut app, "max_lifetime", "'90 days'");
    assert_eq!(db.counts().1, audit_before);
    set(&mut app, "max_lifetime", "NULL");
    assert_eq!(policy(&mut app, "max_lifetime"), None);
    assert_eq!(db.counts().1, audit_before + 1);
}

#[test]
fn bad_policies_and_values_say_what_is_allowed_and_write_nothing() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    for (call, says) in [
        (
            "'max_age', '1 day'",
            "the policies are max_lifetime, require_expiry",
        ),
        ("NULL, '1 day'", "name must not be NULL"),
        (
            "'max_lifetime', 'soon'",
            "takes an interval from '1 minute' to '100 years'",
        ),
        ("'max_lifetime', '30 seconds'", "from '1 minute'"),
        ("'max_lifetime', '101 years'", "to '100 years'"),
        ("'max_lifetime', '-1 day'", "from '1 minute'"),
        ("'max_lifetime', true", "takes an interval"),
        ("'revoke_unused_after', '10 minutes'", "from '1 hour'"),
        ("'require_expiry', 'maybe'", "takes true or false"),
        ("'require_expiry', interval '1 day'", "takes true or false"),
    ] {
        let before = (db.counts(), policy_rows(&db));
        let r = app.batch_execute(&format!("SELECT tokens.set_policy({call})"));
        assert_eq!(sqlstate(&r), "22023", "set_policy({call})");
        assert!(
            message(&r).contains(says),
            "set_policy({call}): {}",
            message(&r)
        );
        assert_eq!(
            (db.counts(), policy_rows(&db)),
            before,
            "set_policy({call}) wrote"
        );
    }
    // Only tokens_writer sets them; tokens_reader reads them.
    for grants in [&["tokens_reader"][..], &["tokens_revoker"], &[]] {
        let (_, mut c) = db.client(grants);
        let r = c.batch_execute("SELECT tokens.set_policy('require_expiry', 'true')");
        assert_eq!(sqlstate(&r), "42501", "{grants:?}");
    }
    assert_eq!(policy_rows(&db), 0);
    let (_, mut plain) = db.client(&[]);
    let r = plain.query("SELECT * FROM tokens.policies", &[]);
    assert_eq!(sqlstate(&r), "42501");
}

#[test]
fn max_lifetime_and_require_expiry_bound_mint_and_rotate() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let forever = try_mint(&mut app, "'old', owner => 'svc'", &[]).unwrap();
    let late = try_mint(
        &mut app,
        "'late', owner => 'svc', expires_at => now() + interval '1 year'",
        &[],
    )
    .unwrap();

    set(&mut app, "require_expiry", "true");
    let before = db.counts();
    let r = try_mint(&mut app, "'x', owner => 'svc'", &[]);
    assert_eq!(sqlstate(&r), "22023");
    assert!(
        message(&r).contains("policy require_expiry"),
        "{}",
        message(&r)
    );
    assert_eq!(db.counts(), before);
    let r = try_rotate(&mut app, forever.id, "0", Some("svc"));
    assert_eq!(sqlstate(&r), "22023");
    assert!(message(&r).contains("cannot be rotated"), "{}", message(&r));
    assert_eq!(db.counts(), before, "a refused rotation writes nothing");
    try_rotate(&mut app, late.id, "0", Some("svc")).expect("an expiring token rotates");

    set(&mut app, "max_lifetime", "'30 days'");
    for args in [
        "'x', owner => 'svc'",
        "'x', owner => 'svc', expires_at => now() + interval '31 days'",
    ] {
        let before = db.counts();
        let r = try_mint(&mut app, args, &[]);
        assert_eq!(sqlstate(&r), "22023", "{args}");
        assert!(
            message(&r).contains("policy max_lifetime"),
            "{}",
            message(&r)
        );
        assert_eq!(db.counts(), before);
    }
    let ok = try_mint(
        &mut app,
        "'ok', owner => 'svc', expires_at => now() + interval '29 days'",
        &[],
    )
    .expect("an expiry within the policy");
    try_rotate(&mut app, ok.id, "1 hour", Some("svc")).expect("its rotation keeps a valid expiry");
    let year = try_mint(
        &mut app,
        "'y', owner => 'svc', expires_at => now() + interval '1 day'",
        &[],
    )
    .unwrap();
    db.admin()
        .execute(
            "UPDATE tokens.token_store SET expires_at = now() + interval '1 year' WHERE id = $1",
            &[&year.id],
        )
        .unwrap();
    let r = try_rotate(&mut app, year.id, "0", Some("svc"));
    assert_eq!(sqlstate(&r), "22023");
    assert!(
        message(&r).contains("max_lifetime (30 days)"),
        "{}",
        message(&r)
    );

    // Self-service mints are bound too.
    let (_, mut person) = db.client(&["tokens_self_service"]);
    let r = try_mint(&mut person, "'mine', kind => 'personal'", &[]);
    assert_eq!(sqlstate(&r), "22023");
    try_mint(
        &mut person,
        "'mine', kind => 'personal', expires_at => now() + interval '1 day'",
        &[],
    )
    .expect("a personal token within the policy");
}

#[test]
fn revoke_unused_after_revokes_idle_tokens_once_audited_and_announced() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let idle = try_mint(&mut app, "'idle', owner => 'svc'", &[]).unwrap();
    let used = try_mint(&mut app, "'used', owner => 'svc'", &[]).unwrap();
    let fresh = try_mint(&mut app, "'fresh', owner => 'svc'", &[]).unwrap();
    let mut admin = db.admin();
    admin
        .execute(
            "UPDATE tokens.token_store SET created_at = now() - interval '3 hours' WHERE id = ANY($1)",
            &[&vec![idle.id, used.id]],
        )
        .unwrap();
    admin
        .execute(
            "UPDATE tokens.token_last_use SET last_used_at = now() - interval '10 minutes' WHERE token_id = $1",
            &[&used.id],
        )
        .unwrap();

    app.batch_execute("SELECT tokens.run_lifecycle()").unwrap();
    assert!(
        verify(&mut app, Some(&idle.token)).valid,
        "no policy, no revocation"
    );

    set(&mut app, "revoke_unused_after", "'2 hours'");
    app.batch_execute("SELECT tokens.run_lifecycle()").unwrap();
    app.batch_execute("SELECT tokens.run_lifecycle()").unwrap();
    assert_eq!(verify(&mut app, Some(&idle.token)).status, "revoked");
    assert!(verify(&mut app, Some(&used.token)).valid);
    assert!(verify(&mut app, Some(&fresh.token)).valid);

    let revokes: Vec<_> = audit_of(&mut app, idle.id)
        .into_iter()
        .filter(|a| a.0 == "token.revoke")
        .collect();
    assert_eq!(revokes.len(), 1, "revoked once: {revokes:?}");
    assert_eq!(revokes[0].1, "pg_tokens");
    assert_eq!(
        revokes[0].3,
        Some(serde_json::json!({"reason": "inactive", "policy": "revoke_unused_after"}))
    );
    let detail: serde_json::Value = app
        .query_one(
            "SELECT detail FROM tokens.events WHERE token_id = $1 AND kind = 'token.revoked'",
            &[&idle.id],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        detail,
        serde_json::json!({"actor": "pg_tokens", "reason": "inactive"})
    );
    assert!(kinds_of(&mut app, used.id).is_empty());
}

#[test]
fn a_rotated_token_presented_after_its_grace_is_reported_and_can_disable_its_successor() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let a = try_mint(&mut app, "'chain', owner => 'svc'", &[]).unwrap();
    let b = try_rotate(&mut app, a.id, "0", Some("svc")).unwrap();

    // Policy off: verify says revoked, one token.reused event however many
    // presentations, the successor keeps working, nothing audited.
    let audit_before = db.counts().1;
    for _ in 0..3 {
        assert_eq!(verify(&mut app, Some(&a.token)).status, "revoked");
    }
    assert_eq!(kinds_of(&mut app, a.id), vec!["token.reused"]);
    let detail: serde_json::Value = app
        .query_one(
            "SELECT detail FROM tokens.events WHERE token_id = $1",
            &[&a.id],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        detail,
        serde_json::json!({"successor": b.id.to_string(), "disabled": []})
    );
    assert!(verify(&mut app, Some(&b.token)).valid);
    assert_eq!(db.counts().1, audit_before);

    // A token in its grace is not reused; an explicitly revoked one that was
    // never rotated is no sign either.
    let c = try_rotate(&mut app, b.id, "1 hour", Some("svc")).unwrap();
    assert!(verify(&mut app, Some(&b.token)).valid);
    assert!(kinds_of(&mut app, b.id).is_empty());
    let lone = try_mint(&mut app, "'lone', owner => 'svc'", &[]).unwrap();
    app.batch_execute(&format!(
        "SELECT tokens.revoke('{}', actor => 'svc')",
        lone.id
    ))
    .unwrap();
    assert_eq!(verify(&mut app, Some(&lone.token)).status, "revoked");
    assert_eq!(kinds_of(&mut app, lone.id), vec!["token.revoked"]);

    // Policy on: presenting a disables every live token after it in the
    // chain (b, in its grace, and c), audited and announced.
    set(&mut app, "revoke_on_reuse", "true");
    let (_, mut reader) = db.client(&["tokens_reader"]);
    assert_eq!(verify(&mut reader, Some(&a.token)).status, "revoked");
    assert_eq!(verify(&mut app, Some(&b.token)).status, "disabled");
    assert_eq!(verify(&mut app, Some(&c.token)).status, "disabled");
    let reuse: Vec<_> = audit_of(&mut app, a.id)
        .into_iter()
        .filter(|r| r.0 == "token.reuse")
        .collect();
    assert_eq!(reuse.len(), 1);
    assert_eq!(reuse[0].1, "pg_tokens");
    let mut disabled: Vec<String> =
        serde_json::from_value(reuse[0].3.clone().unwrap()["disabled"].clone()).unwrap();
    disabled.sort();
    let mut expected = vec![b.id.to_string(), c.id.to_string()];
    expected.sort();
    assert_eq!(disabled, expected);
    assert_eq!(
        kinds_of(&mut app, a.id),
        vec!["token.reused", "token.reused"]
    );

    // Once disabled, further presentations write nothing more.
    let after = (db.counts(), kinds_of(&mut app, a.id).len());
    assert_eq!(verify(&mut app, Some(&a.token)).status, "revoked");
    assert_eq!((db.counts(), kinds_of(&mut app, a.id).len()), after);

    // In a read-only transaction verify writes nothing, and still answers.
    app.batch_execute(&format!("SELECT tokens.enable('{}')", c.id))
        .unwrap();
    let after = db.counts();
    let mut tx = app.build_transaction().read_only(true).start().unwrap();
    assert_eq!(verify(&mut tx, Some(&a.token)).status, "revoked");
    tx.commit().unwrap();
    assert_eq!(db.counts(), after);
    assert!(verify(&mut app, Some(&c.token)).valid);
}

#[test]
fn policies_rotations_and_events_survive_dump_and_restore() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    set(&mut app, "max_lifetime", "'30 days'");
    set(&mut app, "revoke_on_reuse", "true");
    let a = try_mint(
        &mut app,
        "'d', owner => 'svc', expires_at => now() + interval '1 day'",
        &[],
    )
    .unwrap();
    let b = try_rotate(&mut app, a.id, "0", Some("svc")).unwrap();
    app.batch_execute(&format!("SELECT tokens.revoke('{}', actor => 'svc')", a.id))
        .ok();
    let events_before: Vec<(i64, String)> = db
        .admin()
        .query("SELECT id, kind FROM tokens.events ORDER BY id", &[])
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();

    let restored = db.dump_and_restore();
    let role = db.login_role(APP);
    let mut copy = db.cluster.connect(&role, &restored);
    assert_eq!(
        policy(&mut copy, "max_lifetime").as_deref(),
        Some("30 days")
    );
    assert_eq!(
        policy(&mut copy, "revoke_on_reuse").as_deref(),
        Some("true")
    );
    let events_after: Vec<(i64, String)> = copy
        .query("SELECT id, kind FROM tokens.events ORDER BY id", &[])
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(events_after, events_before);
    // New events continue the ids, policies still apply, and the rotation
    // chain is known: reusing a disables b.
    let r = try_mint(&mut copy, "'x', owner => 'svc'", &[]);
    assert_eq!(sqlstate(&r), "22023");
    assert_eq!(verify(&mut copy, Some(&a.token)).status, "revoked");
    assert_eq!(verify(&mut copy, Some(&b.token)).status, "disabled");
    let newest: i64 = copy
        .query_one("SELECT max(id) FROM tokens.events", &[])
        .unwrap()
        .get(0);
    assert!(newest > events_before.last().map_or(0, |e| e.0));
    drop(copy);
    db.cluster
        .connect("postgres", "postgres")
        .batch_execute(&format!("DROP DATABASE {restored} WITH (FORCE)"))
        .unwrap();
}
