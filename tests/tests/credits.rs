//! Usage-capped tokens (SPEC §2 `tokens.set_remaining`, §7 credits): one
//! credit per successful verification, `usage_exceeded` at zero and last in
//! the order of refusals, refills, rotation moving the credits, bad input,
//! who may cap what, and the invariant: never more successful verifications
//! than credits, with 8 clients and across a kill -9 of the postmaster.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pg_tokens_tests::sql::{audit_of, mint, try_mint, try_rotate, verify, verify_requiring};
use pg_tokens_tests::{eventually, message, sqlstate, Cluster, Db};
use postgres::Client;
use uuid::Uuid;

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

/// The most credits a crash can cost a capped token on one server (one
/// lease; pg_tokens_core::credits::MAX_LEASE).
const MAX_LEASE: i64 = 1024;

fn set_remaining(c: &mut Client, id: Uuid, args: &str) -> Result<u64, postgres::Error> {
    c.execute(&format!("SELECT tokens.set_remaining($1, {args})"), &[&id])
}

/// The listing's view of the cap: (remaining, refill_amount, refill_every as text).
fn cap_of(c: &mut Client, id: Uuid) -> (Option<i64>, Option<i64>, Option<String>) {
    let row = c
        .query_one(
            "SELECT remaining, refill_amount, refill_every::text FROM tokens.tokens WHERE id = $1",
            &[&id],
        )
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

fn statuses(c: &mut Client, token: &str, n: usize) -> Vec<String> {
    (0..n).map(|_| verify(c, Some(token)).status).collect()
}

#[test]
fn each_success_spends_one_credit_and_zero_is_usage_exceeded() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "capped");
    assert_eq!(
        cap_of(&mut app, m.id),
        (None, None, None),
        "no cap by default"
    );
    set_remaining(&mut app, m.id, "3").unwrap();
    assert_eq!(cap_of(&mut app, m.id).0, Some(3));
    for left in [2, 1, 0] {
        let v = verify(&mut app, Some(&m.token));
        assert!(v.valid, "{v:?}");
        assert_eq!(cap_of(&mut app, m.id).0, Some(left));
    }
    let refused = verify(&mut app, Some(&m.token));
    assert_eq!(refused.status, "usage_exceeded");
    assert!(!refused.valid);
    assert_eq!(refused.token_id, Some(m.id), "a refusal names the token");
    assert_eq!(refused.name, None, "and nothing else about it");
    assert_eq!(cap_of(&mut app, m.id).0, Some(0));
    let listed: String = app
        .query_one("SELECT status FROM tokens.tokens WHERE id = $1", &[&m.id])
        .unwrap()
        .get(0);
    assert_eq!(listed, "active", "the listing's status is the stored state");

    // authenticate spends credits too, and says why it refuses.
    set_remaining(&mut app, m.id, "1").unwrap();
    let authenticate = |c: &mut Client| -> (String, Option<Uuid>) {
        let row = c
            .query_one(
                "SELECT a.status, tokens.current_token_id() FROM tokens.authenticate($1) a",
                &[&m.token],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(authenticate(&mut app), ("valid".into(), Some(m.id)));
    assert_eq!(authenticate(&mut app), ("usage_exceeded".into(), None));

    // A new cap starts afresh; NULL removes it.
    set_remaining(&mut app, m.id, "2").unwrap();
    assert_eq!(
        statuses(&mut app, &m.token, 3),
        ["valid", "valid", "usage_exceeded"]
    );
    set_remaining(&mut app, m.id, "NULL").unwrap();
    assert_eq!(cap_of(&mut app, m.id), (None, None, None));
    assert_eq!(statuses(&mut app, &m.token, 3), ["valid", "valid", "valid"]);
    // Zero credits: refused at once.
    set_remaining(&mut app, m.id, "0").unwrap();
    assert_eq!(statuses(&mut app, &m.token, 1), ["usage_exceeded"]);
}

#[test]
fn usage_exceeded_comes_last_and_refusals_spend_nothing() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = try_mint(&mut app, "$1, scopes => '{docs:read}'", &[&"ordered"]).unwrap();
    set_remaining(&mut app, m.id, "3").unwrap();

    // forbidden, disabled and revoked come first and spend no credit.
    assert_eq!(
        verify_requiring(&mut app, &m.token, "'{docs:write}'").status,
        "forbidden"
    );
    app.execute("SELECT tokens.disable($1)", &[&m.id]).unwrap();
    assert_eq!(verify(&mut app, Some(&m.token)).status, "disabled");
    app.execute("SELECT tokens.enable($1)", &[&m.id]).unwrap();
    assert_eq!(
        cap_of(&mut app, m.id).0,
        Some(3),
        "no credit spent by refusals"
    );

    // rate_limited comes before usage_exceeded, and neither spends the other.
    app.execute("SELECT tokens.set_rate_limit($1, 2, '1 hour')", &[&m.id])
        .unwrap();
    assert_eq!(
        statuses(&mut app, &m.token, 3),
        ["valid", "valid", "rate_limited"]
    );
    assert_eq!(
        cap_of(&mut app, m.id).0,
        Some(1),
        "a rate-limited use spends no credit"
    );
    app.execute("SELECT tokens.set_rate_limit($1, 10, '1 hour')", &[&m.id])
        .unwrap();
    assert_eq!(
        statuses(&mut app, &m.token, 4),
        [
            "valid",
            "usage_exceeded",
            "usage_exceeded",
            "usage_exceeded"
        ]
    );
    // The three usage_exceeded spent no rate slot: 3 of 10 used, 7 left.
    set_remaining(&mut app, m.id, "100").unwrap();
    let admitted = statuses(&mut app, &m.token, 10)
        .iter()
        .filter(|s| *s == "valid")
        .count();
    assert_eq!(admitted, 7, "usage_exceeded spent no rate-limit slot");

    // With both the rate window and the credits used up, rate_limited
    // comes first; revoked before either.
    let both = mint(&mut app, "both used up");
    set_remaining(&mut app, both.id, "1").unwrap();
    app.execute("SELECT tokens.set_rate_limit($1, 1, '1 hour')", &[&both.id])
        .unwrap();
    assert_eq!(
        statuses(&mut app, &both.token, 2),
        ["valid", "rate_limited"]
    );
    app.execute("SELECT tokens.revoke($1)", &[&both.id])
        .unwrap();
    assert_eq!(statuses(&mut app, &both.token, 1), ["revoked"]);

    // Refusals are counted as denied uses, successes as uses.
    eventually("usage counts the refusals", || {
        let row = app
            .query_one(
                "SELECT coalesce(sum(count), 0)::int8, coalesce(sum(denied), 0)::int8 \
                   FROM tokens.usage($1, now() - interval '1 hour', '1 hour')",
                &[&m.id],
            )
            .unwrap();
        (row.get::<_, i64>(0), row.get::<_, i64>(1)) == (2 + 1 + 7, 1 + 1 + 1 + 3 + 3)
    });
}

