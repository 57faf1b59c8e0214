use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};
use ratatui::Frame;

use super::{centered, AMBER};
use crate::app::OnceCard;
use crate::text::{clean, relative, scopes};

pub fn draw(f: &mut Frame, area: Rect, card: &OnceCard, now: DateTime<Utc>) {
    let m = &card.minted;
    let amber = Style::default().fg(AMBER);
    let bold = amber.add_modifier(Modifier::BOLD);
    let mut lines = vec![
        Line::raw(""),
        // The plaintext alone on its line, so it is selected and copied whole.
        Line::styled(
            format!("  {}", m.token.expose()),
            Style::default()
                .fg(Color::Black)
                .bg(AMBER)
                .add_modifier(Modifier::BOLD),
        ),
        Line::raw(""),
        Line::styled("  This token cannot be shown again.", bold),
        Line::styled(
            "  pg_tokens keeps only its hash: copy it into your secret store now.",
            amber,
        ),
        Line::raw(""),
        Line::from(vec![
            Span::styled("  name    ", amber),
            Span::raw(clean(&m.name)),
        ]),
        Line::from(vec![
            Span::styled("  owner   ", amber),
            Span::raw(format!("{} ({})", clean(&m.owner), clean(&m.kind))),
        ]),
        Line::from(vec![
            Span::styled("  scopes  ", amber),
            Span::raw(scopes(&m.scopes)),
        ]),
        Line::from(vec![
            Span::styled("  expires ", amber),
            Span::raw(
                m.expires_at
                    .map(|e| format!("{} ({})", e.format("%Y-%m-%d %H:%M UTC"), relative(e, now)))
                    .unwrap_or_else(|| "never".into()),
            ),
        ]),
        Line::from(vec![
            Span::styled("  id      ", amber),
            Span::raw(m.id.to_string()),
        ]),
    ];
    if let Some(old) = &card.replaces {
        lines.push(Line::from(vec![
            Span::styled("  replaces ", amber),
            Span::raw(clean(old)),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(if card.copied {
        Line::styled(
            "  ✓ sent to the clipboard (OSC 52; your terminal must allow it)",
            Style::default().fg(Color::Green),
        )
    } else {
        Line::from(vec![
            Span::styled("  c", bold),
            Span::styled(" copy to clipboard (OSC 52)", amber),
        ])
    });
    lines.push(Line::from(vec![
        Span::styled("  Enter", bold),
        Span::styled(" I have stored it — close this card", amber),
    ]));
    let h = lines.len() as u16 + 2;
    let r = centered(area, 72, h);
    f.render_widget(Clear, r);
    let title = if card.replaces.is_some() {
        " ⚠ ROTATED — NEW TOKEN, SHOWN ONCE "
    } else {
        " ⚠ NEW TOKEN — SHOWN ONCE "
    };
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_type(BorderType::Double)
                .border_style(bold)
                .title(Span::styled(title, bold)),
        ),
        r,
    );
}
