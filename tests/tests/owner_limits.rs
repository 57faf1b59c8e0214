//! Owner limits and a cost per call (issue 18, items 4 and 5):
//! `tokens.set_owner_limits` puts one rate limit and one credit pool over
//! every token of an owner, checked together with each token's own (both
//! must admit, the refusal says which, a refusal spends nothing from
//! either); `tokens.verify(token, required_scopes, cost)` spends `cost`
//! credits (0: none), 22023 outside 0..=1000.

use std::sync::Arc;

use pg_tokens_tests::sql::{try_mint, try_rotate, verify, Minted, Verification};
use pg_tokens_tests::{detail, sqlstate, Cluster, Db};
use postgres::Client;

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

fn mint_for(c: &mut Client, name: &str, owner: &str) -> Minted {
    try_mint(c, "$1, owner => $2", &[&name, &owner]).expect("mint")
}

fn set_owner_limits(c: &mut Client, args: &str) -> Result<u64, postgres::Error> {
    c.execute(&format!("SELECT tokens.set_owner_limits({args})"), &[])
}

fn verify_cost(c: &mut Client, token: &str, cost: i32) -> Verification {
    try_verify_cost(c, token, Some(cost)).expect("verify with a valid cost never raises")
}

fn try_verify_cost(
    c: &mut Client,
    token: &str,
    cost: Option<i32>,
) -> Result<Verification, postgres::Error> {
    c.query_one(
        "SELECT * FROM tokens.verify($1, '{}'::text[], $2)",
        &[&token, &cost],
    )
    .map(Verification::from)
}

fn statuses(c: &mut Client, token: &str, n: usize) -> Vec<String> {
    (0..n).map(|_| verify(c, Some(token)).status).collect()
}

/// Successful verifications of `token` (cost 1) until the first refusal,
/// at most `max`; and that refusal's status.
fn spend_all(c: &mut Client, token: &str, max: usize) -> (usize, String) {
    for n in 0..max {
        let v = verify(c, Some(token));
        if !v.valid {
            return (n, v.status);
        }
    }
    (max, "valid".into())
}

#[test]
fn an_owner_rate_limit_is_shared_by_its_tokens() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let a = mint_for(&mut app, "a", "group:shared-rate");
    let b = mint_for(&mut app, "b", "group:shared-rate");
    let other = mint_for(&mut app, "other", "group:someone-else");
    set_owner_limits(
        &mut app,
        "'group:shared-rate', 3, '1 hour', NULL, NULL, NULL",
    )
    .unwrap();
    assert_eq!(statuses(&mut app, &a.token, 2), ["valid", "valid"]);
    assert_eq!(verify(&mut app, Some(&b.token)).status, "valid");
    assert_eq!(verify(&mut app, Some(&b.token)).status, "rate_limited");
    assert_eq!(verify(&mut app, Some(&a.token)).status, "rate_limited");
    // Another owner's tokens are not limited by it.
    assert_eq!(statuses(&mut app, &other.token, 5), ["valid"; 5]);
    // NULLs clear the limit.
    set_owner_limits(
        &mut app,
        "'group:shared-rate', NULL, NULL, NULL, NULL, NULL",
    )
    .unwrap();
    assert_eq!(statuses(&mut app, &a.token, 5), ["valid"; 5]);
    let shown: i64 = app
        .query_one("SELECT count(*) FROM tokens.owner_limits", &[])
        .unwrap()
        .get(0);
    assert_eq!(shown, 0, "an owner with every limit cleared has no row");
}

