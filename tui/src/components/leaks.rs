//! The leak triage screen: the text area (its size only, never its text),
//! the tokens `tokens.find_leaked` found in it, the last revoke summary,
//! and the confirmation before revoking every live one.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::{dim, key_style, status_style, wrapped_dialog};
use crate::app::{LeakSummary, Leaks, RevokeLeaks, LEAK_REASON};
use crate::db::model::Session;
use crate::text::{clean, fit};

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn text_area(f: &mut Frame, area: Rect, l: &Leaks) {
    let (chars, lines) = l.text.size();
    let size = format!(
        "{}, {}",
        plural(chars, "character", "characters"),
        plural(lines, "line", "lines")
    );
    let body: Vec<Line> = if l.editing && l.text.is_empty() {
        vec![
            Line::from(vec![
                Span::raw("Paste a log, a chat message or a file here (or type it)"),
                Span::styled("▏", key_style()),
            ]),
            Line::styled(
                "It is never shown, logged or stored: only the tokens in it are looked up, by hash.",
                dim(),
            ),
        ]
    } else if l.editing {
        vec![
            Line::from(vec![
                Span::raw(format!("{size} pasted (not shown)")),
                Span::styled("▏", key_style()),
            ]),
            Line::from(vec![
                Span::styled("Ctrl-S", key_style()),
                Span::raw(" or "),
                Span::styled("F5", key_style()),
                Span::raw(" checks it; "),
                Span::styled("Ctrl-U", key_style()),
                Span::raw(" or "),
                Span::styled("Esc", key_style()),
                Span::raw(" clears it."),
            ]),
        ]
    } else if l.checked {
        vec![
            Line::raw(format!("Checked {size} (not shown).")),
            Line::styled(
                "The text is wiped from memory when you leave this screen; e pastes a new one.",
                dim(),
            ),
        ]
    } else {
        vec![
            Line::raw("No text held."),
            Line::from(vec![
                Span::styled("e", key_style()),
                Span::raw(" or a paste: a text to check for tokens."),
            ]),
        ]
    };
    let border = if l.editing {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default()
    };
    f.render_widget(
        Paragraph::new(body).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(border)
                .title(" Text to check for leaked tokens "),
        ),
        area,
    );
}

