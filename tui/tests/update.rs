//! Keys → actions → state, without a terminal or a database: the effects
//! `update` returns are the requests the worker would run.

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyModifiers};
use tokens_console::action::{Action, Effect};
use tokens_console::app::{
    ConfirmOp, Conn, CreditField, Level, Modal, RateField, Usage, View, PAGE,
};
use tokens_console::db::error::DbError;
use tokens_console::db::model::UsageWindow;
use tokens_console::db::queries::{Direction, Expiry, SortColumn};
use tokens_console::db::{Reply, Request};

fn requests(fx: &[Effect]) -> Vec<&Request> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Db(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn vim_keys_and_arrows_move_the_selection() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Down);
    assert_eq!(app.tokens.selected, 2);
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(app.tokens.selected, 1);
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(app.tokens.selected, 5);
    key(&mut app, KeyCode::Down);
    assert_eq!(
        app.tokens.selected, 5,
        "no next page: stays on the last row"
    );
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.tokens.selected, 0);
    app.update(Action::Scroll(3));
    assert_eq!(app.tokens.selected, 3, "mouse wheel");
}

#[test]
fn moving_past_the_page_asks_the_server_for_the_next_one() {
    let mut app = app_with(vec![]);
    let rows: Vec<_> = (1..=PAGE as u128)
        .map(|n| token(n, "t", "group:a", "active"))
        .collect();
    let last_id = rows.last().map(|t| t.id);
    // a full page with more behind it
    let fx = app.update(Action::Refresh);
    let gen = match requests(&fx)[0] {
        Request::Tokens { gen, .. } => *gen,
        r => panic!("{r:?}"),
    };
    app.update(Action::Db(Reply::Tokens {
        gen,
        result: Ok(page(rows, true)),
    }));
    for _ in 1..PAGE {
        assert!(
            key(&mut app, KeyCode::Char('j')).is_empty(),
            "moving within the page asks nothing"
        );
    }
    assert_eq!(app.tokens.selected, PAGE as usize - 1);
    let fx = key(&mut app, KeyCode::Char('j'));
    match requests(&fx).first() {
        Some(Request::Tokens { query, .. }) => {
            assert_eq!(query.direction, Direction::Forward);
            assert_eq!(
                query.cursor.as_ref().map(|c| c.id),
                last_id,
                "keyset: after the last row shown"
            );
            assert_eq!(query.limit, PAGE);
        }
        other => panic!("expected the next page, got {other:?}"),
    }
    let gen = match requests(&fx)[0] {
        Request::Tokens { gen, .. } => *gen,
        r => panic!("{r:?}"),
    };
    let next: Vec<_> = (PAGE as u128 + 1..=PAGE as u128 + 3)
        .map(|n| token(n, "t", "group:a", "active"))
        .collect();
    let mut p = page(next, false);
    p.has_prev = true;
    app.update(Action::Db(Reply::Tokens { gen, result: Ok(p) }));
    assert_eq!(
        (
            app.tokens.rows.len(),
            app.tokens.selected,
            app.tokens.offset
        ),
        (3, 0, Some(PAGE as u64)),
        "one page held, rows 101-103"
    );
    let fx = key(&mut app, KeyCode::Char('k'));
    assert!(
        matches!(requests(&fx)[0], Request::Tokens { query, .. } if query.direction == Direction::Backward),
        "up from the first row reads the previous page"
    );
}

#[test]
fn filters_sort_and_search_reload_from_the_first_page() {
    let mut app = app_with(sample_tokens());
    let fx = key(&mut app, KeyCode::Char('f'));
    assert_eq!(app.tokens.filter.status.as_deref(), Some("active"));
    assert!(
        matches!(requests(&fx)[0], Request::Tokens { query, .. } if query.cursor.is_none() && query.filter.status.as_deref() == Some("active"))
    );
    key(&mut app, KeyCode::Char('F'));
    assert_eq!(app.tokens.filter.kind.as_deref(), Some("service"));
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(app.tokens.sort, SortColumn::Name);
    assert!(!app.tokens.descending, "names sort A to Z");
    key(&mut app, KeyCode::Char('S'));
    assert!(app.tokens.descending);

    key(&mut app, KeyCode::Char('/'));
    let fx = type_text(&mut app, "q"); // q is text while searching, not quit
    assert!(!app.quit);
    assert_eq!(app.tokens.filter.search, "q");
    assert!(
        matches!(requests(&fx)[0], Request::Tokens { query, .. } if query.filter.search == "q")
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.tokens.filter.search, "");
    assert!(!app.tokens.search_input);
}

#[test]
fn a_stale_page_is_ignored() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('/'));
    let first = type_text(&mut app, "a");
    let second = type_text(&mut app, "b");
    let gen_of = |fx: &[Effect]| match requests(fx)[0] {
        Request::Tokens { gen, .. } => *gen,
        r => panic!("{r:?}"),
    };
    let (old, new) = (gen_of(&first), gen_of(&second));
    app.update(Action::Db(Reply::Tokens {
        gen: new,
        result: Ok(page(vec![token(9, "ab", "group:a", "active")], false)),
    }));
    app.update(Action::Db(Reply::Tokens {
        gen: old,
        result: Ok(page(sample_tokens(), false)),
    }));
    assert_eq!(
        app.tokens.rows.len(),
        1,
        "the reply for \"a\" arrived late and changed nothing"
    );
}

#[test]
fn create_form_builds_the_mint_call() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "exporter q"); // q and spaces are text in a form
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Tab);
    type_text(&mut app, "group:finance");
    key(&mut app, KeyCode::Tab);
    type_text(&mut app, "billing:read, reports");
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Right); // 30 days -> 90 days
    let fx = key(&mut app, KeyCode::Enter);
    assert!(!app.quit);
    match requests(&fx).first() {
        Some(Request::Mint(m)) => {
            assert_eq!(m.name, "exporter q");
            assert_eq!(m.kind, "personal");
            assert_eq!(m.owner.as_deref(), Some("group:finance"));
            assert_eq!(
                m.scopes,
                Some(vec!["billing:read".to_owned(), "reports".to_owned()])
            );
            assert_eq!(m.expiry, Expiry::In("90 days".into()));
        }
        other => panic!("expected a mint, got {other:?}"),
    }
    // the server refuses: the form stays, with the message, on the field concerned
    app.update(Action::Db(Reply::Minted(Err(DbError::Server {
        sqlstate: "22023".into(),
        message: "scope \"reports\" is not in the catalogue".into(),
        hint: None,
        argument: Some("scopes".into()),
    }))));
    match &app.modal {
        Some(Modal::Create(f)) => {
            assert_eq!(f.field, tokens_console::app::FormField::Scopes);
            assert!(f.error.is_some());
            assert_eq!(f.name, "exporter q", "nothing typed is lost");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn custom_expiry_and_catalogue_scopes() {
    let mut app = app_with(sample_tokens());
    app.update(Action::Db(Reply::Scopes(Ok(vec![
        tokens_console::db::model::ScopeEntry {
            scope: "a".into(),
            description: None,
        },
        tokens_console::db::model::ScopeEntry {
            scope: "b".into(),
            description: None,
        },
    ]))));
    key(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "x");
    for _ in 0..3 {
        key(&mut app, KeyCode::Tab);
    }
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Char(' ')); // pick "b"
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left); // 30 days -> never -> custom
    key(&mut app, KeyCode::Tab);
    type_text(&mut app, "2030-01-01");
    let fx = key(&mut app, KeyCode::Enter);
    match requests(&fx).first() {
        Some(Request::Mint(m)) => {
            assert_eq!(m.scopes, Some(vec!["b".to_owned()]));
            assert_eq!(m.expiry, Expiry::At("2030-01-01".into()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_card_holds_the_plaintext_until_closed_and_copies_it() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "bot");
    key(&mut app, KeyCode::Enter);
    app.update(Action::Db(Reply::Minted(Ok(minted()))));
    assert!(matches!(app.modal, Some(Modal::Card(_))));
    key(&mut app, KeyCode::Char('q'));
    assert!(!app.quit, "q does not throw the card away");
    let fx = key(&mut app, KeyCode::Char('c'));
    match fx.first() {
        Some(Effect::Copy(s)) => assert_eq!(s.expose(), "tbm_3KVNsn-zEVWQ3IzOXQxfe3e3AvQOx7Wz"),
        other => panic!("{other:?}"),
    }
    assert!(
        !format!("{fx:?}").contains("tbm_3KVNsn-zEVWQ"),
        "Debug never shows the plaintext"
    );
    assert!(
        !format!("{app:?}").contains("tbm_3KVNsn-zEVWQ"),
        "Debug of the state never shows the plaintext"
    );
    key(&mut app, KeyCode::Enter);
    assert!(app.modal.is_none());
}

#[test]
fn revoke_acting_for_owner_passes_the_owner_as_actor() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('x'));
    let fx = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(requests(&fx)[0], Request::Revoke { actor: None, .. }),
        "as myself by default"
    );
    app.update(Action::Db(Reply::Revoked {
        id: id(1),
        result: Err(DbError::Server {
            sqlstate: "42501".into(),
            message: "only the owner may revoke".into(),
            hint: None,
            argument: None,
        }),
    }));
    match &app.modal {
        Some(Modal::Confirm(c)) => {
            assert_eq!(c.error.as_ref().and_then(|e| e.sqlstate()), Some("42501"))
        }
        other => panic!("the refusal stays on screen: {other:?}"),
    }
    key(&mut app, KeyCode::Tab);
    type_text(&mut app, "left the team");
    let fx = key(&mut app, KeyCode::Enter);
    match requests(&fx)[0] {
        Request::Revoke {
            id: rid,
            actor,
            reason,
        } => {
            assert_eq!(*rid, id(1));
            assert_eq!(actor.as_deref(), Some("group:platform"));
            assert_eq!(reason.as_deref(), Some("left the team"));
        }
        r => panic!("{r:?}"),
    }
    let fx = app.update(Action::Db(Reply::Revoked {
        id: id(1),
        result: Ok(true),
    }));
    assert!(app.modal.is_none());
    assert!(
        matches!(requests(&fx)[0], Request::Tokens { .. }),
        "the list is refreshed"
    );
}

