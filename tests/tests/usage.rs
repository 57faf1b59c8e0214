//! Usage in shared memory, flushed by the background worker (SPEC §2
//! last_used_at, `tokens.usage`, `set_rate_limit`; §7 shared state):
//! verify writes nothing in the caller's transaction, counts are exact after
//! a flush (a clean restart included), rate limits are exact under
//! concurrency, and a standby verifies without error.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use pg_tokens_tests::sql::{audit_of, mint, try_revoke, try_rotate, verify};
use pg_tokens_tests::{eventually, message, sqlstate, Cluster};
use postgres::Client;
use uuid::Uuid;

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

/// (successes, refusals) flushed for a token over the last day.
fn flushed(c: &mut Client, id: Uuid) -> (i64, i64) {
    let row = c
        .query_one(
            "SELECT coalesce(sum(count), 0)::int8, coalesce(sum(denied), 0)::int8 \
               FROM tokens.usage($1, now() - interval '1 day', '1 day')",
            &[&id],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

fn wait_for_counts(c: &mut Client, id: Uuid, want: (i64, i64)) {
    let mut last = (0, 0);
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(15) {
        last = flushed(c, id);
        if last == want {
            // And it stays so: nothing is counted twice by a later flush.
            std::thread::sleep(std::time::Duration::from_millis(2500));
            assert_eq!(flushed(c, id), want, "counted again by a later flush");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("usage of {id}: want {want:?}, have {last:?} after 15 s");
}

fn last_used(c: &mut Client, id: Uuid) -> Option<DateTime<Utc>> {
    c.query_one(
        "SELECT last_used_at FROM tokens.tokens WHERE id = $1",
        &[&id],
    )
    .unwrap()
    .get(0)
}

#[test]
fn verify_writes_nothing_in_the_callers_transaction_and_counts_read_only_ones() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let good = mint(&mut app, "good");
    let limited = mint(&mut app, "limited");
    app.execute(
        "SELECT tokens.set_rate_limit($1, 1, '1 hour')",
        &[&limited.id],
    )
    .unwrap();
    let gone = mint(&mut app, "gone");
    assert!(try_revoke(&mut app, gone.id, None).unwrap());

    for read_only in [false, true] {
        let mut tx = app.transaction().unwrap();
        if read_only {
            tx.batch_execute("SET TRANSACTION READ ONLY").unwrap();
        }
        for t in [&good.token, &limited.token, &gone.token, &good.token] {
            tx.query_one("SELECT tokens.verify($1)", &[t]).unwrap();
        }
        let xid: Option<String> = tx
            .query_one("SELECT pg_current_xact_id_if_assigned()::text", &[])
            .unwrap()
            .get(0);
        assert_eq!(
            xid, None,
            "verify wrote in the caller's transaction (read only: {read_only})"
        );
        tx.rollback().unwrap();
    }
    // Rolled back or read only, the verifications happened and are counted.
    wait_for_counts(&mut app, good.id, (4, 0));
    wait_for_counts(&mut app, limited.id, (1, 1));
    wait_for_counts(&mut app, gone.id, (0, 2));
    assert!(last_used(&mut app, good.id).is_some());
    assert_eq!(last_used(&mut app, gone.id), None, "a refusal is not a use");
}

#[test]
fn last_used_at_is_flushed_within_seconds_and_throttled() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "x");
    assert_eq!(last_used(&mut app, m.id), None);
    let before: DateTime<Utc> = app
        .query_one("SELECT clock_timestamp()", &[])
        .unwrap()
        .get(0);
    assert!(verify(&mut app, Some(&m.token)).valid);
    eventually("last_used_at is flushed", || {
        last_used(&mut app, m.id).is_some()
    });
    let first = last_used(&mut app, m.id).unwrap();
    assert!(
        first >= before - chrono::Duration::seconds(1),
        "{first} vs {before}"
    );
    let version = || -> String {
        db.admin()
            .query_one(
                "SELECT xmin::text FROM tokens.token_last_use WHERE token_id = $1",
                &[&m.id],
            )
            .unwrap()
            .get(0)
    };
    let written = version();
    // Within the interval (60 s by default) the row is not written again.
    let (_, mut other) = db.client(&[]);
    for _ in 0..5 {
        assert!(verify(&mut app, Some(&m.token)).valid);
        assert!(verify(&mut other, Some(&m.token)).valid);
    }
    wait_for_counts(&mut app, m.id, (11, 0));
    assert_eq!(last_used(&mut app, m.id), Some(first));
    assert_eq!(
        version(),
        written,
        "the last-use row was not written again within the interval"
    );
}

#[test]
fn usage_counts_are_exact_across_a_clean_restart() {
    let cluster = Cluster::private("usage_restart", "");
    let db = cluster.database();
    let (role, mut app) = db.client(APP);
    let a = mint(&mut app, "a");
    let b = mint(&mut app, "b");
    assert!(try_revoke(&mut app, b.id, None).unwrap());
    let run = |c: &mut Client, n: usize| {
        for i in 0..n {
            verify(c, Some(&a.token));
            if i % 10 == 0 {
                verify(c, Some(&b.token));
            }
        }
    };
    run(&mut app, 137);
    wait_for_counts(&mut app, a.id, (137, 0));
    wait_for_counts(&mut app, b.id, (0, 14));

    // More uses, then at once a clean shutdown, before any flush can run.
    run(&mut app, 50);
    drop(app);
    cluster.stop();
    cluster.start();
    let mut app = cluster.connect(&role, &db.name);
    wait_for_counts(&mut app, a.id, (187, 0));
    wait_for_counts(&mut app, b.id, (0, 19));
}

#[test]
fn a_rate_limit_admits_exactly_its_requests_under_concurrency() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let m = mint(&mut app, "hammered");
    const R: usize = 25;
    app.execute(
        "SELECT tokens.set_rate_limit($1, $2, '1 hour')",
        &[&m.id, &(R as i32)],
    )
    .unwrap();
    let valid = AtomicUsize::new(0);
    let limited = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let mut c = db.connect(&role);
                for _ in 0..40 {
                    match verify(&mut c, Some(&m.token)).status.as_str() {
                        "valid" => valid.fetch_add(1, Ordering::Relaxed),
                        "rate_limited" => limited.fetch_add(1, Ordering::Relaxed),
                        other => panic!("unexpected status {other}"),
                    };
                }
            });
        }
    });
    assert_eq!(
        valid.into_inner(),
        R,
        "exactly the limit succeeds in one window"
    );
    assert_eq!(limited.into_inner(), 8 * 40 - R);
    wait_for_counts(&mut app, m.id, (R as i64, (8 * 40 - R) as i64));
    // Refusals do not count, and clearing the limit lets it through.
    app.execute("SELECT tokens.set_rate_limit($1, NULL, NULL)", &[&m.id])
        .unwrap();
    assert!(verify(&mut app, Some(&m.token)).valid);
}

