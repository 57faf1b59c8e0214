use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, dim, key_style};
use crate::app::BulkRevoke;
use crate::db::model::Session;
use crate::text::clean;

/// Rows listed before "… and N more".
const SHOWN: usize = 12;

pub fn draw(f: &mut Frame, area: Rect, b: &BulkRevoke, session: &Session) {
    let n = b.targets.len();
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let warn = Style::default().fg(Color::Yellow);
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("Revoke {n} marked token{}", plural(n)), bold),
        Span::raw(if b.results.is_some() { ": done" } else { "?" }),
    ])];
    lines.push(Line::raw(""));
    match &b.results {
        None => {
            for t in b.targets.iter().take(SHOWN) {
                lines.push(Line::raw(format!(
                    "  {}  \"{}\"  owner {} · {}",
                    clean(&t.prefix),
                    clean(&t.name),
                    clean(&t.owner),
                    clean(&t.status)
                )));
            }
            if n > SHOWN {
                lines.push(Line::styled(format!("  … and {} more", n - SHOWN), dim()));
            }
            lines.push(Line::raw(""));
            lines.push(Line::raw(
                "Each is revoked with its own tokens.revoke: one refusal leaves the others done.",
            ));
            if b.others > 0 {
                let text = if b.may_act_for_owner && b.act_for_owner {
                    format!(
                        "Acting for the owners of the {} token{} you ({}) do not own: actor => owner; the audit log records db_role {}.",
                        b.others,
                        plural(b.others),
                        clean(&session.role),
                        clean(&session.role)
                    )
                } else if b.may_act_for_owner {
                    format!(
                        "You ({}) do not own {} of them: only the owner may revoke. Tab acts for the owners.",
                        clean(&session.role),
                        b.others
                    )
                } else {
                    format!(
                        "You ({}) do not own {} of them: only the owner may revoke, so the server will refuse those.",
                        clean(&session.role),
                        b.others
                    )
                };
                lines.push(Line::styled(text, warn));
            }
        }
        Some(outcomes) => {
            for o in outcomes.iter() {
                let (mark, style, text) = match &o.result {
                    Ok(true) => ("✓", Style::default().fg(Color::Green), "revoked".to_owned()),
                    Ok(false) => ("·", dim(), "was already revoked".to_owned()),
                    Err(e) => (
                        "✗",
                        Style::default().fg(Color::Red),
                        format!("refused: {}", clean(&e.to_string())),
                    ),
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("  {mark} "), style),
                    Span::raw(format!("{}  ", clean(&o.prefix))),
                    Span::styled(text, style),
                ]));
            }
            let failed = b.failed();
            lines.push(Line::raw(""));
            if failed > 0 {
                lines.push(Line::styled(
                    format!(
                        "{failed} refused: {} marked (Esc in the list clears the marks).",
                        if failed == 1 { "it stays" } else { "they stay" }
                    ),
                    warn,
                ));
            }
        }
    }
    lines.push(Line::raw(""));
    let keys = if b.busy {
        vec![Span::styled("working…", dim())]
    } else if b.results.is_some() {
        vec![Span::styled("Enter", key_style()), Span::raw(" close ")]
    } else {
        let mut k = vec![
            Span::styled("Enter", key_style()),
            Span::raw(format!(" revoke {n} ")),
            Span::styled(" Esc", key_style()),
            Span::raw(" cancel "),
        ];
        if b.may_act_for_owner {
            k.push(Span::styled(" Tab", key_style()));
            k.push(Span::raw(if b.act_for_owner {
                " act as myself "
            } else {
                " act for owners "
            }));
        }
        k
    };
    lines.push(Line::from(keys));
    // Rows as wrapped at the dialog's inner width, plus the borders.
    let inner = area.width.min(90).saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let r = centered(area, 90, rows as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::default().fg(Color::Red))
                .title(if b.results.is_some() {
                    " Bulk revoke ".to_owned()
                } else {
                    format!(" Revoke {n} token{}? ", plural(n))
                }),
        ),
        r,
    );
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
