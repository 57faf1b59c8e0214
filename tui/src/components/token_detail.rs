use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table, TableState};
use ratatui::Frame;

use super::{dim, key_style, status_style};
use crate::app::{Detail, Usage};
use crate::db::model::{Session, UsageBucket, UsageWindow};
use crate::text::{allowlist, clean, credits, fit, rate_limit, relative, scopes, stamp};

/// Rows of the usage chart (each row has eight levels).
const CHART_ROWS: u16 = 3;

fn when(at: Option<DateTime<Utc>>, now: DateTime<Utc>, none: &str) -> String {
    match at {
        Some(t) => format!("{} UTC ({})", stamp(t), relative(t, now)),
        None => none.to_owned(),
    }
}

/// The meta the last `token.meta` audit event set: the view has no meta,
/// so that event is what a reader can see of it.
fn meta_lines(d: &Detail, now: DateTime<Utc>) -> Vec<Line<'static>> {
    let label = Span::styled(format!(" {:<11}", "meta"), dim());
    let (text, note) = match (&d.error, d.meta_event()) {
        (Some(_), _) => (
            Span::styled("unknown: the audit log needs tokens_reader", dim()),
            String::new(),
        ),
        (None, None) if d.loading => (Span::styled("…", dim()), String::new()),
        (None, None) => (
            // Neither minted with meta nor given any since.
            Span::styled("none", dim()),
            String::new(),
        ),
        (None, Some(e)) => {
            let by = format!("{} by {}", relative(e.at, now), clean(&e.actor));
            match d.last_meta() {
                Some(Some(m)) => (
                    Span::raw(fit(&clean(&m.to_string()), 60)),
                    format!("last set {by}"),
                ),
                _ => (Span::raw("none"), format!("cleared {by}")),
            }
        }
    };
    let mut lines = vec![Line::from(vec![label, text])];
    if !note.is_empty() {
        lines.push(Line::styled(format!(" {:<11}{note}", ""), dim()));
    }
    lines
}

pub fn draw(f: &mut Frame, area: Rect, d: &Detail, now: DateTime<Utc>, session: &Session) {
    // Side by side when there is room (64 columns hold an hour by
    // minute: 60 bars), else the usage under the fields.
    let (top, usage_area, bottom) = if area.width >= 114 {
        let [top, bottom] =
            Layout::vertical([Constraint::Length(15), Constraint::Min(3)]).areas(area);
        let [fields, usage] =
            Layout::horizontal([Constraint::Min(50), Constraint::Length(64)]).areas(top);
        (fields, usage, bottom)
    } else {
        let [top, usage, bottom] = Layout::vertical([
            Constraint::Length(15),
            Constraint::Length(14),
            Constraint::Min(3),
        ])
        .areas(area);
        (top, usage, bottom)
    };
    draw_usage(f, usage_area, d, session);
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
            Span::styled(
                match t.disabled_at {
                    Some(at) if t.status == "disabled" => format!(" since {} UTC", stamp(at)),
                    Some(at) => format!(" · also disabled since {} UTC", stamp(at)),
                    None => String::new(),
                },
                status_style("disabled"),
            ),
        ]),
        field("expires", when(t.expires_at, now, "never")),
        field(
            "last used",
            when(t.last_used_at, now, "never (or not yet recorded)"),
        ),
        field("created", when(Some(t.created_at), now, "")),
        field("revoked at", when(t.revoked_at, now, "—")),
    ];
    lines.extend(meta_lines(d, now));
    if d.loading {
        lines.push(Line::styled(" loading…", dim()));
    }
    let title = format!(" Token {} ", clean(&t.prefix));
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        top,
    );

    let block = Block::default().borders(Borders::ALL).title(format!(
        " Audit history ({} event{}) ",
        d.history.len(),
        if d.history.len() == 1 { "" } else { "s" }
    ));
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

