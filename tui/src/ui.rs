//! The whole screen: chrome, the current view, then dialogs on top.

use ratatui::layout::{Constraint, Layout};
use ratatui::Frame;

use crate::app::{App, Modal, View};
use crate::components::{
    audit_log, bulk_revoke, chrome, confirm, create_form, events, help, leaks, limits_form,
    once_card, token_detail, token_list,
};

pub fn draw(f: &mut Frame, app: &App) {
    let [banner, header, body, notice, footer] = Layout::vertical([
        Constraint::Length(chrome::banner_height(app)),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    chrome::banner(f, banner, app);
    chrome::header(f, header, app);
    match (app.view, &app.detail) {
        (View::Detail, Some(d)) => token_detail::draw(f, body, d, app.now, &app.session),
        (View::Audit, _) => audit_log::draw(f, body, &app.audit),
        (View::Leaks, _) => leaks::draw(f, body, &app.leaks),
        (View::Events, _) => events::draw(f, body, &app.events),
        _ => token_list::draw(f, body, &app.tokens, app.now),
    }
    chrome::notice(f, notice, app);
    chrome::footer(f, footer, app);
    match &app.modal {
        Some(Modal::Create(form)) => create_form::draw(f, body, form, &app.scopes, &app.session),
        Some(Modal::Confirm(c)) => confirm::draw(f, body, c, &app.session),
        Some(Modal::Card(card)) => once_card::draw(f, body, card, app.now),
        Some(Modal::RateLimit(form)) => limits_form::draw_rate_limit(f, body, form, &app.session),
        Some(Modal::Allowlist(form)) => limits_form::draw_allowlist(f, body, form, &app.session),
        Some(Modal::Credits(form)) => limits_form::draw_credits(f, body, form, &app.session),
        Some(Modal::Meta(form)) => limits_form::draw_meta(f, body, form, &app.session),
        Some(Modal::RevokeLeaks(r)) => leaks::draw_confirm(f, body, r, &app.session),
        Some(Modal::BulkRevoke(b)) => bulk_revoke::draw(f, body, b, &app.session),
        Some(Modal::AckEvents(a)) => events::draw_ack(f, body, a),
        None => {}
    }
    if app.help {
        help::draw(f, body);
    }
}
