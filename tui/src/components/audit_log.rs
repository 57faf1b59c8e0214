use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::{dim, key_style};
use crate::app::{AuditField, AuditFilterForm, AuditView, Feed};
use crate::text::{clean, stamp};

fn filter_line(a: &AuditView) -> Line<'static> {
    let form = match &a.editing {
        Some(form) => form.clone(),
        None => AuditFilterForm::new(&a.filter),
    };
    let editing = a.editing.as_ref().map(|f| f.field);
    let mut spans = vec![Span::styled(" filters ", key_style())];
    for (field, label) in [
        (AuditField::Action, "action"),
        (AuditField::Actor, "actor"),
        (AuditField::Since, "since"),
        (AuditField::Until, "until"),
    ] {
        let value = form.input(field);
        let focused = editing == Some(field);
        let shown = if value.is_empty() && !focused {
            "any".to_owned()
        } else {
            value.shown(focused, "▏", clean)
        };
        let style = if focused {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        };
        spans.push(Span::styled(format!(" {label}: "), dim()));
        spans.push(Span::styled(shown, style));
    }
    if editing.is_some() {
        spans.push(Span::styled(
            "   since/until: 2h, 7d, 30m or a time like 2025-01-31 12:00",
            dim(),
        ));
    }
    Line::from(spans)
}

/// The frame a feed is drawn in: its title with the follow, page and
/// loading marks, green while following. None when there are no rows to
/// draw in it: the server's refusal or `empty` is drawn instead.
pub fn feed_frame<'a, T>(
    f: &mut Frame,
    area: Rect,
    feed: &Feed<T>,
    title: &str,
    noun: &str,
    empty: &'a str,
    needs: &'a str,
) -> Option<Block<'a>> {
    let mut title = format!(" {title} · {} {noun} shown ", feed.rows.len());
    if feed.follow {
        title.push_str("· FOLLOWING ");
    }
    if feed.newer {
        title.push_str("· newer above ([) ");
    }
    if feed.loading {
        title.push_str("· loading… ");
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(if feed.follow {
            Style::default().fg(Color::Green)
        } else {
            Style::default()
        });
    if let Some(e) = &feed.error {
        let p = Paragraph::new(vec![
            Line::styled(
                "The server refused:",
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Line::raw(clean(&e.to_string())),
            Line::raw(""),
            Line::styled(needs, dim()),
        ])
        .wrap(Wrap { trim: false })
        .block(block);
        f.render_widget(p, area);
        return None;
    }
    if feed.rows.is_empty() {
        let msg = if feed.loaded { empty } else { "Loading…" };
        f.render_widget(Paragraph::new(msg).block(block), area);
        return None;
    }
    Some(block)
}

/// A feed's rows as a table under `header`, the selected row reversed.
pub fn feed_table<'a>(
    f: &mut Frame,
    area: Rect,
    selected: usize,
    rows: impl IntoIterator<Item = Row<'a>>,
    header: &'a [&'a str],
    widths: &[Constraint],
    block: Block<'a>,
) {
    let header = Row::new(header.iter().copied())
        .style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let table = Table::new(rows, widths.iter().copied())
        .header(header)
        .block(block)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(Some(selected));
    f.render_stateful_widget(table, area, &mut state);
}

pub fn draw(f: &mut Frame, area: Rect, a: &AuditView) {
    let [filters, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    f.render_widget(Paragraph::new(filter_line(a)), filters);
    let Some(block) = feed_frame(
        f,
        body,
        &a.feed,
        "Audit log",
        "events",
        "No audit events match.",
        "Reading the audit log needs tokens_reader.",
    ) else {
        return;
    };
    let rows = a.feed.rows.iter().map(|e| {
        Row::new(vec![
            Cell::from(e.id.to_string()),
            Cell::from(stamp(e.at)),
            Cell::from(clean(&e.action)),
            Cell::from(clean(&e.actor)),
            Cell::from(clean(&e.db_role)),
            Cell::from(e.target.as_deref().map(clean).unwrap_or_default()),
            Cell::from(
                e.meta
                    .as_ref()
                    .map(|m| clean(&m.to_string()))
                    .unwrap_or_default(),
            ),
        ])
    });
    feed_table(
        f,
        body,
        a.feed.selected,
        rows,
        &[
            "ID", "AT (UTC)", "ACTION", "ACTOR", "DB ROLE", "TARGET", "META",
        ],
        &[
            Constraint::Length(6),
            Constraint::Length(19),
            Constraint::Length(14),
            Constraint::Length(16),
            Constraint::Length(16),
            Constraint::Length(20),
            Constraint::Min(10),
        ],
        block,
    );
}