#[test]
fn a_limited_token_succeeds_again_once_its_window_has_passed() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let m = mint(&mut app, "per second");
    const R: usize = 5;
    app.execute(
        "SELECT tokens.set_rate_limit($1, $2, '1 second')",
        &[&m.id, &(R as i32)],
    )
    .unwrap();
    // Each success with the server's clock read just before and just after
    // the verification (select-list items are evaluated in order).
    let successes = std::sync::Mutex::new(Vec::<(DateTime<Utc>, DateTime<Utc>)>::new());
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let mut c = db.connect(&role);
                let stmt = c
                    .prepare(
                        "SELECT clock_timestamp(), (tokens.verify($1)).valid, clock_timestamp()",
                    )
                    .unwrap();
                while started.elapsed() < std::time::Duration::from_millis(2500) {
                    let row = c.query_one(&stmt, &[&m.token]).unwrap();
                    if row.get::<_, bool>(1) {
                        successes.lock().unwrap().push((row.get(0), row.get(2)));
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut successes = successes.into_inner().unwrap();
    successes.sort();
    let valid = successes.len();
    // Fixed windows of 1 s, each opened by a success: at most R per window
    // and at most ceil(elapsed) + 1 windows.
    assert!(
        valid <= R * (elapsed.ceil() as usize + 1),
        "{valid} successes in {elapsed:.1} s"
    );
    assert!(
        valid >= R * 2,
        "{valid} successes in {elapsed:.1} s: windows did not reopen"
    );
    // The first window opened no earlier than the first success's "before":
    // every success that surely fell inside it is one of its R.
    let opened_by = successes[0].0;
    let surely_first = successes
        .iter()
        .filter(|(_, after)| *after < opened_by + chrono::Duration::seconds(1))
        .count();
    assert!(
        surely_first <= R,
        "{surely_first} successes in the first window"
    );
    // Exhaust a window, wait it out, succeed again.
    while verify(&mut app, Some(&m.token)).valid {}
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(verify(&mut app, Some(&m.token)).valid);
}

#[test]
fn rate_limit_is_audited_carried_by_rotation_and_shown() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "svc");
    app.execute(
        "SELECT tokens.set_rate_limit($1, 100, '1 minute')",
        &[&m.id],
    )
    .unwrap();
    let shown = app
        .query_one(
            "SELECT rate_limit_requests, extract(epoch FROM rate_limit_per)::int8, uses_24h FROM tokens.tokens WHERE id = $1",
            &[&m.id],
        )
        .unwrap();
    assert_eq!(
        (
            shown.get::<_, Option<i32>>(0),
            shown.get::<_, Option<i64>>(1)
        ),
        (Some(100), Some(60))
    );
    assert_eq!(shown.get::<_, i64>(2), 0);
    let audit = audit_of(&mut app, m.id);
    let row = audit
        .iter()
        .find(|r| r.0 == "token.rate_limit")
        .expect("token.rate_limit audited");
    assert_eq!(row.3.as_ref().unwrap()["requests"], 100);

    let next = try_rotate(&mut app, m.id, "1 hour", None).unwrap();
    let carried: Option<i32> = app
        .query_one(
            "SELECT rate_limit_requests FROM tokens.tokens WHERE id = $1",
            &[&next.id],
        )
        .unwrap()
        .get(0);
    assert_eq!(carried, Some(100), "rotation carries the rate limit");
    for _ in 0..3 {
        assert!(verify(&mut app, Some(&next.token)).valid);
    }
    eventually("uses_24h counts the uses", || {
        app.query_one(
            "SELECT uses_24h FROM tokens.tokens WHERE id = $1",
            &[&next.id],
        )
        .unwrap()
        .get::<_, i64>(0)
            == 3
    });
    app.execute("SELECT tokens.set_rate_limit($1, NULL, NULL)", &[&m.id])
        .unwrap();
    let cleared = audit_of(&mut app, m.id)
        .into_iter()
        .filter(|r| r.0 == "token.rate_limit")
        .count();
    assert_eq!(cleared, 2, "clearing is audited too");
}

