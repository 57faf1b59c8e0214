//! Revoked, disabled and expired are decided at the call, against the latest
//! committed state and the wall clock, not the caller's snapshot (SPEC §7):
//! on 0.4.0 a snapshot exported before a revoke and imported by a new
//! REPEATABLE READ transaction authenticated the revoked token, and a
//! transaction opened before an expiry kept the token for as long as it
//! stayed open.

use pg_tokens_tests::sql::{mint, try_mint, try_revoke};
use pg_tokens_tests::Cluster;
use postgres::GenericClient;

const APP: &[&str] = &["tokens_writer", "tokens_revoker"];

fn status(c: &mut impl GenericClient, sql: &str, token: &str) -> String {
    c.query_one(sql, &[&token]).unwrap().get(0)
}

const AUTHENTICATE: &str = "SELECT status FROM tokens.authenticate($1)";
const VERIFY: &str = "SELECT status FROM tokens.verify($1)";

#[test]
fn a_snapshot_exported_before_a_revoke_does_not_authenticate_the_token() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let m = mint(&mut app, "exported");
    // A plain role exports a snapshot and keeps its transaction open.
    let (_, mut exporter) = db.client(&[]);
    let mut held = exporter.transaction().unwrap();
    held.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .unwrap();
    let snapshot: String = held
        .query_one("SELECT pg_export_snapshot()", &[])
        .unwrap()
        .get(0);
    assert!(try_revoke(&mut app, m.id, Some(&role)).unwrap());
    let (_, mut attacker) = db.client(&[]);
    let mut tx = attacker.transaction().unwrap();
    tx.batch_execute(&format!(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '{snapshot}'"
    ))
    .unwrap();
    assert_eq!(status(&mut tx, AUTHENTICATE, &m.token), "revoked");
    let principal: Option<uuid::Uuid> = tx
        .query_one("SELECT tokens.current_token_id()", &[])
        .unwrap()
        .get(0);
    assert_eq!(principal, None, "no principal from a revoked token");
    tx.rollback().unwrap();
    held.rollback().unwrap();
}

#[test]
fn a_long_transaction_sees_a_revoke_and_a_disable_at_its_next_call() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let revoked = mint(&mut app, "revoked meanwhile");
    let disabled = mint(&mut app, "disabled meanwhile");
    let (_, mut long) = db.client(&[]);
    let mut tx = long.transaction().unwrap();
    tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .unwrap();
    assert_eq!(status(&mut tx, VERIFY, &revoked.token), "valid");
    assert_eq!(status(&mut tx, VERIFY, &disabled.token), "valid");
    assert!(try_revoke(&mut app, revoked.id, Some(&role)).unwrap());
    app.execute("SELECT tokens.disable($1)", &[&disabled.id])
        .unwrap();
    assert_eq!(status(&mut tx, VERIFY, &revoked.token), "revoked");
    assert_eq!(status(&mut tx, AUTHENTICATE, &disabled.token), "disabled");
    tx.commit().unwrap();
}

#[test]
fn a_long_transaction_sees_an_expiry_at_its_next_call() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = try_mint(
        &mut app,
        "'soon', expires_at => clock_timestamp() + interval '1 second'",
        &[],
    )
    .unwrap();
    let (_, mut long) = db.client(&[]);
    let mut tx = long.transaction().unwrap();
    assert_eq!(status(&mut tx, VERIFY, &m.token), "valid");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(status(&mut tx, VERIFY, &m.token), "expired");
    assert_eq!(status(&mut tx, AUTHENTICATE, &m.token), "expired");
    tx.commit().unwrap();
}

#[test]
fn a_token_minted_in_the_same_transaction_still_verifies() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let mut tx = app.transaction().unwrap();
    let token: String = tx
        .query_one("SELECT token FROM tokens.mint('same transaction')", &[])
        .unwrap()
        .get(0);
    assert_eq!(status(&mut tx, VERIFY, &token), "valid");
    let id: uuid::Uuid = tx
        .query_one("SELECT token_id FROM tokens.verify($1)", &[&token])
        .unwrap()
        .get(0);
    tx.query_one("SELECT tokens.revoke($1, $2)", &[&id, &role])
        .unwrap();
    assert_eq!(
        status(&mut tx, VERIFY, &token),
        "revoked",
        "its own revoke too"
    );
    tx.rollback().unwrap();
    assert_eq!(status(&mut app, VERIFY, &token), "unknown", "rolled back");
}
