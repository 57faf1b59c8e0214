use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, dim};
use crate::app::{CreateForm, FormField, EXPIRY_PRESETS};
use crate::db::model::{ScopeEntry, Session};
use crate::input::TextInput;
use crate::text::clean;

pub fn draw(
    f: &mut Frame,
    area: Rect,
    form: &CreateForm,
    catalogue: &[ScopeEntry],
    session: &Session,
) {
    let focus = |field: FormField| form.field == field;
    let label = |field: FormField, text: &str| {
        let style = if focus(field) {
            Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            dim()
        };
        Span::styled(
            format!("{} {text:<8}", if focus(field) { "▶" } else { " " }),
            style,
        )
    };
    let input = |field: FormField, value: &TextInput, placeholder: &str| {
        if value.is_empty() && !focus(field) {
            Span::styled(placeholder.to_owned(), dim())
        } else {
            Span::styled(
                value.shown(focus(field), "▏", clean),
                Style::default().add_modifier(Modifier::UNDERLINED),
            )
        }
    };
    let choice = |on: bool, text: &str| {
        if on {
            Span::styled(
                format!("[{text}]"),
                Style::default().fg(Color::Black).bg(Color::Cyan),
            )
        } else {
            Span::raw(format!(" {text} "))
        }
    };
    let mut lines = vec![
        Line::from(vec![
            label(FormField::Name, "name"),
            input(
                FormField::Name,
                &form.name,
                "1–80 characters, e.g. ci deploy bot",
            ),
        ]),
        Line::from(vec![
            label(FormField::Kind, "kind"),
            choice(!form.personal, "service"),
            Span::raw(" "),
            choice(form.personal, "personal"),
        ]),
        Line::from(vec![
            label(FormField::Owner, "owner"),
            input(
                FormField::Owner,
                &form.owner,
                &format!(
                    "empty = you ({}); e.g. group:platform",
                    clean(&session.role)
                ),
            ),
        ]),
    ];
    if catalogue.is_empty() {
        lines.push(Line::from(vec![
            label(FormField::Scopes, "scopes"),
            input(
                FormField::Scopes,
                &form.scopes_text,
                "comma separated; empty = full access",
            ),
        ]));
    } else {
        let mut spans = vec![label(FormField::Scopes, "scopes")];
        for (i, s) in catalogue.iter().enumerate() {
            let picked = form.picked.get(i).copied().unwrap_or(false);
            let mark = if picked { "[x]" } else { "[ ]" };
            let style = if focus(FormField::Scopes) && i == form.scope_cursor {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            spans.push(Span::styled(format!("{mark} {}", clean(&s.scope)), style));
            spans.push(Span::raw("  "));
        }
        lines.push(Line::from(spans));
        let none = form.picked.iter().all(|p| !p);
        let mut info = String::from("           from the catalogue (←/→ move, Space toggles)");
        if none {
            info.push_str("; none picked = full access");
        }
        if let Some(d) = catalogue
            .get(form.scope_cursor)
            .and_then(|s| s.description.as_deref())
            .filter(|_| focus(FormField::Scopes))
        {
            info = format!(
                "           {}: {}",
                clean(&catalogue[form.scope_cursor].scope),
                clean(d)
            );
        }
        lines.push(Line::styled(info, dim()));
    }
    let mut expiry = vec![label(FormField::Expiry, "expires")];
    for (i, p) in EXPIRY_PRESETS.iter().enumerate() {
        expiry.push(choice(i == form.expiry, p));
        expiry.push(Span::raw(" "));
    }
    lines.push(Line::from(expiry));
    if EXPIRY_PRESETS[form.expiry] == "custom" {
        lines.push(Line::from(vec![
            label(FormField::Custom, "at"),
            input(
                FormField::Custom,
                &form.custom,
                "e.g. 2026-06-30 or 2026-06-30 18:00+02",
            ),
        ]));
    }
    lines.push(Line::from(vec![
        label(FormField::Meta, "meta"),
        input(
            FormField::Meta,
            &form.meta,
            "optional JSON object verify returns, e.g. {\"plan\": \"pro\"}",
        ),
    ]));
    lines.push(Line::raw(""));
    if let Some(e @ crate::db::error::DbError::Client(_)) = &form.error {
        lines.push(Line::styled(
            "Not sent:",
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
        for l in crate::text::wrap(&clean(&e.to_string()), 80) {
            lines.push(Line::styled(l, Style::default().fg(Color::Red)));
        }
    } else if let Some(e) = &form.error {
        lines.push(Line::styled(
            "The server refused this token:",
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
        for l in crate::text::wrap(&clean(&e.to_string()), 80) {
            lines.push(Line::styled(l, Style::default().fg(Color::Red)));
        }
        if let crate::db::error::DbError::Server { hint: Some(h), .. } = e {
            lines.push(Line::styled(format!("hint: {}", clean(h)), dim()));
        }
    } else if form.busy {
        lines.push(Line::styled("minting…", dim()));
    } else {
        lines.push(Line::styled("Enter creates the token · Esc cancels", dim()));
    }
    let h = lines.len() as u16 + 2;
    let r = centered(area, 84, h);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" New token ")),
        r,
    );
}