#[test]
fn usage_buckets_and_who_may_read_them() {
    let db = Cluster::shared().database();
    let (_, mut writer) = db.client(APP);
    let (me, mut own) = db.client(&["tokens_self_service"]);
    let (_, mut stranger) = db.client(&["tokens_self_service"]);
    let (_, mut plain) = db.client(&[]);
    let mine = pg_tokens_tests::sql::try_mint(&mut own, "'mine', kind => 'personal'", &[]).unwrap();
    let service =
        pg_tokens_tests::sql::try_mint(&mut writer, &format!("'svc', owner => '{me}'"), &[])
            .unwrap();
    for _ in 0..3 {
        verify(&mut plain, Some(&mine.token));
    }
    wait_for_counts(&mut own, mine.id, (3, 0));

    // Ten one-minute buckets: the last holds now, the uses are in it.
    let rows = own
        .query(
            "SELECT bucket_start, count, denied FROM tokens.usage($1, now() - interval '9 minutes 30 seconds', '1 minute')",
            &[&mine.id],
        )
        .unwrap();
    assert_eq!(rows.len(), 10);
    let starts: Vec<DateTime<Utc>> = rows.iter().map(|r| r.get(0)).collect();
    assert!(starts
        .windows(2)
        .all(|w| w[1] - w[0] == chrono::Duration::minutes(1)));
    assert_eq!(rows.iter().map(|r| r.get::<_, i64>(1)).sum::<i64>(), 3);
    assert_eq!(
        rows[9].get::<_, i64>(1) + rows[8].get::<_, i64>(1),
        3,
        "the uses are in the latest buckets"
    );
    let future = own
        .query(
            "SELECT * FROM tokens.usage($1, now() + interval '1 hour', '1 hour')",
            &[&mine.id],
        )
        .unwrap();
    assert!(future.is_empty(), "a future since gives no rows");
    let max = own
        .query(
            "SELECT * FROM tokens.usage($1, now() - interval '10000 minutes', '1 minute')",
            &[&mine.id],
        )
        .unwrap();
    assert_eq!(max.len(), 10_000);

    // Self-service reads its own tokens' usage, of any kind; not another's.
    assert!(own
        .query(
            "SELECT * FROM tokens.usage($1, now(), '1 hour')",
            &[&service.id]
        )
        .is_ok());
    let r = stranger.query(
        "SELECT * FROM tokens.usage($1, now(), '1 hour')",
        &[&mine.id],
    );
    assert_eq!(sqlstate(&r), "42501", "{}", message(&r));
    let r = plain.query(
        "SELECT * FROM tokens.usage($1, now(), '1 hour')",
        &[&mine.id],
    );
    assert_eq!(sqlstate(&r), "42501");
    assert!(
        writer
            .query(
                "SELECT * FROM tokens.usage($1, now(), '1 hour')",
                &[&mine.id]
            )
            .is_ok(),
        "tokens_reader"
    );
    // Setting a rate limit: the owner of a personal token, or tokens_writer.
    assert!(own
        .execute(
            "SELECT tokens.set_rate_limit($1, 5, '1 minute')",
            &[&mine.id]
        )
        .is_ok());
    let r = own.execute(
        "SELECT tokens.set_rate_limit($1, 5, '1 minute')",
        &[&service.id],
    );
    assert_eq!(
        sqlstate(&r),
        "42501",
        "self-service manages only personal tokens"
    );
    let r = stranger.execute(
        "SELECT tokens.set_rate_limit($1, 5, '1 minute')",
        &[&mine.id],
    );
    assert_eq!(sqlstate(&r), "42501");
    let r = plain.execute(
        "SELECT tokens.set_rate_limit($1, 5, '1 minute')",
        &[&mine.id],
    );
    assert_eq!(sqlstate(&r), "42501");
    assert!(writer
        .execute(
            "SELECT tokens.set_rate_limit($1, 5, '1 minute')",
            &[&service.id]
        )
        .is_ok());
}

