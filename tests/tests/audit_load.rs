//! The audit log under an application's load (issue 14): 16 clients mix
//! `tokens.audit`, mint, revoke and rotate, with rolled-back transactions
//! and savepoints, while the background worker seals. Every committed event
//! gets exactly one position, no aborted one any, the positions are gapless
//! and the chain intact; and so after a kill -9 of the postmaster during
//! the load and during sealing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pg_tokens_tests::sql::{sealed_chain, try_mint, try_revoke, try_rotate};
use pg_tokens_tests::{eventually, Cluster, Db};
use postgres::Client;

const CLIENTS: usize = 16;
const APP: &[&str] = &["tokens_writer", "tokens_revoker"];

/// Seconds of load (60 in the README's test command).
fn load_seconds() -> u64 {
    std::env::var("PG_TOKENS_AUDIT_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

/// What the clients know of their events: ids of `tokens.audit` events in
/// transactions that committed, in ones that rolled back (or in a rolled
/// back savepoint), and in ones whose COMMIT got no answer (a crash); and
/// the token events (mint, revoke, rotate) committed and rolled back.
#[derive(Default)]
struct Seen {
    committed: Vec<i64>,
    aborted: Vec<i64>,
    in_doubt: Vec<i64>,
    token_events: i64,
    token_events_in_doubt: i64,
}

fn audit(c: &mut impl postgres::GenericClient, what: &str) -> Result<i64, postgres::Error> {
    c.query_one(
        "SELECT tokens.audit('doc.create', $1, '{\"n\": 1}')",
        &[&what],
    )
    .map(|r| r.get(0))
}

/// One client's mix until `stop` (or its connection is lost).
fn client(db: &Db<'_>, role: &str, stop: &AtomicBool, seen: &Mutex<Seen>) {
    let Ok(mut c) = db.cluster.try_connect(role, &db.name) else {
        return;
    };
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        if step(&mut c, i, seen).is_err() && c.is_closed() {
            return; // the server is gone (the crash test)
        }
    }
}

fn step(c: &mut Client, i: u64, seen: &Mutex<Seen>) -> Result<(), postgres::Error> {
    match i % 7 {
        0 | 1 => {
            let mut tx = c.transaction()?;
            let a = audit(&mut tx, "doc:a")?;
            let mut sp = tx.savepoint("s")?;
            let b = audit(&mut sp, "doc:b")?;
            sp.rollback()?;
            let d = audit(&mut tx, "doc:d")?;
            seen.lock().unwrap().aborted.push(b);
            commit(tx, &[a, d], 0, seen)
        }
        2 => {
            let mut tx = c.transaction()?;
            let a = audit(&mut tx, "doc:rolled back")?;
            tx.rollback()?;
            seen.lock().unwrap().aborted.push(a);
            Ok(())
        }
        3 => {
            let mut tx = c.transaction()?;
            let a = audit(&mut tx, "doc:with a mint")?;
            tx.query_one("SELECT * FROM tokens.mint('in a transaction')", &[])?;
            commit(tx, &[a], 1, seen)
        }
        4 => {
            let m = try_mint(c, "$1", &[&"then revoked"])?;
            seen.lock().unwrap().token_events += 1;
            if try_revoke(c, m.id, None)? {
                seen.lock().unwrap().token_events += 1;
            }
            Ok(())
        }
        5 => {
            let m = try_mint(c, "$1", &[&"then rotated"])?;
            seen.lock().unwrap().token_events += 1;
            try_rotate(c, m.id, "0", None)?;
            seen.lock().unwrap().token_events += 2;
            Ok(())
        }
        _ => {
            let mut tx = c.transaction()?;
            tx.query_one("SELECT * FROM tokens.mint('rolled back')", &[])?;
            tx.rollback()?;
            Ok(())
        }
    }
}

/// Commits `tx` and files its audit ids (and token events) by the outcome.
fn commit(
    tx: postgres::Transaction<'_>,
    ids: &[i64],
    token_events: i64,
    seen: &Mutex<Seen>,
) -> Result<(), postgres::Error> {
    let outcome = tx.commit();
    let mut seen = seen.lock().unwrap();
    match &outcome {
        Ok(()) => {
            seen.committed.extend_from_slice(ids);
            seen.token_events += token_events;
        }
        // No answer to COMMIT, or an error instead of one (a crash): it may
        // have committed or not.
        Err(_) => {
            seen.in_doubt.extend_from_slice(ids);
            seen.token_events_in_doubt += token_events;
        }
    }
    outcome
}

/// Runs the mix on `db` for `seconds`; `during` runs meanwhile (a crash).
fn load(db: &Db<'_>, seconds: u64, during: impl FnOnce(&AtomicBool)) -> Seen {
    let role = db.login_role(APP);
    let stop = AtomicBool::new(false);
    let seen = Mutex::new(Seen::default());
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| client(db, &role, &stop, &seen));
        }
        let start = Instant::now();
        during(&stop);
        while start.elapsed() < Duration::from_secs(seconds) && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::Relaxed);
    });
    seen.into_inner().unwrap()
}