#[test]
fn act_for_owner_is_not_offered_without_revoker_or_writer() {
    let mut app = app_with(sample_tokens());
    app.session.revoker = false;
    app.session.writer = false;
    key(&mut app, KeyCode::Char('x'));
    key(&mut app, KeyCode::Tab);
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(
        requests(&fx)[0],
        Request::Revoke { actor: None, .. }
    ));
}

#[test]
fn rotate_with_grace_shows_the_new_token_once() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Right);
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(requests(&fx)[0], Request::Rotate { grace, .. } if grace == "1 hour"));
    app.update(Action::Db(Reply::Rotated {
        id: id(1),
        result: Ok(minted()),
    }));
    match &app.modal {
        Some(Modal::Card(c)) => assert_eq!(c.replaces.as_deref(), Some("tbm_00000001")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn detail_and_audit_views() {
    let mut app = app_with(sample_tokens());
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Detail);
    assert!(matches!(requests(&fx)[0], Request::Detail { id: i } if *i == id(1)));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Tokens);

    let fx = key(&mut app, KeyCode::Char('2'));
    assert_eq!(app.view, View::Audit);
    let gen = match requests(&fx)[0] {
        Request::Audit { gen, .. } => *gen,
        r => panic!("{r:?}"),
    };
    app.update(Action::Db(Reply::Audit {
        gen,
        follow: false,
        result: Ok(audit_events()),
    }));
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "token.revoke");
    let fx = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(requests(&fx)[0], Request::Audit { query, .. } if query.filter.action == "token.revoke")
    );

    // follow: each tick asks for events after the newest shown
    let gen = match requests(&fx)[0] {
        Request::Audit { gen, .. } => *gen,
        r => panic!("{r:?}"),
    };
    app.update(Action::Db(Reply::Audit {
        gen,
        follow: false,
        result: Ok(audit_events()),
    }));
    key(&mut app, KeyCode::Char('f'));
    let fx = app.update(Action::Tick(now()));
    match requests(&fx)[0] {
        Request::Audit {
            query,
            follow: true,
            ..
        } => assert_eq!(query.after, Some(5)),
        r => panic!("{r:?}"),
    }
    let mut newer = audit_events();
    newer[0].id = 6;
    app.update(Action::Db(Reply::Audit {
        gen,
        follow: true,
        result: Ok(vec![newer[0].clone()]),
    }));
    assert_eq!(app.audit.feed.rows[0].id, 6, "new events appear at the top");
    assert_eq!(app.audit.feed.rows.len(), 6);
}

#[test]
fn connection_loss_and_recovery() {
    let mut app = app_with(sample_tokens());
    app.update(Action::Db(Reply::ConnectionLost {
        error: "gone".into(),
    }));
    assert!(matches!(app.conn, Conn::Lost { .. }));
    assert_eq!(app.tokens.rows.len(), 6, "rows stay on screen");
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.tokens.selected, 1, "keys still work");
    let fx = app.update(Action::Db(Reply::Reconnected { session: session() }));
    assert_eq!(app.conn, Conn::Up);
    assert!(
        requests(&fx)
            .iter()
            .any(|r| matches!(r, Request::Tokens { .. })),
        "views reload"
    );
}

#[test]
fn help_quit_and_ctrl_c() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('?'));
    assert!(app.help);
    key(&mut app, KeyCode::Char('q'));
    assert!(!app.help && !app.quit, "q closes help first");
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);

    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('n'));
    key_mod(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(app.quit, "Ctrl-C quits from anywhere");
}

fn open_detail(app: &mut tokens_console::app::App) -> Vec<Effect> {
    let fx = key(app, KeyCode::Enter);
    let t = app.detail.as_ref().expect("the detail pane").token.clone();
    app.update(Action::Db(Reply::Detail {
        id: t.id,
        result: Ok((Some(t), vec![])),
    }));
    fx
}

#[test]
fn the_detail_pane_reads_usage_and_toggles_its_window() {
    let mut app = app_with(sample_tokens());
    let fx = open_detail(&mut app);
    assert!(
        requests(&fx).iter().any(
            |r| matches!(r, Request::Usage { id: i, window: UsageWindow::Day } if *i == id(1))
        ),
        "the last 24 h by hour, with the detail: {fx:?}"
    );
    let fx = key(&mut app, KeyCode::Char('u'));
    assert!(matches!(
        requests(&fx)[..],
        [Request::Usage {
            window: UsageWindow::Hour,
            ..
        }]
    ));
    // the day's answer arrives late: it is not the window shown any more
    app.update(Action::Db(Reply::Usage {
        id: id(1),
        window: UsageWindow::Day,
        result: Ok(usage_day()),
    }));
    let d = app.detail.as_ref().expect("detail");
    assert_eq!(d.usage, Usage::Pending);
    assert!(d.usage_loading);
    app.update(Action::Db(Reply::Usage {
        id: id(1),
        window: UsageWindow::Hour,
        result: Ok(usage_day()),
    }));
    let d = app.detail.as_ref().expect("detail");
    assert_eq!(d.usage, Usage::Loaded(usage_day()));
    assert!(!d.usage_loading);

    // read again while the pane is open, every 10 s
    let fx = app.update(Action::Tick(now() + chrono::Duration::seconds(5)));
    assert!(fx.is_empty(), "not before 10 s: {fx:?}");
    let fx = app.update(Action::Tick(now() + chrono::Duration::seconds(10)));
    assert!(matches!(
        requests(&fx)[..],
        [Request::Usage {
            window: UsageWindow::Hour,
            ..
        }]
    ));
    // and not on the list
    app.update(Action::Db(Reply::Usage {
        id: id(1),
        window: UsageWindow::Hour,
        result: Ok(vec![]),
    }));
    key(&mut app, KeyCode::Esc);
    assert!(app
        .update(Action::Tick(now() + chrono::Duration::seconds(60)))
        .is_empty());
}

#[test]
fn a_refused_usage_is_not_an_error_and_is_not_asked_again() {
    let mut app = app_with(sample_tokens());
    open_detail(&mut app);
    app.update(Action::Db(Reply::Usage {
        id: id(1),
        window: UsageWindow::Day,
        result: Err(DbError::Server {
            sqlstate: "42501".into(),
            message: "permission denied".into(),
            hint: None,
            argument: None,
        }),
    }));
    let d = app.detail.as_ref().expect("detail");
    assert_eq!(d.usage, Usage::NotVisible);
    assert!(app.notice.is_none(), "no error banner");
    assert!(app
        .update(Action::Tick(now() + chrono::Duration::seconds(30)))
        .is_empty());
    // another failure is shown as such
    key(&mut app, KeyCode::Char('u'));
    app.update(Action::Db(Reply::Usage {
        id: id(1),
        window: UsageWindow::Hour,
        result: Err(DbError::Server {
            sqlstate: "22023".into(),
            message: "too many buckets".into(),
            hint: None,
            argument: None,
        }),
    }));
    assert!(matches!(
        app.detail.as_ref().map(|d| &d.usage),
        Some(Usage::Failed(_))
    ));
}