#[test]
fn both_must_admit_the_refusal_says_which_and_spends_nothing() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let owner = "group:both";
    let limited = mint_for(&mut app, "limited", owner);
    let capped = mint_for(&mut app, "capped", owner);
    let sibling = mint_for(&mut app, "sibling", owner);
    app.execute(
        "SELECT tokens.set_rate_limit($1, 1, '1 hour')",
        &[&limited.id],
    )
    .unwrap();
    app.execute(
        "SELECT tokens.set_remaining($1, 2, NULL, NULL)",
        &[&capped.id],
    )
    .unwrap();
    set_owner_limits(&mut app, "'group:both', 6, '1 hour', 5, NULL, NULL").unwrap();

    // The token's own rate limit refuses: the owner's window and pool keep
    // what the refusals would have taken.
    assert_eq!(
        statuses(&mut app, &limited.token, 3),
        ["valid", "rate_limited", "rate_limited"]
    );
    // The token's own cap refuses.
    assert_eq!(
        statuses(&mut app, &capped.token, 3),
        ["valid", "valid", "usage_exceeded"]
    );
    // Owner: 3 of 6 requests and 3 of 5 credits used; then its pool
    // refuses (usage_exceeded), its window keeping the refused requests.
    assert_eq!(
        statuses(&mut app, &sibling.token, 4),
        ["valid", "valid", "usage_exceeded", "usage_exceeded"]
    );
    // The owner's refusals spent no rate slot: with a larger pool the
    // sibling has exactly one request of the window left, and its
    // rate-limited refusal spends no credit of the new pool.
    set_owner_limits(&mut app, "'group:both', 6, '1 hour', 10, NULL, NULL").unwrap();
    assert_eq!(
        statuses(&mut app, &sibling.token, 2),
        ["valid", "rate_limited"]
    );
    // An owner pool smaller than a token's cap: the owner refuses, and the
    // token's own credits are untouched by that refusal.
    let big = mint_for(&mut app, "big", "group:small-pool");
    app.execute(
        "SELECT tokens.set_remaining($1, 10, NULL, NULL)",
        &[&big.id],
    )
    .unwrap();
    set_owner_limits(&mut app, "'group:small-pool', NULL, NULL, 3, NULL, NULL").unwrap();
    assert_eq!(
        spend_all(&mut app, &big.token, 20),
        (3, "usage_exceeded".into())
    );
    set_owner_limits(&mut app, "'group:small-pool', NULL, NULL, NULL, NULL, NULL").unwrap();
    assert_eq!(
        spend_all(&mut app, &big.token, 20),
        (7, "usage_exceeded".into())
    );
}

#[test]
fn a_cost_spends_that_many_credits_and_zero_checks_without_spending() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let capped = mint_for(&mut app, "capped", "group:cost");
    app.execute(
        "SELECT tokens.set_remaining($1, 10, NULL, NULL)",
        &[&capped.id],
    )
    .unwrap();
    for _ in 0..3 {
        assert!(verify_cost(&mut app, &capped.token, 3).valid);
    }
    // One credit left: a cost of 3 is refused and spends nothing.
    let refused = verify_cost(&mut app, &capped.token, 3);
    assert_eq!(refused.status, "usage_exceeded");
    assert_eq!(refused.token_id, Some(capped.id));
    assert!(
        verify_cost(&mut app, &capped.token, 0).valid,
        "0 only checks"
    );
    assert!(
        verify_cost(&mut app, &capped.token, 1).valid,
        "the last credit"
    );
    assert_eq!(
        verify_cost(&mut app, &capped.token, 1).status,
        "usage_exceeded"
    );
    let v = verify_cost(&mut app, &capped.token, 0);
    assert!(
        v.valid,
        "0 checks without spending, even with no credit left"
    );
    assert_eq!(v.owner.as_deref(), Some("group:cost"));

    // A token without a cap ignores the cost.
    let free = mint_for(&mut app, "free", "group:free");
    for _ in 0..5 {
        assert!(verify_cost(&mut app, &free.token, 1000).valid);
    }

    // The owner's pool spends the cost too, whichever token asks.
    let a = mint_for(&mut app, "a", "group:cost-pool");
    let b = mint_for(&mut app, "b", "group:cost-pool");
    set_owner_limits(&mut app, "'group:cost-pool', NULL, NULL, 10, NULL, NULL").unwrap();
    assert!(verify_cost(&mut app, &a.token, 4).valid);
    assert!(verify_cost(&mut app, &b.token, 4).valid);
    assert_eq!(verify_cost(&mut app, &a.token, 4).status, "usage_exceeded");
    assert!(verify_cost(&mut app, &b.token, 2).valid);
    assert_eq!(verify_cost(&mut app, &a.token, 1).status, "usage_exceeded");
    assert!(verify_cost(&mut app, &a.token, 0).valid);
    // The cost is checked with scopes like the two-argument verify.
    let scoped: Verification = app
        .query_one(
            "SELECT * FROM tokens.verify($1, '{docs:read}'::text[], 0)",
            &[&a.token],
        )
        .map(Verification::from)
        .unwrap();
    assert!(scoped.valid, "a token with every scope grants docs:read");
}

#[test]
fn shared_credits_are_exact_under_eight_concurrent_clients() {
    let db = Cluster::shared().database();
    concurrent_credits_are_exact(&db);
}