#[test]
fn a_standby_verifies_enforces_rate_limits_in_its_memory_and_counts_no_usage() {
    let primary = Cluster::private("usage_primary", "");
    let db = primary.database();
    let standby = Cluster::replica_of(&primary, "usage_standby");
    let (role, mut app) = db.client(APP);
    let m = mint(&mut app, "replicated");
    let limited = mint(&mut app, "limited");
    app.execute(
        "SELECT tokens.set_rate_limit($1, 2, '1 hour')",
        &[&limited.id],
    )
    .unwrap();
    standby.wait_for_replay(&primary);
    let mut replica = standby.connect(&role, &db.name);
    for _ in 0..20 {
        assert!(verify(&mut replica, Some(&m.token)).valid);
    }
    let statuses: Vec<String> = (0..4)
        .map(|_| verify(&mut replica, Some(&limited.token)).status)
        .collect();
    assert_eq!(
        statuses,
        ["valid", "valid", "rate_limited", "rate_limited"],
        "kept per server"
    );
    // The primary's window is its own.
    assert!(verify(&mut app, Some(&limited.token)).valid);
    wait_for_counts(&mut app, limited.id, (1, 0));
    assert_eq!(
        flushed(&mut app, m.id),
        (0, 0),
        "standby verifications are not counted"
    );
    drop(replica);
    drop(db);
}

