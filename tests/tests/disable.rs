//! `tokens.disable` / `tokens.enable` (SPEC §2, §3, §7): a reversible
//! suspension; verify says `disabled` (after revoked and expired, before
//! ip_denied, forbidden and rate_limited); audited; rotation carries it.

use pg_tokens_tests::sql::{
    audit_of, mint, try_mint, try_revoke, try_rotate, verify, verify_requiring,
};
use pg_tokens_tests::{sqlstate, Cluster};

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

fn flip(c: &mut postgres::Client, what: &str, id: uuid::Uuid) -> Result<bool, postgres::Error> {
    c.query_one(&format!("SELECT tokens.{what}($1)"), &[&id])
        .map(|r| r.get(0))
}

fn shown(c: &mut postgres::Client, id: uuid::Uuid) -> (String, bool) {
    let r = c
        .query_one(
            "SELECT status, disabled_at IS NOT NULL FROM tokens.tokens WHERE id = $1",
            &[&id],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

#[test]
fn disable_suspends_and_enable_restores() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let (_, mut plain) = db.client(&[]);
    let m = try_mint(&mut app, "'svc', ARRAY['docs:read']", &[]).unwrap();

    assert!(flip(&mut app, "disable", m.id).unwrap());
    let before = db.counts();
    assert!(
        !flip(&mut app, "disable", m.id).unwrap(),
        "already disabled"
    );
    assert_eq!(db.counts(), before, "nothing written");
    let v = verify(&mut plain, Some(&m.token));
    assert_eq!(
        (v.valid, v.status.as_str(), v.token_id, v.owner),
        (false, "disabled", Some(m.id), None)
    );
    assert_eq!(shown(&mut app, m.id), ("disabled".into(), true));
    let mut tx = plain.transaction().unwrap();
    let status: String = tx
        .query_one("SELECT (tokens.authenticate($1)).status", &[&m.token])
        .unwrap()
        .get(0);
    assert_eq!(status, "disabled");
    let owner: Option<String> = tx
        .query_one("SELECT tokens.current_owner()", &[])
        .unwrap()
        .get(0);
    assert_eq!(owner, None, "a disabled token is no principal");
    tx.commit().unwrap();

    assert!(flip(&mut app, "enable", m.id).unwrap());
    assert!(!flip(&mut app, "enable", m.id).unwrap(), "already enabled");
    assert!(verify(&mut plain, Some(&m.token)).valid);
    assert_eq!(shown(&mut app, m.id), ("active".into(), false));
    let actions: Vec<String> = audit_of(&mut app, m.id).into_iter().map(|r| r.0).collect();
    assert_eq!(actions, ["token.create", "token.disable", "token.enable"]);
}

#[test]
fn disabled_in_its_place_among_the_refusals() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = try_mint(&mut app, "'t', ARRAY['docs:read']", &[]).unwrap();
    app.execute("SELECT tokens.set_rate_limit($1, 1, '1 hour')", &[&m.id])
        .unwrap();
    app.execute(
        "SELECT tokens.set_allowed_ips($1, '{10.0.0.0/8}')",
        &[&m.id],
    )
    .unwrap();
    assert!(flip(&mut app, "disable", m.id).unwrap());
    // Disabled comes before ip_denied (this Unix socket is not in 10/8),
    // forbidden and rate_limited, and spends no slot.
    assert_eq!(
        verify_requiring(&mut app, &m.token, "'{docs:write}'").status,
        "disabled"
    );
    app.execute("SELECT tokens.set_allowed_ips($1, NULL)", &[&m.id])
        .unwrap();
    for _ in 0..3 {
        assert_eq!(verify(&mut app, Some(&m.token)).status, "disabled");
    }
    assert!(flip(&mut app, "enable", m.id).unwrap());
    assert_eq!(
        verify(&mut app, Some(&m.token)).status,
        "valid",
        "no slot was spent while disabled"
    );
    assert!(flip(&mut app, "disable", m.id).unwrap());
    assert!(try_revoke(&mut app, m.id, None).unwrap());
    assert_eq!(
        verify(&mut app, Some(&m.token)).status,
        "revoked",
        "revoked comes first"
    );
    assert_eq!(shown(&mut app, m.id).0, "revoked");

    // Expired comes before disabled too.
    let short = try_mint(&mut app, "'short', NULL, now() + interval '1 second'", &[]).unwrap();
    assert!(flip(&mut app, "disable", short.id).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(verify(&mut app, Some(&short.token)).status, "expired");
}

#[test]
fn a_disabled_tokens_successor_is_disabled_too() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "svc");
    assert!(flip(&mut app, "disable", m.id).unwrap());
    let next = try_rotate(&mut app, m.id, "1 hour", None).unwrap();
    assert_eq!(verify(&mut app, Some(&next.token)).status, "disabled");
    assert_eq!(shown(&mut app, next.id), ("disabled".into(), true));
    assert!(flip(&mut app, "enable", next.id).unwrap());
    assert!(verify(&mut app, Some(&next.token)).valid);
}

#[test]
fn who_may_disable() {
    let db = Cluster::shared().database();
    let (_, mut writer) = db.client(&["tokens_writer"]);
    let (me, mut own) = db.client(&["tokens_self_service"]);
    let (_, mut stranger) = db.client(&["tokens_self_service"]);
    let (_, mut revoker) = db.client(&["tokens_revoker"]);
    let (_, mut plain) = db.client(&[]);
    let mine = try_mint(&mut own, "'mine', kind => 'personal'", &[]).unwrap();
    let service = try_mint(&mut writer, &format!("'svc', owner => '{me}'"), &[]).unwrap();

    assert!(
        flip(&mut own, "disable", mine.id).unwrap(),
        "the owner of a personal token"
    );
    assert!(flip(&mut own, "enable", mine.id).unwrap());
    for (who, c, id) in [
        (
            "self-service on its own service token",
            &mut own,
            service.id,
        ),
        ("another self-service role", &mut stranger, mine.id),
        ("tokens_revoker", &mut revoker, mine.id),
        ("a plain role", &mut plain, mine.id),
    ] {
        let before = db.counts();
        let r = flip(c, "disable", id);
        assert_eq!(sqlstate(&r), "42501", "{who}");
        assert_eq!(db.counts(), before, "{who}: nothing written");
    }
    assert!(
        flip(&mut writer, "disable", service.id).unwrap(),
        "tokens_writer, any token"
    );
    let r = writer.query_one("SELECT tokens.disable(NULL)", &[]);
    assert_eq!(sqlstate(&r), "22023");
    let r = writer.query_one(
        "SELECT tokens.enable('00000000-0000-7000-8000-000000000000')",
        &[],
    );
    assert_eq!(sqlstate(&r), "P0002");
}
