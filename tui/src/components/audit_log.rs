use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::{dim, key_style};
use crate::app::{AuditField, AuditFilterForm, AuditView};
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

pub fn draw(f: &mut Frame, area: Rect, a: &AuditView) {
    let [filters, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    f.render_widget(Paragraph::new(filter_line(a)), filters);
    let mut title = format!(" Audit log · {} events shown ", a.rows.len());
    if a.follow {
        title.push_str("· FOLLOWING ");
    }
    if a.newer {
        title.push_str("· newer above ([) ");
    }
    if a.loading {
        title.push_str("· loading… ");
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(if a.follow {
            Style::default().fg(Color::Green)
        } else {
            Style::default()
        });
    if let Some(e) = &a.error {
        let p = Paragraph::new(vec![
            Line::styled(
                "The server refused:",
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Line::raw(clean(&e.to_string())),
            Line::raw(""),
            Line::styled("Reading the audit log needs tokens_reader.", dim()),
        ])
        .wrap(Wrap { trim: false })
        .block(block);
        f.render_widget(p, body);
        return;
    }
    if a.rows.is_empty() {
        let msg = if a.loaded {
            "No audit events match."
        } else {
            "Loading…"
        };
        f.render_widget(Paragraph::new(msg).block(block), body);
        return;
    }
    let rows = a.rows.iter().map(|e| {
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
    let header = Row::new([
        "ID", "AT (UTC)", "ACTION", "ACTOR", "DB ROLE", "TARGET", "META",
    ])
    .style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let table = Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Length(19),
            Constraint::Length(14),
            Constraint::Length(16),
            Constraint::Length(16),
            Constraint::Length(20),
            Constraint::Min(10),
        ],
    )
    .header(header)
    .block(block)
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(Some(a.selected));
    f.render_stateful_widget(table, body, &mut state);
}