#[test]
fn a_database_can_be_dropped_and_created_while_usage_is_pending() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "x");
    for _ in 0..10 {
        verify(&mut app, Some(&m.token));
    }
    drop(app);
    let mut admin = cluster.connect("postgres", "postgres");
    let name = db.name.clone();
    std::mem::forget(db);
    admin
        .batch_execute(&format!("DROP DATABASE {name}"))
        .unwrap();
    let copy = pg_tokens_tests::unique("copy");
    admin
        .batch_execute(&format!("CREATE DATABASE {copy} TEMPLATE template1"))
        .unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE {copy}"))
        .unwrap();
}

#[test]
fn a_read_only_database_is_flushed_and_a_dropped_extension_is_forgotten() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let (role, mut app) = db.client(APP);
    let m = mint(&mut app, "x");
    db.admin()
        .batch_execute(&format!(
            "ALTER DATABASE {} SET default_transaction_read_only = on; \
             ALTER DATABASE {} SET statement_timeout = '1ms'",
            db.name, db.name
        ))
        .unwrap();
    // The settings hold for every new session of the database, the flush
    // worker's included; this one lifts the timeout for itself.
    let mut ro = db.connect(&role);
    ro.batch_execute("SET statement_timeout = 0").unwrap();
    for _ in 0..7 {
        assert!(verify(&mut ro, Some(&m.token)).valid);
    }
    wait_for_counts(&mut ro, m.id, (7, 0));

    // Uses counted, then the extension dropped before they are flushed: the
    // flush forgets them instead of failing round after round.
    let other = cluster.database();
    let (_, mut app2) = other.client(APP);
    let t = mint(&mut app2, "y");
    for _ in 0..5 {
        verify(&mut app2, Some(&t.token));
    }
    other
        .admin()
        .batch_execute("DROP EXTENSION pg_tokens")
        .unwrap();
    let oid: u32 = other
        .admin()
        .query_one(
            "SELECT oid FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .unwrap()
        .get::<_, postgres::types::Oid>(0);
    std::thread::sleep(std::time::Duration::from_secs(5));
    let log = std::fs::read_to_string(cluster.log_file()).unwrap_or_default();
    let failed = format!("usage flush for database {oid} failed");
    assert!(!log.contains(&failed), "the flush kept failing: {failed}");
}

#[test]
fn a_terminated_flush_launcher_is_restarted() {
    let cluster = Cluster::private("launcher_restart", "");
    let db = cluster.database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "x");
    let killed: bool = db
        .admin()
        .query_one(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'pg_tokens flush launcher'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(killed);
    for _ in 0..4 {
        assert!(verify(&mut app, Some(&m.token)).valid);
    }
    wait_for_counts(&mut app, m.id, (4, 0));
}