#[test]
fn a_credit_is_spent_whatever_the_callers_transaction_does() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "rolled back");
    set_remaining(&mut app, m.id, "5").unwrap();
    app.batch_execute("BEGIN").unwrap();
    assert!(verify(&mut app, Some(&m.token)).valid);
    app.batch_execute("ROLLBACK").unwrap();
    app.batch_execute("BEGIN READ ONLY").unwrap();
    assert!(
        verify(&mut app, Some(&m.token)).valid,
        "read-only transactions spend too"
    );
    app.batch_execute("COMMIT").unwrap();
    app.batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
        .unwrap();
    assert!(verify(&mut app, Some(&m.token)).valid);
    app.batch_execute("ROLLBACK").unwrap();
    assert_eq!(cap_of(&mut app, m.id).0, Some(2));
}

#[test]
fn credits_refill_to_the_amount_every_interval_from_when_they_were_set() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "refilled");
    // Periods start when set_remaining is called.
    let started = Instant::now();
    set_remaining(&mut app, m.id, "1, 2, '4 seconds'").unwrap();
    assert_eq!(
        cap_of(&mut app, m.id),
        (Some(1), Some(2), Some("00:00:04".into()))
    );
    let first = statuses(&mut app, &m.token, 2);
    if started.elapsed() >= Duration::from_millis(3800) {
        return; // too slow a machine to tell periods apart
    }
    assert_eq!(first, ["valid", "usage_exceeded"]);
    std::thread::sleep(Duration::from_millis(4200).saturating_sub(started.elapsed()));
    // Set back to the amount, not added to what was left.
    assert_eq!(
        statuses(&mut app, &m.token, 3),
        ["valid", "valid", "usage_exceeded"]
    );
    assert_eq!(cap_of(&mut app, m.id).0, Some(0));
}

