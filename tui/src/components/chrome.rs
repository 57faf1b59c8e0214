//! Header, connection banner, notice line and footer key hints.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::key_style;
use crate::app::{App, Conn, Level, Modal, View};
use crate::text::clean;

pub fn header(f: &mut Frame, area: Rect, app: &App) {
    let tab = |label: &'static str, on: bool| {
        if on {
            Span::styled(
                label,
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
            )
        } else {
            Span::raw(label)
        }
    };
    let s = &app.session;
    let mut grants = Vec::new();
    for (on, name) in [
        (s.reader, "reader"),
        (s.writer, "writer"),
        (s.revoker, "revoker"),
        (s.self_service, "self-service"),
    ] {
        if on {
            grants.push(name);
        }
    }
    let grants = if grants.is_empty() {
        "no tokens_* grant".to_owned()
    } else {
        grants.join(" ")
    };
    let line = Line::from(vec![
        Span::styled(
            " pg_tokens ",
            Style::default()
                .fg(Color::Black)
                .bg(super::AMBER)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(" "),
        tab(
            " 1 Tokens ",
            matches!(app.view, View::Tokens | View::Detail),
        ),
        Span::raw(" "),
        tab(" 2 Audit log ", app.view == View::Audit),
        Span::raw(" "),
        tab(" 3 Leaks ", app.view == View::Leaks),
        Span::raw(" "),
        tab(" 4 Events ", app.view == View::Events),
        Span::raw("  "),
        Span::styled(
            format!("{}@{}", clean(&s.role), clean(&s.database)),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        // Whether the connection is encrypted: the TLS version, or "plain".
        match &s.tls {
            Some(v) => Span::styled(format!(" {}", clean(v)), Style::default().fg(Color::Green)),
            None => Span::styled(" plain", super::dim()),
        },
        Span::styled(
            format!("  [{grants}]  ext {}", clean(&s.extension_version)),
            super::dim(),
        ),
    ]);
    f.render_widget(Paragraph::new(line), area);
}

pub fn banner_height(app: &App) -> u16 {
    let alarm = u16::from(app.audit_alarm.is_some());
    match app.conn {
        Conn::Up => alarm,
        Conn::Lost { .. } => 2 + alarm,
    }
}

pub fn banner(f: &mut Frame, area: Rect, app: &App) {
    let area = match &app.audit_alarm {
        Some(alarm) => {
            let style = Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD);
            let top = Rect { height: 1, ..area };
            f.render_widget(
                Paragraph::new(Line::from(format!(" ⚠ {}", clean(alarm))).style(style)),
                top,
            );
            Rect {
                y: area.y + 1,
                height: area.height.saturating_sub(1),
                ..area
            }
        }
        None => area,
    };
    let Conn::Lost {
        error,
        attempt,
        retry_in,
    } = &app.conn
    else {
        return;
    };
    let style = Style::default()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD);
    let next = if *attempt == 0 {
        "reconnecting…".to_owned()
    } else {
        format!(
            "reconnecting: attempt {attempt}, next try in {:.1}s",
            retry_in.as_secs_f32()
        )
    };
    let lines = vec![
        Line::from(format!(" ⚠ CONNECTION LOST — {next}")).style(style),
        Line::from(format!(
            " {}  (the screen still works; nothing is sent until the connection is back)",
            clean(error)
        ))
        .style(Style::default().fg(Color::White).bg(Color::Red)),
    ];
    f.render_widget(Paragraph::new(lines), area);
}

pub fn notice(f: &mut Frame, area: Rect, app: &App) {
    let Some(n) = &app.notice else { return };
    let style = match n.level {
        Level::Info => Style::default().fg(Color::Green),
        Level::Error => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
    };
    f.render_widget(
        Paragraph::new(Line::styled(format!(" {}", clean(&n.text)), style)),
        area,
    );
}