/// 8 clients on 4 tokens of one owner (two of them capped themselves),
/// costs 1 and 2: exactly the owner's 300 credits are spent.
fn concurrent_credits_are_exact(db: &Db<'_>) {
    let (role, mut app) = db.client(APP);
    let owner = "group:concurrent";
    let tokens: Vec<Minted> = (0..4)
        .map(|i| mint_for(&mut app, &format!("t{i}"), owner))
        .collect();
    for t in &tokens[..2] {
        app.execute(
            "SELECT tokens.set_remaining($1, 100000, NULL, NULL)",
            &[&t.id],
        )
        .unwrap();
    }
    set_owner_limits(&mut app, "'group:concurrent', NULL, NULL, 300, NULL, NULL").unwrap();
    let role = Arc::new(role);
    let spent: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let token = tokens[i % 4].token.clone();
                let role = role.clone();
                s.spawn(move || {
                    let mut c = db.connect(&role);
                    let cost = if i % 2 == 0 { 1 } else { 2 };
                    let mut spent = 0;
                    loop {
                        let v = verify_cost(&mut c, &token, cost);
                        if !v.valid {
                            assert_eq!(v.status, "usage_exceeded");
                            break;
                        }
                        spent += cost as usize;
                    }
                    // What is left (0 or 1 credit) goes to cost-1 calls.
                    while verify_cost(&mut c, &token, 1).valid {
                        spent += 1;
                    }
                    spent
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(spent, 300, "the owner's pool spent exactly its credits");
}

#[test]
fn bad_inputs_raise_22023_and_write_nothing() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let capped = mint_for(&mut app, "capped", "group:bad");
    app.execute(
        "SELECT tokens.set_remaining($1, 5, NULL, NULL)",
        &[&capped.id],
    )
    .unwrap();
    set_owner_limits(&mut app, "'group:bad', 100, '1 minute', 50, NULL, NULL").unwrap();
    let before = db.counts();
    let limits_before = owner_limits_rows(&mut app);
    for cost in [Some(-1), Some(1001), None, Some(i32::MIN), Some(i32::MAX)] {
        let r = try_verify_cost(&mut app, &capped.token, cost);
        assert_eq!(sqlstate(&r), "22023", "cost {cost:?}");
        assert_eq!(detail(&r), "argument: cost");
    }
    // A malformed token with a bad cost: the cost is still what is wrong.
    assert_eq!(
        sqlstate(&try_verify_cost(&mut app, "nope", Some(-5))),
        "22023"
    );
    assert_eq!(
        verify_cost(&mut app, &capped.token, 1000).status,
        "usage_exceeded"
    );
    for (args, argument) in [
        ("NULL, 1, '1 minute', NULL, NULL, NULL", "owner"),
        ("'', 1, '1 minute', NULL, NULL, NULL", "owner"),
        ("'group:bad', 0, '1 minute', NULL, NULL, NULL", "requests"),
        ("'group:bad', -1, '1 minute', NULL, NULL, NULL", "requests"),
        ("'group:bad', 5, NULL, NULL, NULL, NULL", "per"),
        ("'group:bad', 5, '0 seconds', NULL, NULL, NULL", "per"),
        ("'group:bad', NULL, NULL, -1, NULL, NULL", "remaining"),
        ("'group:bad', NULL, NULL, NULL, 5, '1 day'", "remaining"),
        ("'group:bad', NULL, NULL, 5, -1, '1 day'", "refill_amount"),
        ("'group:bad', NULL, NULL, 5, 5, '0 seconds'", "refill_every"),
    ] {
        let r = set_owner_limits(&mut app, args);
        assert_eq!(sqlstate(&r), "22023", "{args}");
        assert_eq!(detail(&r), format!("argument: {argument}"), "{args}");
    }
    assert_eq!(db.counts(), before, "nothing written");
    assert_eq!(
        owner_limits_rows(&mut app),
        limits_before,
        "nothing written"
    );
    // The token's 5 credits are all there: no bad call spent any.
    assert_eq!(
        spend_all(&mut app, &capped.token, 20),
        (5, "usage_exceeded".into())
    );
}

fn owner_limits_rows(c: &mut Client) -> Vec<String> {
    c.query(
        "SELECT o::text FROM tokens.owner_limits o ORDER BY owner",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn only_tokens_writer_sets_owner_limits_and_it_is_audited() {
    let db = Cluster::shared().database();
    let (_, mut writer) = db.client(&["tokens_writer", "tokens_reader"]);
    for roles in [
        &["tokens_reader"][..],
        &["tokens_revoker"],
        &["tokens_self_service"],
        &[],
    ] {
        let (me, mut c) = db.client(roles);
        let before = db.counts();
        let r = set_owner_limits(&mut c, &format!("'{me}', 1, '1 hour', 1, NULL, NULL"));
        assert_eq!(sqlstate(&r), "42501", "{roles:?}");
        assert_eq!(db.counts(), before, "nothing written");
    }
    set_owner_limits(
        &mut writer,
        "'group:audited', 10, '1 minute', 100, 50, '1 day'",
    )
    .unwrap();
    let row = writer
        .query_one(
            "SELECT action, target, meta FROM tokens.audit_log ORDER BY id DESC LIMIT 1",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "token.owner_limits");
    assert_eq!(
        row.get::<_, Option<String>>(1).as_deref(),
        Some("owner:group:audited")
    );
    let meta: serde_json::Value = row.get(2);
    assert_eq!(meta["requests"], 10);
    assert_eq!(meta["remaining"], 100);
    assert_eq!(meta["refill_amount"], 50);
    let shown = writer
        .query_one(
            "SELECT rate_requests, rate_per::text, remaining, refill_amount, refill_every::text \
               FROM tokens.owner_limits WHERE owner = 'group:audited'",
            &[],
        )
        .unwrap();
    assert_eq!(shown.get::<_, Option<i32>>(0), Some(10));
    assert_eq!(
        shown.get::<_, Option<String>>(1).as_deref(),
        Some("00:01:00")
    );
    assert_eq!(shown.get::<_, Option<i64>>(2), Some(100));
    assert_eq!(shown.get::<_, Option<i64>>(3), Some(50));
    assert_eq!(shown.get::<_, Option<String>>(4).as_deref(), Some("1 day"));
}

#[test]
fn a_rotation_keeps_the_owner_pool() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let old = mint_for(&mut app, "rotated", "group:rotation");
    set_owner_limits(&mut app, "'group:rotation', NULL, NULL, 5, NULL, NULL").unwrap();
    assert_eq!(statuses(&mut app, &old.token, 3), ["valid"; 3]);
    let new = try_rotate(&mut app, old.id, "0", Some("group:rotation")).expect("rotate");
    assert_eq!(new.owner, "group:rotation");
    assert_eq!(
        spend_all(&mut app, &new.token, 20),
        (2, "usage_exceeded".into())
    );
}

#[test]
fn dump_and_restore_keeps_owner_limits() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let t = mint_for(&mut app, "kept", "group:dumped");
    set_owner_limits(&mut app, "'group:dumped', 100, '1 hour', 4, NULL, NULL").unwrap();
    let before = owner_limits_rows(&mut app);
    let restored = db.dump_and_restore();
    let mut r = db.cluster.connect(&role, &restored);
    assert_eq!(owner_limits_rows(&mut r), before);
    assert_eq!(
        spend_all(&mut r, &t.token, 20),
        (4, "usage_exceeded".into())
    );
    drop(r);
    let _ = db
        .cluster
        .connect("postgres", "postgres")
        .batch_execute(&format!("DROP DATABASE IF EXISTS {restored} WITH (FORCE)"));
}

#[test]
fn a_database_upgraded_from_0_4_0_gets_owner_limits_and_costs() {
    let cluster = Cluster::shared();
    let db = cluster.database_with("CREATE EXTENSION pg_tokens VERSION '0.4.0'");
    let (_, mut app) = db.client(APP);
    let t = mint_for(&mut app, "old", "group:upgraded");
    // Before the update the new library verifies as before.
    assert_eq!(statuses(&mut app, &t.token, 2), ["valid", "valid"]);
    assert!(try_verify_cost(&mut app, &t.token, Some(1)).is_err());
    db.admin()
        .batch_execute("ALTER EXTENSION pg_tokens UPDATE")
        .unwrap();
    let mut app = db.connect(&db_role(&mut app));
    set_owner_limits(&mut app, "'group:upgraded', NULL, NULL, 3, NULL, NULL").unwrap();
    assert!(verify_cost(&mut app, &t.token, 2).valid);
    assert_eq!(verify_cost(&mut app, &t.token, 2).status, "usage_exceeded");
    assert!(verify_cost(&mut app, &t.token, 1).valid);
    assert_eq!(verify(&mut app, Some(&t.token)).status, "usage_exceeded");
}

fn db_role(c: &mut Client) -> String {
    c.query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0)
}