#[test]
fn the_rate_limit_form_sets_validates_and_clears() {
    let mut app = app_with(sample_tokens());
    open_detail(&mut app);
    key(&mut app, KeyCode::Char('L'));
    match &app.modal {
        Some(Modal::RateLimit(f)) => {
            assert_eq!((f.requests.as_str(), f.per.as_str()), ("100", "1 minute"));
            assert!(f.may_set);
        }
        other => panic!("the rate-limit form, got {other:?}"),
    }
    // a non-number is caught in the form: nothing is sent
    type_text(&mut app, "x");
    let fx = key(&mut app, KeyCode::Enter);
    assert!(fx.is_empty(), "{fx:?}");
    match &app.modal {
        Some(Modal::RateLimit(f)) => {
            assert_eq!(f.field, RateField::Requests);
            assert!(matches!(&f.error, Some(DbError::Client(m)) if m.contains("whole number")));
        }
        other => panic!("the form stays open, got {other:?}"),
    }
    for _ in 0..4 {
        key(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "250");
    key(&mut app, KeyCode::Tab);
    for _ in 0..8 {
        key(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "30s");
    let fx = key(&mut app, KeyCode::Enter);
    match requests(&fx)[..] {
        [Request::SetRateLimit {
            id: rid,
            requests,
            per,
        }] => {
            assert_eq!(*rid, id(1));
            assert_eq!(*requests, Some(250));
            assert_eq!(per.as_deref(), Some("30 seconds"));
        }
        ref other => panic!("set_rate_limit, got {other:?}"),
    }
    // the server refuses: its SQLSTATE and message stay in the open form
    app.update(Action::Db(Reply::RateLimitSet {
        id: id(1),
        result: Err(DbError::Server {
            sqlstate: "42501".into(),
            message: "only tokens_writer may set this".into(),
            hint: None,
            argument: None,
        }),
    }));
    match &app.modal {
        Some(Modal::RateLimit(f)) => {
            assert!(!f.busy);
            assert_eq!(f.error.as_ref().and_then(|e| e.sqlstate()), Some("42501"));
            assert_eq!(f.requests, "250", "nothing typed is lost");
        }
        other => panic!("the form stays open, got {other:?}"),
    }
    // ←/→ pick a preset window
    key(&mut app, KeyCode::Right);
    match &app.modal {
        Some(Modal::RateLimit(f)) => assert_eq!(f.per, "1 minute"),
        other => panic!("{other:?}"),
    }
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Enter);
    let fx = app.update(Action::Db(Reply::RateLimitSet {
        id: id(1),
        result: Ok(()),
    }));
    assert!(app.modal.is_none(), "closed on success");
    let asked = requests(&fx);
    assert!(asked.iter().any(|r| matches!(r, Request::Detail { .. })));
    assert!(asked.iter().any(|r| matches!(r, Request::Usage { .. })));
    assert!(asked.iter().any(|r| matches!(r, Request::Tokens { .. })));
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("250 per 1 hour")));

    // empty requests clears
    key(&mut app, KeyCode::Char('L'));
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(
        requests(&fx)[..],
        [Request::SetRateLimit {
            requests: None,
            per: None,
            ..
        }]
    ));
}

fn credits_form(app: &tokens_console::app::App) -> &tokens_console::app::CreditsForm {
    match &app.modal {
        Some(Modal::Credits(f)) => f,
        other => panic!("the credits form, got {other:?}"),
    }
}

#[test]
fn the_credits_form_sets_validates_and_removes_the_cap() {
    let mut app = app_with(sample_tokens());
    open_detail(&mut app);
    key(&mut app, KeyCode::Char('C'));
    let f = credits_form(&app);
    assert_eq!(
        (
            f.remaining.as_str(),
            f.refill_amount.as_str(),
            f.refill_every.as_str()
        ),
        ("42", "100", "1 hour"),
        "prefilled from the token's cap"
    );
    assert_eq!(f.field, CreditField::Remaining);
    assert!(f.may_set);

    // a non-number is caught in the form: nothing is sent
    type_text(&mut app, "x");
    let fx = key(&mut app, KeyCode::Enter);
    assert!(fx.is_empty(), "{fx:?}");
    let f = credits_form(&app);
    assert_eq!(f.field, CreditField::Remaining);
    assert!(matches!(&f.error, Some(DbError::Client(m)) if m.contains("whole number")));
    key(&mut app, KeyCode::Backspace);

    // ←/→ pick a refill interval on the last field; q is text in a form
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    assert_eq!(credits_form(&app).field, CreditField::RefillEvery);
    key(&mut app, KeyCode::Right);
    assert_eq!(credits_form(&app).refill_every, "1 day");
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left);
    assert_eq!(credits_form(&app).refill_every, "30 days");
    key(&mut app, KeyCode::Up);
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "-1");
    assert!(!app.quit);
    key(&mut app, KeyCode::Up);
    let fx = key(&mut app, KeyCode::Enter);
    match requests(&fx)[..] {
        [Request::SetRemaining {
            id: rid,
            remaining,
            refill_amount,
            refill_every,
        }] => {
            assert_eq!(*rid, id(1));
            assert_eq!(*remaining, Some(42));
            assert_eq!(
                *refill_amount,
                Some(-1),
                "the range is the server's to check"
            );
            assert_eq!(refill_every.as_deref(), Some("30 days"));
        }
        ref other => panic!("set_remaining, got {other:?}"),
    }
    assert!(credits_form(&app).busy);
    // the server refuses: the cursor goes to the field it names, nothing is lost
    key(&mut app, KeyCode::Tab);
    assert_eq!(
        credits_form(&app).field,
        CreditField::Remaining,
        "keys wait while it is busy"
    );
    app.update(Action::Db(Reply::RemainingSet {
        id: id(1),
        result: Err(DbError::Server {
            sqlstate: "22023".into(),
            message: "refill_amount must be zero or more (got -1)".into(),
            hint: None,
            argument: Some("refill_amount".into()),
        }),
    }));
    let f = credits_form(&app);
    assert!(!f.busy);
    assert_eq!(f.field, CreditField::RefillAmount);
    assert_eq!(f.error.as_ref().and_then(|e| e.sqlstate()), Some("22023"));
    assert_eq!(
        (
            f.remaining.as_str(),
            f.refill_amount.as_str(),
            f.refill_every.as_str()
        ),
        ("42", "-1", "30 days")
    );
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    type_text(&mut app, "500");
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Enter);
    // a missing grant names no field: the cursor stays where it was
    app.update(Action::Db(Reply::RemainingSet {
        id: id(1),
        result: Err(DbError::Server {
            sqlstate: "42501".into(),
            message: "permission denied to set the remaining credits of this token".into(),
            hint: None,
            argument: None,
        }),
    }));
    assert_eq!(credits_form(&app).field, CreditField::Remaining);
    key(&mut app, KeyCode::Enter);
    let fx = app.update(Action::Db(Reply::RemainingSet {
        id: id(1),
        result: Ok(()),
    }));
    assert!(app.modal.is_none(), "closed on success");
    let asked = requests(&fx);
    assert!(asked.iter().any(|r| matches!(r, Request::Detail { .. })));
    assert!(asked.iter().any(|r| matches!(r, Request::Tokens { .. })));
    assert!(
        app.notice.as_ref().is_some_and(
            |n| n.text == "credits of tbm_00000001 set: 42 left, refill 500 every 30 days"
        ),
        "{:?}",
        app.notice
    );

    // a refill needs both values: the form says which one is missing
    key(&mut app, KeyCode::Char('C'));
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    for _ in 0..6 {
        key(&mut app, KeyCode::Backspace);
    }
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    let f = credits_form(&app);
    assert_eq!(f.field, CreditField::RefillEvery);
    assert!(matches!(&f.error, Some(DbError::Client(m)) if m.contains("refill every is needed")));
    type_text(&mut app, "30m");
    key(&mut app, KeyCode::Up);
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(credits_form(&app).field, CreditField::RefillAmount);
    type_text(&mut app, "10");
    let fx = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(
            requests(&fx)[..],
            [Request::SetRemaining { remaining: Some(42), refill_amount: Some(10), refill_every: Some(e), .. }] if e == "30 minutes"
        ),
        "{fx:?}"
    );
    key(&mut app, KeyCode::Esc);
    assert!(
        credits_form(&app).busy,
        "a busy form waits for the server's answer"
    );
}

#[test]
fn empty_remaining_removes_the_cap_and_no_refill_is_no_refill() {
    let mut app = app_with(sample_tokens());
    open_detail(&mut app);
    key(&mut app, KeyCode::Char('C'));
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    let fx = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(
            requests(&fx)[..],
            [Request::SetRemaining {
                remaining: None,
                refill_amount: None,
                refill_every: None,
                ..
            }]
        ),
        "the refill left in the form goes too: {fx:?}"
    );
    app.update(Action::Db(Reply::RemainingSet {
        id: id(1),
        result: Ok(()),
    }));
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.starts_with("credit cap of tbm_00000001 removed")));

    // a token without a cap: an empty form, and a cap without refill
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('j'));
    open_detail(&mut app);
    key(&mut app, KeyCode::Char('C'));
    let f = credits_form(&app);
    assert_eq!(
        (
            f.remaining.as_str(),
            f.refill_amount.as_str(),
            f.refill_every.as_str()
        ),
        ("", "", "")
    );
    type_text(&mut app, "1000");
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(
        requests(&fx)[..],
        [Request::SetRemaining {
            remaining: Some(1000),
            refill_amount: None,
            refill_every: None,
            ..
        }]
    ));
    app.update(Action::Db(Reply::RemainingSet {
        id: id(2),
        result: Ok(()),
    }));
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text == "credits of tbm_00000002 set: 1000 left, no refill"));
}

