//! Keys and mouse to actions: which key means what depends only on what has
//! the focus (a dialog, a text field, a view).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};

use crate::action::Action;
use crate::app::{App, Focus, Modal, View};
use crate::db::model::Secret;
use crate::input::Edit;

pub fn action_for_key(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    let focus = app.focus();
    if let (Focus::Modal, Some(modal)) = (focus, &app.modal) {
        return match modal {
            Modal::Card(_) => match key.code {
                KeyCode::Char('c') | KeyCode::Char('y') => Some(Action::Copy),
                KeyCode::Enter | KeyCode::Esc => Some(Action::Submit),
                _ => None,
            },
            Modal::Confirm(_) => edit_key(key).or(match key.code {
                KeyCode::Enter => Some(Action::Submit),
                KeyCode::Esc => Some(Action::Cancel),
                KeyCode::Tab | KeyCode::BackTab => Some(Action::Toggle),
                KeyCode::Left => Some(Action::Left),
                KeyCode::Right => Some(Action::Right),
                KeyCode::Backspace => Some(Action::Backspace),
                KeyCode::Char(c) if !ctrl => Some(Action::Input(c)),
                _ => None,
            }),
            Modal::BulkRevoke(_) => match key.code {
                KeyCode::Enter => Some(Action::Submit),
                KeyCode::Esc => Some(Action::Cancel),
                KeyCode::Tab | KeyCode::BackTab => Some(Action::Toggle),
                _ => None,
            },
            Modal::RevokeLeaks(_) | Modal::AckEvents(_) => match key.code {
                KeyCode::Enter => Some(Action::Submit),
                KeyCode::Esc => Some(Action::Cancel),
                _ => None,
            },
            Modal::Create(_) => text_field_key(key, ctrl, true),
            Modal::RateLimit(_) | Modal::Allowlist(_) | Modal::Credits(_) => {
                text_field_key(key, ctrl, false)
            }
            Modal::Meta(_) => text_area_key(key, ctrl, Action::Toggle),
        };
    }
    if focus == Focus::Help {
        return match key.code {
            KeyCode::Char('?') | KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => {
                Some(Action::ToggleHelp)
            }
            _ => None,
        };
    }
    if focus == Focus::Search {
        return edit_key(key).or(match key.code {
            KeyCode::Enter => Some(Action::Submit),
            KeyCode::Esc => Some(Action::Cancel),
            KeyCode::Backspace => Some(Action::Backspace),
            KeyCode::Down => Some(Action::Down),
            KeyCode::Up => Some(Action::Up),
            KeyCode::Left => Some(Action::Edit(Edit::Left)),
            KeyCode::Right => Some(Action::Edit(Edit::Right)),
            KeyCode::Char(c) if !ctrl => Some(Action::Input(c)),
            _ => None,
        });
    }
    if focus == Focus::AuditFilter {
        return text_field_key(key, ctrl, false);
    }
    if focus == Focus::LeakText {
        return text_area_key(key, ctrl, Action::NextField);
    }
    let common = match key.code {
        KeyCode::Char('q') => Some(Action::Quit),
        KeyCode::Char('?') => Some(Action::ToggleHelp),
        KeyCode::Char('j') | KeyCode::Down => Some(Action::Down),
        KeyCode::Char('k') | KeyCode::Up => Some(Action::Up),
        KeyCode::Char('g') | KeyCode::Home => Some(Action::Top),
        KeyCode::Char('G') | KeyCode::End => Some(Action::Bottom),
        KeyCode::Char('d') if ctrl => Some(Action::NextPage),
        KeyCode::Char('u') if ctrl => Some(Action::PrevPage),
        KeyCode::Char('f') if ctrl => Some(Action::NextPage),
        KeyCode::Char('b') if ctrl => Some(Action::PrevPage),
        KeyCode::PageDown | KeyCode::Char(']') => Some(Action::NextPage),
        KeyCode::PageUp | KeyCode::Char('[') => Some(Action::PrevPage),
        KeyCode::Char('1') => Some(Action::ShowTokens),
        KeyCode::Char('2') => Some(Action::ShowAudit),
        KeyCode::Char('3') => Some(Action::ShowLeaks),
        KeyCode::Char('4') => Some(Action::ShowEvents),
        KeyCode::Tab => Some(match app.view {
            View::Tokens | View::Detail => Action::ShowAudit,
            View::Audit => Action::ShowLeaks,
            View::Leaks => Action::ShowEvents,
            View::Events => Action::ShowTokens,
        }),
        KeyCode::Char('r') | KeyCode::F(5) => Some(Action::Refresh),
        KeyCode::Esc => Some(Action::Back),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    match app.view {
        View::Tokens => match key.code {
            KeyCode::Enter | KeyCode::Char('l') | KeyCode::Right => Some(Action::OpenDetail),
            KeyCode::Char('/') => Some(Action::StartSearch),
            KeyCode::Char('f') => Some(Action::CycleStatus),
            KeyCode::Char('F') => Some(Action::CycleKind),
            KeyCode::Char('s') => Some(Action::CycleSort),
            KeyCode::Char('S') => Some(Action::ReverseSort),
            KeyCode::Char('n') | KeyCode::Char('c') => Some(Action::NewToken),
            KeyCode::Char('x') | KeyCode::Delete => Some(Action::Revoke),
            KeyCode::Char('R') => Some(Action::Rotate),
            KeyCode::Char('d') => Some(Action::ToggleDisabled),
            KeyCode::Char(' ') => Some(Action::ToggleMark),
            KeyCode::Char('H') => Some(Action::ToggleHygiene),
            KeyCode::Char('X') => Some(Action::RevokeMarked),
            _ => None,
        },
        View::Detail => match key.code {
            KeyCode::Char('h') | KeyCode::Left | KeyCode::Backspace => Some(Action::Back),
            KeyCode::Char('x') | KeyCode::Delete => Some(Action::Revoke),
            KeyCode::Char('R') => Some(Action::Rotate),
            KeyCode::Char('u') => Some(Action::ToggleUsageWindow),
            KeyCode::Char('L') => Some(Action::EditRateLimit),
            KeyCode::Char('I') => Some(Action::EditAllowedIps),
            KeyCode::Char('C') => Some(Action::EditCredits),
            KeyCode::Char('d') => Some(Action::ToggleDisabled),
            KeyCode::Char('M') => Some(Action::EditMeta),
            _ => None,
        },
        View::Audit => match key.code {
            KeyCode::Char('f') => Some(Action::ToggleFollow),
            KeyCode::Char('/') => Some(Action::EditAuditFilter),
            _ => None,
        },
        View::Leaks => match key.code {
            KeyCode::Char('e') | KeyCode::Char('i') | KeyCode::Char('/') | KeyCode::Enter => {
                Some(Action::StartSearch)
            }
            KeyCode::Char('X') => Some(Action::RevokeLeaks),
            _ => None,
        },
        View::Events => match key.code {
            KeyCode::Char('f') => Some(Action::ToggleFollow),
            KeyCode::Char('a') => Some(Action::AckEvents),
            _ => None,
        },
    }
}

/// Keys in a text area of several lines (the leak screen's text, `tab` is
/// NextField; the meta form's JSON, `tab` is a space): Enter is a new line
/// (a paste without bracketed paste arrives as keys), so checking or saving
/// is Ctrl-S (or F5).
fn text_area_key(key: KeyEvent, ctrl: bool, tab: Action) -> Option<Action> {
    if let Some(a) = edit_key(key) {
        return Some(a);
    }
    match key.code {
        KeyCode::Char('s') if ctrl => Some(Action::Submit),
        KeyCode::F(5) => Some(Action::Submit),
        KeyCode::Enter => Some(Action::Input('\n')),
        KeyCode::Tab => Some(tab),
        KeyCode::Esc => Some(Action::Cancel),
        KeyCode::Backspace => Some(Action::Backspace),
        KeyCode::Char(c) if !ctrl => Some(Action::Input(c)),
        _ => None,
    }
}

/// A bracketed paste. On the leak screen it is the text to check, held as
/// a `Secret` from here on; elsewhere it is typed into the focused field
/// (printable characters only), and dropped where nothing takes text.
pub fn actions_for_paste(app: &App, text: String) -> Vec<Action> {
    let text = Secret::new(text);
    let focus = app.focus();
    if focus == Focus::LeakText || (focus == Focus::View && app.view == View::Leaks) {
        return vec![Action::Paste(text)];
    }
    if !matches!(focus, Focus::Modal | Focus::Search | Focus::AuditFilter) {
        return vec![];
    }
    if matches!(app.modal, Some(Modal::Meta(_))) {
        // JSON over several lines: line ends stay, tabs become spaces.
        return text
            .expose()
            .replace("\r\n", "\n")
            .chars()
            .filter_map(|c| match c {
                '\n' | '\r' => Some('\n'),
                '\t' => Some(' '),
                c if c.is_control() => None,
                c => Some(c),
            })
            .map(Action::Input)
            .collect();
    }
    text.expose()
        .chars()
        .filter(|c| !c.is_control())
        .map(Action::Input)
        .collect()
}

/// Keys inside a form: text goes to the focused field.
fn text_field_key(key: KeyEvent, ctrl: bool, toggles: bool) -> Option<Action> {
    if let Some(a) = edit_key(key) {
        return Some(a);
    }
    match key.code {
        KeyCode::Enter => Some(Action::Submit),
        KeyCode::Esc => Some(Action::Cancel),
        KeyCode::Tab | KeyCode::Down => Some(Action::NextField),
        KeyCode::BackTab | KeyCode::Up => Some(Action::PrevField),
        KeyCode::Left => Some(Action::Left),
        KeyCode::Right => Some(Action::Right),
        KeyCode::Backspace => Some(Action::Backspace),
        KeyCode::Char(' ') if toggles => Some(Action::Toggle),
        KeyCode::Char(c) if !ctrl => Some(Action::Input(c)),
        _ => None,
    }
}

pub fn action_for_mouse(app: &App, m: MouseEvent) -> Option<Action> {
    if matches!(app.focus(), Focus::Modal | Focus::Help) {
        return None;
    }
    match m.kind {
        MouseEventKind::ScrollDown => Some(Action::Scroll(3)),
        MouseEventKind::ScrollUp => Some(Action::Scroll(-3)),
        _ => None,
    }
}

/// The readline keys every text field shares: Ctrl-U (clear to the
/// start), Ctrl-W (delete the word back), Ctrl-A/Home, Ctrl-E/End,
/// Alt-B/Alt-F (a word back, forward), Ctrl-K (kill to the end), Delete.
pub fn edit_key(key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let edit = match key.code {
        KeyCode::Char('u') if ctrl => Edit::ClearToStart,
        KeyCode::Char('w') if ctrl => Edit::DeleteWordBack,
        KeyCode::Char('a') if ctrl => Edit::Home,
        KeyCode::Char('e') if ctrl => Edit::End,
        KeyCode::Char('k') if ctrl => Edit::KillToEnd,
        KeyCode::Char('b') if alt => Edit::WordLeft,
        KeyCode::Char('f') if alt => Edit::WordRight,
        KeyCode::Home => Edit::Home,
        KeyCode::End => Edit::End,
        KeyCode::Delete => Edit::Delete,
        _ => return None,
    };
    Some(Action::Edit(edit))
}
