//! The events view (`tokens.events`) and its acknowledge dialog.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};
use ratatui::Frame;

use super::audit_log::{feed_frame, feed_table};
use super::{dim, key_style, wrapped_dialog};
use crate::app::{AckEvents, EventsView};
use crate::db::model::TokenEvent;
use crate::text::{clean, stamp};

/// An event's detail on one line: `key value` pairs, strings unquoted.
pub fn detail_line(e: &TokenEvent) -> String {
    match &e.detail {
        Some(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k} {s}"),
                v => format!("{k} {v}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The token an event is about: its prefix while the token is there,
/// else the start of its id.
fn token_cell(e: &TokenEvent) -> String {
    match (&e.prefix, e.token_id) {
        (Some(prefix), _) => clean(prefix),
        (None, Some(id)) => format!("{}…", &id.to_string()[..8]),
        (None, None) => String::new(),
    }
}

fn kind_style(kind: &str) -> Style {
    match kind {
        "token.leaked" | "token.reused" => Style::default().fg(Color::Red),
        "token.expiring" | "token.credits_low" | "token.rate_limited" => {
            Style::default().fg(Color::Yellow)
        }
        _ => Style::default(),
    }
}

pub fn draw(f: &mut Frame, area: Rect, v: &EventsView) {
    let Some(block) = feed_frame(
        f,
        area,
        &v.feed,
        "Events (tokens.events)",
        "events",
        "No events: expiring, expired, revoked, leaked, rate-limited, credits-low and reused tokens show up here.",
        "Reading the events needs tokens_reader.",
    ) else {
        return;
    };
    let rows = v.feed.rows.iter().map(|e| {
        Row::new(vec![
            Cell::from(e.id.to_string()),
            Cell::from(stamp(e.at)),
            Cell::from(clean(&e.kind)).style(kind_style(&e.kind)),
            Cell::from(token_cell(e)),
            Cell::from(e.owner.as_deref().map(clean).unwrap_or_default()),
            Cell::from(clean(&detail_line(e))),
        ])
    });
    feed_table(
        f,
        area,
        v.feed.selected,
        rows,
        &["ID", "AT (UTC)", "KIND", "TOKEN", "OWNER", "DETAIL"],
        &[
            Constraint::Length(6),
            Constraint::Length(19),
            Constraint::Length(18),
            Constraint::Length(14),
            Constraint::Length(16),
            Constraint::Min(10),
        ],
        block,
    );
}

pub fn draw_ack(f: &mut Frame, area: Rect, a: &AckEvents) {
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut lines = vec![
        Line::from(vec![
            Span::styled("Acknowledge every event up to ", bold),
            Span::styled(format!("#{}", a.upto), bold.fg(Color::Yellow)),
            Span::raw(format!(
                " ({} shown here, and any older)?",
                a.shown
            )),
        ]),
        Line::raw(""),
        Line::raw(
            "tokens.ack_events deletes them from the outbox for every consumer: a listener that has not read them yet will not see them.",
        ),
    ];
    if let Some(e) = &a.error {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!("The server refused: {}", clean(&e.to_string())),
            Style::default().fg(Color::Red),
        ));
    }
    lines.push(Line::raw(""));
    lines.push(if a.busy {
        Line::styled("acknowledging…", dim())
    } else {
        Line::from(vec![
            Span::styled("Enter", key_style()),
            Span::raw(" acknowledge "),
            Span::styled(" Esc", key_style()),
            Span::raw(" cancel "),
        ])
    });
    wrapped_dialog(f, area, lines, 72, " Acknowledge events? ", Color::Yellow);
}
