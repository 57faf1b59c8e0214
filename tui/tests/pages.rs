//! Keyset pages against the test cluster: paging forward and back through
//! every sort order lists every visible token exactly once, in the order the
//! server gives for the whole list.

use pg_tokens_tests::Cluster;
use tokens_console::db::queries::{self, Direction, PageQuery, SortColumn, TokenFilter};
use uuid::Uuid;

#[test]
fn pages_cover_every_token_once_in_every_order() {
    let db = Cluster::shared().database();
    let mut admin = db.admin();
    // Tokens minted by one statement share created_at: ties broken by id.
    admin
        .batch_execute(
            "SELECT tokens.mint('batch ' || g, NULL, CASE WHEN g % 3 = 0 THEN NULL ELSE now() + g * interval '1 day' END,
                                'service', 'group:g' || (g % 4)) FROM generate_series(1, 23) g;
             SELECT tokens.mint('later ' || g) FROM generate_series(1, 6) g;
             SELECT tokens.revoke(id, actor => owner) FROM tokens.tokens WHERE name IN ('batch 5', 'later 2');",
        )
        .expect("seed");
    let role = db.login_role(&["tokens_reader"]);
    let mut client = db.connect(&role);
    for sort in SortColumn::ALL {
        for descending in [false, true] {
            let mut query = PageQuery {
                filter: TokenFilter::default(),
                sort,
                descending,
                cursor: None,
                direction: Direction::Forward,
                inclusive: false,
                limit: 7,
                events: true,
            };
            let whole = queries::token_page(
                &mut client,
                &PageQuery {
                    limit: 1000,

                    ..query.clone()
                },
            )
            .expect("one page of all");
            assert_eq!(whole.rows.len(), 29);
            let expected: Vec<Uuid> = whole.rows.iter().map(|t| t.id).collect();
            let mut forward = Vec::new();
            loop {
                let page = queries::token_page(&mut client, &query).expect("a page");
                assert!(page.rows.len() <= 7);
                forward.extend(page.rows.iter().map(|t| t.id));
                if !page.has_next {
                    break;
                }
                query.cursor = page.last;
            }
            assert_eq!(
                forward, expected,
                "forward pages by {sort:?}, descending {descending}"
            );
            // and back from the end
            query.cursor = None;
            query.direction = Direction::Backward;
            let mut backward = Vec::new();
            loop {
                let page = queries::token_page(&mut client, &query).expect("a page");
                backward.splice(0..0, page.rows.iter().map(|t| t.id));
                if !page.has_prev {
                    break;
                }
                query.cursor = page.first;
            }
            assert_eq!(
                backward, expected,
                "backward pages by {sort:?}, descending {descending}"
            );
        }
    }
    // newest first is the default: created_at descending, then id descending
    let mut by_created: Vec<(chrono::DateTime<chrono::Utc>, Uuid)> = admin
        .query("SELECT created_at, id FROM tokens.tokens", &[])
        .expect("all tokens")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    by_created.sort();
    by_created.reverse();
    let first = queries::token_page(
        &mut client,
        &PageQuery {
            filter: TokenFilter::default(),
            sort: SortColumn::Created,
            descending: true,
            cursor: None,
            direction: Direction::Forward,
            inclusive: false,
            limit: 10,
            events: true,
        },
    )
    .expect("the first page");
    assert_eq!(
        first.rows.iter().map(|t| t.id).collect::<Vec<_>>(),
        by_created
            .iter()
            .take(10)
            .map(|(_, id)| *id)
            .collect::<Vec<_>>()
    );
}

