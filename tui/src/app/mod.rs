//! The console's state and `update`: an action in, state changed and
//! effects out. No I/O happens here, so every key sequence can be tested
//! without a terminal or a database.

mod audit;
mod bulk;
mod confirm;
mod create;
mod credits;
mod detail;
mod events;
mod feed;
mod leaks;
mod limits;
mod meta;
mod tokens;

pub use crate::parse::{meta_json, parse_id, per_interval, typed_list, CreditField};
pub use audit::*;
pub use bulk::*;
pub use confirm::*;
pub use create::*;
pub use credits::*;
pub use detail::*;
pub use events::*;
pub use feed::*;
pub use leaks::*;
pub use limits::*;
pub use meta::*;
pub use tokens::*;

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::action::{Action, Effect};
use crate::db::error::DbError;
use crate::db::model::{
    AuditEvent, Leak, Minted, RevokeTarget, ScopeEntry, Secret, Session, Token, TokenEvent,
    UsageBucket, UsageWindow,
};
use crate::db::queries::{
    AuditFilter, AuditQuery, Cursor, Direction, EventQuery, Expiry, MintRequest, PageQuery,
    SortColumn, TokenFilter, TokenPage,
};
use crate::db::{Reply, Request};
use crate::input::{Edit, TextInput};

/// Rows per page: the console holds one page of tokens at a time.
pub const PAGE: i64 = 100;