#[test]
fn past_max_tracked_tokens_uses_go_uncounted_and_limits_fail_closed_until_entries_are_evicted() {
    let cluster = Cluster::private("usage_full", "pg_tokens.max_tracked_tokens = 100");
    let db = cluster.database();
    let (_, mut app) = db.client(APP);
    let tokens: Vec<(Uuid, String)> = app
        .query(
            "SELECT m.id, m.token FROM generate_series(1, 130) g, tokens.mint('t' || g) m",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let limited = mint(&mut app, "limited");
    app.execute(
        "SELECT tokens.set_rate_limit($1, 1000, '1 hour')",
        &[&limited.id],
    )
    .unwrap();
    // 130 tokens verified in one statement: the table holds 100 of them
    // (nothing is flushed, so nothing can be evicted yet).
    let valid: i64 = app
        .query_one(
            "SELECT count(*) FROM unnest($1::text[]) t, tokens.verify(t) v WHERE v.valid",
            &[&tokens.iter().map(|t| t.1.clone()).collect::<Vec<_>>()],
        )
        .unwrap()
        .get(0);
    assert_eq!(valid, 130, "every verification is still answered");
    // The table is full of entries not yet flushed: a rate-limited token
    // that gets no entry is refused rather than let through uncounted.
    assert_eq!(
        verify(&mut app, Some(&limited.token)).status,
        "rate_limited"
    );
    // After a flush the entries are clean and can be evicted: counted again.
    let counted = |c: &mut Client| -> i64 {
        c.query_one(
            "SELECT coalesce(sum(count), 0)::int8 FROM tokens.usage_counts",
            &[],
        )
        .map(|r| r.get(0))
        .unwrap_or(0)
    };
    let mut admin = db.admin();
    eventually("the first 100 uses are flushed", || {
        counted(&mut admin) == 100
    });
    std::thread::sleep(std::time::Duration::from_millis(1100)); // one eviction pass a second
    assert_eq!(verify(&mut app, Some(&limited.token)).status, "valid");
    let log = std::fs::read_to_string(cluster.log_file()).unwrap_or_default();
    assert!(
        log.contains("were not counted in usage"),
        "the uncounted uses are logged"
    );
}

/// A flush that fails with an ERROR (here a lock timeout) ends its worker
/// without reaching the end of the flush: the claim is released on the way
/// out (issue 19, finding 8). On 0.4.0 the claim kept the dead worker's
/// pid, and once a live process had that pid every later flush stopped:
/// the test gives the pid to a process of its own (through
/// /proc/sys/kernel/ns_last_pid) and checks that the next flush writes.
#[test]
fn a_failed_flush_releases_its_claim_even_when_its_pid_is_reused() {
    let cluster = Cluster::private("flush_claim", "");
    let db = cluster.database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "x");
    let mut admin = db.admin();
    let mut tx = admin.transaction().unwrap();
    tx.batch_execute("LOCK TABLE tokens.usage_counts IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    for _ in 0..3 {
        assert!(verify(&mut app, Some(&m.token)).valid);
    }
    // The flush waits its lock_timeout (2 s) and fails: its worker exits 1.
    let failed = "background worker \"pg_tokens flush\" (PID ";
    let mut pid = None;
    let start = std::time::Instant::now();
    while pid.is_none() && start.elapsed() < std::time::Duration::from_secs(20) {
        let log = std::fs::read_to_string(cluster.log_file()).unwrap_or_default();
        pid = log
            .lines()
            .filter(|l| l.contains(failed) && l.ends_with("exited with exit code 1"))
            .filter_map(|l| {
                l.split(failed)
                    .nth(1)?
                    .split(')')
                    .next()?
                    .parse::<u32>()
                    .ok()
            })
            .last();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let pid = pid.expect("a flush worker failed on the lock");
    // A live process of the cluster's OS user (so that the next worker may
    // signal it) with the dead worker's pid.
    use std::os::unix::process::CommandExt;
    let uid: u32 = String::from_utf8(
        std::process::Command::new("id")
            .args(["-u", "postgres"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    let mut holder = None;
    for _ in 0..500 {
        let _ = std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string());
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .uid(uid)
            .spawn()
            .unwrap();
        if child.id() == pid {
            holder = Some(child);
            break;
        }
        let _ = child.kill();
        let _ = child.wait();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut holder = holder.expect("the failed worker's pid given to a process of the test's own");
    tx.commit().unwrap();
    wait_for_counts(&mut app, m.id, (3, 0));
    let _ = holder.kill();
    let _ = holder.wait();
}
