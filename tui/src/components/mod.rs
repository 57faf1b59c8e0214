//! Components only draw: each takes the state it shows and a frame area,
//! and changes nothing.

pub mod audit_log;
pub mod bulk_revoke;
pub mod chrome;
pub mod confirm;
pub mod create_form;
pub mod events;
pub mod help;
pub mod leaks;
pub mod limits_form;
pub mod once_card;
pub mod token_detail;
pub mod token_list;

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};

pub const AMBER: Color = Color::Rgb(255, 176, 0);

/// A centred rectangle of at most `w`×`h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [c] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    c
}

/// A dialog of wrapped `lines`, `width` wide and as tall as they wrap to,
/// centred in `area` over what is under it.
pub fn wrapped_dialog(
    f: &mut ratatui::Frame,
    area: Rect,
    lines: Vec<ratatui::text::Line<'_>>,
    width: u16,
    title: &str,
    border: Color,
) {
    use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
    let rows: u16 = lines
        .iter()
        .map(|l| (l.width() as u16).div_ceil(width - 2).max(1))
        .sum();
    let rect = centered(area, width, rows + 2);
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::default().fg(border))
                .title(title),
        ),
        rect,
    );
}

pub fn status_style(status: &str) -> Style {
    match status {
        "active" => Style::default().fg(Color::Green),
        "revoked" => Style::default().fg(Color::Red),
        "expired" => Style::default().fg(Color::Yellow),
        "disabled" => Style::default().fg(Color::Magenta),
        _ => Style::default(),
    }
}

pub fn key_style() -> Style {
    Style::default()
        .fg(Color::Cyan)
        .add_modifier(Modifier::BOLD)
}

pub fn dim() -> Style {
    Style::default().fg(Color::DarkGray)
}