#[test]
fn a_server_refusal_names_the_credits_field_it_is_about() {
    use tokens_console::app::credit_field_of_error;
    // By the SQLSTATE and the argument the server names in its DETAIL,
    // never by the message's words.
    let server = |sqlstate: &str, message: &str, argument: Option<&str>| DbError::Server {
        sqlstate: sqlstate.into(),
        message: message.into(),
        hint: None,
        argument: argument.map(str::to_owned),
    };
    for (e, field) in [
        (
            server("22023", "remaining must be zero or more (got -3); pass NULL to remove the cap", Some("remaining")),
            Some(CreditField::Remaining),
        ),
        (
            server("22023", "a refill needs remaining credits: pass remaining, or NULL for all three to remove the cap", Some("remaining")),
            Some(CreditField::Remaining),
        ),
        (
            server("22023", "refill_amount must be zero or more (got -1)", Some("refill_amount")),
            Some(CreditField::RefillAmount),
        ),
        (
            server("22023", "refill_amount and refill_every go together: pass both, or neither for no refill", Some("refill_amount")),
            Some(CreditField::RefillAmount),
        ),
        (
            server("22023", "refill_every must be between '1 second' and '3650 days'", Some("refill_every")),
            Some(CreditField::RefillEvery),
        ),
        (
            server("22007", "invalid input syntax for type interval: \"soon\"", None),
            Some(CreditField::RefillEvery),
        ),
        (server("42501", "permission denied", None), None),
        (server("22023", "remaining must be zero or more", None), None),
        (server("P0002", "no token with id 0195", None), None),
        (DbError::Client("anything".into()), None),
    ] {
        assert_eq!(credit_field_of_error(&e), field, "{e}");
    }
}

#[test]
fn the_allowlist_form_sets_and_clears() {
    let mut app = app_with(sample_tokens());
    open_detail(&mut app);
    key(&mut app, KeyCode::Char('I'));
    match &app.modal {
        Some(Modal::Allowlist(f)) => assert_eq!(f.text, "10.0.0.0/8, 192.168.1.0/24"),
        other => panic!("the allowlist form, got {other:?}"),
    }
    type_text(&mut app, ",::1/128 q"); // q is text in a form
    assert!(!app.quit);
    let fx = key(&mut app, KeyCode::Enter);
    match requests(&fx)[..] {
        [Request::SetAllowedIps { allowed, .. }] => assert_eq!(
            allowed.as_deref(),
            Some(
                &[
                    "10.0.0.0/8".to_owned(),
                    "192.168.1.0/24".to_owned(),
                    "::1/128".to_owned(),
                    "q".to_owned()
                ][..]
            )
        ),
        ref other => panic!("set_allowed_ips, got {other:?}"),
    }
    app.update(Action::Db(Reply::AllowedIpsSet {
        id: id(1),
        result: Err(DbError::Server {
            sqlstate: "22P02".into(),
            message: "invalid input syntax for type cidr: \"q\"".into(),
            hint: None,
            argument: None,
        }),
    }));
    assert!(
        matches!(&app.modal, Some(Modal::Allowlist(f)) if f.error.as_ref().and_then(|e| e.sqlstate()) == Some("22P02"))
    );
    key(&mut app, KeyCode::Esc);
    assert!(app.modal.is_none());

    key(&mut app, KeyCode::Char('I'));
    for _ in 0..40 {
        key(&mut app, KeyCode::Backspace);
    }
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(
        requests(&fx)[..],
        [Request::SetAllowedIps { allowed: None, .. }]
    ));
    let fx = app.update(Action::Db(Reply::AllowedIpsSet {
        id: id(1),
        result: Ok(()),
    }));
    assert!(app.modal.is_none());
    assert!(requests(&fx)
        .iter()
        .any(|r| matches!(r, Request::Detail { .. })));
}

#[test]
fn limits_are_offered_to_writers_and_to_owners_of_personal_tokens() {
    use tokens_console::components::chrome::hints;
    // (rate limit offered, credits and meta offered)
    let offered = |app: &tokens_console::app::App| {
        let h = hints(app);
        let has = |key: &str| h.iter().any(|(k, _)| *k == key);
        assert_eq!(has("C"), has("M"), "credits and meta go together");
        (has("L"), has("C"))
    };
    let mut app = app_with(sample_tokens());
    open_detail(&mut app);
    assert_eq!(offered(&app), (true, true), "tokens_writer");
    app.session.writer = false;
    app.session.self_service = true;
    assert_eq!(offered(&app), (false, false), "a service token, not ours");
    key(&mut app, KeyCode::Char('L'));
    assert!(
        matches!(&app.modal, Some(Modal::RateLimit(f)) if !f.may_set),
        "the form still opens, and says the server will refuse"
    );
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('C'));
    assert!(
        matches!(&app.modal, Some(Modal::Credits(f)) if !f.may_set),
        "so does the credits form"
    );
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Esc);
    // alice's own personal token (row 3)
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    open_detail(&mut app);
    assert_eq!(
        app.detail.as_ref().map(|d| d.token.owner.as_str()),
        Some("alice")
    );
    assert_eq!(
        offered(&app),
        (true, false),
        "self-service on one's own personal token: the rate limit, not credits or meta (writer-only)"
    );
    key(&mut app, KeyCode::Char('C'));
    assert!(
        matches!(&app.modal, Some(Modal::Credits(f)) if !f.may_set),
        "the credits form says the server will refuse"
    );
}

// --- leak triage (key 3) ---------------------------------------------------

/// The leak screen, with `text` pasted (bracketed paste) into it.
fn leaks_pasted(text: &str) -> tokens_console::app::App {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('3'));
    assert_eq!(app.view, View::Leaks);
    assert!(
        app.leaks.editing,
        "nothing checked yet: the text area has the keys"
    );
    for a in tokens_console::event::actions_for_paste(&app, text.to_owned()) {
        assert!(app.update(a).is_empty(), "a paste sends nothing by itself");
    }
    app
}

/// The FindLeaked request in `fx`: its gen and the text it carries.
fn find_leaked(fx: &[Effect]) -> (u64, String) {
    match requests(fx)
        .into_iter()
        .find(|r| matches!(r, Request::FindLeaked { .. }))
    {
        Some(Request::FindLeaked { gen, text }) => (*gen, text.expose().to_owned()),
        _ => panic!("no tokens.find_leaked request in {fx:?}"),
    }
}

/// The leak screen with `leak_rows()` as the answer to the pasted log.
fn leaks_checked() -> tokens_console::app::App {
    let mut app = leaks_pasted(&leaked_log());
    let fx = key_mod(&mut app, KeyCode::Char('s'), KeyModifiers::CONTROL);
    let (gen, _) = find_leaked(&fx);
    app.update(Action::Db(Reply::Leaks {
        gen,
        result: Ok(leak_rows()),
    }));
    app
}

#[test]
fn a_paste_and_ctrl_s_send_the_text_to_find_leaked_and_show_the_rows() {
    let log = leaked_log();
    let mut app = leaks_pasted(&log);
    // Enter is a new line (a paste without bracketed paste arrives as keys),
    // and q is text here, not quit.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(type_text(&mut app, "q").is_empty());
    assert!(!app.quit);
    let fx = key_mod(&mut app, KeyCode::Char('s'), KeyModifiers::CONTROL);
    let (gen, sent) = find_leaked(&fx);
    assert_eq!(
        sent,
        format!("{log}\nq"),
        "the whole text, as a bind parameter"
    );
    assert!(app.leaks.loading && !app.leaks.editing && app.leaks.checked);
    for shown in [
        format!("{fx:?}"),
        format!("{app:?}"),
        format!("{}", render(&app)),
    ] {
        assert!(
            !shown.contains(LEAKED_A) && !shown.contains(LEAKED_B),
            "the pasted plaintext must not appear in debug output or on screen:\n{shown}"
        );
    }

    // a stale answer (an earlier check) is ignored
    app.update(Action::Db(Reply::Leaks {
        gen: gen - 1,
        result: Ok(vec![]),
    }));
    assert!(app.leaks.loading);
    app.update(Action::Db(Reply::Leaks {
        gen,
        result: Ok(leak_rows()),
    }));
    assert!(!app.leaks.loading && app.leaks.loaded);
    assert_eq!(app.leaks.rows, leak_rows());
    let screen = format!("{}", render(&app));
    for expected in [
        "tbm_00000001",
        "ci deploy bot",
        "group:platform",
        "unknown",
        "revoked",
    ] {
        assert!(screen.contains(expected), "{expected} on screen:\n{screen}");
    }
    assert!(screen.contains(&id(1).to_string()), "the id column");
    assert!(!screen.contains('\x1b'), "control characters are escaped");
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.leaks.selected, 1, "j/k move in the results");

    // F5 also checks; an empty text is not sent
    let mut app = leaks_pasted("   \n");
    let fx = key(&mut app, KeyCode::F(5));
    assert!(requests(&fx).is_empty(), "nothing to check");
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("nothing to check")));
    type_text(&mut app, LEAKED_A);
    let fx = key(&mut app, KeyCode::F(5));
    assert_eq!(find_leaked(&fx).1, format!("   \n{LEAKED_A}"));
}