/// Usage chart, totals, rate limit, credits and allowlist.
fn draw_usage(f: &mut Frame, area: Rect, d: &Detail, session: &Session) {
    let t = &d.token;
    let mut title = vec![Span::raw(" Usage & limits ")];
    if session.may_set_limits(t) {
        title.extend([
            Span::raw("· "),
            Span::styled("L", key_style()),
            Span::raw(" rate limit · "),
            Span::styled("I", key_style()),
            Span::raw(" allowlist "),
        ]);
    }
    if session.may_set_trusted() {
        title.extend([
            Span::raw("· "),
            Span::styled("C", key_style()),
            Span::raw(" credits "),
        ]);
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(title));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [head, chart, denied, axis, totals, _, limits] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(CHART_ROWS),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
    ])
    .areas(inner);
    let other = match d.window {
        UsageWindow::Day => "per minute",
        UsageWindow::Hour => "per hour",
    };
    let mut head_line = vec![
        Span::styled(
            format!(" {}", d.window.label()),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::styled("  ", dim()),
        Span::styled("u", key_style()),
        Span::styled(format!(" {other}"), dim()),
    ];
    if d.usage_loading {
        head_line.push(Span::styled("  loading…", dim()));
    }
    f.render_widget(Paragraph::new(Line::from(head_line)), head);
    match &d.usage {
        Usage::Pending => {
            f.render_widget(
                Paragraph::new(Line::styled(" loading usage…", dim())),
                chart,
            );
        }
        Usage::NotVisible => {
            f.render_widget(
                Paragraph::new(vec![
                    Line::raw(" usage: not visible to you"),
                    Line::styled(
                        " (needs tokens_reader, or tokens_self_service as the owner)",
                        dim(),
                    ),
                ]),
                chart,
            );
        }
        Usage::Failed(e) => {
            f.render_widget(
                Paragraph::new(Line::styled(
                    format!(" usage: {}", clean(&e.to_string())),
                    Style::default().fg(Color::Red),
                ))
                .wrap(ratatui::widgets::Wrap { trim: false }),
                chart,
            );
        }
        Usage::Loaded(buckets) => draw_chart(f, [chart, denied, axis, totals], buckets, d.window),
    }
    let field = |k: &str, v: String| {
        Line::from(vec![Span::styled(format!(" {k:<11}"), dim()), Span::raw(v)])
    };
    let width = limits.width.saturating_sub(13) as usize;
    let lines = vec![
        field("uses 24 h", t.uses_24h.to_string()),
        field("rate limit", rate_limit(&t.rate_limit)),
        field("credits", fit(&credits(&t.credits), width)),
        field("allowlist", fit(&allowlist(&t.allowed_ips), width)),
    ];
    f.render_widget(Paragraph::new(lines), limits);
}

/// Successful verifications as bars (green), refusals under them (red),
/// a time axis and the totals. The newest buckets are kept when the area
/// is narrower than the window.
fn draw_chart(
    f: &mut Frame,
    [chart, denied, axis, totals]: [Rect; 4],
    buckets: &[UsageBucket],
    window: UsageWindow,
) {
    let room = chart.width.saturating_sub(1) as usize;
    let shown = &buckets[buckets.len().saturating_sub(room)..];
    let bars = |values: Vec<i64>, rows: u16| -> Vec<u64> {
        // Scaled here so that any non-zero bucket shows at least one level.
        let levels = u64::from(rows) * 8;
        let max = values.iter().copied().max().unwrap_or(0).max(1) as u64;
        values
            .into_iter()
            .map(|v| match v.max(0) as u64 {
                0 => 0,
                v => (v * levels).div_ceil(max).max(1),
            })
            .collect()
    };
    let indent = |r: Rect| Rect {
        x: r.x + 1,
        width: r.width.saturating_sub(1),
        ..r
    };
    let counts = bars(shown.iter().map(|b| b.count).collect(), CHART_ROWS);
    f.render_widget(
        Sparkline::default()
            .data(&counts)
            .max(u64::from(CHART_ROWS) * 8)
            .style(Style::default().fg(Color::Green)),
        indent(chart),
    );
    let refused = bars(shown.iter().map(|b| b.denied).collect(), 1);
    f.render_widget(
        Sparkline::default()
            .data(&refused)
            .max(8)
            .style(Style::default().fg(Color::Red)),
        indent(denied),
    );
    let n = shown.len();
    let start = match window {
        UsageWindow::Day => format!("{n} h ago"),
        UsageWindow::Hour => format!("{n} min ago"),
    };
    let fill = n.saturating_sub(start.chars().count() + 4);
    f.render_widget(
        Paragraph::new(Line::styled(
            format!(" {start}{} now", "─".repeat(fill)),
            dim(),
        )),
        axis,
    );
    let ok: i64 = shown.iter().map(|b| b.count).sum();
    let no: i64 = shown.iter().map(|b| b.denied).sum();
    let peak = shown.iter().map(|b| b.count).max().unwrap_or(0);
    let unit = match window {
        UsageWindow::Day => "h",
        UsageWindow::Hour => "min",
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(format!(" {ok} verified"), Style::default().fg(Color::Green)),
            Span::raw(" · "),
            Span::styled(
                format!("{no} denied"),
                if no > 0 {
                    Style::default().fg(Color::Red)
                } else {
                    Style::default()
                },
            ),
            Span::styled(format!(" · peak {peak}/{unit}"), dim()),
        ])),
        totals,
    );
}
