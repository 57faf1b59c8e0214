//! The rate-limit, allowlist, credits and meta forms of the detail pane.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, dim, key_style};
use crate::app::{
    AllowlistForm, CreditField, CreditsForm, MetaForm, RateField, RateLimitForm, PER_PRESETS,
    REFILL_PRESETS,
};
use crate::db::error::DbError;
use crate::db::model::{Session, Token};
use crate::input::TextInput;
use crate::text::{allowlist, clean, credits, rate_limit};

fn label(on: bool, text: &str) -> Span<'static> {
    let style = if on {
        Style::default()
            .fg(Color::Cyan)
            .add_modifier(Modifier::BOLD)
    } else {
        dim()
    };
    Span::styled(format!("{} {text:<9}", if on { "▶" } else { " " }), style)
}

fn input(on: bool, value: &TextInput, placeholder: &str) -> Span<'static> {
    if value.is_empty() && !on {
        Span::styled(placeholder.to_owned(), dim())
    } else {
        Span::styled(
            value.shown(on, "▏", clean),
            Style::default().add_modifier(Modifier::UNDERLINED),
        )
    }
}

/// One form field: its label, its input (placeholder when empty) and a
/// dim line of help after it.
fn field(
    on: bool,
    name: &str,
    value: &TextInput,
    placeholder: &str,
    help: String,
) -> Line<'static> {
    Line::from(vec![
        label(on, name),
        input(on, value, placeholder),
        Span::styled(help, dim()),
    ])
}

fn heading(t: &Token, now: String) -> Vec<Line<'static>> {
    vec![
        Line::from(vec![
            Span::styled(
                format!("{} ", clean(&t.prefix)),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(
                "\"{}\" · owner {} · {}",
                clean(&t.name),
                clean(&t.owner),
                clean(&t.kind)
            )),
        ]),
        Line::styled(format!("now: {now}"), dim()),
        Line::raw(""),
    ]
}

/// What the server said (or what the form found wrong), and who may set.
/// Who may save a form, when this session may not.
#[derive(Clone, Copy)]
enum Needs {
    Writer,
    WriterOrOwner,
}

fn footer(
    lines: &mut Vec<Line<'static>>,
    error: &Option<DbError>,
    busy: bool,
    may_set: Option<Needs>,
    session: &Session,
    save: &str,
    keys: &str,
) {
    lines.push(Line::raw(""));
    if let Some(needs) = may_set {
        let why = match needs {
            Needs::Writer => "are not a member of tokens_writer, which alone sets meta and credits",
            Needs::WriterOrOwner => {
                "have neither tokens_writer nor this personal token of your own"
            }
        };
        lines.push(Line::styled(
            format!(
                "You ({}) {why}: the server will refuse.",
                clean(&session.role)
            ),
            Style::default().fg(Color::Yellow),
        ));
    }
    match error {
        Some(DbError::Client(why)) => {
            lines.push(Line::styled(clean(why), Style::default().fg(Color::Red)));
        }
        Some(e) => {
            lines.push(Line::styled(
                "Refused by the server:",
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            ));
            lines.push(Line::styled(
                clean(&e.to_string()),
                Style::default().fg(Color::Red),
            ));
            if let DbError::Server { hint: Some(h), .. } = e {
                lines.push(Line::styled(format!("hint: {}", clean(h)), dim()));
            }
        }
        None => {}
    }
    if busy {
        lines.push(Line::styled("saving…", dim()));
    } else {
        lines.push(Line::from(vec![
            Span::styled(save.to_owned(), key_style()),
            Span::raw(" save  "),
            Span::styled("Esc", key_style()),
            Span::raw(format!(" cancel  {keys}")),
        ]));
    }
}

fn frame(f: &mut Frame, area: Rect, lines: Vec<Line<'static>>, title: &str) {
    let r = centered(area, 84, lines.len() as u16 + 4);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(title.to_owned()),
        ),
        r,
    );
}