#[test]
fn set_remaining_is_audited_and_bad_input_writes_nothing() {
    let db = Cluster::shared().database();
    let (me, mut app) = db.client(APP);
    let m = mint(&mut app, "audited");
    set_remaining(&mut app, m.id, "10, 5, '1 day'").unwrap();
    set_remaining(&mut app, m.id, "NULL").unwrap();
    let audit = audit_of(&mut app, m.id);
    let remaining: Vec<_> = audit
        .iter()
        .filter(|(action, ..)| action == "token.remaining")
        .collect();
    assert_eq!(remaining.len(), 2, "{audit:?}");
    assert_eq!(remaining[0].1, me);
    assert_eq!(
        remaining[0].3,
        Some(
            serde_json::json!({"remaining": 10, "refill_amount": 5, "refill_every_seconds": 86400.0})
        )
    );
    assert_eq!(remaining[1].3, Some(serde_json::json!({"remaining": null})));

    let before = db.counts();
    let bad = [
        ("negative remaining", "-1", "22023", "zero or more"),
        (
            "refill amount without interval",
            "10, 5",
            "22023",
            "go together",
        ),
        (
            "interval without refill amount",
            "10, NULL, '1 hour'",
            "22023",
            "go together",
        ),
        (
            "refill without remaining",
            "NULL, 5, '1 hour'",
            "22023",
            "needs remaining",
        ),
        (
            "negative refill",
            "10, -5, '1 hour'",
            "22023",
            "zero or more",
        ),
        ("zero interval", "10, 5, '0'", "22023", "between"),
        ("negative interval", "10, 5, '-1 hour'", "22023", "between"),
        ("absurd interval", "10, 5, '100 years'", "22023", "between"),
    ];
    for (what, args, state, says) in bad {
        let r = set_remaining(&mut app, m.id, args);
        assert_eq!(sqlstate(&r), state, "{what}: {r:?}");
        assert!(message(&r).contains(says), "{what}: {}", message(&r));
    }
    let unknown = set_remaining(&mut app, Uuid::now_v7(), "1");
    assert_eq!(sqlstate(&unknown), "P0002", "{unknown:?}");
    let null_id = app.execute("SELECT tokens.set_remaining(NULL, 1)", &[]);
    assert_eq!(sqlstate(&null_id), "22023", "{null_id:?}");
    assert_eq!(db.counts(), before, "bad input wrote something");
    assert_eq!(cap_of(&mut app, m.id).0, None);
}

#[test]
fn who_may_cap_which_token() {
    let db = Cluster::shared().database();
    let (_, mut writer) = db.client(&["tokens_writer"]);
    let service = mint(&mut writer, "service");
    let (self_role, mut own) = db.client(&["tokens_self_service"]);
    let personal = try_mint(&mut own, "$1, kind => 'personal'", &[&"mine"]).unwrap();
    let service_of_self =
        try_mint(&mut writer, "$1, owner => $2", &[&"theirs", &self_role]).unwrap();

    // tokens_writer caps any token; the owner may not cap even its own
    // personal token (credits are what a customer pays for: SPEC §7).
    set_remaining(&mut writer, personal.id, "6").unwrap();
    let before = db.counts();
    for (what, id) in [
        ("self-service on its own personal token", personal.id),
        (
            "self-service on a service token under its name",
            service_of_self.id,
        ),
        ("self-service on another's token", service.id),
    ] {
        let r = set_remaining(&mut own, id, "1");
        assert_eq!(sqlstate(&r), "42501", "{what}: {r:?}");
    }
    for grants in [&["tokens_reader"][..], &["tokens_revoker"], &[]] {
        let (_, mut c) = db.client(grants);
        let r = set_remaining(&mut c, service.id, "1");
        assert_eq!(sqlstate(&r), "42501", "{grants:?}: {r:?}");
    }
    assert_eq!(db.counts(), before, "a refused call wrote something");
    // The owner sees its cap in the listing; no one probes another's pool.
    assert_eq!(cap_of(&mut own, personal.id).0, Some(6));
    set_remaining(&mut writer, service.id, "9").unwrap();
    let pool_of = |id: Uuid| -> i64 {
        db.admin()
            .query_one(
                "SELECT credit_pool FROM tokens.token_store WHERE id = $1",
                &[&id],
            )
            .unwrap()
            .get(0)
    };
    let (theirs, mine) = (pool_of(service.id), pool_of(personal.id));
    for (token, pool) in [(service.id, theirs), (personal.id, theirs)] {
        let left: Option<i64> = own
            .query_one("SELECT tokens.credits_left($1, $2)", &[&token, &pool])
            .unwrap()
            .get(0);
        assert_eq!(left, None, "self-service read another token's credits");
    }
    let left: Option<i64> = own
        .query_one("SELECT tokens.credits_left($1, $2)", &[&personal.id, &mine])
        .unwrap()
        .get(0);
    assert_eq!(left, Some(6));
    // A replaced cap's pool is deleted.
    set_remaining(&mut writer, service.id, "NULL").unwrap();
    let pools: i64 = db
        .admin()
        .query_one(
            "SELECT count(*) FROM tokens.credit_store WHERE pool = $1",
            &[&theirs],
        )
        .unwrap()
        .get(0);
    assert_eq!(pools, 0);
}

