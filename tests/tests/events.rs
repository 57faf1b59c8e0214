//! The events outbox (issue 18): `tokens.events` and `NOTIFY
//! pg_tokens_events`, written in the transaction that causes an event (a
//! revoke, a leak found) or by the worker's lifecycle pass (expiry), read
//! by tokens_reader, acknowledged with `tokens.ack_events`, kept for
//! `pg_tokens.event_retention`.

use std::time::{Duration, Instant};

use pg_tokens_tests::sql::{try_mint, try_revoke};
use pg_tokens_tests::{detail, sqlstate, Cluster, Db};
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use uuid::Uuid;

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

type Row = (
    String,
    Option<Uuid>,
    Option<String>,
    Option<serde_json::Value>,
);

/// The events about `id`, oldest first: (kind, token_id, owner, detail).
fn events_of(c: &mut Client, id: Uuid) -> Vec<Row> {
    c.query(
        "SELECT kind, token_id, owner, detail FROM tokens.events WHERE token_id = $1 ORDER BY id",
        &[&id],
    )
    .expect("read the events")
    .into_iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

fn kinds_of(c: &mut Client, id: Uuid) -> Vec<String> {
    events_of(c, id).into_iter().map(|e| e.0).collect()
}

fn event_count(db: &Db<'_>) -> i64 {
    db.admin()
        .query_one("SELECT count(*) FROM tokens.events", &[])
        .unwrap()
        .get(0)
}

/// The payloads of the notifications `listener` has received so far.
fn heard(listener: &mut Client) -> Vec<String> {
    // An empty query makes the client read what the server has sent.
    listener.batch_execute("").unwrap();
    listener
        .notifications()
        .iter()
        .map(|n| Ok((n.channel().to_owned(), n.payload().to_owned())))
        .collect::<Vec<_>>()
        .unwrap()
        .into_iter()
        .inspect(|(channel, _)| assert_eq!(channel, "pg_tokens_events"))
        .map(|(_, payload)| payload)
        .collect()
}

#[test]
fn a_revoke_writes_its_event_and_notifies_at_commit() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let (_, mut listener) = db.client(&["tokens_reader"]);
    listener.batch_execute("LISTEN pg_tokens_events").unwrap();
    let m = try_mint(&mut app, "'svc', owner => 'team-a'", &[]).unwrap();

    let mut tx = app.transaction().unwrap();
    tx.query_one(
        "SELECT tokens.revoke($1, actor => 'team-a', reason => 'left the team')",
        &[&m.id],
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        heard(&mut listener).is_empty(),
        "nothing is announced before the commit"
    );
    tx.commit().unwrap();

    let events = events_of(&mut listener, m.id);
    assert_eq!(events.len(), 1, "{events:?}");
    let (kind, token_id, owner, detail) = &events[0];
    assert_eq!(
        (kind.as_str(), *token_id, owner.as_deref()),
        ("token.revoked", Some(m.id), Some("team-a"))
    );
    let detail = detail.as_ref().expect("a detail");
    assert_eq!(detail["actor"], "team-a");
    assert_eq!(detail["reason"], "left the team");
    assert!(
        !detail.to_string().contains(&m.token) && !detail.to_string().contains(&m.token[..20]),
        "never the plaintext"
    );
    let id: i64 = listener
        .query_one("SELECT id FROM tokens.events WHERE token_id = $1", &[&m.id])
        .unwrap()
        .get(0);
    let start = Instant::now();
    let mut got = Vec::new();
    while got.is_empty() && start.elapsed() < Duration::from_secs(5) {
        got = heard(&mut listener);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(got, vec![id.to_string()], "the payload is the event's id");

    // A revoke rolled back leaves no event and announces nothing.
    let other = try_mint(&mut app, "'svc2'", &[]).unwrap();
    let mut tx = app.transaction().unwrap();
    tx.query_one("SELECT tokens.revoke($1)", &[&other.id])
        .unwrap();
    tx.rollback().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(heard(&mut listener).is_empty());
    assert!(events_of(&mut listener, other.id).is_empty());

    // Revoking what is already revoked is no new event.
    assert!(!try_revoke(&mut app, m.id, Some("team-a")).unwrap());
    assert_eq!(events_of(&mut listener, m.id).len(), 1);
}

#[test]
fn readers_read_and_acknowledge_others_may_not() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let (_, mut reader) = db.client(&["tokens_reader"]);
    let (_, mut plain) = db.client(&[]);
    let (_, mut writer) = db.client(&["tokens_writer"]);
    let ids: Vec<Uuid> = (0..3)
        .map(|i| try_mint(&mut app, &format!("'t{i}'"), &[]).unwrap().id)
        .collect();
    for id in &ids {
        assert!(try_revoke(&mut app, *id, None).unwrap());
    }
    let event_ids: Vec<i64> = reader
        .query("SELECT id FROM tokens.events ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(event_ids.len(), 3);

    for c in [&mut plain, &mut writer] {
        let read = c.query("SELECT * FROM tokens.events", &[]);
        assert_eq!(sqlstate(&read), "42501");
        let ack = c.query_one("SELECT tokens.ack_events(9223372036854775807)", &[]);
        assert_eq!(sqlstate(&ack), "42501");
    }
    let write = reader.execute("DELETE FROM tokens.events", &[]);
    assert_eq!(sqlstate(&write), "42501", "only through ack_events");

    let bad = reader.query_one("SELECT tokens.ack_events(NULL)", &[]);
    assert_eq!(sqlstate(&bad), "22023");
    assert_eq!(detail(&bad), "argument: upto");
    assert_eq!(event_count(&db), 3, "nothing deleted");

    let acked: i64 = reader
        .query_one("SELECT tokens.ack_events($1)", &[&event_ids[1]])
        .unwrap()
        .get(0);
    assert_eq!(acked, 2);
    let left: Vec<i64> = reader
        .query("SELECT id FROM tokens.events", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, vec![event_ids[2]]);
    let again: i64 = reader
        .query_one("SELECT tokens.ack_events($1)", &[&event_ids[1]])
        .unwrap()
        .get(0);
    assert_eq!(again, 0);
}

#[test]
fn expiry_events_come_once_each() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let soon = try_mint(
        &mut app,
        "'soon', owner => 'team-a', expires_at => now() + interval '1 hour'",
        &[],
    )
    .unwrap();
    let later = try_mint(
        &mut app,
        "'later', expires_at => now() + interval '30 days'",
        &[],
    )
    .unwrap();
    let never = try_mint(&mut app, "'never'", &[]).unwrap();
    let brief = try_mint(
        &mut app,
        "'brief', expires_at => now() + interval '2 seconds'",
        &[],
    )
    .unwrap();
    let revoked = try_mint(
        &mut app,
        "'gone', expires_at => now() + interval '1 hour'",
        &[],
    )
    .unwrap();
    assert!(try_revoke(&mut app, revoked.id, None).unwrap());

    app.batch_execute("SELECT tokens.run_lifecycle()").unwrap();
    let events = events_of(&mut app, soon.id);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "token.expiring");
    assert_eq!(events[0].2.as_deref(), Some("team-a"));
    assert!(events[0].3.as_ref().unwrap()["expires_at"].is_string());
    assert!(
        kinds_of(&mut app, later.id).is_empty(),
        "30 days away: beyond the 7-day warning"
    );
    assert!(kinds_of(&mut app, never.id).is_empty());
    assert_eq!(kinds_of(&mut app, brief.id), vec!["token.expiring"]);
    assert_eq!(
        kinds_of(&mut app, revoked.id),
        vec!["token.revoked"],
        "a revoked token does not expire"
    );

    std::thread::sleep(Duration::from_millis(2500));
    app.batch_execute("SELECT tokens.run_lifecycle(); SELECT tokens.run_lifecycle()")
        .unwrap();
    assert_eq!(kinds_of(&mut app, soon.id), vec!["token.expiring"], "once");
    assert_eq!(
        kinds_of(&mut app, brief.id),
        vec!["token.expiring", "token.expired"]
    );

    // Acknowledged events do not come back.
    app.batch_execute(
        "SELECT tokens.ack_events(9223372036854775807); SELECT tokens.run_lifecycle()",
    )
    .unwrap();
    assert_eq!(event_count(&db), 0);

    // A plain role may not run the pass.
    let (_, mut plain) = db.client(&["tokens_reader"]);
    let denied = plain.query_one("SELECT tokens.run_lifecycle()", &[]);
    assert_eq!(sqlstate(&denied), "42501");
}

