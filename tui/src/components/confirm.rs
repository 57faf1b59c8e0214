use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, dim, key_style};
use crate::app::{Confirm, ConfirmOp, GRACES};
use crate::db::model::Session;
use crate::text::clean;

pub fn draw(f: &mut Frame, area: Rect, c: &Confirm, session: &Session) {
    let t = &c.token;
    let verb = match c.op {
        ConfirmOp::Revoke => "Revoke",
        ConfirmOp::Rotate => "Rotate",
        ConfirmOp::Disable => "Disable",
        ConfirmOp::Enable => "Enable",
    };
    let warn = Style::default().fg(Color::Yellow);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!("{verb} "),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!("{} \"{}\"", clean(&t.prefix), clean(&t.name))),
        ]),
        Line::raw(format!(
            "owner {} · {} · {}",
            clean(&t.owner),
            clean(&t.kind),
            clean(&t.status)
        )),
        Line::raw(""),
    ];
    match c.op {
        ConfirmOp::Revoke => {
            lines.push(Line::raw(
                "It stops verifying for every transaction that starts after this commits.",
            ));
            lines.push(Line::from(vec![
                Span::styled("reason: ", dim()),
                Span::styled(
                    c.reason.shown(true, "▏", clean),
                    Style::default().add_modifier(Modifier::UNDERLINED),
                ),
                Span::styled(
                    if c.reason.is_empty() {
                        " (optional, recorded in the audit log)"
                    } else {
                        ""
                    },
                    dim(),
                ),
            ]));
        }
        ConfirmOp::Rotate => {
            lines.push(Line::raw("A new token with the same name, owner, scopes and expiry is minted and shown once."));
            let mut spans = vec![Span::styled("old token keeps working for: ", dim())];
            for (i, (label, _)) in GRACES.iter().enumerate() {
                if i == c.grace {
                    spans.push(Span::styled(
                        format!("[{label}]"),
                        Style::default().fg(Color::Black).bg(Color::Cyan),
                    ));
                } else {
                    spans.push(Span::raw(format!(" {label} ")));
                }
            }
            lines.push(Line::from(spans));
        }
        ConfirmOp::Disable => {
            lines.push(Line::raw(
                "verify will answer `disabled` for it until it is enabled again (d), for every transaction that starts after this commits.",
            ));
            lines.push(Line::raw(
                "Reversible: nothing else about the token changes. Recorded in the audit log as token.disable.",
            ));
        }
        ConfirmOp::Enable => {
            if let Some(at) = t.disabled_at {
                lines.push(Line::styled(
                    format!("disabled since {} UTC", crate::text::stamp(at)),
                    dim(),
                ));
            }
            lines.push(Line::raw(
                "verify accepts it again (unless it is revoked or expired) for every transaction that starts after this commits.",
            ));
            lines.push(Line::raw("Recorded in the audit log as token.enable."));
        }
    }
    lines.push(Line::raw(""));
    if c.not_owner {
        if c.may_act_for_owner && c.act_for_owner {
            lines.push(Line::styled(
                format!(
                    "Acting for owner {}: you ({}) pass actor => '{}' as a member of {}. The audit log records actor {} and db_role {}.",
                    clean(&t.owner),
                    clean(&session.role),
                    clean(&t.owner),
                    if session.revoker && c.op == ConfirmOp::Revoke { "tokens_revoker" } else if session.writer { "tokens_writer" } else { "tokens_revoker" },
                    clean(&t.owner),
                    clean(&session.role)
                ),
                warn.add_modifier(Modifier::BOLD),
            ));
        } else if c.may_act_for_owner {
            lines.push(Line::styled(
                format!("You ({}) are not the owner ({}): only the owner may {}. Tab acts for the owner.", clean(&session.role), clean(&t.owner), verb.to_lowercase()),
                warn,
            ));
        } else {
            lines.push(Line::styled(
                format!(
                    "You ({}) are not the owner ({}): only the owner may {}, so the server will refuse.",
                    clean(&session.role),
                    clean(&t.owner),
                    verb.to_lowercase()
                ),
                warn,
            ));
        }
        lines.push(Line::raw(""));
    }
    if let Some(e) = &c.error {
        lines.push(Line::styled(
            "Refused by the server:",
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
        lines.push(Line::styled(
            clean(&e.to_string()),
            Style::default().fg(Color::Red),
        ));
        lines.push(Line::raw(""));
    }
    let mut keys = vec![
        Span::styled("Enter", key_style()),
        Span::raw(format!(" {} ", verb.to_lowercase())),
        Span::styled(" Esc", key_style()),
        Span::raw(" cancel "),
    ];
    if c.may_act_for_owner {
        keys.push(Span::styled(" Tab", key_style()));
        keys.push(Span::raw(if c.act_for_owner {
            " act as myself "
        } else {
            " act for owner "
        }));
    }
    if c.busy {
        keys = vec![Span::styled("working…", dim())];
    }
    lines.push(Line::from(keys));
    let r = centered(area, 80, lines.len() as u16 + 4);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::default().fg(Color::Red))
                .title(format!(" {verb} token? ")),
        ),
        r,
    );
}