#[test]
fn rotation_moves_the_credits_to_the_successor() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let old = mint(&mut app, "rotated");
    set_remaining(&mut app, old.id, "10").unwrap();
    for _ in 0..3 {
        assert!(verify(&mut app, Some(&old.token)).valid);
    }
    let new = try_rotate(&mut app, old.id, "1 hour", None).unwrap();
    assert_eq!(cap_of(&mut app, new.id).0, Some(7), "the 7 left moved");
    // During the grace period both spend from the same credits: never 14.
    let mut valid = 0;
    for i in 0..20 {
        let token = if i % 2 == 0 { &new.token } else { &old.token };
        if verify(&mut app, Some(token)).valid {
            valid += 1;
        }
    }
    assert_eq!(valid, 7, "moved, not duplicated");
    assert_eq!(verify(&mut app, Some(&new.token)).status, "usage_exceeded");
    // Capping the predecessor again leaves the successor's credits alone.
    set_remaining(&mut app, new.id, "3").unwrap();
    set_remaining(&mut app, old.id, "NULL").unwrap();
    assert_eq!(cap_of(&mut app, new.id).0, Some(3));
}

#[test]
fn a_cap_set_in_an_open_transaction_locks_no_one_out() {
    let db = Cluster::shared().database();
    let (role, mut a) = db.client(APP);
    let mut b = db.connect(&role);
    let m = mint(&mut a, "replaced in a transaction");
    set_remaining(&mut a, m.id, "5").unwrap();
    // A new cap, not committed yet, is spent by its own transaction only.
    a.batch_execute("BEGIN").unwrap();
    set_remaining(&mut a, m.id, "2").unwrap();
    assert_eq!(
        statuses(&mut a, &m.token, 3),
        ["valid", "valid", "usage_exceeded"]
    );
    // Meanwhile others spend the committed cap...
    assert_eq!(statuses(&mut b, &m.token, 2), ["valid", "valid"]);
    a.batch_execute("ROLLBACK").unwrap();
    // ... and go on after the rollback: 5 in all.
    assert_eq!(
        statuses(&mut b, &m.token, 4),
        ["valid", "valid", "valid", "usage_exceeded"]
    );
}

#[test]
fn pool_rows_are_never_updated() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "guarded");
    set_remaining(&mut app, m.id, "5").unwrap();
    let r = db
        .admin()
        .execute("UPDATE tokens.credit_store SET leased = 0", &[]);
    assert_eq!(sqlstate(&r), "42501", "{r:?}");
    assert!(message(&r).contains("never updated"), "{}", message(&r));
}

#[test]
fn a_dump_and_restore_keeps_the_cap_and_never_the_leases() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let (role, mut app) = db.client(APP);
    let m = mint(&mut app, "restored");
    set_remaining(&mut app, m.id, "100, 50, '1 day'").unwrap();
    assert!(verify(&mut app, Some(&m.token)).valid);
    let restored = Db {
        cluster,
        name: db.dump_and_restore(),
    };
    let mut there = restored.connect(&role);
    let (remaining, refill, every) = cap_of(&mut there, m.id);
    assert_eq!((refill, every.as_deref()), (Some(50), Some("1 day")));
    // The credits leased (and not spent) on this server are not granted again.
    let remaining = remaining.unwrap();
    assert!(
        (100 - MAX_LEASE.min(100)..=99).contains(&remaining),
        "{remaining}"
    );
    let mut valid = 0;
    while verify(&mut there, Some(&m.token)).valid {
        valid += 1;
        assert!(valid <= 99, "more than the credits");
    }
    assert_eq!(valid, remaining);
}