#[test]
fn old_events_go_after_the_retention() {
    let db = Cluster::shared().database();
    let mut admin = db.admin();
    admin
        .batch_execute(
            "INSERT INTO tokens.event_store (at, kind) VALUES \
               (now() - interval '31 days', 'token.revoked'), \
               (now() - interval '29 days', 'token.revoked')",
        )
        .unwrap();
    admin
        .batch_execute("SELECT tokens.run_lifecycle()")
        .unwrap();
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM tokens.events WHERE at > now() - interval '30 days'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!((event_count(&db), left), (1, 1), "the 31-day-old one went");
}

#[test]
fn the_worker_writes_expiry_events_within_a_minute() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let soon = try_mint(
        &mut app,
        "'soon', expires_at => now() + interval '1 day'",
        &[],
    )
    .unwrap();
    let start = Instant::now();
    while kinds_of(&mut app, soon.id).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(75),
            "no token.expiring event from the worker after 75 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(kinds_of(&mut app, soon.id), vec!["token.expiring"]);
}

#[test]
fn find_leaked_announces_each_live_token_once() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let live = try_mint(&mut app, "'live', owner => 'team-b'", &[]).unwrap();
    let dead = try_mint(&mut app, "'dead'", &[]).unwrap();
    assert!(try_revoke(&mut app, dead.id, None).unwrap());
    let blob = format!(
        "pasted: {} and again {} and {}",
        live.token, live.token, dead.token
    );

    let found = app
        .query("SELECT * FROM tokens.find_leaked($1)", &[&blob])
        .unwrap();
    assert_eq!(found.len(), 2, "each token found once");
    let events = events_of(&mut app, live.id);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "token.leaked");
    assert_eq!(events[0].2.as_deref(), Some("team-b"));
    let detail = events[0].3.as_ref().unwrap().to_string();
    assert!(!detail.contains(&live.token), "never the plaintext");
    assert_eq!(
        kinds_of(&mut app, dead.id),
        vec!["token.revoked"],
        "a revoked token is no leak event"
    );

    // A read-only transaction (or a standby) triages without writing.
    let mut tx = app.transaction().unwrap();
    tx.batch_execute("SET TRANSACTION READ ONLY").unwrap();
    let found = tx
        .query("SELECT * FROM tokens.find_leaked($1)", &[&blob])
        .unwrap();
    assert_eq!(found.len(), 2);
    tx.commit().unwrap();
    assert_eq!(events_of(&mut app, live.id).len(), 1);
}