fn summary_lines(s: &LeakSummary) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("revoked {}", s.revoked.len()),
            Style::default()
                .fg(Color::Green)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(" · already revoked {}", s.already.len())),
        Span::styled(
            format!(" · errors {}", s.errors.len()),
            if s.errors.is_empty() {
                Style::default()
            } else {
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
            },
        ),
        Span::styled(
            format!("   (actor = each token's owner, reason '{LEAK_REASON}')"),
            dim(),
        ),
    ])];
    if !s.revoked.is_empty() {
        lines.push(Line::styled(
            format!(
                "revoked: {}",
                s.revoked
                    .iter()
                    .map(|p| clean(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            dim(),
        ));
    }
    if !s.already.is_empty() {
        lines.push(Line::styled(
            format!(
                "already revoked: {}",
                s.already
                    .iter()
                    .map(|p| clean(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            dim(),
        ));
    }
    for (prefix, e) in &s.errors {
        lines.push(Line::styled(
            format!("{}: {}", clean(prefix), clean(&e.to_string())),
            Style::default().fg(Color::Red),
        ));
    }
    lines
}

fn title(l: &Leaks) -> String {
    if !l.loaded {
        return if l.loading {
            " Results · checking… ".into()
        } else {
            " Results ".into()
        };
    }
    let mut t = format!(" Tokens found: {}", l.rows.len());
    // Live ones first: they are what needs doing.
    let mut counts: Vec<(&str, usize)> = ["active", "disabled", "revoked", "expired", "unknown"]
        .into_iter()
        .map(|s| (s, 0))
        .collect();
    for r in &l.rows {
        match counts.iter_mut().find(|(s, _)| *s == r.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((&r.status, 1)),
        }
    }
    for (status, n) in counts.into_iter().filter(|(_, n)| *n > 0) {
        t.push_str(&format!(" · {n} {}", clean(status)));
    }
    t.push(' ');
    if l.loading {
        t.push_str("· checking… ");
    }
    t
}

pub fn draw(f: &mut Frame, area: Rect, l: &Leaks) {
    let summary = l.summary.as_ref().map(summary_lines);
    let summary_height = summary.as_ref().map_or(0, |s| s.len() as u16 + 2);
    let [input, summary_area, results] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(summary_height),
        Constraint::Min(3),
    ])
    .areas(area);
    text_area(f, input, l);
    if let Some(lines) = summary {
        f.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: false }).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" Revoked for their owners "),
            ),
            summary_area,
        );
    }
    let block = Block::default().borders(Borders::ALL).title(title(l));
    if let Some(e) = &l.error {
        let p = Paragraph::new(vec![
            Line::styled(
                "The server refused the check:",
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Line::raw(clean(&e.to_string())),
            Line::raw(""),
            Line::styled(
                "Leak triage (tokens.find_leaked) needs tokens_reader.",
                dim(),
            ),
        ])
        .wrap(Wrap { trim: false })
        .block(block);
        f.render_widget(p, results);
        return;
    }
    if l.rows.is_empty() {
        let text = if l.loading {
            vec![Line::raw("Checking…")]
        } else if l.loaded {
            vec![
                Line::raw("No token in this text."),
                Line::styled(
                    "A token is tbm_ followed by 32 characters of A-Z a-z 0-9 - _, not glued to more of them.",
                    dim(),
                ),
            ]
        } else {
            vec![
                Line::raw("Each token found is looked up by hash: its prefix, status, owner and name are shown, never the token."),
                Line::styled(
                    "Members of tokens_revoker can then revoke every live one for its owner (X).",
                    dim(),
                ),
            ]
        };
        f.render_widget(
            Paragraph::new(text).wrap(Wrap { trim: false }).block(block),
            results,
        );
        return;
    }
    let header = Row::new(["PREFIX", "STATUS", "OWNER", "NAME", "ID"])
        .style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let none = || Cell::from(Span::styled("—", dim()));
    let rows = l.rows.iter().map(|r| {
        let status = if r.status == "unknown" {
            Cell::from(Span::styled("unknown", dim()))
        } else {
            Cell::from(Span::styled(
                clean(&r.status),
                status_style(&r.status).add_modifier(Modifier::BOLD),
            ))
        };
        Row::new(vec![
            Cell::from(clean(&r.prefix)),
            status,
            r.owner
                .as_deref()
                .map(|o| Cell::from(clean(o)))
                .unwrap_or_else(none),
            r.name
                .as_deref()
                .map(|n| Cell::from(clean(n)))
                .unwrap_or_else(none),
            r.token_id
                .map(|id| Cell::from(id.to_string()))
                .unwrap_or_else(none),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Length(8),
            Constraint::Length(20),
            Constraint::Min(12),
            Constraint::Length(36),
        ],
    )
    .header(header)
    .block(block)
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .highlight_symbol("▶ ");
    let mut state = TableState::default().with_selected((!l.editing).then_some(l.selected));
    f.render_stateful_widget(table, results, &mut state);
}

/// The confirmation before revoking every live token found.
pub fn draw_confirm(f: &mut Frame, area: Rect, r: &RevokeLeaks, session: &Session) {
    let n = r.targets.len();
    let warn = Style::default().fg(Color::Yellow);
    let mut lines = vec![Line::from(vec![
        Span::styled("Revoke ", Style::default().add_modifier(Modifier::BOLD)),
        Span::styled(
            plural(n, "live token", "live tokens"),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        Span::raw(" (active or disabled) found in the pasted text:"),
    ])];
    const SHOWN: usize = 8;
    for t in r.targets.iter().take(SHOWN) {
        lines.push(Line::raw(format!(
            "  {}  {:<8}  owner {}",
            clean(&t.prefix),
            clean(&t.status),
            fit(&clean(&t.owner), 40)
        )));
    }
    if n > SHOWN {
        lines.push(Line::styled(format!("  … and {} more", n - SHOWN), dim()));
    }
    if !r.left_alone.is_empty() {
        let others: Vec<String> = r
            .left_alone
            .iter()
            .map(|(s, k)| format!("{k} {}", clean(s)))
            .collect();
        lines.push(Line::styled(
            format!("Left alone: {} (not live).", others.join(", ")),
            dim(),
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(
            "Acting for each owner: you ({}) pass actor => owner as a member of tokens_revoker. Each revoke is recorded in the audit log with actor = the token's owner, db_role = {}, reason '{LEAK_REASON}'.",
            clean(&session.role),
            clean(&session.role),
        ),
        warn.add_modifier(Modifier::BOLD),
    ));
    lines.push(Line::raw(
        "Each one stops verifying for every transaction that starts after its revoke commits. A disabled one is revoked too: it could be enabled again.",
    ));
    lines.push(Line::raw(""));
    lines.push(if r.busy {
        Line::styled("revoking…", dim())
    } else {
        Line::from(vec![
            Span::styled("Enter", key_style()),
            Span::raw(format!(" revoke {n} ")),
            Span::styled(" Esc", key_style()),
            Span::raw(" cancel "),
        ])
    });
    wrapped_dialog(
        f,
        area,
        lines,
        84,
        " Revoke every live leaked token? ",
        Color::Red,
    );
}