#[test]
fn ctrl_u_and_esc_clear_the_text_and_leaving_the_screen_wipes_it() {
    let mut app = leaks_pasted(&leaked_log());
    key_mod(&mut app, KeyCode::Char('u'), KeyModifiers::CONTROL);
    assert!(app.leaks.text.is_empty() && app.leaks.editing);
    type_text(&mut app, "abc");
    key(&mut app, KeyCode::Backspace);
    assert_eq!(app.leaks.text.expose(), "ab");
    key(&mut app, KeyCode::Esc);
    assert!(app.leaks.text.is_empty(), "Esc clears the text");
    assert!(app.leaks.editing);
    key(&mut app, KeyCode::Esc);
    assert!(
        !app.leaks.editing,
        "Esc on an empty text leaves the text area"
    );
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);

    // the text is kept to check again while the screen is open...
    let mut app = leaks_checked();
    let fx = key(&mut app, KeyCode::Char('r'));
    assert_eq!(
        find_leaked(&fx).1,
        leaked_log(),
        "r checks the same text again"
    );
    // ...and wiped when the user leaves it; the results stay
    key(&mut app, KeyCode::Char('1'));
    assert_eq!(app.view, View::Tokens);
    assert!(app.leaks.text.is_empty() && !app.leaks.checked);
    key(&mut app, KeyCode::Char('3'));
    assert!(!app.leaks.editing, "results to look at: not the text area");
    assert!(!app.leaks.rows.is_empty());
    let fx = key(&mut app, KeyCode::Char('r'));
    assert!(requests(&fx).is_empty(), "no text left to check");
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("paste it again")));
    // e (or a paste) starts a new text
    key(&mut app, KeyCode::Char('e'));
    assert!(app.leaks.editing && app.leaks.text.is_empty());

    // a paste on the results replaces the text that was checked
    let mut app = leaks_checked();
    for a in tokens_console::event::actions_for_paste(&app, LEAKED_B.to_owned()) {
        app.update(a);
    }
    assert!(app.leaks.editing);
    assert_eq!(app.leaks.text.expose(), LEAKED_B);

    // Tab goes round the four views, and wipes on the way out
    let mut app = leaks_checked();
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Events);
    assert!(app.leaks.text.is_empty());
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Tokens);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Audit);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Leaks);
}

#[test]
fn a_paste_elsewhere_is_typed_into_the_focused_field_or_dropped() {
    let mut app = app_with(sample_tokens());
    assert!(
        tokens_console::event::actions_for_paste(&app, "text".into()).is_empty(),
        "the token list takes no text"
    );
    key(&mut app, KeyCode::Char('n'));
    for a in tokens_console::event::actions_for_paste(&app, "deploy\tbot\n".into()) {
        app.update(a);
    }
    match &app.modal {
        Some(Modal::Create(f)) => assert_eq!(f.name, "deploybot", "control characters dropped"),
        other => panic!("{other:?}"),
    }
    assert!(app.leaks.text.is_empty());
}

#[test]
fn revoke_every_live_one_asks_first_then_revokes_each_active_one_for_its_owner() {
    let mut app = leaks_checked();
    let fx = key(&mut app, KeyCode::Char('X'));
    assert!(fx.is_empty(), "asks first");
    let targets = match &app.modal {
        Some(Modal::RevokeLeaks(r)) => {
            assert_eq!(
                r.left_alone,
                vec![
                    ("revoked".to_owned(), 1),
                    ("expired".to_owned(), 1),
                    ("unknown".to_owned(), 1)
                ]
            );
            r.targets.clone()
        }
        other => panic!("the confirmation: {other:?}"),
    };
    let owners: Vec<(uuid::Uuid, &str)> =
        targets.iter().map(|t| (t.id, t.owner.as_str())).collect();
    assert_eq!(
        owners,
        [
            (id(1), "group:platform"),
            (id(2), "bob"),
            (id(6), "group:x\x1b[2J")
        ],
        "only the active ones, each with its owner"
    );
    // Esc cancels, nothing sent
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert!(app.modal.is_none());

    key(&mut app, KeyCode::Char('X'));
    let fx = key(&mut app, KeyCode::Enter);
    match requests(&fx).as_slice() {
        [Request::RevokeForOwners {
            targets: sent,
            reason,
        }] => {
            assert_eq!(sent, &targets);
            assert_eq!(reason, "leak");
        }
        other => panic!("one batch of revokes: {other:?}"),
    }
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "a second Enter while revoking sends nothing"
    );
    let refused = DbError::Server {
        sqlstate: "42501".into(),
        message: "only the owner (group:x) may revoke this token".into(),
        hint: None,
        argument: None,
    };
    let fx = app.update(Action::Db(Reply::RevokedForOwners {
        results: vec![
            (targets[0].clone(), Ok(true)),
            (targets[1].clone(), Ok(false)),
            (targets[2].clone(), Err(refused.clone())),
        ],
    }));
    assert!(app.modal.is_none());
    let summary = app.leaks.summary.clone().expect("a summary");
    assert_eq!(summary.revoked, ["tbm_00000001"]);
    assert_eq!(summary.already, ["tbm_00000002"]);
    assert_eq!(summary.errors, [("tbm_00000006".to_owned(), refused)]);
    let notice = app.notice.clone().expect("a notice");
    assert!(
        notice.text.contains("revoked 1")
            && notice.text.contains("1 already revoked")
            && notice.text.contains("1 error"),
        "{}",
        notice.text
    );
    // the same text is checked again, so the table shows the new statuses
    let (gen, again) = find_leaked(&fx);
    assert_eq!(again, leaked_log());
    assert!(
        requests(&fx)
            .iter()
            .any(|r| matches!(r, Request::Tokens { .. })),
        "and the token list is refreshed"
    );
    let mut rows = leak_rows();
    rows[0].status = "revoked".into();
    rows[1].status = "revoked".into();
    app.update(Action::Db(Reply::Leaks {
        gen,
        result: Ok(rows),
    }));
    assert!(
        app.leaks.summary.is_some(),
        "a check again keeps the summary"
    );
    assert_eq!(app.leaks.live().len(), 1);
    let screen = format!("{}", render(&app));
    assert!(
        screen.contains("42501"),
        "errors with their SQLSTATE:\n{screen}"
    );
}

#[test]
fn nothing_live_means_no_dialog() {
    let mut app = leaks_checked();
    let fx = key(&mut app, KeyCode::Char('r'));
    let (gen, _) = find_leaked(&fx);
    let rows: Vec<_> = leak_rows()
        .into_iter()
        .filter(|r| r.status != "active")
        .collect();
    app.update(Action::Db(Reply::Leaks {
        gen,
        result: Ok(rows),
    }));
    key(&mut app, KeyCode::Char('X'));
    assert!(app.modal.is_none());
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("nothing to revoke")));
}

#[test]
fn revoke_every_live_one_is_not_offered_without_tokens_revoker() {
    use tokens_console::components::chrome::{disabled_hints, hints};
    let mut app = leaks_checked();
    app.session.revoker = false; // a writer may act for owners, but may not revoke
    key(&mut app, KeyCode::Esc);
    assert!(!hints(&app).iter().any(|(k, _)| *k == "X"));
    assert!(
        disabled_hints(&app)
            .iter()
            .any(|(k, what)| *k == "X" && what.contains("needs tokens_revoker")),
        "shown disabled, with what it needs"
    );
    let fx = key(&mut app, KeyCode::Char('X'));
    assert!(fx.is_empty());
    assert!(app.modal.is_none(), "no dialog");
    let notice = app.notice.clone().expect("a notice");
    assert!(
        notice.text.contains("needs tokens_revoker"),
        "{}",
        notice.text
    );

    let app = leaks_checked();
    assert!(hints(&app).iter().any(|(k, _)| *k == "X"));
    assert!(disabled_hints(&app).is_empty());
}

#[test]
fn a_refused_check_and_a_lost_connection() {
    let mut app = leaks_pasted(&leaked_log());
    let fx = key(&mut app, KeyCode::F(5));
    let (gen, _) = find_leaked(&fx);
    app.update(Action::Db(Reply::Leaks {
        gen,
        result: Err(DbError::Server {
            sqlstate: "42501".into(),
            message: "role app may not triage leaks: tokens.find_leaked needs tokens_reader".into(),
            hint: None,
            argument: None,
        }),
    }));
    assert_eq!(
        app.leaks.error.as_ref().and_then(|e| e.sqlstate()),
        Some("42501")
    );
    let screen = format!("{}", render(&app));
    assert!(screen.contains("needs tokens_reader"), "{screen}");

    // lost while checking: no error shown, and checked again on reconnect
    let mut app = leaks_pasted(&leaked_log());
    let fx = key(&mut app, KeyCode::F(5));
    let (gen, _) = find_leaked(&fx);
    app.update(Action::Db(Reply::Leaks {
        gen,
        result: Err(DbError::ConnectionLost("gone".into())),
    }));
    app.update(Action::Db(Reply::ConnectionLost {
        error: "gone".into(),
    }));
    assert!(!app.leaks.loading && app.leaks.error.is_none());
    let fx = app.update(Action::Db(Reply::Reconnected { session: session() }));
    assert_eq!(find_leaked(&fx).1, leaked_log());
}

// --- disable / enable (d) and meta (M) ---------------------------------------

fn meta_event(n: i64, meta: serde_json::Value) -> tokens_console::db::model::AuditEvent {
    tokens_console::db::model::AuditEvent {
        id: n,
        at: now() - chrono::Duration::minutes(10 - n),
        actor: "alice".into(),
        db_role: "alice".into(),
        action: "token.meta".into(),
        target: Some(format!("token:{}", id(1))),
        meta: Some(meta),
    }
}