#[test]
fn a_rate_limited_token_gets_one_event_per_window_however_many_refusals() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = try_mint(&mut app, "'hammered', owner => 'team-a'", &[]).unwrap();
    app.batch_execute(&format!(
        "SELECT tokens.set_rate_limit('{}', 2, '1 hour')",
        m.id
    ))
    .unwrap();
    let statuses = |c: &mut Client, n: usize| -> Vec<String> {
        (0..n)
            .map(|_| pg_tokens_tests::sql::verify(c, Some(&m.token)).status)
            .collect()
    };
    assert_eq!(statuses(&mut app, 2), ["valid", "valid"]);
    assert_eq!(kinds_of(&mut app, m.id), Vec::<String>::new());
    // Refusals from several sessions at once: one event.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let (_, mut c) = db.client(&[]);
                assert!(statuses(&mut c, 5).iter().all(|s| s == "rate_limited"));
            });
        }
    });
    assert_eq!(statuses(&mut app, 3), ["rate_limited"; 3]);
    let events = events_of(&mut app, m.id);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "token.rate_limited");
    assert_eq!(events[0].2.as_deref(), Some("team-a"));
    assert_eq!(
        events[0].3,
        Some(serde_json::json!({"requests": 2, "per_seconds": 3600.0}))
    );
    // A refusal in a read-only transaction writes nothing, and still answers.
    let other = try_mint(&mut app, "'other', owner => 'team-a'", &[]).unwrap();
    app.batch_execute(&format!(
        "SELECT tokens.set_rate_limit('{}', 1, '1 hour')",
        other.id
    ))
    .unwrap();
    let (_, mut reader) = db.client(&[]);
    let mut tx = reader.build_transaction().read_only(true).start().unwrap();
    for _ in 0..3 {
        pg_tokens_tests::sql::verify(&mut tx, Some(&other.token));
    }
    tx.commit().unwrap();
    assert!(kinds_of(&mut app, other.id).is_empty());
}

#[test]
fn credits_low_comes_once_under_ten_percent_and_again_after_a_refill() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = try_mint(&mut app, "'metered', owner => 'team-a'", &[]).unwrap();
    let set_remaining = |c: &mut Client| {
        c.batch_execute(&format!("SELECT tokens.set_remaining('{}', 20)", m.id))
            .unwrap()
    };
    let spend = |c: &mut Client, n: usize| {
        for _ in 0..n {
            assert!(pg_tokens_tests::sql::verify(c, Some(&m.token)).valid);
        }
    };
    let lows = |c: &mut Client| {
        kinds_of(c, m.id)
            .into_iter()
            .filter(|k| k == "token.credits_low")
            .count()
    };
    set_remaining(&mut app);
    spend(&mut app, 18); // 2 left: 10%, not under it
    app.batch_execute("SELECT tokens.run_lifecycle()").unwrap();
    assert_eq!(lows(&mut app), 0);
    spend(&mut app, 1); // 1 left
    app.batch_execute("SELECT tokens.run_lifecycle(); SELECT tokens.run_lifecycle()")
        .unwrap();
    assert_eq!(lows(&mut app), 1);
    let detail: serde_json::Value = app
        .query_one(
            "SELECT detail FROM tokens.events WHERE token_id = $1 AND kind = 'token.credits_low'",
            &[&m.id],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        detail,
        serde_json::json!({"remaining": 1, "period_credits": 20})
    );
    // Credits back (a new cap) re-arm it; falling under 10% again, a second.
    set_remaining(&mut app);
    app.batch_execute("SELECT tokens.run_lifecycle()").unwrap();
    assert_eq!(lows(&mut app), 1);
    spend(&mut app, 19);
    app.batch_execute("SELECT tokens.run_lifecycle()").unwrap();
    assert_eq!(lows(&mut app), 2);
}
