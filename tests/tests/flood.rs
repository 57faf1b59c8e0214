//! One user cannot make the rate-limited and capped tokens of everyone
//! else fail by filling shared memory (issue 19, finding 3). On 0.4.0, a
//! self-service user's personal tokens with a day-long rate limit, each
//! verified once, held every entry for a day: other limited tokens were
//! refused as rate_limited. Now entries are bounded per owner (and per
//! database), and a rate window on record survives its entry's eviction.

use pg_tokens_tests::sql::{mint, verify};
use pg_tokens_tests::{eventually, Cluster, Db};
use postgres::Client;

/// `n` personal tokens of a new self-service user, each limited to one
/// verification a day and verified once: (the user, their tokens).
fn flood(db: &Db, n: i64) -> (Client, Vec<String>) {
    let (_, mut mallory) = db.client(&["tokens_self_service"]);
    let tokens: Vec<String> = mallory
        .query(
            "SELECT m.token FROM generate_series(1, $1::int8) g, \
                    tokens.mint('flood ' || g, kind => 'personal') m, \
                    tokens.set_rate_limit(m.id, 1, '1 day') s",
            &[&n],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let valid: i64 = mallory
        .query_one(
            "SELECT count(*) FROM unnest($1::text[]) t, tokens.verify(t) v WHERE v.valid",
            &[&tokens],
        )
        .unwrap()
        .get(0);
    assert!(valid > 0);
    (mallory, tokens)
}

fn limited(app: &mut Client, name: &str) -> String {
    let m = mint(app, name);
    app.execute("SELECT tokens.set_rate_limit($1, 1000, '1 day')", &[&m.id])
        .unwrap();
    m.token
}

fn statuses(c: &mut Client, tokens: &[String]) -> Vec<String> {
    c.query(
        "SELECT v.status FROM unnest($1::text[]) WITH ORDINALITY t(token, n), tokens.verify(t.token) v ORDER BY n",
        &[&tokens],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn one_owner_holds_at_most_its_share_of_the_table() {
    let cluster = Cluster::private(
        "flood_owner",
        "pg_tokens.max_tracked_tokens = 100\npg_tokens.max_tracked_per_owner = 20",
    );
    let db = cluster.database();
    let (_, mut app) = db.client(&["tokens_writer"]);
    let (mut mallory, tokens) = flood(&db, 150);
    // Right away, before any flush: the table has room for others.
    let other = limited(&mut app, "someone else's");
    assert_eq!(verify(&mut app, Some(&other)).status, "valid");
    // The flood's tokens past the share are refused, not let through
    // uncounted: a limit that cannot be kept fails closed for its owner.
    let again = statuses(&mut mallory, &tokens);
    assert_eq!(
        again.iter().filter(|s| *s == "valid").count(),
        0,
        "{again:?}"
    );
}

#[test]
fn a_rate_window_on_record_survives_its_entrys_eviction() {
    let cluster = Cluster::private(
        "flood_window",
        "pg_tokens.max_tracked_tokens = 100\npg_tokens.max_tracked_per_owner = 0",
    );
    let db = cluster.database();
    let (_, mut app) = db.client(&["tokens_writer", "tokens_reader"]);
    let (mut mallory, tokens) = flood(&db, 130);
    let mut admin = db.admin();
    eventually("the flood's windows are on record", || {
        admin
            .query_one("SELECT count(*) FROM tokens.rate_windows", &[])
            .unwrap()
            .get::<_, i64>(0)
            == 100
    });
    std::thread::sleep(std::time::Duration::from_millis(1100)); // one eviction pass a second
                                                                // Entries whose window is on record are evicted for another token.
    let other = limited(&mut app, "someone else's");
    assert_eq!(verify(&mut app, Some(&other)).status, "valid");
    // And none of the flood's tokens gets a second verification in its
    // day, evicted or not: each window is read back.
    for _ in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let again = statuses(&mut mallory, &tokens[..100]);
        assert!(
            again.iter().all(|s| s == "rate_limited"),
            "a window was lost with its entry: {again:?}"
        );
    }
}

/// An owner with more tokens than its share of the table, limited only by
/// `set_owner_limits`: the tokens past the share have no entry, and their
/// owner's limit is kept by the owner's entry alone. Before, each of them
/// was refused as `rate_limited` (with an event each), whatever the
/// owner's limit allowed.
#[test]
fn owner_limits_hold_for_tokens_past_the_owners_share() {
    let cluster = Cluster::private(
        "flood_owner_limits",
        "pg_tokens.max_tracked_tokens = 100\npg_tokens.max_tracked_per_owner = 20",
    );
    let db = cluster.database();
    let (_, mut app) = db.client(&["tokens_writer", "tokens_reader"]);
    let tokens: Vec<String> = app
        .query(
            "SELECT m.token FROM generate_series(1, 60) g, \
                    tokens.mint('shared ' || g, owner => 'tenant') m",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    app.batch_execute("SELECT tokens.set_owner_limits('tenant', 100, '1 day', NULL, NULL, NULL)")
        .unwrap();
    let first = statuses(&mut app, &tokens);
    assert!(first.iter().all(|s| s == "valid"), "{first:?}");
    // 60 of the owner's 100 spent: 40 more pass, whichever tokens they use,
    // then the owner's limit refuses.
    let second = statuses(&mut app, &tokens);
    let valid = second.iter().filter(|s| *s == "valid").count();
    assert_eq!(valid, 40, "{second:?}");
    assert!(
        second[40..].iter().all(|s| s == "rate_limited"),
        "{second:?}"
    );
}
