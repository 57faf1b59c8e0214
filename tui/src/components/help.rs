use ratatui::layout::{Constraint, Layout, Rect};
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
            ("1 2 3 4 / Tab", "tokens, audit log, leaks, events"),
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
            ("x / Del, R", "revoke, rotate (asks first)"),
            ("Space / X", "mark a row / revoke the marked (asks)"),
            ("d", "disable / enable (asks first)"),
            ("/", "search name, owner, prefix, id"),
            ("f / F, H", "filter status / kind, hygiene"),
            ("s / S", "sort column / reverse"),
            ("Esc", "clear search, then the marks"),
            ("E / $ / R", "badges: expiring, credits low, limited"),
        ],
    ),
    (
        "Leaks (paste a log or chat message)",
        &[
            ("paste / type", "the text: never shown or logged"),
            ("Ctrl-S / F5", "check it: tokens found, by hash"),
            ("Ctrl-U / Esc", "clear the text"),
            ("e / Enter", "paste a new text"),
            ("X", "revoke every live one (asks first)"),
        ],
    ),
    (
        "Detail",
        &[
            ("Esc / h", "back to the list"),
            ("x / R", "revoke / rotate this token"),
            ("u", "usage: 24 h by hour / 60 min by minute"),
            ("L", "rate limit (empty requests clears)"),
            ("I", "IP allowlist (empty = anywhere)"),
            ("C", "credits: usage cap (empty removes)"),
            ("d", "disable / enable this token"),
            ("M", "meta: JSON object, Ctrl-S saves"),
        ],
    ),
    (
        "Audit log, Events",
        &[
            ("f", "follow: new rows as they happen"),
            ("/", "audit: filter action, actor, time"),
            ("Esc", "audit: clear filters"),
            ("a", "events: acknowledge up to here (asks)"),
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

fn section_lines(sections: &[(&str, &[(&str, &str)])]) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (section, keys) in sections {
        lines.push(Line::styled(
            section.to_string(),
            Style::default().add_modifier(Modifier::BOLD),
        ));
        for (k, what) in keys.iter() {
            lines.push(Line::from(vec![
                Span::styled(format!("  {k:<16}"), key_style()),
                Span::raw(what.to_string()),
            ]));
        }
    }
    lines
}

/// Two columns when the screen is wide enough, so every key fits.
pub fn draw(f: &mut Frame, area: Rect) {
    let notes = [
        "Owner-only: revoke and rotate need actor = owner.",
        "L, I, C, M, d: tokens_writer or own personal token.",
        "Leaks: X revokes for each owner; needs tokens_revoker.",
    ];
    let (columns, width): (Vec<Vec<Line>>, u16) = if area.width >= 118 {
        let mut right = section_lines(&KEYS[3..]);
        right.push(Line::raw(""));
        right.extend(notes.iter().map(|n| Line::styled(*n, dim())));
        (vec![section_lines(&KEYS[..3]), right], 118)
    } else {
        let mut all = section_lines(KEYS);
        all.extend(notes.iter().map(|n| Line::styled(*n, dim())));
        (vec![all], 64)
    };
    let h = columns.iter().map(Vec::len).max().unwrap_or(0) as u16 + 2;
    let r = centered(area, width, h);
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Help · ?/Esc closes ");
    let inner = block.inner(r);
    f.render_widget(block, r);
    let n = columns.len() as u32;
    let areas = Layout::horizontal((0..n).map(|_| Constraint::Ratio(1, n))).split(inner);
    for (lines, a) in columns.into_iter().zip(areas.iter()) {
        f.render_widget(Paragraph::new(lines), *a);
    }
}
