//! Every screen, pinned as text (ratatui TestBackend + insta).

mod common;

use common::*;
use crossterm::event::KeyCode;
use insta::assert_snapshot;
use tokens_console::action::Action;
use tokens_console::db::error::DbError;
use tokens_console::db::model::UsageWindow;
use tokens_console::db::Reply;

#[test]
fn token_list() {
    let app = app_with(sample_tokens());
    let screen = render(&app);
    assert_snapshot!(screen);
    let text = format!("{screen}");
    assert!(
        text.contains("evil\\x1b[2J"),
        "control characters are shown escaped"
    );
    assert!(!text.contains('\x1b'));
}

#[test]
fn empty_list() {
    assert_snapshot!(render(&app_with(vec![])));
}

#[test]
fn create_form_with_a_server_validation_error() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "bad\tname");
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Right); // personal
    key(&mut app, KeyCode::Enter);
    app.update(Action::Db(Reply::Minted(Err(DbError::Server {
        sqlstate: "22023".into(),
        message: "name must not contain control characters (tabs, newlines, escapes); 1 to 80 printable characters are allowed".into(),
        hint: None,
        argument: Some("name".into()),
    }))));
    assert_snapshot!(render(&app));
}

#[test]
fn create_form_with_the_scope_catalogue() {
    let mut app = app_with(sample_tokens());
    app.update(Action::Db(Reply::Scopes(Ok(vec![
        tokens_console::db::model::ScopeEntry {
            scope: "billing:read".into(),
            description: Some("read invoices".into()),
        },
        tokens_console::db::model::ScopeEntry {
            scope: "deploy".into(),
            description: None,
        },
    ]))));
    key(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "exporter");
    for _ in 0..3 {
        key(&mut app, KeyCode::Tab);
    }
    key(&mut app, KeyCode::Char(' '));
    assert_snapshot!(render(&app));
}

#[test]
fn amber_card() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "ci deploy bot");
    key(&mut app, KeyCode::Enter);
    app.update(Action::Db(Reply::Minted(Ok(minted()))));
    assert_snapshot!(render(&app));
}

#[test]
fn confirm_revoke_not_owner_acting_for_owner() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('x'));
    key(&mut app, KeyCode::Tab);
    type_text(&mut app, "rotated out");
    assert_snapshot!(render(&app));
}

#[test]
fn confirm_revoke_refused_by_the_server() {
    let mut app = app_with(sample_tokens());
    app.session.revoker = false;
    app.session.writer = false;
    app.session.self_service = true;
    key(&mut app, KeyCode::Char('x'));
    key(&mut app, KeyCode::Enter);
    app.update(Action::Db(Reply::Revoked {
        id: id(1),
        result: Err(DbError::Server {
            sqlstate: "42501".into(),
            message: "only the owner (group:platform) may revoke this token; actor was alice"
                .into(),
            hint: None,
            argument: None,
        }),
    }));
    assert_snapshot!(render(&app));
}

#[test]
fn confirm_rotate() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Right);
    assert_snapshot!(render(&app));
}

#[test]
fn detail() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Enter);
    let t = sample_tokens().remove(0);
    app.update(Action::Db(Reply::Detail {
        id: t.id,
        result: Ok((Some(t.clone()), audit_events())),
    }));
    app.update(Action::Db(Reply::Usage {
        id: t.id,
        window: UsageWindow::Day,
        result: Ok(usage_day()),
    }));
    let screen = render(&app);
    assert_snapshot!(screen);
    let text = format!("{screen}");
    for shown in [
        "100 / 1 min",
        "credits    42 left, refill 100 every 1 hour",
        "10.0.0.0/8, 192.168.1.0/24",
        "1234",
        "verified",
        "8 denied",
    ] {
        assert!(
            text.contains(shown),
            "{shown} is on the detail pane:\n{text}"
        );
    }
    key(&mut app, KeyCode::Esc);
    for _ in 0..5 {
        key(&mut app, KeyCode::Char('j'));
    }
    key(&mut app, KeyCode::Enter);
    let text = format!("{}", render(&app));
    assert!(
        text.contains("evil\\x1b[2Jname\\u{202e}"),
        "the detail pane shows the whole name, escaped:\n{text}"
    );
}

