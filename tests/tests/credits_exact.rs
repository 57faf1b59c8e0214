//! Usage-capped tokens lose no credit but to a crash (issue 15): a clean
//! restart (fast and smart), a rotation whose grace is used on both tokens,
//! a revoke of a token holding a lease, an eviction from a full table and a
//! dump of a cleanly stopped source all keep every credit not spent. On
//! 0.4.0 each of these lost the unspent part of a lease.

use pg_tokens_tests::sql::{mint, try_revoke, try_rotate, verify};
use pg_tokens_tests::{eventually, Cluster, Db};
use postgres::Client;
use uuid::Uuid;

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

fn capped(app: &mut Client, name: &str, credits: i64) -> pg_tokens_tests::sql::Minted {
    let m = mint(app, name);
    app.execute(
        "SELECT tokens.set_remaining($1, $2, NULL, NULL)",
        &[&m.id, &credits],
    )
    .unwrap();
    m
}

/// Verifies `token` until it is refused (at most `max` times): the successes.
fn spend_all(c: &mut Client, token: &str, max: usize) -> usize {
    let mut n = 0;
    while n < max && verify(c, Some(token)).valid {
        n += 1;
    }
    n
}

fn spend(c: &mut Client, token: &str, n: usize) {
    for _ in 0..n {
        assert!(verify(c, Some(token)).valid);
    }
}

/// Credits the pool row of `id`'s cap has leased out in its period, as the
/// flush leaves it once every idle lease is given back.
fn leased(admin: &mut Client, id: Uuid) -> i64 {
    admin
        .query_one(
            "SELECT c.leased FROM tokens.credit_store c JOIN tokens.token_store t ON t.credit_pool = c.pool WHERE t.id = $1",
            &[&id],
        )
        .unwrap()
        .get(0)
}

/// Waits until the idle leases of `id`'s pool are given back: the pool
/// row has leased out exactly what was spent.
fn given_back(db: &Db<'_>, id: Uuid, spent: i64) {
    // Idle for twelve flush intervals (here 12 s), then the next flush.
    let mut admin = db.admin();
    let start = std::time::Instant::now();
    while leased(&mut admin, id) != spent {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(40),
            "the idle lease was not given back to the pool: {} leased, {spent} spent",
            leased(&mut admin, id)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn a_clean_restart_loses_no_credit() {
    for mode in ["fast", "smart"] {
        let cluster = Cluster::private(&format!("credits_restart_{mode}"), "");
        let db = cluster.database();
        let (role, mut app) = db.client(APP);
        let m = capped(&mut app, "capped", 20);
        spend(&mut app, &m.token, 5);
        drop(app);
        cluster.stop_with(mode);
        cluster.start();
        let mut app = db.connect(&role);
        assert_eq!(
            spend_all(&mut app, &m.token, 100),
            15,
            "pg_ctl stop -m {mode}: every unspent credit is there after the restart"
        );
        assert_eq!(verify(&mut app, Some(&m.token)).status, "usage_exceeded");
    }
}

#[test]
fn a_rotation_with_a_grace_used_on_both_tokens_loses_no_credit() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let old = capped(&mut app, "rotated", 6);
    spend(&mut app, &old.token, 1);
    let new = try_rotate(&mut app, old.id, "3 seconds", None).unwrap();
    // During the grace both spend from the same credits.
    spend(&mut app, &old.token, 1);
    spend(&mut app, &new.token, 2);
    spend(&mut app, &old.token, 1);
    // After it, the successor has what is left: 6 - 5.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    assert_eq!(verify(&mut app, Some(&old.token)).status, "revoked");
    assert_eq!(spend_all(&mut app, &new.token, 100), 1);
    assert_eq!(verify(&mut app, Some(&new.token)).status, "usage_exceeded");
}

#[test]
fn a_revoked_tokens_lease_goes_back_to_the_pool() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = capped(&mut app, "revoked with a lease", 100);
    spend(&mut app, &m.token, 3);
    assert!(try_revoke(&mut app, m.id, None).unwrap());
    // The lease (more than 3 credits) idles and is given back: the pool
    // row has leased out exactly the 3 spent.
    given_back(&db, m.id, 3);
    let remaining: Option<i64> = app
        .query_one(
            "SELECT remaining FROM tokens.tokens WHERE id = $1",
            &[&m.id],
        )
        .unwrap()
        .get(0);
    assert_eq!(remaining, Some(97));
}