/// 8 clients hammer one token with `credits`; returns the successes.
fn hammer(cluster: &Cluster, db_name: &str, role: &str, token: &str, stop: &AtomicBool) -> i64 {
    let valid = AtomicI64::new(0);
    std::thread::scope(|s| {
        for client in 0..8 {
            let valid = &valid;
            s.spawn(move || {
                let Ok(mut c) = cluster.try_connect(role, db_name) else {
                    return;
                };
                // Some clients verify inside transactions that roll back or
                // are read-only: a credit is spent all the same.
                let wrap = match client % 4 {
                    1 => Some(("BEGIN", "ROLLBACK")),
                    2 => Some(("BEGIN READ ONLY", "COMMIT")),
                    _ => None,
                };
                while !stop.load(Ordering::Relaxed) {
                    if let Some((begin, _)) = wrap {
                        if c.batch_execute(begin).is_err() {
                            return;
                        }
                    }
                    let Ok(row) = c.query_one("SELECT status FROM tokens.verify($1)", &[&token])
                    else {
                        return; // the server went away
                    };
                    let status: String = row.get(0);
                    match status.as_str() {
                        "valid" => {
                            valid.fetch_add(1, Ordering::Relaxed);
                        }
                        "usage_exceeded" => return,
                        other => panic!("unexpected status {other}"),
                    }
                    if let Some((_, end)) = wrap {
                        if c.batch_execute(end).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    valid.into_inner()
}

#[test]
fn eight_clients_get_exactly_the_credits() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let (role, mut app) = db.client(APP);
    let m = mint(&mut app, "hammered");
    set_remaining(&mut app, m.id, "1000").unwrap();
    let valid = hammer(cluster, &db.name, &role, &m.token, &AtomicBool::new(false));
    assert_eq!(valid, 1000, "exactly the credits, across 8 clients");
    assert_eq!(verify(&mut app, Some(&m.token)).status, "usage_exceeded");
    assert_eq!(cap_of(&mut app, m.id).0, Some(0));
}

#[test]
fn a_crash_never_grants_more_than_the_credits() {
    const CREDITS: i64 = 50_000;
    let cluster = Cluster::private("credits_crash", "synchronous_commit = on");
    let db = cluster.database();
    let (role, mut app) = db.client(APP);
    let m = mint(&mut app, "crashed");
    set_remaining(&mut app, m.id, &CREDITS.to_string()).unwrap();
    drop(app);

    // Load, then kill -9 of the postmaster in the middle of it.
    let stop = AtomicBool::new(false);
    let before = std::thread::scope(|s| {
        let load = s.spawn(|| hammer(&cluster, &db.name, &role, &m.token, &stop));
        std::thread::sleep(Duration::from_millis(1000));
        cluster.kill_postmaster();
        load.join().unwrap()
    });
    assert!(
        before > 0 && before < CREDITS,
        "the crash came in the middle of the load ({before} of {CREDITS})"
    );
    cluster.restart_after_crash();

    // After the restart, spend what is left.
    let after = hammer(&cluster, &db.name, &role, &m.token, &AtomicBool::new(false));
    let total = before + after;
    println!(
        "credits crash: {before} valid before kill -9, {after} after, {total} of {CREDITS} credits"
    );
    assert!(total <= CREDITS, "{total} successes for {CREDITS} credits");
    // What a crash costs: the unspent part of one lease (plus the answers
    // in flight when the server died).
    assert!(
        total >= CREDITS - MAX_LEASE - 8,
        "lost {} credits",
        CREDITS - total
    );
    let mut app = db.connect(&role);
    assert_eq!(verify(&mut app, Some(&m.token)).status, "usage_exceeded");
}

#[test]
fn without_preload_and_on_a_standby() {
    // Without shared memory: one credit per success, spent durably; a
    // read-only transaction cannot spend one.
    let cluster = Cluster::private("credits_no_preload", "shared_preload_libraries = ''");
    let db = cluster.database();
    let (_, mut app) = db.client(APP);
    let m = mint(&mut app, "no preload");
    set_remaining(&mut app, m.id, "3").unwrap();
    app.batch_execute("BEGIN").unwrap();
    assert!(verify(&mut app, Some(&m.token)).valid);
    app.batch_execute("ROLLBACK").unwrap();
    app.batch_execute("BEGIN READ ONLY").unwrap();
    assert_eq!(verify(&mut app, Some(&m.token)).status, "usage_exceeded");
    app.batch_execute("COMMIT").unwrap();
    assert_eq!(cap_of(&mut app, m.id).0, Some(2));
    let valid = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut c = db.connect(&db.login_role(APP));
                for _ in 0..5 {
                    if verify(&mut c, Some(&m.token)).valid {
                        valid.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(valid.into_inner(), 2, "exactly the credits left");
    drop(app);
    drop(db);
    drop(cluster);

    // A standby cannot spend credits: a capped token is usage_exceeded there.
    let primary = Cluster::private("credits_primary", "");
    let db = primary.database();
    let (role, mut app) = db.client(APP);
    let capped = mint(&mut app, "capped");
    let free = mint(&mut app, "free");
    set_remaining(&mut app, capped.id, "10").unwrap();
    let standby = Cluster::replica_of(&primary, "credits_standby");
    standby.wait_for_replay(&primary);
    let mut replica = standby.connect(&role, &db.name);
    assert_eq!(
        verify(&mut replica, Some(&capped.token)).status,
        "usage_exceeded"
    );
    assert!(verify(&mut replica, Some(&free.token)).valid);
    assert!(
        verify(&mut app, Some(&capped.token)).valid,
        "the primary spends"
    );
    drop(replica);
    drop(db);
}

/// A refusal spends nothing, also when the pool was made in the same open
/// transaction (issue 19, finding 8; SPEC §2): one credit for the one
/// success, none for the rate-limited and the usage-exceeded refusals.
#[test]
fn refusals_spend_no_credit_of_a_pool_made_in_the_same_transaction() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let mut tx = app.transaction().unwrap();
    let limited = mint(&mut tx, "limited");
    tx.execute(
        "SELECT tokens.set_remaining($1, 5, NULL, NULL)",
        &[&limited.id],
    )
    .unwrap();
    tx.execute(
        "SELECT tokens.set_rate_limit($1, 1, '1 hour')",
        &[&limited.id],
    )
    .unwrap();
    let capped = mint(&mut tx, "capped");
    tx.execute(
        "SELECT tokens.set_remaining($1, 1, NULL, NULL)",
        &[&capped.id],
    )
    .unwrap();
    for (token, want) in [
        (&limited.token, ["valid", "rate_limited", "rate_limited"]),
        (&capped.token, ["valid", "usage_exceeded", "usage_exceeded"]),
    ] {
        let got: Vec<String> = (0..3)
            .map(|_| verify(&mut tx, Some(token)).status)
            .collect();
        assert_eq!(got, want);
    }
    tx.commit().unwrap();
    assert_eq!(cap_of(&mut app, limited.id).0, Some(4));
    assert_eq!(cap_of(&mut app, capped.id).0, Some(0));
}

#[test]
fn the_flush_tops_up_a_small_lease_in_use_and_spends_nothing_twice() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let mut admin = db.admin();
    let m = mint(&mut app, "topped up");
    set_remaining(&mut app, m.id, "100").unwrap();
    let leased = |c: &mut Client| -> i64 {
        c.query_one(
            "SELECT s.leased FROM tokens.credit_store s
               JOIN tokens.token_store t ON t.credit_pool = s.pool WHERE t.id = $1",
            &[&m.id],
        )
        .unwrap()
        .get(0)
    };
    for _ in 0..3 {
        assert!(verify(&mut app, Some(&m.token)).valid);
    }
    assert_eq!(leased(&mut admin), 4, "a first lease of 4 credits");
    // One credit left of four: too small a lease to be renewed ahead by a
    // verification, so the flush renews it while the token is in use.
    eventually("the lease topped up by the flush", || {
        leased(&mut admin) > 4
    });
    for _ in 0..5 {
        assert!(verify(&mut app, Some(&m.token)).valid);
    }
    assert_eq!(cap_of(&mut app, m.id).0, Some(92), "8 spent, none twice");
}