/// The checks of every run: each committed event sealed exactly once, no
/// aborted one present, in-doubt ones at most once, the chain intact and
/// gapless, and nothing else in the log.
fn check(admin: &mut Client, seen: &Seen) -> i64 {
    let (positions, intact) = sealed_chain(admin);
    assert!(
        intact,
        "the chain is intact, gapless, each event sealed once"
    );
    let count = |ids: &[i64], admin: &mut Client| -> i64 {
        admin
            .query_one(
                "SELECT count(*) FROM tokens.audit_chain c JOIN tokens.audit_store s ON s.id = c.event_id \
                  WHERE s.id = ANY($1)",
                &[&ids],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(
        count(&seen.committed, admin),
        seen.committed.len() as i64,
        "every committed event has a position"
    );
    assert_eq!(count(&seen.aborted, admin), 0, "no aborted event has one");
    let in_doubt = count(&seen.in_doubt, admin);
    let token_events: i64 = admin
        .query_one(
            "SELECT count(*) FROM tokens.audit_store WHERE action LIKE 'token.%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        token_events >= seen.token_events
            && token_events <= seen.token_events + seen.token_events_in_doubt + CLIENTS as i64 * 2,
        "token events: {token_events} in the log, {} committed",
        seen.token_events
    );
    assert_eq!(
        positions,
        seen.committed.len() as i64 + in_doubt + token_events,
        "the log holds nothing else"
    );
    positions
}

#[test]
fn sixteen_clients_audit_mint_revoke_and_rotate_and_every_committed_event_is_sealed_once() {
    let db = Cluster::shared().database();
    let started = Instant::now();
    let seen = load(&db, load_seconds(), |_| {});
    let seconds = started.elapsed().as_secs_f64();
    let mut admin = db.admin();
    // The worker seals within about a second of a commit.
    eventually("the worker seals what was committed", || {
        admin
            .query_one("SELECT NOT EXISTS (SELECT FROM tokens.audit_unsealed)", &[])
            .unwrap()
            .get(0)
    });
    let delay: (f64, f64) = {
        let r = admin
            .query_one(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), max(d) \
                   FROM (SELECT extract(epoch FROM c.sealed_at - s.at)::float8 AS d \
                           FROM tokens.audit_store s JOIN tokens.audit_chain c ON c.event_id = s.id) x",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    let positions = check(&mut admin, &seen);
    println!(
        "audit load: {CLIENTS} clients, {seconds:.0} s: {positions} events sealed ({:.0}/s), \
         {} committed audit events, {} aborted; seal delay median {:.0} ms, max {:.0} ms",
        positions as f64 / seconds,
        seen.committed.len(),
        seen.aborted.len(),
        delay.0 * 1000.0,
        delay.1 * 1000.0
    );
    assert!(seen.committed.len() > 100, "the load ran");
}

#[test]
fn a_kill_9_during_the_load_and_during_sealing_loses_nothing_committed_and_seals_nothing_twice() {
    let cluster = Cluster::private("audit_crash", "synchronous_commit = on");
    let db = cluster.database();
    // During the load.
    let seen = load(&db, 30, |stop| {
        std::thread::sleep(Duration::from_secs(8));
        cluster.kill_postmaster();
        stop.store(true, Ordering::Relaxed);
    });
    cluster.restart_after_crash();
    let mut admin = db.admin();
    eventually(
        "the worker seals what was committed before the crash",
        || {
            admin
                .query_one("SELECT NOT EXISTS (SELECT FROM tokens.audit_unsealed)", &[])
                .unwrap()
                .get(0)
        },
    );
    let before = check(&mut admin, &seen);
    assert!(seen.committed.len() > 10, "the load ran before the kill");

    // During sealing: 200k events committed at once keep the worker
    // sealing (10k per transaction) when the postmaster is killed.
    admin
        .batch_execute(
            "SELECT count(tokens.audit('bulk.event', 'e:' || g)) FROM generate_series(1, 200000) g",
        )
        .unwrap();
    eventually("the worker is sealing", || {
        admin
            .query_one(
                "SELECT count(*) > 0 FROM tokens.audit_chain WHERE position > $1",
                &[&before],
            )
            .unwrap()
            .get(0)
    });
    cluster.kill_postmaster();
    cluster.restart_after_crash();
    let mut admin = db.admin();
    eventually("the worker seals the rest after the restart", || {
        admin
            .query_one("SELECT NOT EXISTS (SELECT FROM tokens.audit_unsealed)", &[])
            .unwrap()
            .get(0)
    });
    let (positions, intact) = sealed_chain(&mut admin);
    assert!(intact, "intact after a crash during sealing");
    assert_eq!(positions, before + 200_000, "each bulk event sealed once");
    let broken: Option<i64> = admin
        .query_one("SELECT tokens.verify_audit_chain()", &[])
        .unwrap()
        .get(0);
    assert_eq!(broken, None);
}
