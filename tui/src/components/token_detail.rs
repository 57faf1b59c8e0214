use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::{dim, status_style};
use crate::app::Detail;
use crate::text::{clean, relative, scopes, stamp};

fn when(at: Option<DateTime<Utc>>, now: DateTime<Utc>, none: &str) -> String {
    match at {
        Some(t) => format!("{} UTC ({})", stamp(t), relative(t, now)),
        None => none.to_owned(),
    }
}

pub fn draw(f: &mut Frame, area: Rect, d: &Detail, now: DateTime<Utc>) {
    let [top, bottom] = Layout::vertical([Constraint::Length(13), Constraint::Min(3)]).areas(area);
    let t = &d.token;
    let field = |k: &str, v: String| {
        Line::from(vec![Span::styled(format!(" {k:<11}"), dim()), Span::raw(v)])
    };
    let mut lines = vec![
        field("id", t.id.to_string()),
        field("prefix", clean(&t.prefix)),
        field("name", clean(&t.name)),
        field("kind", clean(&t.kind)),
        field("owner", clean(&t.owner)),
        field("scopes", scopes(&t.scopes)),
        Line::from(vec![
            Span::styled(format!(" {:<11}", "status"), dim()),
            Span::styled(clean(&t.status), status_style(&t.status)),
        ]),
        field("expires", when(t.expires_at, now, "never")),
        field(
            "last used",
            when(t.last_used_at, now, "never (or not yet recorded)"),
        ),
        field("created", when(Some(t.created_at), now, "")),
        field("revoked at", when(t.revoked_at, now, "—")),
    ];
    if d.loading {
        lines.push(Line::styled(" loading…", dim()));
    }
    let title = format!(" Token {} ", clean(&t.prefix));
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        top,
    );

    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" Audit history ({} events) ", d.history.len()));
    if let Some(e) = &d.error {
        let p = Paragraph::new(vec![
            Line::raw(clean(&e.to_string())),
            Line::styled("The audit log needs tokens_reader.", dim()),
        ])
        .block(block);
        f.render_widget(p, bottom);
        return;
    }
    let rows = d.history.iter().map(|e| {
        Row::new(vec![
            Cell::from(stamp(e.at)),
            Cell::from(clean(&e.action)),
            Cell::from(clean(&e.actor)),
            Cell::from(clean(&e.db_role)),
            Cell::from(
                e.meta
                    .as_ref()
                    .map(|m| clean(&m.to_string()))
                    .unwrap_or_default(),
            ),
        ])
    });
    let header = Row::new(["AT (UTC)", "ACTION", "ACTOR", "DB ROLE", "META"])
        .style(Style::default().add_modifier(Modifier::BOLD));
    let table = Table::new(
        rows,
        [
            Constraint::Length(19),
            Constraint::Length(14),
            Constraint::Length(18),
            Constraint::Length(18),
            Constraint::Min(10),
        ],
    )
    .header(header)
    .block(block)
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(if d.history.is_empty() {
        None
    } else {
        Some(d.scroll)
    });
    f.render_stateful_widget(table, bottom, &mut state);
}