pub fn draw_rate_limit(f: &mut Frame, area: Rect, form: &RateLimitForm, session: &Session) {
    let on = |field| form.field == field;
    let mut lines = heading(&form.token, rate_limit(&form.token.rate_limit));
    lines.push(field(
        on(RateField::Requests),
        "requests",
        &form.requests,
        "empty = no limit",
        "  successful verifications (≥ 1; empty clears)".into(),
    ));
    lines.push(field(
        on(RateField::Per),
        "per",
        &form.per,
        "1 minute",
        format!("  1 s to 1 day; ←/→ {}", PER_PRESETS.join(" · ")),
    ));
    footer(
        &mut lines,
        &form.error,
        form.busy,
        (!form.may_set).then_some(Needs::WriterOrOwner),
        session,
        "Enter",
        "Tab next field",
    );
    frame(f, area, lines, " Rate limit ");
}

pub fn draw_credits(f: &mut Frame, area: Rect, form: &CreditsForm, session: &Session) {
    let on = |field| form.field == field;
    let mut lines = heading(&form.token, credits(&form.token.credits));
    lines.push(Line::styled(
        "One credit per successful verification; at zero verify answers usage_exceeded.",
        dim(),
    ));
    lines.push(field(
        on(CreditField::Remaining),
        "credits",
        &form.remaining,
        "empty = no cap",
        "  remaining from now (≥ 0; empty removes the cap)".into(),
    ));
    lines.push(field(
        on(CreditField::RefillAmount),
        "refill",
        &form.refill_amount,
        "empty = no refill",
        "  credits at each refill (≥ 0)".into(),
    ));
    lines.push(field(
        on(CreditField::RefillEvery),
        "every",
        &form.refill_every,
        "e.g. 1 hour",
        format!("  1 s to 3650 days; ←/→ {}", REFILL_PRESETS.join(" · ")),
    ));
    footer(
        &mut lines,
        &form.error,
        form.busy,
        (!form.may_set).then_some(Needs::Writer),
        session,
        "Enter",
        "Tab next field",
    );
    frame(f, area, lines, " Credits ");
}

pub fn draw_allowlist(f: &mut Frame, area: Rect, form: &AllowlistForm, session: &Session) {
    let mut lines = heading(&form.token, allowlist(&form.token.allowed_ips));
    lines.push(Line::from(vec![
        label(true, "allow"),
        input(true, &form.text, ""),
    ]));
    lines.push(Line::styled(
        "            CIDRs separated by commas (10.0.0.0/8, 2001:db8::/32, 203.0.113.7);",
        dim(),
    ));
    lines.push(Line::styled(
        "            1 to 64 entries; empty = anywhere (clears the allowlist)",
        dim(),
    ));
    footer(
        &mut lines,
        &form.error,
        form.busy,
        (!form.may_set).then_some(Needs::WriterOrOwner),
        session,
        "Enter",
        "",
    );
    frame(f, area, lines, " IP allowlist ");
}

pub fn draw_meta(f: &mut Frame, area: Rect, form: &MetaForm, session: &Session) {
    let mut lines = heading(&form.token, form.current.clone());
    lines.push(Line::styled(
        "A JSON object returned by verify (at most 4096 bytes); empty clears it.",
        dim(),
    ));
    // The caret where the cursor is, then the text line by line.
    let text = form.text.shown(true, "▏", str::to_owned);
    let typed: Vec<&str> = text.split('\n').collect();
    let n = typed.len();
    for (i, l) in typed.iter().enumerate() {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>3} ", i + 1), dim()),
            Span::styled(
                clean(l),
                Style::default().add_modifier(Modifier::UNDERLINED),
            ),
        ]));
    }
    // Room to type in: at least four lines.
    for _ in n..4 {
        lines.push(Line::raw(""));
    }
    footer(
        &mut lines,
        &form.error,
        form.busy,
        (!form.may_set).then_some(Needs::Writer),
        session,
        "Ctrl-S",
        "Enter new line  Ctrl-U clear",
    );
    frame(f, area, lines, " Meta ");
}