#[test]
fn disable_asks_first_naming_the_token_then_reloads_list_and_detail() {
    let mut app = app_with(sample_tokens());
    let fx = key(&mut app, KeyCode::Char('d'));
    assert!(fx.is_empty(), "asks first");
    match &app.modal {
        Some(Modal::Confirm(c)) => {
            assert_eq!(c.op, ConfirmOp::Disable);
            assert_eq!(c.token.id, id(1));
            assert!(!c.may_act_for_owner, "no actor: disable has none");
        }
        other => panic!("the confirmation, got {other:?}"),
    }
    let screen = format!("{}", render(&app));
    assert!(
        screen.contains("tbm_00000001")
            && screen.contains("ci deploy bot")
            && screen.contains("group:platform")
            && screen.contains("verify will answer `disabled`"),
        "{screen}"
    );
    // Esc: nothing sent
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert!(app.modal.is_none());

    key(&mut app, KeyCode::Char('d'));
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(
        requests(&fx),
        [&Request::SetDisabled {
            id: id(1),
            disabled: true
        }]
    );
    assert!(key(&mut app, KeyCode::Enter).is_empty(), "busy: sent once");
    let fx = app.update(Action::Db(Reply::DisabledSet {
        id: id(1),
        disabled: true,
        result: Ok(true),
    }));
    assert!(app.modal.is_none());
    assert!(requests(&fx)
        .iter()
        .any(|r| matches!(r, Request::Tokens { .. })));
    let notice = app.notice.clone().expect("a notice").text;
    assert!(
        notice.contains("disabled tbm_00000001") && notice.contains("verify answers disabled"),
        "{notice}"
    );

    // from the detail pane: the detail is read again too
    open_detail(&mut app);
    key(&mut app, KeyCode::Char('d'));
    key(&mut app, KeyCode::Enter);
    let fx = app.update(Action::Db(Reply::DisabledSet {
        id: id(1),
        disabled: true,
        result: Ok(false),
    }));
    let asked = requests(&fx);
    assert!(asked.iter().any(|r| matches!(r, Request::Detail { .. })));
    assert!(asked.iter().any(|r| matches!(r, Request::Tokens { .. })));
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("already disabled")));
}

#[test]
fn a_disabled_token_is_enabled_with_the_same_key_and_shows_disabled_since() {
    let mut app = app_with(vec![token(7, "paused bot", "group:ops", "disabled")]);
    open_detail(&mut app);
    let screen = format!("{}", render(&app));
    assert!(
        screen.contains("disabled since 2025-03-14 10:00:00 UTC"),
        "{screen}"
    );
    use tokens_console::components::chrome::hints;
    assert!(hints(&app).contains(&("d", "enable")));
    key(&mut app, KeyCode::Char('d'));
    assert!(matches!(&app.modal, Some(Modal::Confirm(c)) if c.op == ConfirmOp::Enable));
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(
        requests(&fx),
        [&Request::SetDisabled {
            id: id(7),
            disabled: false
        }]
    );
    app.update(Action::Db(Reply::DisabledSet {
        id: id(7),
        disabled: false,
        result: Ok(true),
    }));
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("enabled tbm_00000007")));
}

#[test]
fn a_refused_disable_shows_the_sqlstate_in_the_dialog() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('d'));
    key(&mut app, KeyCode::Enter);
    let fx = app.update(Action::Db(Reply::DisabledSet {
        id: id(1),
        disabled: true,
        result: Err(DbError::Server {
            sqlstate: "42501".into(),
            message: "permission denied: disable needs tokens_writer".into(),
            hint: None,
            argument: None,
        }),
    }));
    assert!(fx.is_empty(), "nothing reloaded: nothing changed");
    match &app.modal {
        Some(Modal::Confirm(c)) => {
            assert!(!c.busy);
            assert_eq!(c.error.as_ref().and_then(|e| e.sqlstate()), Some("42501"));
        }
        other => panic!("the dialog stays open, got {other:?}"),
    }
    let screen = format!("{}", render(&app));
    assert!(
        screen.contains("42501") && screen.contains("Refused by the server"),
        "{screen}"
    );
}

#[test]
fn disable_is_offered_to_writers_and_to_owners_of_personal_tokens_only() {
    use tokens_console::components::chrome::{disabled_hints, hints};
    let mut app = app_with(sample_tokens());
    assert!(hints(&app).contains(&("d", "disable")), "tokens_writer");
    assert!(disabled_hints(&app).is_empty());
    app.session.writer = false;
    app.session.self_service = true;
    assert!(!hints(&app).iter().any(|(k, _)| *k == "d"));
    assert!(
        disabled_hints(&app)
            .iter()
            .any(|(k, what)| *k == "d" && what.contains("needs tokens_writer")),
        "shown dimmed, with what it needs"
    );
    let fx = key(&mut app, KeyCode::Char('d'));
    assert!(fx.is_empty());
    assert!(app.modal.is_none(), "not offered: no dialog");
    let notice = app.notice.clone().expect("a notice");
    assert_eq!(notice.level, Level::Error);
    assert!(
        notice.text.contains("needs tokens_writer")
            && notice.text.contains("tbm_00000001")
            && notice.text.contains("service token of group:platform"),
        "{}",
        notice.text
    );
    // alice's own personal token (row 3)
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    assert!(hints(&app).contains(&("d", "disable")));
    key(&mut app, KeyCode::Char('d'));
    assert!(matches!(&app.modal, Some(Modal::Confirm(c)) if c.token.id == id(3)));
}

#[test]
fn the_meta_form_is_prefilled_checks_json_and_sets_or_clears() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Enter);
    let t = app.detail.as_ref().expect("the detail pane").token.clone();
    app.update(Action::Db(Reply::Detail {
        id: t.id,
        result: Ok((
            Some(t),
            vec![
                meta_event(3, serde_json::json!({"meta": {"plan": "pro"}})),
                meta_event(2, serde_json::json!({"meta": null})),
            ],
        )),
    }));
    key(&mut app, KeyCode::Char('M'));
    match &app.modal {
        Some(Modal::Meta(f)) => {
            assert_eq!(f.text, "{\n  \"plan\": \"pro\"\n}", "the last one set");
            assert!(f.may_set);
        }
        other => panic!("the meta form, got {other:?}"),
    }
    // Ctrl-U clears; Enter is a new line, not a save; q is text
    key_mod(&mut app, KeyCode::Char('u'), KeyModifiers::CONTROL);
    type_text(&mut app, "[1,");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    type_text(&mut app, " 2]q");
    assert!(!app.quit);
    let save = |app: &mut tokens_console::app::App| {
        key_mod(app, KeyCode::Char('s'), KeyModifiers::CONTROL)
    };
    assert!(save(&mut app).is_empty(), "not JSON: nothing sent");
    match &app.modal {
        Some(Modal::Meta(f)) => {
            assert_eq!(f.text, "[1,\n 2]q", "nothing typed is lost");
            assert!(
                matches!(&f.error, Some(DbError::Client(m)) if m.starts_with("not valid JSON") && m.contains("line 2")),
                "{:?}",
                f.error
            );
        }
        other => panic!("the form stays open, got {other:?}"),
    }
    key(&mut app, KeyCode::Backspace);
    assert!(save(&mut app).is_empty(), "an array: nothing sent");
    assert!(
        matches!(&app.modal, Some(Modal::Meta(f)) if matches!(&f.error, Some(DbError::Client(m)) if m.contains("not an array")))
    );
    for text in ["\"pro\"", "42", "null"] {
        key_mod(&mut app, KeyCode::Char('u'), KeyModifiers::CONTROL);
        type_text(&mut app, text);
        assert!(save(&mut app).is_empty(), "{text} is not an object");
    }
    key_mod(&mut app, KeyCode::Char('u'), KeyModifiers::CONTROL);
    type_text(&mut app, "{\"plan\": \"team\",");
    key(&mut app, KeyCode::Enter);
    type_text(&mut app, " \"seats\": 5}");
    let fx = save(&mut app);
    assert_eq!(
        requests(&fx),
        [&Request::SetMeta {
            id: id(1),
            meta: Some("{\"plan\": \"team\",\n \"seats\": 5}".into()),
        }],
        "the text as typed: the server casts it"
    );
    // the server refuses: its message in the form, the text kept
    app.update(Action::Db(Reply::MetaSet {
        id: id(1),
        result: Err(DbError::Server {
            sqlstate: "22023".into(),
            message: "meta is too big: 5000 bytes, at most 4096 are allowed".into(),
            hint: None,
            argument: Some("meta".into()),
        }),
    }));
    match &app.modal {
        Some(Modal::Meta(f)) => {
            assert!(!f.busy);
            assert_eq!(f.error.as_ref().and_then(|e| e.sqlstate()), Some("22023"));
            assert!(f.text.contains("seats"));
        }
        other => panic!("the form stays open, got {other:?}"),
    }
    save(&mut app);
    let fx = app.update(Action::Db(Reply::MetaSet {
        id: id(1),
        result: Ok(()),
    }));
    assert!(app.modal.is_none(), "closed on success");
    let asked = requests(&fx);
    assert!(asked.iter().any(|r| matches!(r, Request::Detail { .. })));
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("meta of tbm_00000001 set")));

    // empty clears (NULL)
    key(&mut app, KeyCode::Char('M'));
    key_mod(&mut app, KeyCode::Char('u'), KeyModifiers::CONTROL);
    type_text(&mut app, "  ");
    let fx = save(&mut app);
    assert_eq!(
        requests(&fx),
        [&Request::SetMeta {
            id: id(1),
            meta: None
        }]
    );
    app.update(Action::Db(Reply::MetaSet {
        id: id(1),
        result: Ok(()),
    }));
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("meta of tbm_00000001 cleared")));
}

