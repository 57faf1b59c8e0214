//! Errors say what was wrong, never how the code got there: a server started
//! with `RUST_BACKTRACE=1` sent a lock timeout's full Rust backtrace to the
//! client in DETAIL (0.4.0).
//!
//! One cluster of its own, started with RUST_BACKTRACE=1.

use pg_tokens_tests::sql::mint;
use pg_tokens_tests::{sqlstate, Cluster};

#[test]
fn a_lock_timeout_reaches_the_client_without_a_backtrace() {
    // The only test of this binary: no other thread reads the environment.
    std::env::set_var("RUST_BACKTRACE", "1");
    let cluster = Cluster::private("errors", "");
    let db = cluster.database();
    let (role, mut app) = db.client(&["tokens_writer", "tokens_revoker"]);
    let m = mint(&mut app, "locked");
    let mut holder = db.admin();
    let mut tx = holder.transaction().unwrap();
    tx.execute(
        "SELECT 1 FROM tokens.token_store WHERE id = $1 FOR UPDATE",
        &[&m.id],
    )
    .unwrap();
    app.batch_execute("SET lock_timeout = '50ms'").unwrap();
    let r = app.execute("SELECT tokens.revoke($1, $2)", &[&m.id, &role]);
    assert_eq!(sqlstate(&r), "55P03", "{r:?}");
    let db_error = r.as_ref().unwrap_err().as_db_error().unwrap();
    let detail = db_error.detail().unwrap_or_default();
    assert!(
        !detail.contains("pg_tokens::") && !detail.contains("pgrx") && !detail.contains("rust"),
        "a backtrace in DETAIL: {detail}"
    );
    tx.rollback().unwrap();
    // Our own errors carry none either: their DETAIL names the argument
    // at fault, and nothing else.
    let r = app.execute("SELECT tokens.revoke(NULL)", &[]);
    assert_eq!(sqlstate(&r), "22023");
    let detail = r
        .unwrap_err()
        .as_db_error()
        .and_then(|d| d.detail().map(str::to_owned));
    assert_eq!(detail.as_deref(), Some("argument: id"));
}
