//! The readline keys of the one text input, through the key map and
//! `update`: what a terminal user's fingers expect.

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyModifiers};
use tokens_console::app::Modal;
use tokens_console::db::Request;

fn ctrl(app: &mut tokens_console::app::App, c: char) -> Vec<tokens_console::action::Effect> {
    key_mod(app, KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn create_name(app: &tokens_console::app::App) -> String {
    match &app.modal {
        Some(Modal::Create(f)) => f.name.to_string(),
        other => panic!("the create form, got {other:?}"),
    }
}

#[test]
fn ctrl_u_clears_a_form_field() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "ci deploy bot");
    assert_eq!(create_name(&app), "ci deploy bot");
    ctrl(&mut app, 'u');
    assert_eq!(
        create_name(&app),
        "",
        "Ctrl-U clears the field, it does not type a u"
    );
    type_text(&mut app, "exporter");
    assert_eq!(create_name(&app), "exporter");
}

#[test]
fn readline_keys_move_and_edit_in_a_form_field() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "deploy bot");
    ctrl(&mut app, 'a');
    type_text(&mut app, "ci ");
    assert_eq!(
        create_name(&app),
        "ci deploy bot",
        "Ctrl-A goes to the start"
    );
    key_mod(&mut app, KeyCode::Char('f'), KeyModifiers::ALT);
    ctrl(&mut app, 'k');
    assert_eq!(
        create_name(&app),
        "ci deploy",
        "Alt-F a word on, Ctrl-K kills the rest"
    );
    key_mod(&mut app, KeyCode::Char('b'), KeyModifiers::ALT);
    key(&mut app, KeyCode::Delete);
    assert_eq!(
        create_name(&app),
        "ci eploy",
        "Alt-B a word back, Delete under the cursor"
    );
    ctrl(&mut app, 'e');
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Backspace);
    assert_eq!(create_name(&app), "ci eply", "Ctrl-E the end, ← one back");
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Right);
    ctrl(&mut app, 'u');
    assert_eq!(
        create_name(&app),
        "i eply",
        "Ctrl-U clears to the start only"
    );
}

#[test]
fn ctrl_w_deletes_a_word_in_the_search() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "deploy bot");
    assert_eq!(app.tokens.filter.search, "deploy bot");
    let fx = ctrl(&mut app, 'w');
    assert_eq!(app.tokens.filter.search, "deploy ");
    assert!(
        fx.iter().any(|e| matches!(e, tokens_console::action::Effect::Db(Request::Tokens { query, .. }) if query.filter.search == "deploy ")),
        "the search is asked again: {fx:?}"
    );
    assert!(app.tokens.search_input, "Ctrl-W does not leave the search");
    let fx = key(&mut app, KeyCode::Left);
    assert!(fx.is_empty(), "moving the cursor asks nothing");
}

#[test]
fn ctrl_u_clears_the_rate_limit_requests() {
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('L'));
    ctrl(&mut app, 'u');
    type_text(&mut app, "250");
    match &app.modal {
        Some(Modal::RateLimit(f)) => assert_eq!(f.requests, "250"),
        other => panic!("the rate-limit form, got {other:?}"),
    }
}

#[test]
fn one_audit_event_is_one_event() {
    use tokens_console::action::Action;
    use tokens_console::db::Reply;
    let mut app = app_with(sample_tokens());
    key(&mut app, KeyCode::Enter);
    let t = sample_tokens().remove(0);
    let shown = |app: &tokens_console::app::App| {
        let b = render(app);
        b.buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect::<String>()
    };
    for (n, title) in [
        (1, "Audit history (1 event)"),
        (2, "Audit history (2 events)"),
    ] {
        app.update(Action::Db(Reply::Detail {
            id: t.id,
            result: Ok((
                Some(t.clone()),
                audit_events().into_iter().take(n).collect(),
            )),
        }));
        assert!(shown(&app).contains(title), "{title}");
    }
}