#[test]
fn an_eviction_from_a_full_table_loses_no_credit() {
    let cluster = Cluster::private("credits_evict", "pg_tokens.max_tracked_tokens = 100");
    let db = cluster.database();
    let (_, mut app) = db.client(APP);
    let m = capped(&mut app, "used slowly", 20);
    spend(&mut app, &m.token, 2);
    // 300 other tokens, verified in three waves a few seconds apart: the
    // capped token's entry is flushed, clean, and evicted meanwhile.
    let others: Vec<String> = app
        .query(
            "SELECT m.token FROM generate_series(1, 300) g, tokens.mint('other ' || g) m",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for wave in others.chunks(100) {
        app.query(
            "SELECT v.valid FROM unnest($1::text[]) t, tokens.verify(t) v",
            &[&wave],
        )
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2500));
    }
    assert_eq!(spend_all(&mut app, &m.token, 100), 18);
}

#[test]
fn a_dump_of_a_cleanly_stopped_source_restores_exactly_the_credits_not_spent() {
    let cluster = Cluster::private("credits_dump", "");
    let db = cluster.database();
    let (role, mut app) = db.client(APP);
    let m = capped(&mut app, "dumped", 20);
    spend(&mut app, &m.token, 5);
    drop(app);
    cluster.stop();
    cluster.start();
    // The leases read back at the start go back to the pools at the first
    // flushes: a quiet database has every unspent credit in its pool rows.
    given_back(&db, m.id, 5);
    let restored = db.dump_and_restore();
    let mut copy = cluster.connect(&role, &restored);
    assert_eq!(spend_all(&mut copy, &m.token, 100), 15);
    // And the source still has its own 15.
    let mut app = db.connect(&role);
    assert_eq!(spend_all(&mut app, &m.token, 100), 15);
}