#[test]
fn the_disabled_status_filter_reads_the_view() {
    let db = Cluster::shared().database();
    let mut admin = db.admin();
    admin
        .batch_execute(
            "SELECT tokens.mint('on ' || g) FROM generate_series(1, 3) g;
             SELECT tokens.disable(id) FROM tokens.tokens WHERE name IN ('on 1', 'on 3');
             SELECT tokens.revoke(id, actor => owner) FROM tokens.tokens WHERE name = 'on 3';",
        )
        .expect("seed");
    let role = db.login_role(&["tokens_reader"]);
    let mut client = db.connect(&role);
    let filter = |status: &str| TokenFilter {
        status: Some(status.to_owned()),
        ..TokenFilter::default()
    };
    let page = |client: &mut postgres::Client, status: &str| {
        queries::token_page(
            client,
            &PageQuery {
                filter: filter(status),
                sort: SortColumn::Name,
                descending: false,
                cursor: None,
                direction: Direction::Forward,
                inclusive: false,
                limit: 10,
                events: true,
            },
        )
        .expect("a page")
    };
    let disabled = page(&mut client, "disabled");
    let names: Vec<&str> = disabled.rows.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["on 1"], "revoked comes first: 'on 3' is revoked");
    assert!(disabled.rows[0].disabled_at.is_some());
    assert_eq!(
        queries::token_count(&mut client, &filter("disabled")).expect("count"),
        1
    );
    let revoked = page(&mut client, "revoked");
    assert_eq!(revoked.rows.len(), 1);
    assert!(
        revoked.rows[0].disabled_at.is_some(),
        "disabled_at is kept under a revoke"
    );
    let active = page(&mut client, "active");
    assert_eq!(active.rows.len(), 1);
    assert_eq!(active.rows[0].disabled_at, None);
}

#[test]
fn the_hygiene_filter_finds_live_tokens_that_never_expire_have_full_access_or_sit_unused() {
    let db = Cluster::shared().database();
    let mut admin = db.admin();
    admin
        .batch_execute(
            "SELECT tokens.mint('tidy', ARRAY['read'], now() + interval '30 days');
             SELECT tokens.mint('forever', ARRAY['read']);
             SELECT tokens.mint('full', NULL, now() + interval '30 days');
             SELECT tokens.mint('never used, old', ARRAY['read'], now() + interval '30 days');
             SELECT tokens.mint('used long ago', ARRAY['read'], now() + interval '30 days');
             SELECT tokens.mint('used lately, old', ARRAY['read'], now() + interval '30 days');
             SELECT tokens.mint('revoked forever', ARRAY['read']);
             UPDATE tokens.token_store SET created_at = now() - interval '120 days'
              WHERE name IN ('never used, old', 'used long ago', 'used lately, old');
             INSERT INTO tokens.token_last_use (token_id, last_used_at)
             SELECT id, CASE name WHEN 'used long ago' THEN now() - interval '91 days'
                                  ELSE now() - interval '1 day' END
               FROM tokens.token_store WHERE name IN ('used long ago', 'used lately, old', 'tidy')
             ON CONFLICT (token_id) DO UPDATE SET last_used_at = excluded.last_used_at;
             SELECT tokens.revoke(id, actor => owner) FROM tokens.tokens WHERE name = 'revoked forever';",
        )
        .expect("seed");
    let role = db.login_role(&["tokens_reader"]);
    let mut client = db.connect(&role);
    let filter = TokenFilter {
        hygiene: true,
        ..TokenFilter::default()
    };
    let page = queries::token_page(
        &mut client,
        &PageQuery {
            filter: filter.clone(),
            sort: SortColumn::Name,
            descending: false,
            cursor: None,
            direction: Direction::Forward,
            inclusive: false,
            limit: 10,
            events: true,
        },
    )
    .expect("a page");
    let names: Vec<&str> = page.rows.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["forever", "full", "never used, old", "used long ago"],
        "not the tidy one, not the one used lately, not the revoked one"
    );
    assert_eq!(
        queries::token_count(&mut client, &filter).expect("count"),
        4
    );
    let all = queries::token_count(&mut client, &TokenFilter::default()).expect("count");
    assert_eq!(all, 7);
}