#[test]
fn the_detail_shows_the_last_meta_set_or_cleared_or_says_it_is_unknown() {
    let mut app = app_with(sample_tokens());
    open_detail(&mut app);
    let screen = format!("{}", render(&app));
    assert!(screen.contains("meta       none"), "{screen}");
    key(&mut app, KeyCode::Char('M'));
    assert!(matches!(&app.modal, Some(Modal::Meta(f)) if f.text.is_empty()));
    key(&mut app, KeyCode::Esc);

    let t = app.detail.as_ref().expect("the detail pane").token.clone();
    app.update(Action::Db(Reply::Detail {
        id: t.id,
        result: Ok((
            Some(t.clone()),
            vec![
                meta_event(4, serde_json::json!({"meta": null})),
                meta_event(3, serde_json::json!({"meta": {"plan": "pro"}})),
            ],
        )),
    }));
    let d = app.detail.as_ref().expect("the detail pane");
    assert_eq!(d.last_meta(), Some(None), "the newest event cleared it");
    let screen = format!("{}", render(&app));
    assert!(screen.contains("meta       none"), "{screen}");
    assert!(screen.contains("cleared 6m ago by alice"), "{screen}");

    // A token minted (or rotated) with meta: its create event carries it.
    let mut created = meta_event(
        1,
        serde_json::json!({"name": "x", "meta": {"plan": "gold"}}),
    );
    created.action = "token.create".into();
    app.update(Action::Db(Reply::Detail {
        id: t.id,
        result: Ok((Some(t.clone()), vec![created.clone()])),
    }));
    let d = app.detail.as_ref().expect("the detail pane");
    assert_eq!(
        d.last_meta(),
        Some(Some(&serde_json::json!({"plan": "gold"})))
    );
    // A create event without meta sets none.
    created.meta = Some(serde_json::json!({"name": "x"}));
    app.update(Action::Db(Reply::Detail {
        id: t.id,
        result: Ok((Some(t.clone()), vec![created])),
    }));
    assert_eq!(
        app.detail.as_ref().expect("the detail pane").meta_event(),
        None
    );

    // without tokens_reader the history (and so the meta) is not readable
    app.update(Action::Db(Reply::Detail {
        id: t.id,
        result: Err(DbError::Server {
            sqlstate: "42501".into(),
            message: "permission denied for view audit_log".into(),
            hint: None,
            argument: None,
        }),
    }));
    let screen = format!("{}", render(&app));
    assert!(screen.contains("unknown: the audit log needs"), "{screen}");
}

#[test]
fn a_paste_into_the_meta_form_keeps_its_lines() {
    let mut app = app_with(sample_tokens());
    open_detail(&mut app);
    key(&mut app, KeyCode::Char('M'));
    for a in tokens_console::event::actions_for_paste(
        &app,
        "{\r\n\t\"a\": 1,\x1b\n\t\"b\": 2\r\n}".into(),
    ) {
        app.update(a);
    }
    assert!(
        matches!(&app.modal, Some(Modal::Meta(f)) if f.text == "{\n \"a\": 1,\n \"b\": 2\n}"),
        "{:?}",
        app.modal
    );
}

#[test]
fn revoke_every_live_one_takes_disabled_tokens_too() {
    let mut app = leaks_checked();
    let (gen, _) = find_leaked(&key(&mut app, KeyCode::Char('r')));
    let mut rows = leak_rows();
    rows[1].status = "disabled".into();
    rows[5].status = "revoked".into();
    app.update(Action::Db(Reply::Leaks {
        gen,
        result: Ok(rows),
    }));
    key(&mut app, KeyCode::Char('X'));
    match &app.modal {
        Some(Modal::RevokeLeaks(r)) => {
            let t: Vec<(&str, &str)> = r
                .targets
                .iter()
                .map(|t| (t.prefix.as_str(), t.status.as_str()))
                .collect();
            assert_eq!(
                t,
                [("tbm_00000001", "active"), ("tbm_00000002", "disabled")],
                "a disabled token could be enabled again: it is revoked too"
            );
        }
        other => panic!("the confirmation: {other:?}"),
    }
    let screen = format!("{}", render(&app));
    assert!(
        screen.contains("2 live tokens") && screen.contains("(active or disabled)"),
        "{screen}"
    );
}

#[test]
fn the_create_form_takes_an_optional_meta_object() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "exporter");
    for _ in 0..5 {
        key(&mut app, KeyCode::Tab);
    }
    assert!(
        matches!(&app.modal, Some(Modal::Create(f)) if f.field == tokens_console::app::FormField::Meta)
    );
    type_text(&mut app, "[\"pro\"]");
    let fx = key(&mut app, KeyCode::Enter);
    assert!(fx.is_empty(), "not an object: nothing sent");
    match &app.modal {
        Some(Modal::Create(f)) => {
            assert!(!f.busy);
            assert!(
                matches!(&f.error, Some(DbError::Client(m)) if m.contains("not an array")),
                "{:?}",
                f.error
            );
            assert_eq!(f.name, "exporter", "nothing typed is lost");
        }
        other => panic!("the form stays open, got {other:?}"),
    }
    for _ in 0..7 {
        key(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "{\"plan\": \"pro\"}");
    let fx = key(&mut app, KeyCode::Enter);
    match requests(&fx).first() {
        Some(Request::Mint(m)) => {
            assert_eq!(m.name, "exporter");
            assert_eq!(m.meta.as_deref(), Some("{\"plan\": \"pro\"}"));
        }
        other => panic!("expected a mint, got {other:?}"),
    }
    // a server refusal about meta puts the cursor on it
    app.update(Action::Db(Reply::Minted(Err(DbError::Server {
        sqlstate: "22023".into(),
        message: "meta is too big: 5000 bytes, at most 4096".into(),
        hint: None,
        argument: Some("meta".into()),
    }))));
    assert!(
        matches!(&app.modal, Some(Modal::Create(f)) if f.field == tokens_console::app::FormField::Meta)
    );
    // without meta, none is sent
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "plain");
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(requests(&fx).first(), Some(Request::Mint(m)) if m.meta.is_none()));
}

fn refused(message: &str) -> DbError {
    DbError::Server {
        sqlstate: "42501".into(),
        message: message.into(),
        hint: None,
        argument: None,
    }
}

#[test]
fn space_marks_and_unmarks_rows_and_moves_on() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(app.tokens.selected, 2, "each mark moves the selection on");
    let marked: Vec<_> = app.tokens.marked.iter().map(|t| t.id).collect();
    assert_eq!(marked, [id(1), id(2)]);
    key(&mut app, KeyCode::Char('k'));
    key(&mut app, KeyCode::Char(' '));
    let marked: Vec<_> = app.tokens.marked.iter().map(|t| t.id).collect();
    assert_eq!(marked, [id(1)], "Space on a marked row unmarks it");
    // row 4 is revoked: nothing to revoke there
    key(&mut app, KeyCode::Char('g'));
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('j'));
    }
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(app.tokens.marked.len(), 1, "a revoked row cannot be marked");
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.level == Level::Error && n.text.contains("is revoked")));
    // marks survive a refresh of the page
    let fx = key(&mut app, KeyCode::Char('r'));
    let gen = match requests(&fx)[0] {
        Request::Tokens { gen, .. } => *gen,
        r => panic!("{r:?}"),
    };
    app.update(Action::Db(Reply::Tokens {
        gen,
        result: Ok(page(sample_tokens(), false)),
    }));
    assert!(app.tokens.is_marked(id(1)));
    // Esc with no search clears the marks
    key(&mut app, KeyCode::Esc);
    assert!(app.tokens.marked.is_empty());
}

#[test]
fn bulk_revoke_without_marks_says_how_to_mark() {
    let mut app = app_with(sample_tokens());
    let fx = key(&mut app, KeyCode::Char('X'));
    assert!(fx.is_empty());
    assert!(app.modal.is_none());
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("Space marks")));
}