/// The keys that work right now, most useful first.
pub fn hints(app: &App) -> Vec<(&'static str, &'static str)> {
    if let Some(m) = &app.modal {
        return match m {
            Modal::Card(_) => vec![
                ("c", "copy (OSC 52)"),
                ("Enter", "I have stored it — close"),
            ],
            Modal::Confirm(c) => {
                let mut h = vec![("Enter", "confirm"), ("Esc", "cancel")];
                if c.may_act_for_owner {
                    h.push(("Tab", "act for owner"));
                }
                if c.op == crate::app::ConfirmOp::Rotate {
                    h.push(("←/→", "grace period"));
                }
                h
            }
            Modal::RateLimit(_) => vec![
                ("Tab", "requests/per"),
                ("←/→", "per preset"),
                ("Enter", "save (empty requests clears)"),
                ("Esc", "cancel"),
            ],
            Modal::Credits(_) => vec![
                ("Tab", "credits/refill/every"),
                ("←/→", "every preset"),
                ("Enter", "save (empty credits removes the cap)"),
                ("Esc", "cancel"),
            ],
            Modal::Meta(_) => vec![
                ("type", "a JSON object"),
                ("Enter", "new line"),
                ("Ctrl-S", "save (empty clears)"),
                ("Ctrl-U", "clear"),
                ("Esc", "cancel"),
            ],
            Modal::Allowlist(_) => vec![
                ("type", "CIDRs, comma separated"),
                ("Enter", "save (empty clears)"),
                ("Esc", "cancel"),
            ],
            Modal::Create(_) => vec![
                ("Tab/↓", "next field"),
                ("←/→", "choose"),
                ("Space", "toggle scope"),
                ("Enter", "create"),
                ("Esc", "cancel"),
            ],
            Modal::RevokeLeaks(r) if r.busy => vec![("…", "revoking")],
            Modal::RevokeLeaks(_) => vec![("Enter", "revoke them all"), ("Esc", "cancel")],
            Modal::AckEvents(a) if a.busy => vec![("…", "acknowledging")],
            Modal::AckEvents(_) => vec![("Enter", "acknowledge"), ("Esc", "cancel")],
            Modal::BulkRevoke(b) if b.busy => vec![("…", "revoking")],
            Modal::BulkRevoke(b) if b.results.is_some() => vec![("Enter/Esc", "close")],
            Modal::BulkRevoke(b) => {
                let mut h = vec![("Enter", "revoke them all"), ("Esc", "cancel")];
                if b.may_act_for_owner {
                    h.push(("Tab", "act for owners"));
                }
                h
            }
        };
    }
    if app.help {
        return vec![("?/Esc", "close help")];
    }
    match app.view {
        View::Tokens if app.tokens.search_input => vec![
            ("type", "search name/owner/prefix/id"),
            ("Enter", "keep"),
            ("Esc", "clear"),
        ],
        View::Tokens => {
            let mut h = vec![
                ("j/k", "move"),
                ("Enter", "detail"),
                ("n", "new"),
                ("x", "revoke"),
                ("R", "rotate"),
            ];
            h.extend(disable_hint(app));
            if !app.tokens.marked.is_empty() {
                // Marks on: the bulk keys come first.
                h.insert(0, ("X", "revoke marked"));
                h.insert(1, ("Space", "mark/unmark"));
            }
            h.extend([
                ("/", "search"),
                ("f/F", "status/kind"),
                ("s/S", "sort"),
                ("?", "help"),
                ("q", "quit"),
            ]);
            if app.tokens.filter.hygiene {
                // The filter is on: the way out comes first.
                h.insert(0, ("H", "hygiene off"));
            } else {
                h.push(("H", "hygiene"));
            }
            if app.tokens.marked.is_empty() {
                h.push(("Space", "mark for bulk revoke"));
            }
            h
        }
        View::Detail => {
            let mut h = vec![("Esc/h", "back"), ("x", "revoke"), ("R", "rotate")];
            h.extend(disable_hint(app));
            if app
                .detail
                .as_ref()
                .is_some_and(|d| app.session.may_set_limits(&d.token))
            {
                h.extend([("L", "limit"), ("I", "IPs")]);
            }
            if app.session.may_set_trusted() {
                h.extend([("C", "credits"), ("M", "meta")]);
            }
            h.extend([
                ("u", "24h/60m"),
                ("j/k", "history"),
                ("?", "help"),
                ("q", "quit"),
            ]);
            h
        }
        View::Audit if app.audit.editing.is_some() => vec![
            ("Tab", "next filter"),
            ("Enter", "apply"),
            ("Esc", "cancel"),
        ],
        View::Audit => vec![
            ("j/k", "move"),
            ("f", "follow"),
            ("/", "filter"),
            ("Esc", "clear filters"),
            ("[/]", "newer/older page"),
            ("1", "tokens"),
            ("?", "help"),
            ("q", "quit"),
        ],
        View::Leaks if app.leaks.editing => vec![
            ("paste/type", "text to check"),
            ("Ctrl-S/F5", "check"),
            ("Enter", "new line"),
            ("Ctrl-U/Esc", "clear"),
            ("Tab", "results"),
        ],
        View::Leaks => {
            let mut h = vec![("e", "paste new text")];
            if app.session.revoker {
                h.push(("X", "revoke every live one"));
            }
            if app.leaks.checked {
                h.push(("r", "check again"));
            }
            h.extend([
                ("j/k", "move"),
                ("1/2", "tokens/audit"),
                ("?", "help"),
                ("q", "quit"),
            ]);
            h
        }
        View::Events => {
            let mut h = vec![("j/k", "move"), ("f", "follow")];
            if app.session.reader {
                h.push(("a", "acknowledge up to here"));
            }
            h.extend([
                ("[/]", "newer/older page"),
                ("1", "tokens"),
                ("?", "help"),
                ("q", "quit"),
            ]);
            h
        }
    }
}