/// The badges, as the list query computes them on a real server: for a
/// reader (events read) and for a self-service user (no access to
/// tokens.events: the query must not name it).
#[test]
fn the_list_query_computes_the_badges() {
    let db = Cluster::shared().database();
    let mut admin = db.admin();
    admin
        .batch_execute(
            "SELECT tokens.mint('soon', expires_at => now() + interval '2 hours');
             SELECT tokens.mint('later', expires_at => now() + interval '3 days');
             SELECT tokens.set_remaining((tokens.mint('low')).id, 5, 100, '1 day');
             SELECT tokens.set_remaining((tokens.mint('plenty')).id, 50, 100, '1 day');
             SELECT tokens.mint('busy');
             INSERT INTO tokens.event_store (at, kind, token_id, owner, detail)
               SELECT now() - g * interval '1 hour', 'token.rate_limited', id, owner, '{}'
                 FROM tokens.tokens, generate_series(1, 3) g WHERE name = 'busy';
             INSERT INTO tokens.event_store (at, kind, token_id, owner, detail)
               SELECT now() - g * interval '1 hour', 'token.rate_limited', id, owner, '{}'
                 FROM tokens.tokens, generate_series(1, 2) g WHERE name = 'plenty';",
        )
        .expect("seed");
    let query = |events: bool| PageQuery {
        filter: TokenFilter::default(),
        sort: SortColumn::Name,
        descending: false,
        cursor: None,
        direction: Direction::Forward,
        inclusive: false,
        limit: 10,
        events,
    };
    let badges = |client: &mut postgres::Client, events: bool| -> Vec<(String, [bool; 3])> {
        queries::token_page(client, &query(events))
            .expect("a page")
            .rows
            .into_iter()
            .map(|t| {
                let b = t.badges;
                (t.name, [b.expiring, b.credits_low, b.rate_limited])
            })
            .collect()
    };
    let role = db.login_role(&["tokens_reader"]);
    let mut reader = db.connect(&role);
    assert_eq!(
        badges(&mut reader, true),
        vec![
            ("busy".to_string(), [false, false, true]),
            ("later".to_string(), [false, false, false]),
            ("low".to_string(), [false, true, false]),
            ("plenty".to_string(), [false, false, false]),
            ("soon".to_string(), [true, false, false]),
        ]
    );
    // Without events, what the view alone tells.
    let without: Vec<[bool; 3]> = badges(&mut reader, false)
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        without,
        vec![
            [false, false, false],
            [false, false, false],
            [false, true, false],
            [false, false, false],
            [true, false, false],
        ]
    );
}

#[test]
fn the_events_pages_are_keyset_paged_and_ack_deletes_up_to_an_id() {
    use tokens_console::db::queries::EventQuery;
    let db = Cluster::shared().database();
    let mut admin = db.admin();
    // Seven real token.revoked events, and one of a token since deleted.
    admin
        .batch_execute(
            "SELECT tokens.revoke((tokens.mint('ev' || g)).id, reason => 'test') FROM generate_series(1, 7) g;
             INSERT INTO tokens.event_store (at, kind, token_id, owner, detail)
               VALUES (now(), 'token.expired', gen_random_uuid(), 'gone', NULL);",
        )
        .expect("seed");
    let role = db.login_role(&["tokens_reader"]);
    let mut reader = db.connect(&role);
    let page = |c: &mut postgres::Client, before, after, limit| {
        queries::events_page(
            c,
            &EventQuery {
                before,
                after,
                limit,
            },
        )
        .expect("a page of events")
    };
    let all = page(&mut reader, None, None, 100);
    assert_eq!(all.len(), 8, "{all:?}");
    let ids: Vec<i64> = all.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(all[0].kind, "token.expired");
    assert_eq!(all[0].prefix, None, "no token to name");
    for e in &all[1..] {
        assert_eq!(e.kind, "token.revoked");
        assert!(
            e.prefix.as_deref().is_some_and(|p| p.starts_with("tbm_")),
            "{e:?}"
        );
        assert_eq!(e.owner.as_deref(), Some("postgres"));
    }
    // Older pages below an id, newer ones above (follow mode), newest first.
    let older = page(&mut reader, Some(ids[2]), None, 3);
    assert_eq!(older.iter().map(|e| e.id).collect::<Vec<_>>(), ids[3..6]);
    let newer = page(&mut reader, None, Some(ids[5]), 2);
    assert_eq!(
        newer.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ids[3], ids[4]],
        "follow reads upwards from the newest shown, so nothing is skipped"
    );
    // Acknowledging up to an id deletes that many, and no newer one.
    assert_eq!(queries::ack_events(&mut reader, ids[4]).expect("ack"), 4);
    let left = page(&mut reader, None, None, 100);
    assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), ids[..4]);
    // A role without tokens_reader gets the server's refusal.
    let other = db.login_role(&["tokens_self_service"]);
    let mut other = db.connect(&other);
    let refused = queries::events_page(
        &mut other,
        &EventQuery {
            before: None,
            after: None,
            limit: 10,
        },
    );
    assert!(
        matches!(&refused, Err(tokens_console::db::error::DbError::Server { sqlstate, .. }) if sqlstate == "42501"),
        "{refused:?}"
    );
    assert!(queries::ack_events(&mut other, ids[0]).is_err());
    assert_eq!(
        page(&mut reader, None, None, 100).len(),
        4,
        "nothing deleted by the refusal"
    );
}