#[test]
fn audit_log() {
    let mut app = app_with(sample_tokens());
    let fx = key(&mut app, KeyCode::Char('2'));
    let gen = match fx.first() {
        Some(tokens_console::action::Effect::Db(tokens_console::db::Request::Audit {
            gen,
            ..
        })) => *gen,
        other => panic!("expected an audit request, got {other:?}"),
    };
    app.update(Action::Db(Reply::Audit {
        gen,
        follow: false,
        result: Ok(audit_events()),
    }));
    key(&mut app, KeyCode::Char('f'));
    assert_snapshot!(render(&app));
}

#[test]
fn events_following() {
    let mut app = app_with(sample_tokens());
    show_events(&mut app, token_events());
    key(&mut app, KeyCode::Char('f'));
    assert_snapshot!(render(&app));
}

#[test]
fn events_ack_confirmation() {
    let mut app = app_with(sample_tokens());
    show_events(&mut app, token_events());
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('a'));
    assert_snapshot!(render(&app));
}

#[test]
fn events_refused_by_the_server() {
    let mut app = app_with(sample_tokens());
    let fx = key(&mut app, KeyCode::Char('4'));
    let Some(tokens_console::action::Effect::Db(tokens_console::db::Request::Events {
        gen, ..
    })) = fx.first()
    else {
        panic!("expected an events request, got {fx:?}")
    };
    app.update(Action::Db(Reply::Events {
        gen: *gen,
        follow: false,
        result: Err(DbError::Server {
            sqlstate: "42501".into(),
            message: "permission denied for view events".into(),
            hint: None,
            argument: None,
        }),
    }));
    assert_snapshot!(render(&app));
}

#[test]
fn audit_filter_editing() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "token.revoke");
    key(&mut app, KeyCode::Tab);
    type_text(&mut app, "platform");
    key(&mut app, KeyCode::Tab);
    type_text(&mut app, "24h");
    assert_snapshot!(render(&app));
}

#[test]
fn help() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('?'));
    assert_snapshot!(render(&app));
}

#[test]
fn disconnected_banner() {
    let mut app = app_with(sample_tokens());
    app.update(Action::Db(Reply::ConnectionLost {
        error: "connection lost: terminating connection due to administrator command (57P01)"
            .into(),
    }));
    app.update(Action::Db(Reply::Reconnecting {
        attempt: 3,
        retry_in: std::time::Duration::from_secs(2),
        error: "ERROR 28000: role \"alice\" is not permitted to log in".into(),
    }));
    assert_snapshot!(render(&app));
}

#[test]
fn search_in_progress() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "deploy");
    assert_snapshot!(render(&app));
}

/// A detail pane whose token has no limits, and usage the role may not read.
fn detail_of(n: usize) -> tokens_console::app::App {
    let mut app = app_with(sample_tokens());
    for _ in 0..n {
        key(&mut app, KeyCode::Char('j'));
    }
    key(&mut app, KeyCode::Enter);
    let t = sample_tokens().remove(n);
    app.update(Action::Db(Reply::Detail {
        id: t.id,
        result: Ok((Some(t), audit_events())),
    }));
    app
}

#[test]
fn detail_usage_not_visible_and_no_limits() {
    let mut app = detail_of(1);
    app.update(Action::Db(Reply::Usage {
        id: id(2),
        window: UsageWindow::Day,
        result: Err(DbError::Server {
            sqlstate: "42501".into(),
            message: "permission denied: usage needs tokens_reader".into(),
            hint: None,
            argument: None,
        }),
    }));
    let screen = render(&app);
    assert_snapshot!(screen);
    let text = format!("{screen}");
    assert!(text.contains("usage: not visible to you"), "{text}");
    assert!(
        !text.contains("42501"),
        "no error banner for a refused usage:\n{text}"
    );
    assert!(text.contains("none") && text.contains("anywhere"), "{text}");
    assert!(text.contains("credits    none (no cap)"), "{text}");
}

#[test]
fn detail_narrow_with_a_cap_without_refill() {
    // Under 114 columns the usage panel goes under the fields: every
    // limit line still fits in it.
    let mut t = token(3, "alice laptop", "alice", "active");
    t.credits = Some(tokens_console::db::model::Credits {
        remaining: 0,
        refill: None,
    });
    let mut app = app_with(vec![t.clone()]);
    key(&mut app, KeyCode::Enter);
    app.update(Action::Db(Reply::Detail {
        id: t.id,
        result: Ok((Some(t), vec![])),
    }));
    app.update(Action::Db(Reply::Usage {
        id: id(3),
        window: UsageWindow::Day,
        result: Ok(usage_day()),
    }));
    let screen = render_at(&app, 100, 40);
    let text = format!("{screen}");
    for shown in [
        "rate limit none",
        "credits    0 left",
        "allowlist  anywhere",
    ] {
        assert!(text.contains(shown), "{shown} is on the pane:\n{text}");
    }
    assert_snapshot!(screen);
}