pub const STATUSES: [Option<&str>; 5] = [
    None,
    Some("active"),
    Some("revoked"),
    Some("expired"),
    Some("disabled"),
];
pub const KINDS: [Option<&str>; 3] = [None, Some("service"), Some("personal")];
pub const EXPIRY_PRESETS: [&str; 5] = ["never", "7 days", "30 days", "90 days", "custom"];
/// Rate-limit windows offered by ←/→ in the rate-limit form.
pub const PER_PRESETS: [&str; 4] = ["1 second", "1 minute", "1 hour", "1 day"];
/// Refill intervals offered by ←/→ in the credits form.
pub const REFILL_PRESETS: [&str; 4] = ["1 hour", "1 day", "7 days", "30 days"];
/// How often the detail pane reads the usage again while it is open
/// (usage reaches the server within 10 s).
pub const USAGE_REFRESH: chrono::TimeDelta = chrono::TimeDelta::seconds(10);
/// Grace periods offered by rotate: (label, interval).
pub const GRACES: [(&str, &str); 4] = [
    ("none: the old token stops now", "0"),
    ("1 hour", "1 hour"),
    ("1 day", "1 day"),
    ("7 days", "7 days"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Tokens,
    Detail,
    Audit,
    Leaks,
    Events,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Conn {
    Up,
    Lost {
        error: String,
        attempt: u32,
        retry_in: Duration,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub level: Level,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Modal {
    Create(CreateForm),
    Confirm(Confirm),
    Card(OnceCard),
    RateLimit(RateLimitForm),
    Allowlist(AllowlistForm),
    Credits(CreditsForm),
    Meta(MetaForm),
    RevokeLeaks(RevokeLeaks),
    BulkRevoke(BulkRevoke),
    AckEvents(AckEvents),
}

/// What has the keys, first match wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Modal,
    Help,
    /// The token list's search field.
    Search,
    AuditFilter,
    /// The leak screen's text area.
    LeakText,
    /// The view's own keys.
    View,
}

/// The edit an action means in a text field, if any: a typed character,
/// Backspace, Ctrl-U, a readline key; `Toggle` (Space or Tab where they
/// toggle nothing) is a space, ←/→ move the cursor.
pub(crate) fn edit_of(action: &Action) -> Option<Edit> {
    Some(match action {
        Action::Input(c) => Edit::Insert(*c),
        Action::Toggle => Edit::Insert(' '),
        Action::Backspace => Edit::Backspace,
        Action::Left => Edit::Left,
        Action::Right => Edit::Right,
        Action::Edit(e) => *e,
        _ => return None,
    })
}

/// Applies `action` to `text` when it is an edit; true when the text changed.
pub(crate) fn edit(text: &mut TextInput, action: &Action) -> bool {
    edit_of(action).is_some_and(|e| text.apply(e))
}

#[derive(Clone, Debug, PartialEq)]
pub struct App {
    pub now: DateTime<Utc>,
    pub session: Session,
    pub target: String,
    pub conn: Conn,
    pub view: View,
    pub tokens: TokenList,
    pub audit: AuditView,
    pub events: EventsView,
    pub detail: Option<Detail>,
    pub leaks: Leaks,
    pub modal: Option<Modal>,
    pub help: bool,
    pub scopes: Vec<ScopeEntry>,
    pub notice: Option<Notice>,
    /// The audit log no longer matches a checkpoint this console keeps.
    pub audit_alarm: Option<String>,
    pub quit: bool,
    gen: u64,
}

impl App {
    pub fn new(session: Session, target: String, now: DateTime<Utc>) -> App {
        App {
            now,
            session,
            target,
            conn: Conn::Up,
            view: View::Tokens,
            tokens: TokenList::default(),
            audit: AuditView::default(),
            events: EventsView::default(),
            detail: None,
            leaks: Leaks::default(),
            modal: None,
            help: false,
            scopes: Vec::new(),
            notice: None,
            audit_alarm: None,
            quit: false,
            gen: 0,
        }
    }

    /// The requests of the first frame: the first page, then what can wait.
    pub fn start(&mut self) -> Vec<Effect> {
        let mut fx = self.load_tokens(None, Direction::Forward, Land::Top { offset: Some(0) });
        fx.push(Effect::Db(Request::Scopes));
        fx.extend(self.check_audit());
        fx
    }

    /// Checks the audit log against the kept checkpoints (tokens_reader
    /// only: nobody else may read the chain).
    fn check_audit(&self) -> Vec<Effect> {
        if self.session.reader {
            vec![Effect::Db(Request::CheckAudit)]
        } else {
            vec![]
        }
    }

    fn next_gen(&mut self) -> u64 {
        self.gen += 1;
        self.gen
    }

    fn info(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            level: Level::Info,
            text: text.into(),
        });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            level: Level::Error,
            text: text.into(),
        });
    }

    fn focused_token(&self) -> Option<Token> {
        match (self.view, &self.detail) {
            (View::Detail, Some(d)) => Some(d.token.clone()),
            _ => self.tokens.selected_token().cloned(),
        }
    }

    /// What has the keys: the one answer both the key map (`event`) and
    /// `update` go by.
    pub fn focus(&self) -> Focus {
        if self.modal.is_some() {
            Focus::Modal
        } else if self.help {
            Focus::Help
        } else if self.view == View::Tokens && self.tokens.search_input {
            Focus::Search
        } else if self.view == View::Audit && self.audit.editing.is_some() {
            Focus::AuditFilter
        } else if self.view == View::Leaks && self.leaks.editing {
            Focus::LeakText
        } else {
            Focus::View
        }
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Tick(now) => return self.tick(now),
            Action::Db(reply) => return self.on_reply(reply),
            Action::Quit => {
                self.quit = true;
                return vec![];
            }
            _ => {}
        }
        match self.focus() {
            Focus::Modal => {
                if let Some(modal) = self.modal.take() {
                    let (modal, fx) = self.update_modal(modal, action);
                    self.modal = modal;
                    return fx;
                }
            }
            Focus::Help => {
                if action == Action::ToggleHelp {
                    self.help = false;
                }
                return vec![];
            }
            Focus::Search => return self.update_search(action),
            Focus::AuditFilter => return self.update_audit_filter(action),
            Focus::LeakText => return self.update_leak_text(action),
            // A paste on the leak screen's results: a new text to check.
            Focus::View if self.view == View::Leaks && matches!(action, Action::Paste(_)) => {
                return self.update_leak_text(action)
            }
            Focus::View => {}
        }
        match action {
            Action::ToggleHelp => {
                self.help = true;
                vec![]
            }
            Action::ShowTokens => {
                self.leave_leaks();
                self.view = View::Tokens;
                vec![]
            }
            Action::ShowLeaks => {
                if self.view != View::Leaks {
                    self.view = View::Leaks;
                    // Nothing checked yet: the text area has the keys.
                    self.leaks.editing = !self.leaks.loaded && !self.leaks.loading;
                }
                vec![]
            }
            Action::ShowAudit => {
                self.leave_leaks();
                self.view = View::Audit;
                // Without tokens_reader, try anyway: the server's refusal
                // is the answer to show.
                let f = &self.audit.feed;
                if !f.loaded && !f.loading {
                    return self.load_audit(PageAsk::NEWEST);
                }
                vec![]
            }
            Action::ShowEvents => {
                self.leave_leaks();
                self.view = View::Events;
                let f = &self.events.feed;
                if !f.loaded && !f.loading {
                    return self.load_events(PageAsk::NEWEST);
                }
                vec![]
            }
            Action::Refresh => match self.view {
                View::Tokens => self.refresh_tokens(),
                View::Detail => self.load_detail(),
                View::Audit => self.load_audit(PageAsk::NEWEST),
                View::Leaks => self.check_leaks(false),
                View::Events => self.load_events(PageAsk::NEWEST),
            },
            _ => match self.view {
                View::Tokens => self.update_tokens(action),
                View::Detail => self.update_detail(action),
                View::Audit => self.update_audit(action),
                View::Leaks => self.update_leaks(action),
                View::Events => self.update_events(action),
            },
        }
    }

    fn tick(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        self.now = now;
        if self.view == View::Detail && self.conn == Conn::Up {
            if let Some(d) = &self.detail {
                let visible = !matches!(d.usage, Usage::NotVisible);
                if visible && !d.usage_loading && now - d.usage_asked >= USAGE_REFRESH {
                    return self.load_usage();
                }
            }
        }
        if self.conn != Conn::Up {
            return vec![];
        }
        match self.view {
            View::Audit => self.poll_audit(),
            View::Events => self.poll_events(),
            _ => vec![],
        }
    }

    fn update_modal(&mut self, modal: Modal, action: Action) -> (Option<Modal>, Vec<Effect>) {
        match modal {
            Modal::Meta(f) => self.update_meta(f, action),
            Modal::RevokeLeaks(r) => self.update_revoke_leaks(r, action),
            Modal::BulkRevoke(b) => self.update_bulk_revoke(b, action),
            Modal::AckEvents(a) => self.update_ack(a, action),
            Modal::Card(card) => self.update_card(card, action),
            Modal::Confirm(c) => self.update_confirm(c, action),
            Modal::RateLimit(f) => self.update_rate_limit(f, action),
            Modal::Credits(f) => self.update_credits(f, action),
            Modal::Allowlist(f) => self.update_allowlist(f, action),
            Modal::Create(f) => self.update_create(f, action),
        }
    }

    fn on_reply(&mut self, reply: Reply) -> Vec<Effect> {
        match reply {
            Reply::Tokens { .. } | Reply::Count { .. } => self.on_tokens_reply(reply),
            Reply::Detail { .. } | Reply::Usage { .. } => self.on_detail_reply(reply),
            Reply::RevokedMany { .. } => self.on_bulk_reply(reply),
            Reply::Leaks { .. } | Reply::RevokedForOwners { .. } => self.on_leaks_reply(reply),
            Reply::RateLimitSet { id, result }
            | Reply::AllowedIpsSet { id, result }
            | Reply::RemainingSet { id, result }
            | Reply::MetaSet { id, result } => self.on_limit_set(id, result),
            Reply::DisabledSet { .. } | Reply::Revoked { .. } | Reply::Rotated { .. } => {
                self.on_confirm_reply(reply)
            }
            Reply::Audit { .. } | Reply::AuditChecked(_) => self.on_audit_reply(reply),
            Reply::Events { .. } | Reply::EventsAcked { .. } => self.on_events_reply(reply),
            Reply::Scopes(_) | Reply::Minted(_) => self.on_create_reply(reply),
            Reply::ConnectionLost { .. }
            | Reply::Reconnecting { .. }
            | Reply::Reconnected { .. } => self.on_conn_reply(reply),
        }
    }

    pub(super) fn on_conn_reply(&mut self, reply: Reply) -> Vec<Effect> {
        match reply {
            Reply::ConnectionLost { error } => {
                self.conn = Conn::Lost {
                    error,
                    attempt: 0,
                    retry_in: Duration::ZERO,
                };
                self.tokens.loading = false;
                self.audit.feed.connection_lost();
                self.events.feed.connection_lost();
                self.leaks.loading = false;
            }
            Reply::Reconnecting {
                attempt,
                retry_in,
                error,
            } => {
                let error = if error.is_empty() {
                    match &self.conn {
                        Conn::Lost { error, .. } => error.clone(),
                        Conn::Up => String::new(),
                    }
                } else {
                    error
                };
                self.conn = Conn::Lost {
                    error,
                    attempt,
                    retry_in,
                };
            }
            Reply::Reconnected { session } => {
                self.session = session;
                self.conn = Conn::Up;
                self.info("reconnected: views reloaded");
                let mut fx = self.refresh_tokens();
                fx.push(Effect::Db(Request::Scopes));
                fx.extend(self.check_audit());
                if self.audit.feed.loaded {
                    fx.extend(self.load_audit(PageAsk::NEWEST));
                }
                if self.events.feed.loaded {
                    fx.extend(self.load_events(PageAsk::NEWEST));
                }
                fx.extend(self.load_detail());
                if self.leaks.checked {
                    fx.extend(self.check_leaks(false));
                }
                return fx;
            }
            _ => {}
        }
        vec![]
    }
}

/// The field after `current` in `fields` (Tab, NextField) or before it
/// (Shift-Tab, PrevField), cycling.
pub(crate) fn next_field<F: Copy + PartialEq>(fields: &[F], current: F, action: &Action) -> F {
    let n = fields.len();
    let i = fields.iter().position(|f| *f == current).unwrap_or(0);
    if *action == Action::PrevField {
        fields[(i + n - 1) % n]
    } else {
        fields[(i + 1) % n]
    }
}

/// The preset after (or before) `current` in `presets`, cycling; `start`
/// when `current` is none of them (typed by hand).
fn cycle_preset(presets: &[&str], current: &str, forward: bool, start: usize) -> String {
    let n = presets.len();
    let next = match presets.iter().position(|p| *p == current.trim()) {
        Some(i) if forward => (i + 1) % n,
        Some(i) => (i + n - 1) % n,
        None => start,
    };
    presets[next].to_owned()
}