/// Without shared_preload_libraries the owner's pool is exact too (each
/// spend durable under the pools' locks), and the owner's rate limit is
/// shared by its tokens within a session.
#[test]
fn without_preload_owner_limits_and_costs_are_exact() {
    let cluster = Cluster::private("owner_limits_no_preload", "shared_preload_libraries = ''");
    let db = cluster.database();
    concurrent_credits_are_exact(&db);
    let (_, mut app) = db.client(APP);
    let a = mint_for(&mut app, "a", "group:np-rate");
    let b = mint_for(&mut app, "b", "group:np-rate");
    set_owner_limits(&mut app, "'group:np-rate', 2, '1 hour', 10, NULL, NULL").unwrap();
    assert!(verify_cost(&mut app, &a.token, 3).valid);
    assert!(verify_cost(&mut app, &b.token, 3).valid);
    assert_eq!(verify(&mut app, Some(&a.token)).status, "rate_limited");
    set_owner_limits(&mut app, "'group:np-rate', NULL, NULL, 5, NULL, NULL").unwrap();
    assert_eq!(verify_cost(&mut app, &a.token, 6).status, "usage_exceeded");
    assert!(verify_cost(&mut app, &a.token, 5).valid);
    assert_eq!(verify_cost(&mut app, &b.token, 1).status, "usage_exceeded");
}