#[test]
fn detail_usage_per_minute() {
    let mut app = detail_of(0);
    key(&mut app, KeyCode::Char('u'));
    let buckets = (0..60)
        .map(|i| tokens_console::db::model::UsageBucket {
            bucket_start: now() - chrono::Duration::minutes(59 - i),
            count: (i % 7) * 2,
            denied: i64::from(i == 58),
        })
        .collect();
    app.update(Action::Db(Reply::Usage {
        id: id(1),
        window: UsageWindow::Hour,
        result: Ok(buckets),
    }));
    assert_snapshot!(render(&app));
}

#[test]
fn rate_limit_form_refused_by_the_server() {
    let mut app = detail_of(0);
    key(&mut app, KeyCode::Char('L'));
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "0");
    key(&mut app, KeyCode::Enter);
    app.update(Action::Db(Reply::RateLimitSet {
        id: id(1),
        result: Err(DbError::Server {
            sqlstate: "22023".into(),
            message: "requests must be at least 1 (got 0); pass NULL to clear the limit".into(),
            hint: None,
            argument: Some("requests".into()),
        }),
    }));
    assert_snapshot!(render(&app));
}

#[test]
fn rate_limit_form_rejects_a_non_number() {
    let mut app = detail_of(1);
    app.session.writer = false;
    key(&mut app, KeyCode::Char('L'));
    type_text(&mut app, "lots\x1b");
    key(&mut app, KeyCode::Enter);
    let screen = render(&app);
    assert_snapshot!(screen);
    assert!(!format!("{screen}").contains('\x1b'));
}

#[test]
fn credits_form_refused_by_the_server() {
    let mut app = detail_of(0);
    key(&mut app, KeyCode::Char('C'));
    let prefilled = format!("{}", render(&app));
    for shown in ["now: 42 left, refill 100 every 1 hour", "42▏", "1 hour"] {
        assert!(prefilled.contains(shown), "{shown}:\n{prefilled}");
    }
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    for _ in 0..6 {
        key(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "20 years");
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::Enter);
    app.update(Action::Db(Reply::RemainingSet {
        id: id(1),
        result: Err(DbError::Server {
            sqlstate: "22023".into(),
            message: "refill_every must be between '1 second' and '3650 days'".into(),
            hint: None,
            argument: Some("refill_every".into()),
        }),
    }));
    let screen = render(&app);
    let text = format!("{screen}");
    assert!(
        text.contains("▶ every    20 years▏"),
        "the cursor is on the interval:\n{text}"
    );
    assert!(text.contains("ERROR 22023"), "{text}");
    assert_snapshot!(screen);
}

#[test]
fn credits_form_for_a_token_without_a_cap() {
    let mut app = detail_of(1);
    app.session.writer = false;
    key(&mut app, KeyCode::Char('C'));
    let screen = render(&app);
    let text = format!("{screen}");
    assert!(text.contains("now: none (no cap)"), "{text}");
    assert!(text.contains("▶ credits  ▏"), "{text}");
    assert!(text.contains("empty = no refill"), "{text}");
    assert!(text.contains("are not a member of tokens_writer"), "{text}");
    assert_snapshot!(screen);
}

#[test]
fn self_service_is_offered_limits_but_not_meta_or_credits_of_its_own_token() {
    let mut app = detail_of(1);
    let t = app.detail.as_ref().unwrap().token.clone();
    app.session.writer = false;
    app.session.self_service = true;
    app.session.role = t.owner.clone();
    app.detail.as_mut().unwrap().token.kind = "personal".into();
    let text = format!("{}", render(&app));
    assert!(text.contains("L limit"), "{text}");
    assert!(text.contains("I allowlist"), "{text}");
    assert!(!text.contains("C credits"), "{text}");
    assert!(!text.contains("M meta"), "{text}");
    key(&mut app, KeyCode::Char('M'));
    let text = format!("{}", render(&app));
    assert!(text.contains("are not a member of tokens_writer"), "{text}");
}

