use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use super::{centered, dim, key_style};

pub const KEYS: &[(&str, &[(&str, &str)])] = &[
    (
        "Everywhere",
        &[
            ("?", "this help"),
            ("q / Ctrl-C", "quit"),
            ("1 / 2 / Tab", "tokens / audit log"),
            ("r / F5", "reload"),
            ("j k ↑ ↓ wheel", "move"),
            ("g G Home End", "first / last"),
            ("[ ] PgUp PgDn", "previous / next page"),
        ],
    ),
    (
        "Tokens",
        &[
            ("Enter / l", "detail: every field, audit history"),
            ("n", "new token"),
            ("x / Del", "revoke (asks first)"),
            ("R", "rotate (asks first)"),
            ("/", "search name, owner, prefix, id"),
            ("f / F", "filter status / kind"),
            ("s / S", "sort column / reverse"),
            ("Esc", "clear search"),
        ],
    ),
    (
        "Detail",
        &[
            ("Esc / h", "back to the list"),
            ("x / R", "revoke / rotate this token"),
        ],
    ),
    (
        "Audit log",
        &[
            ("f", "follow: new events as they happen"),
            ("/", "filter action, actor, since, until"),
            ("Esc", "clear filters"),
        ],
    ),
    (
        "Dialogs",
        &[
            ("Tab / ↓ ↑", "next / previous field"),
            ("← →", "choose kind, expiry, scope, grace"),
            ("Space", "toggle a scope"),
            ("Enter / Esc", "confirm / cancel"),
            ("c", "copy a new token (OSC 52)"),
        ],
    ),
];

pub fn draw(f: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    for (section, keys) in KEYS {
        lines.push(Line::styled(
            *section,
            Style::default().add_modifier(Modifier::BOLD),
        ));
        for (k, what) in keys.iter() {
            lines.push(Line::from(vec![
                Span::styled(format!("  {k:<16}"), key_style()),
                Span::raw(*what),
            ]));
        }
    }
    lines.push(Line::styled(
        "Owner-only: revoke and rotate need actor = owner.",
        dim(),
    ));
    let h = lines.len() as u16 + 2;
    let r = centered(area, 64, h);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Help · ?/Esc closes "),
        ),
        r,
    );
}
