use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::{dim, key_style, status_style};
use crate::app::TokenList;
use crate::db::model::Badges;
use crate::text::{clean, relative, scopes};
use chrono::{DateTime, Utc};

fn title(l: &TokenList) -> String {
    let n = l.rows.len() as u64;
    let range = match (l.offset, n) {
        (_, 0) => "0".to_owned(),
        (Some(o), n) => format!("{}–{}", o + 1, o + n),
        (None, n) => format!("{n} rows"),
    };
    let total = l.total.map(|t| format!(" of {t}")).unwrap_or_default();
    let arrow = if l.descending { "↓" } else { "↑" };
    let mut t = format!(
        " Tokens {range}{total} · status: {} · kind: {} · sort: {} {arrow} ",
        l.filter.status.as_deref().unwrap_or("all"),
        l.filter.kind.as_deref().unwrap_or("all"),
        l.sort.label()
    );
    if l.filter.hygiene {
        t.push_str("· hygiene: no expiry, full access or unused 90 d ");
    }
    if !l.marked.is_empty() {
        t.push_str(&format!("· {} marked ", l.marked.len()));
    }
    if l.loading {
        t.push_str("· loading… ");
    }
    t
}

pub fn draw(f: &mut Frame, area: Rect, l: &TokenList, now: DateTime<Utc>) {
    let search_line = l.search_input || !l.filter.search.is_empty();
    let (search_area, table_area) = if search_line {
        let [a, b] = ratatui::layout::Layout::vertical([Constraint::Length(1), Constraint::Min(1)])
            .areas(area);
        (Some(a), b)
    } else {
        (None, area)
    };
    if let Some(a) = search_area {
        let line = Line::from(vec![
            Span::styled(" / ", key_style()),
            Span::raw(l.search.shown(l.search_input, "▏", clean)),
            Span::styled("   (name, owner, prefix or id)", dim()),
        ]);
        f.render_widget(Paragraph::new(line), a);
    }
    let block = Block::default().borders(Borders::ALL).title(title(l));
    if let Some(e) = &l.error {
        let p = Paragraph::new(vec![
            Line::styled(
                "The server refused to list tokens:",
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Line::raw(clean(&e.to_string())),
            Line::raw(""),
            Line::styled(
                "Listing needs tokens_reader (every token) or tokens_self_service (your own).",
                dim(),
            ),
        ])
        .wrap(Wrap { trim: false })
        .block(block);
        f.render_widget(p, table_area);
        return;
    }
    if l.rows.is_empty() {
        let text = if !l.loaded {
            vec![Line::raw("Loading…")]
        } else if l.filter.hygiene
            && l.filter.search.is_empty()
            && l.filter.status.is_none()
            && l.filter.kind.is_none()
        {
            vec![
                Line::raw("Nothing to tidy: every live token expires, has scopes and was used in the last 90 days."),
                Line::styled("H turns the hygiene filter off.", dim()),
            ]
        } else if l.filter != Default::default() {
            vec![
                Line::raw("No token matches these filters."),
                Line::styled("Esc clears the search; f / F cycle status and kind.", dim()),
            ]
        } else {
            vec![
                Line::raw("No tokens yet."),
                Line::raw(""),
                Line::from(vec![
                    Span::raw("Press "),
                    Span::styled("n", key_style()),
                    Span::raw(" to create the first one."),
                ]),
            ]
        };
        f.render_widget(Paragraph::new(text).block(block), table_area);
        return;
    }
    // The last 24 hours' uses, when the screen has room for one more column.
    let uses = table_area.width >= 132;
    // A mark column while anything is marked (Space marks, X revokes them).
    let marks = !l.marked.is_empty();
    // A badge column while any row has one: E expires within 24 h, $ low
    // credits, R rate-limited often (the help screen's legend).
    let badges = l.rows.iter().any(|t| t.badges.any());
    let mut titles = if marks { vec!["✓"] } else { vec![] };
    if badges {
        titles.push("!");
    }
    titles.extend([
        "PREFIX",
        "NAME",
        "KIND",
        "OWNER",
        "SCOPES",
        "STATUS",
        "EXPIRES",
        "LAST USED",
        "CREATED",
    ]);
    if uses {
        titles.push("USES 24H");
    }
    let header = Row::new(titles)
        .style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let rows = l.rows.iter().map(|t| {
        let mut cells = if marks {
            vec![Cell::from(if l.is_marked(t.id) { "✓" } else { "" })]
        } else {
            vec![]
        };
        if badges {
            cells.push(Cell::from(badge_line(t.badges)));
        }
        cells.extend([
            Cell::from(clean(&t.prefix)),
            Cell::from(clean(&t.name)),
            Cell::from(clean(&t.kind)),
            Cell::from(clean(&t.owner)),
            Cell::from(scopes(&t.scopes)),
            Cell::from(Span::styled(clean(&t.status), status_style(&t.status))),
            Cell::from(
                t.expires_at
                    .map(|e| relative(e, now))
                    .unwrap_or_else(|| "never".into()),
            ),
            Cell::from(
                t.last_used_at
                    .map(|e| relative(e, now))
                    .unwrap_or_else(|| "—".into()),
            ),
            Cell::from(t.created_at.format("%Y-%m-%d").to_string()),
        ]);
        if uses {
            cells.push(Cell::from(format!("{:>8}", t.uses_24h)));
        }
        Row::new(cells)
    });
    let mut widths = if marks {
        vec![Constraint::Length(1)]
    } else {
        vec![]
    };
    if badges {
        widths.push(Constraint::Length(3));
    }
    widths.extend([
        Constraint::Length(12),
        Constraint::Min(12),
        Constraint::Length(8),
        Constraint::Length(16),
        Constraint::Length(16),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(10),
    ]);
    if uses {
        widths.push(Constraint::Length(8));
    }
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .highlight_symbol("▶ ");
    let mut state = TableState::default().with_selected(Some(l.selected));
    f.render_stateful_widget(table, table_area, &mut state);
}

/// A row's badges, one letter each, in a fixed place.
fn badge_line(b: Badges) -> Line<'static> {
    let warn = Style::default()
        .fg(Color::Yellow)
        .add_modifier(Modifier::BOLD);
    let mark = |on: bool, letter: &'static str| {
        if on {
            Span::styled(letter, warn)
        } else {
            Span::raw(" ")
        }
    };
    Line::from(vec![
        mark(b.expiring, "E"),
        mark(b.credits_low, "$"),
        mark(b.rate_limited, "R"),
    ])
}