#[test]
fn allowlist_form() {
    let mut app = detail_of(0);
    key(&mut app, KeyCode::Char('I'));
    type_text(&mut app, ", 2001:db8::/32, nonsense");
    key(&mut app, KeyCode::Enter);
    app.update(Action::Db(Reply::AllowedIpsSet {
        id: id(1),
        result: Err(DbError::Server {
            sqlstate: "22P02".into(),
            message: "invalid input syntax for type cidr: \"nonsense\"".into(),
            hint: None,
            argument: None,
        }),
    }));
    assert_snapshot!(render(&app));
}

// --- leak triage ------------------------------------------------------------

fn leaks_screen() -> tokens_console::app::App {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('3'));
    app
}

fn paste(app: &mut tokens_console::app::App, text: &str) {
    for a in tokens_console::event::actions_for_paste(app, text.to_owned()) {
        app.update(a);
    }
}

/// The leak screen with `leak_rows()` found in the pasted log.
fn leaks_found() -> tokens_console::app::App {
    let mut app = leaks_screen();
    paste(&mut app, &leaked_log());
    let fx = key_mod(
        &mut app,
        KeyCode::Char('s'),
        crossterm::event::KeyModifiers::CONTROL,
    );
    let gen = fx
        .iter()
        .find_map(|e| match e {
            tokens_console::action::Effect::Db(tokens_console::db::Request::FindLeaked {
                gen,
                ..
            }) => Some(*gen),
            _ => None,
        })
        .expect("a find_leaked request");
    app.update(Action::Db(Reply::Leaks {
        gen,
        result: Ok(leak_rows()),
    }));
    app
}

fn no_plaintext(screen: &str) {
    assert!(
        !screen.contains(LEAKED_A) && !screen.contains(LEAKED_B) && !screen.contains("Bearer"),
        "the pasted text must not be shown:\n{screen}"
    );
    assert!(!screen.contains('\x1b'), "control characters are escaped");
}

#[test]
fn leaks_empty() {
    let screen = render(&leaks_screen());
    assert_snapshot!(screen);
}

#[test]
fn leaks_pasted_text_is_not_shown() {
    let mut app = leaks_screen();
    paste(&mut app, &leaked_log());
    let screen = render(&app);
    no_plaintext(&format!("{screen}"));
    assert_snapshot!(screen);
}

#[test]
fn leaks_with_results() {
    let app = leaks_found();
    let screen = render(&app);
    let text = format!("{screen}");
    no_plaintext(&text);
    assert!(text.contains("evil\\x1b[2Jname\\u{202e}"), "{text}");
    assert_snapshot!(screen);
}

#[test]
fn leaks_confirm_revoke_every_live_one() {
    let mut app = leaks_found();
    // A disabled token is live: it could be enabled again.
    app.leaks.rows[1].status = "disabled".into();
    key(&mut app, KeyCode::Char('X'));
    let screen = render(&app);
    let text = format!("{screen}");
    no_plaintext(&text);
    assert!(
        text.contains("3 live tokens (active or disabled)"),
        "{text}"
    );
    assert!(text.contains("tbm_00000002  disabled"), "{text}");
    assert!(text.contains("actor = the token's"), "{text}");
    assert!(text.contains("reason 'leak'"), "{text}");
    assert_snapshot!(screen);
}

#[test]
fn leaks_revoked_with_a_refusal() {
    let mut app = leaks_found();
    key(&mut app, KeyCode::Char('X'));
    let targets = match &app.modal {
        Some(tokens_console::app::Modal::RevokeLeaks(r)) => r.targets.clone(),
        other => panic!("{other:?}"),
    };
    key(&mut app, KeyCode::Enter);
    let fx = app.update(Action::Db(Reply::RevokedForOwners {
        results: vec![
            (targets[0].clone(), Ok(true)),
            (targets[1].clone(), Ok(false)),
            (
                targets[2].clone(),
                Err(DbError::Server {
                    sqlstate: "P0002".into(),
                    message: "no token with this id".into(),
                    hint: None,
                    argument: None,
                }),
            ),
        ],
    }));
    let gen = fx
        .iter()
        .find_map(|e| match e {
            tokens_console::action::Effect::Db(tokens_console::db::Request::FindLeaked {
                gen,
                ..
            }) => Some(*gen),
            _ => None,
        })
        .expect("checked again");
    let mut rows = leak_rows();
    rows[0].status = "revoked".into();
    rows[1].status = "revoked".into();
    app.update(Action::Db(Reply::Leaks {
        gen,
        result: Ok(rows),
    }));
    let screen = render(&app);
    assert_snapshot!(screen);
}