/// 8 clients verify capped tokens (rotating them, with a grace both tokens
/// use) in three runs with a clean restart between each (fast, then
/// smart), then a refill by set_remaining: the successes equal the credits
/// exactly, every run.
#[test]
fn eight_clients_with_rotations_two_clean_restarts_and_a_refill_get_exactly_the_credits() {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    const SLOTS: usize = 4;
    const CREDITS: i64 = 60_000;
    let cluster = Cluster::private("credits_load", "");
    let db = cluster.database();
    let role = db.login_role(APP);
    let mut app = db.connect(&role);
    let tokens: Mutex<Vec<(Uuid, String, Option<String>)>> = Mutex::new(
        (0..SLOTS)
            .map(|i| {
                let m = capped(&mut app, &format!("slot {i}"), CREDITS);
                (m.id, m.token, None)
            })
            .collect(),
    );
    drop(app);
    let successes = AtomicI64::new(0);
    let rotations = AtomicI64::new(0);
    // Runs the clients until `stop` says so or every token is exhausted.
    let run = |seconds: Option<u64>| {
        let stop = AtomicBool::new(false);
        let start = Instant::now();
        std::thread::scope(|s| {
            for client in 0..8usize {
                let (stop, tokens, successes, rotations, db, role) =
                    (&stop, &tokens, &successes, &rotations, &db, &role);
                s.spawn(move || {
                    let mut c = db.connect(role);
                    let mut i = client;
                    let mut refused_in_a_row = 0;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let slot = i % SLOTS;
                        let (id, token, old) = tokens.lock().unwrap()[slot].clone();
                        // The predecessor during its grace, now and then.
                        let presented = match (&old, i % 3) {
                            (Some(old), 0) => old.clone(),
                            _ => token.clone(),
                        };
                        let v = verify(&mut c, Some(&presented));
                        if v.valid {
                            successes.fetch_add(1, Ordering::Relaxed);
                            refused_in_a_row = 0;
                        } else {
                            refused_in_a_row += 1;
                            assert!(
                                ["usage_exceeded", "revoked"].contains(&v.status.as_str()),
                                "{}",
                                v.status
                            );
                        }
                        if i % 997 == 0 {
                            if let Ok(new) = try_rotate(&mut c, id, "2 seconds", None) {
                                tokens.lock().unwrap()[slot] = (new.id, new.token, Some(token));
                                rotations.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        if seconds.is_none() && refused_in_a_row > 200 {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                });
            }
            while !stop.load(Ordering::Relaxed) {
                if seconds.is_some_and(|s| start.elapsed() >= Duration::from_secs(s)) {
                    stop.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
    };
    run(Some(20));
    let first = successes.load(Ordering::Relaxed);
    cluster.stop_with("fast");
    cluster.start();
    run(Some(20));
    let second = successes.load(Ordering::Relaxed);
    cluster.stop_with("smart");
    cluster.start();
    // Until every token (and every predecessor) is refused.
    run(None);
    let mut c = db.connect(&role);
    for (_, token, _) in tokens.lock().unwrap().iter() {
        assert_eq!(verify(&mut c, Some(token)).status, "usage_exceeded");
    }
    let total = successes.load(Ordering::Relaxed);
    println!(
        "credits load: {total} successes for {} credits ({first} before the fast restart, {second} before the smart one), \
         {} rotations",
        SLOTS as i64 * CREDITS,
        rotations.load(Ordering::Relaxed)
    );
    assert_eq!(total, SLOTS as i64 * CREDITS, "exactly the credits");

    // A refill: new caps on the current tokens, spent to the last.
    for (id, _, _) in tokens.lock().unwrap().iter() {
        c.execute("SELECT tokens.set_remaining($1, 1000, NULL, NULL)", &[id])
            .unwrap();
    }
    successes.store(0, Ordering::Relaxed);
    run(None);
    assert_eq!(
        successes.load(Ordering::Relaxed),
        SLOTS as i64 * 1000,
        "exactly the refill"
    );
}

/// With a synchronous standby, a lease is handed out only once the standby
/// has it: promoted after a kill -9 of the primary mid-load, the standby
/// never grants a credit the primary already leased (a crash may lose the
/// primary's unspent leases, never grant one twice).
#[test]
fn a_promoted_synchronous_standby_never_grants_a_credit_twice() {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    const CREDITS: i64 = 20_000;
    let primary = Cluster::private("credits_sync_primary", "");
    let db = primary.database();
    let standby = Cluster::replica_of(&primary, "credits_sync_standby");
    let role = db.login_role(APP);
    let mut admin = db.admin();
    admin
        .batch_execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        .unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").unwrap();
    eventually("the standby is synchronous", || {
        admin
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_stat_replication WHERE sync_state = 'sync')",
                &[],
            )
            .unwrap()
            .get(0)
    });
    let mut app = db.connect(&role);
    // A session that asks not to wait changes nothing.
    app.batch_execute("SET synchronous_commit = local").unwrap();
    let m = capped(&mut app, "failover", CREDITS);
    standby.wait_for_replay(&primary);
    let before = AtomicI64::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let Ok(mut c) = db.cluster.try_connect(&role, &db.name) else {
                    return;
                };
                let _ = c.batch_execute("SET synchronous_commit = off");
                while !stop.load(Ordering::Relaxed) {
                    match c.query_one("SELECT valid FROM tokens.verify($1)", &[&m.token]) {
                        Ok(r) if r.get::<_, bool>(0) => {
                            before.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(_) => return, // the primary is gone
                    }
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
        primary.kill_postmaster();
        stop.store(true, Ordering::Relaxed);
    });
    let mut promote = pg_tokens_tests::as_cluster_user(&pg_tokens_tests::pg_bin().join("pg_ctl"));
    promote.args(["promote", "-w", "-D"]).arg(&standby.data);
    pg_tokens_tests::run(promote);
    let mut c = standby.connect(&role, &db.name);
    eventually("the promoted standby accepts writes", || {
        !c.query_one("SELECT pg_is_in_recovery()", &[])
            .unwrap()
            .get::<_, bool>(0)
    });
    let after = spend_all(&mut c, &m.token, CREDITS as usize + 10) as i64;
    let before = before.load(Ordering::Relaxed);
    println!(
        "failover: {before} successes on the primary, {after} on the promoted standby, {} of {CREDITS} credits \
         ({} lost with the primary's leases)",
        before + after,
        CREDITS - before - after
    );
    assert!(before > 0, "the load ran");
    assert!(
        before + after <= CREDITS,
        "{before} + {after} successes for {CREDITS} credits: a credit was granted twice"
    );
    assert!(
        CREDITS - before - after <= 2 * pg_tokens_core::credits::MAX_LEASE,
        "lost more than the leases in flight"
    );
}
