//! Without `shared_preload_libraries = 'pg_tokens'` everything still works
//! (SPEC §6), with the fallbacks the README names: a NOTICE once per
//! session; last_used_at written by the verifying transaction at most once
//! per interval, never waiting on a lock and skipped in read-only
//! transactions; no usage counts; rate limits counted per session.
//!
//! One cluster of its own, so one test running the checks in turn.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use pg_tokens_tests::sql::{mint, verify};
use pg_tokens_tests::{Cluster, Db};
use postgres::{Client, NoTls};
use uuid::Uuid;

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

fn last_used(c: &mut Client, id: Uuid) -> Option<DateTime<Utc>> {
    c.query_one(
        "SELECT last_used_at FROM tokens.tokens WHERE id = $1",
        &[&id],
    )
    .unwrap()
    .get(0)
}

#[test]
fn without_preload_everything_works_with_the_documented_fallbacks() {
    let cluster = Cluster::private("no_preload", "shared_preload_libraries = ''");
    let db = cluster.database();
    a_notice_once_per_session(&cluster, &db);
    last_used_at_is_recorded_and_throttled(&db);
    read_only_verifications_are_not_recorded(&db);
    a_use_recorded_by_a_rolled_back_transaction_is_recorded_again(&db);
    rate_limits_are_counted_per_session_and_usage_not_at_all(&db);
}

fn a_notice_once_per_session(cluster: &Cluster, db: &Db) {
    let role = db.login_role(APP);
    let notices = Arc::new(Mutex::new(Vec::<String>::new()));
    let connect = || {
        let seen = notices.clone();
        postgres::Config::new()
            .host_path(&cluster.socket_dir)
            .port(cluster.port)
            .user(&role)
            .dbname(&db.name)
            .notice_callback(move |n| seen.lock().unwrap().push(n.message().to_owned()))
            .connect(NoTls)
            .unwrap()
    };
    let mut app = connect();
    let m = mint(&mut app, "x");
    for _ in 0..3 {
        assert!(verify(&mut app, Some(&m.token)).valid);
    }
    let mut second = connect();
    assert!(verify(&mut second, Some(&m.token)).valid);
    let seen = notices.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one NOTICE per session: {seen:?}");
    assert!(seen[0].contains("shared_preload_libraries"), "{}", seen[0]);
}

fn last_used_at_is_recorded_and_throttled(db: &Db) {
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "x");
    assert_eq!(last_used(&mut app, m.id), None);
    assert!(verify(&mut app, Some(&m.token)).valid);
    let first = last_used(&mut app, m.id).expect("recorded by the verification itself");
    let row_version = || -> String {
        db.admin()
            .query_one(
                "SELECT xmin::text FROM tokens.token_last_use WHERE token_id = $1",
                &[&m.id],
            )
            .unwrap()
            .get(0)
    };
    let version = row_version();
    // Within the interval (60 s by default) no second write happens, from
    // this session or another one.
    let (_, mut other) = db.client(&[]);
    for _ in 0..5 {
        assert!(verify(&mut app, Some(&m.token)).valid);
        assert!(verify(&mut other, Some(&m.token)).valid);
    }
    assert_eq!(last_used(&mut app, m.id), Some(first));
    assert_eq!(
        row_version(),
        version,
        "the last-use row was not written again"
    );
}

fn read_only_verifications_are_not_recorded(db: &Db) {
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "x");
    let mut tx = app.transaction().unwrap();
    tx.batch_execute("SET TRANSACTION READ ONLY").unwrap();
    let valid: bool = tx
        .query_one("SELECT (tokens.verify($1)).valid", &[&m.token])
        .unwrap()
        .get(0);
    assert!(valid);
    tx.commit().unwrap();
    let (_, mut ro) = db.client(&[]);
    ro.batch_execute("SET default_transaction_read_only = on")
        .unwrap();
    assert!(verify(&mut ro, Some(&m.token)).valid);
    assert_eq!(
        last_used(&mut app, m.id),
        None,
        "read-only verifications are not recorded without the background flush"
    );
}

fn a_use_recorded_by_a_rolled_back_transaction_is_recorded_again(db: &Db) {
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "x");
    let mut tx = app.transaction().unwrap();
    let valid: bool = tx
        .query_one("SELECT (tokens.verify($1)).valid", &[&m.token])
        .unwrap()
        .get(0);
    assert!(valid);
    tx.rollback().unwrap();
    assert!(verify(&mut app, Some(&m.token)).valid);
    assert!(
        last_used(&mut app, m.id).is_some(),
        "the committed verification was recorded"
    );
}

fn rate_limits_are_counted_per_session_and_usage_not_at_all(db: &Db) {
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "limited");
    app.execute("SELECT tokens.set_rate_limit($1, 2, '1 hour')", &[&m.id])
        .unwrap();
    let statuses = |c: &mut Client| -> Vec<String> {
        (0..3).map(|_| verify(c, Some(&m.token)).status).collect()
    };
    assert_eq!(statuses(&mut app), ["valid", "valid", "rate_limited"]);
    let (_, mut other) = db.client(&[]);
    assert_eq!(
        statuses(&mut other),
        ["valid", "valid", "rate_limited"],
        "each session counts its own"
    );
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let counted: i64 = app
        .query_one("SELECT coalesce(sum(count + denied), 0)::int8 FROM tokens.usage($1, now() - interval '1 hour', '1 hour')", &[&m.id])
        .unwrap()
        .get(0);
    assert_eq!(counted, 0, "no usage is counted without shared memory");
}