#[test]
fn bulk_revoke_asks_first_then_revokes_each_marked_row_and_shows_each_outcome() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char(' ')); // group:platform
    key(&mut app, KeyCode::Char(' ')); // group:finance
    key(&mut app, KeyCode::Char(' ')); // alice: mine
    assert!(
        key(&mut app, KeyCode::Char('X')).is_empty(),
        "nothing is revoked before the confirmation"
    );
    match &app.modal {
        Some(Modal::BulkRevoke(b)) => {
            assert_eq!(b.targets.len(), 3);
            assert_eq!(b.others, 2);
            assert!(b.may_act_for_owner);
            assert!(!b.act_for_owner);
        }
        other => panic!("{other:?}"),
    }
    // Esc cancels, marks kept
    key(&mut app, KeyCode::Esc);
    assert!(app.modal.is_none());
    assert_eq!(app.tokens.marked.len(), 3);
    key(&mut app, KeyCode::Char('X'));
    let fx = key(&mut app, KeyCode::Enter);
    match requests(&fx).as_slice() {
        [Request::RevokeMany { targets }] => assert_eq!(
            targets,
            &vec![(id(1), None), (id(2), None), (id(3), None)],
            "as myself by default, like a single revoke"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "busy: a second Enter sends nothing"
    );
    let fx = app.update(Action::Db(Reply::RevokedMany {
        results: vec![
            (id(1), Err(refused("only the owner may revoke this token"))),
            (id(2), Err(refused("only the owner may revoke this token"))),
            (id(3), Ok(true)),
        ],
    }));
    assert!(
        matches!(requests(&fx)[0], Request::Tokens { .. }),
        "the list is refreshed"
    );
    match &app.modal {
        Some(Modal::BulkRevoke(b)) => {
            let r = b.results.as_ref().expect("outcomes shown");
            assert_eq!(r.len(), 3);
            assert_eq!(b.failed(), 2);
            assert_eq!(r[2].result, Ok(true));
            assert_eq!(r[0].prefix, "tbm_00000001");
        }
        other => panic!("{other:?}"),
    }
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.level == Level::Error && n.text.contains("2 of 3")));
    let marked: Vec<_> = app.tokens.marked.iter().map(|t| t.id).collect();
    assert_eq!(marked, [id(1), id(2)], "the refused rows stay marked");
    key(&mut app, KeyCode::Enter);
    assert!(app.modal.is_none(), "Enter closes the outcome");
    // again, acting for the owners: only the rows I do not own get an actor
    key(&mut app, KeyCode::Char('X'));
    key(&mut app, KeyCode::Tab);
    let fx = key(&mut app, KeyCode::Enter);
    match requests(&fx).as_slice() {
        [Request::RevokeMany { targets }] => assert_eq!(
            targets,
            &vec![
                (id(1), Some("group:platform".to_owned())),
                (id(2), Some("group:finance".to_owned())),
            ]
        ),
        other => panic!("{other:?}"),
    }
    app.update(Action::Db(Reply::RevokedMany {
        results: vec![(id(1), Ok(true)), (id(2), Ok(false))],
    }));
    assert!(app.tokens.marked.is_empty());
    assert!(app
        .notice
        .as_ref()
        .is_some_and(|n| n.level == Level::Info && n.text.contains("revoked 2")));
}

#[test]
fn bulk_revoke_does_not_offer_acting_for_owners_without_revoker_or_writer() {
    let mut app = app_with(sample_tokens());
    app.session.revoker = false;
    app.session.writer = false;
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('X'));
    key(&mut app, KeyCode::Tab);
    match &app.modal {
        Some(Modal::BulkRevoke(b)) => assert!(!b.may_act_for_owner && !b.act_for_owner),
        other => panic!("{other:?}"),
    }
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(
        requests(&fx).as_slice(),
        [Request::RevokeMany { targets }] if targets == &vec![(id(1), None)]
    ));
    // a lost connection mid-way: every row reports it, none is lost silently
    let lost = DbError::ConnectionLost("server closed the connection".into());
    app.update(Action::Db(Reply::RevokedMany {
        results: vec![(id(1), Err(lost))],
    }));
    assert!(app.tokens.is_marked(id(1)));
}

#[test]
fn hygiene_filter_is_a_key_that_reloads_from_the_first_page() {
    let mut app = app_with(sample_tokens());
    let fx = key(&mut app, KeyCode::Char('H'));
    assert!(app.tokens.filter.hygiene);
    match requests(&fx).as_slice() {
        [Request::Tokens { query, .. }, Request::Count { filter, .. }] => {
            assert!(query.filter.hygiene && query.cursor.is_none());
            assert!(filter.hygiene, "the count is of the hygiene rows too");
        }
        other => panic!("{other:?}"),
    }
    // combines with the other filters
    key(&mut app, KeyCode::Char('F'));
    assert!(app.tokens.filter.hygiene);
    assert_eq!(app.tokens.filter.kind.as_deref(), Some("service"));
    let fx = key(&mut app, KeyCode::Char('H'));
    assert!(!app.tokens.filter.hygiene);
    assert!(matches!(requests(&fx)[0], Request::Tokens { query, .. } if !query.filter.hygiene));
}

#[test]
fn the_events_view_pages_follows_and_polls_after_the_newest() {
    let mut app = app_with(sample_tokens());
    show_events(&mut app, token_events());
    assert_eq!(app.view, View::Events);
    assert_eq!(app.events.feed.rows.len(), 5);
    // Nothing is polled until follow is on.
    assert!(requests(&app.update(Action::Tick(now()))).is_empty());
    key(&mut app, KeyCode::Char('f'));
    assert!(app.events.feed.follow);
    let fx = app.update(Action::Tick(now()));
    let gen = match requests(&fx)[..] {
        [Request::Events {
            gen,
            query,
            follow: true,
        }] => {
            assert_eq!((query.after, query.before), (Some(5), None));
            *gen
        }
        ref r => panic!("{r:?}"),
    };
    // One poll at a time.
    assert!(requests(&app.update(Action::Tick(now()))).is_empty());
    let mut newer = token_events()[0].clone();
    newer.id = 6;
    app.update(Action::Db(Reply::Events {
        gen,
        follow: true,
        result: Ok(vec![newer]),
    }));
    assert_eq!(
        app.events.feed.rows[0].id, 6,
        "new events appear at the top"
    );
    assert_eq!(app.events.feed.rows.len(), 6);
    // The audit view's follow mode is its own.
    assert!(!app.audit.feed.follow);
    // Another view: no polling.
    key(&mut app, KeyCode::Char('1'));
    assert!(requests(&app.update(Action::Tick(now()))).is_empty());
    // Back: the page stays loaded, no second first read.
    assert!(requests(&key(&mut app, KeyCode::Char('4'))).is_empty());
    // r reads the newest page again.
    let fx = key(&mut app, KeyCode::Char('r'));
    assert!(matches!(
        requests(&fx)[..],
        [Request::Events { follow: false, query, .. }] if query.before.is_none() && query.after.is_none()
    ));
}

#[test]
fn acknowledging_events_asks_first_then_reloads() {
    let mut app = app_with(sample_tokens());
    show_events(&mut app, token_events());
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    // a asks first: up to the selected event (#3), nothing sent yet.
    let fx = key(&mut app, KeyCode::Char('a'));
    assert!(requests(&fx).is_empty());
    match &app.modal {
        Some(Modal::AckEvents(a)) => assert_eq!((a.upto, a.shown), (3, 3)),
        m => panic!("{m:?}"),
    }
    // Esc changes nothing.
    assert!(requests(&key(&mut app, KeyCode::Esc)).is_empty());
    assert!(app.modal.is_none());

    key(&mut app, KeyCode::Char('a'));
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(
        requests(&fx)[..],
        [Request::AckEvents { upto: 3 }]
    ));
    // While it runs, keys do nothing.
    assert!(requests(&key(&mut app, KeyCode::Enter)).is_empty());
    assert!(requests(&key(&mut app, KeyCode::Esc)).is_empty());
    assert!(matches!(app.modal, Some(Modal::AckEvents(_))));

    // A refusal stays in the dialog, which can send again.
    app.update(Action::Db(Reply::EventsAcked {
        upto: 3,
        result: Err(DbError::Server {
            sqlstate: "42501".into(),
            message: "permission denied for function ack_events".into(),
            hint: None,
            argument: None,
        }),
    }));
    match &app.modal {
        Some(Modal::AckEvents(a)) => assert!(!a.busy && a.error.is_some()),
        m => panic!("{m:?}"),
    }
    key(&mut app, KeyCode::Enter);
    // Done: the count is reported and the newest page read again.
    let fx = app.update(Action::Db(Reply::EventsAcked {
        upto: 3,
        result: Ok(3),
    }));
    assert!(app.modal.is_none());
    let notice = app.notice.as_ref().expect("a notice");
    assert_eq!(notice.level, Level::Info);
    assert!(
        notice.text.contains("3 events acknowledged"),
        "{}",
        notice.text
    );
    assert!(matches!(
        requests(&fx)[..],
        [Request::Events { follow: false, query, .. }] if query.after.is_none() && query.before.is_none()
    ));
}

#[test]
fn acknowledging_needs_tokens_reader_and_an_event() {
    let mut app = app_with(sample_tokens());
    app.session.reader = false;
    show_events(&mut app, token_events());
    assert!(requests(&key(&mut app, KeyCode::Char('a'))).is_empty());
    assert!(app.modal.is_none());
    let notice = app.notice.as_ref().expect("a notice");
    assert_eq!(notice.level, Level::Error);
    assert!(notice.text.contains("tokens_reader"), "{}", notice.text);

    let mut app = app_with(sample_tokens());
    show_events(&mut app, vec![]);
    assert!(requests(&key(&mut app, KeyCode::Char('a'))).is_empty());
    assert!(app.modal.is_none(), "nothing to acknowledge");
}