/// The token the list or detail keys act on, when no dialog is open.
fn focused(app: &App) -> Option<&crate::db::model::Token> {
    if app.modal.is_some() || app.help {
        return None;
    }
    match (app.view, &app.detail) {
        (View::Detail, Some(d)) => Some(&d.token),
        (View::Tokens, _) if !app.tokens.search_input => app.tokens.selected_token(),
        _ => None,
    }
}

/// `d` when this role may disable or enable the focused token.
fn disable_hint(app: &App) -> Option<(&'static str, &'static str)> {
    let t = focused(app).filter(|t| app.session.may_set_limits(t))?;
    Some(if t.disabled_at.is_some() {
        ("d", "enable")
    } else {
        ("d", "disable")
    })
}

/// Keys shown but not usable by this role, with what they need.
pub fn disabled_hints(app: &App) -> Vec<(&'static str, &'static str)> {
    if let Some(t) = focused(app).filter(|t| !app.session.may_set_limits(t)) {
        return vec![(
            "d",
            if t.disabled_at.is_some() {
                "enable: needs tokens_writer or your own personal token"
            } else {
                "disable: needs tokens_writer or your own personal token"
            },
        )];
    }
    if app.modal.is_none()
        && !app.help
        && app.view == View::Leaks
        && !app.leaks.editing
        && !app.session.revoker
    {
        return vec![("X", "revoke live ones: needs tokens_revoker")];
    }
    vec![]
}

pub fn footer(f: &mut Frame, area: Rect, app: &App) {
    let mut spans = Vec::new();
    let mut used = 0usize;
    for (i, (k, what)) in hints(app).into_iter().enumerate() {
        // A hint that would be cut at the footer's end is left out whole
        // (the help screen lists every key).
        let w = k.chars().count() + what.chars().count() + 3;
        if i > 0 && used + w > area.width as usize {
            break;
        }
        used += w;
        spans.push(Span::styled(format!(" {k}"), key_style()));
        spans.push(Span::raw(format!(" {what} ")));
        if i == 0 {
            // Where the key would be, so the footer's end cannot cut it off.
            for (k, what) in disabled_hints(app) {
                used += k.chars().count() + what.chars().count() + 3;
                spans.push(Span::styled(format!(" {k} {what} "), super::dim()));
            }
        }
    }
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(Style::default().bg(Color::Rgb(30, 30, 30))),
        area,
    );
}