#[test]
fn leaks_without_tokens_revoker() {
    let mut app = leaks_found();
    app.session.revoker = false;
    key(&mut app, KeyCode::Char('X'));
    let screen = render(&app);
    let text = format!("{screen}");
    assert!(text.contains("needs tokens_revoker"), "{text}");
    assert_snapshot!(screen);
}

#[test]
fn confirm_disable() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('d'));
    let screen = render(&app);
    let text = format!("{screen}");
    assert!(
        text.contains("Disable tbm_00000001 \"ci deploy bot\""),
        "{text}"
    );
    assert!(text.contains("owner group:platform"), "{text}");
    assert!(text.contains("Reversible"), "{text}");
    assert!(
        text.contains("recorded in the audit log") || text.contains("Recorded in the audit log"),
        "{text}"
    );
    assert_snapshot!(screen);
}

#[test]
fn detail_of_a_disabled_token_with_meta() {
    use tokens_console::db::model::AuditEvent;
    let mut t = token(6, "evil\x1b[2Jname\u{202e}", "group:x", "disabled");
    t.disabled_at = Some(now() - chrono::Duration::minutes(5));
    let mut app = app_with(vec![t.clone()]);
    key(&mut app, KeyCode::Enter);
    let event = |n: i64, action: &str, meta: Option<serde_json::Value>| AuditEvent {
        id: n,
        at: now() - chrono::Duration::minutes(10 - n),
        actor: "alice".into(),
        db_role: "alice".into(),
        action: action.into(),
        target: Some(format!("token:{}", t.id)),
        meta,
    };
    app.update(Action::Db(Reply::Detail {
        id: t.id,
        result: Ok((
            Some(t.clone()),
            vec![
                event(5, "token.disable", None),
                event(
                    4,
                    "token.meta",
                    Some(serde_json::json!({"meta": {"plan": "pro", "note": "a\x1b[2Jb"}})),
                ),
                event(
                    3,
                    "token.meta",
                    Some(serde_json::json!({"meta": {"plan": "free"}})),
                ),
                event(1, "token.create", Some(serde_json::json!({"name": "bot"}))),
            ],
        )),
    }));
    let screen = render(&app);
    let text = format!("{screen}");
    assert!(
        text.contains("disabled since 2025-03-14 11:55:00 UTC"),
        "{text}"
    );
    assert!(
        text.contains(r#"{"note":"a\u001b[2Jb","plan":"pro"}"#),
        "{text}"
    );
    assert!(text.contains("last set 6m ago by alice"), "{text}");
    assert!(!text.contains('\x1b'));
    assert_snapshot!(screen);
}

#[test]
fn meta_form_with_an_error() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Enter);
    let t = app.detail.as_ref().expect("the detail pane").token.clone();
    app.update(Action::Db(Reply::Detail {
        id: t.id,
        result: Ok((
            Some(t.clone()),
            vec![tokens_console::db::model::AuditEvent {
                id: 9,
                at: now() - chrono::Duration::hours(1),
                actor: "alice".into(),
                db_role: "alice".into(),
                action: "token.meta".into(),
                target: Some(format!("token:{}", t.id)),
                meta: Some(serde_json::json!({"meta": {"plan": "free"}})),
            }],
        )),
    }));
    key(&mut app, KeyCode::Char('M'));
    assert!(
        format!("{}", render(&app)).contains("\"plan\": \"free\""),
        "prefilled"
    );
    key_mod(
        &mut app,
        KeyCode::Char('u'),
        crossterm::event::KeyModifiers::CONTROL,
    );
    type_text(&mut app, "{\"plan\": \"pro\",");
    key(&mut app, KeyCode::Enter);
    type_text(&mut app, " \"seats\": }");
    key_mod(
        &mut app,
        KeyCode::Char('s'),
        crossterm::event::KeyModifiers::CONTROL,
    );
    let screen = render(&app);
    let text = format!("{screen}");
    assert!(text.contains("not valid JSON"), "{text}");
    assert!(text.contains("line 2"), "{text}");
    assert_snapshot!(screen);
}

#[test]
fn meta_form_refused_by_the_server() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('M'));
    type_text(&mut app, "{\"blob\": \"xxxx\"}");
    key_mod(
        &mut app,
        KeyCode::Char('s'),
        crossterm::event::KeyModifiers::CONTROL,
    );
    app.update(Action::Db(Reply::MetaSet {
        id: common::id(1),
        result: Err(DbError::Server {
            sqlstate: "22023".into(),
            message: "meta is too big: 5000 bytes as octet_length(meta::text), at most 4096".into(),
            hint: None,
            argument: Some("meta".into()),
        }),
    }));
    let text = format!("{}", render(&app));
    assert!(text.contains("ERROR 22023"), "{text}");
    assert!(text.contains("\"blob\""), "the text is kept: {text}");
}

#[test]
fn header_shows_an_encrypted_connection() {
    let mut app = app_with(vec![]);
    let plain = format!("{}", render(&app));
    let header = |screen: &str| screen.lines().next().unwrap_or_default().to_owned();
    assert!(
        header(&plain).contains("alice@app plain"),
        "{}",
        header(&plain)
    );
    app.session.tls = Some("TLSv1.3".into());
    let tls = format!("{}", render(&app));
    assert!(
        header(&tls).contains("alice@app TLSv1.3"),
        "{}",
        header(&tls)
    );
    assert!(!header(&tls).contains("plain"));
}

#[test]
fn token_list_with_marked_rows() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char(' '));
    assert_snapshot!(render(&app));
}

#[test]
fn bulk_revoke_confirmation() {
    let mut app = app_with(sample_tokens());
    for _ in 0..3 {
        key(&mut app, KeyCode::Char(' '));
    }
    key(&mut app, KeyCode::Char('X'));
    assert_snapshot!(render(&app));
}

#[test]
fn bulk_revoke_outcome_per_row() {
    let mut app = app_with(sample_tokens());
    for _ in 0..3 {
        key(&mut app, KeyCode::Char(' '));
    }
    key(&mut app, KeyCode::Char('X'));
    key(&mut app, KeyCode::Enter);
    app.update(Action::Db(Reply::RevokedMany {
        results: vec![
            (
                id(1),
                Err(DbError::Server {
                    sqlstate: "42501".into(),
                    message: "only the owner (group:platform) may revoke this token".into(),
                    hint: None,
                    argument: None,
                }),
            ),
            (id(2), Ok(false)),
            (id(3), Ok(true)),
        ],
    }));
    assert_snapshot!(render(&app));
}

#[test]
fn hygiene_filter_on() {
    let mut app = app_with(sample_tokens());
    let fx = key(&mut app, KeyCode::Char('H'));
    let gen = fx
        .iter()
        .find_map(|e| match e {
            tokens_console::action::Effect::Db(tokens_console::db::Request::Tokens {
                gen, ..
            }) => Some(*gen),
            _ => None,
        })
        .expect("a reload");
    // what the server answers: the live rows that never expire or have
    // full access
    let rows: Vec<_> = sample_tokens()
        .into_iter()
        .filter(|t| t.status == "active" && (t.expires_at.is_none() || t.scopes.is_none()))
        .collect();
    app.update(Action::Db(Reply::Count {
        gen,
        result: Ok(rows.len() as i64),
    }));
    app.update(Action::Db(Reply::Tokens {
        gen,
        result: Ok(page(rows, false)),
    }));
    assert_snapshot!(render(&app));
}

#[test]
fn hygiene_filter_with_nothing_to_tidy() {
    let mut app = app_with(vec![]);
    key(&mut app, KeyCode::Char('H'));
    app.tokens.loading = false;
    assert_snapshot!(render(&app));
}

#[test]
fn badges_mark_rows_that_deserve_a_look() {
    use tokens_console::db::model::Badges;
    let mut rows = sample_tokens();
    rows[0].badges = Badges {
        expiring: true,
        ..Badges::default()
    };
    rows[1].badges = Badges {
        credits_low: true,
        rate_limited: true,
        ..Badges::default()
    };
    let app = app_with(rows);
    assert_snapshot!(render(&app));
}

#[test]
fn no_badge_no_badge_column() {
    let app = app_with(sample_tokens());
    let screen = render(&app).to_string();
    let header = screen
        .lines()
        .find(|l| l.contains("PREFIX"))
        .expect("a header");
    assert!(!header.contains('!'), "{screen}");
}
