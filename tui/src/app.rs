//! The console's state and `update`: an action in, state changed and
//! effects out. No I/O happens here, so every key sequence can be tested
//! without a terminal or a database.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::action::{Action, Effect};
use crate::db::error::DbError;
use crate::db::model::{
    AuditEvent, Leak, Minted, RevokeTarget, ScopeEntry, Secret, Session, Token, UsageBucket,
    UsageWindow,
};
use crate::db::queries::{
    AuditFilter, AuditQuery, Cursor, Direction, Expiry, MintRequest, PageQuery, SortColumn,
    TokenFilter, TokenPage,
};
use crate::db::{Reply, Request};

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
}

/// One page of the token list and how it was asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenList {
    pub rows: Vec<Token>,
    pub selected: usize,
    pub first: Option<Cursor>,
    pub last: Option<Cursor>,
    pub has_prev: bool,
    pub has_next: bool,
    /// Position of the first row in the whole ordering, when known.
    pub offset: Option<u64>,
    pub total: Option<i64>,
    pub filter: TokenFilter,
    pub sort: SortColumn,
    pub descending: bool,
    pub loading: bool,
    pub loaded: bool,
    pub error: Option<DbError>,
    pub search_input: bool,
    gen: u64,
    land: Land,
}

/// Where the selection goes when the requested page arrives.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Land {
    Top { offset: Option<u64> },
    Bottom,
    Keep,
}

impl Default for TokenList {
    fn default() -> Self {
        TokenList {
            rows: Vec::new(),
            selected: 0,
            first: None,
            last: None,
            has_prev: false,
            has_next: false,
            offset: Some(0),
            total: None,
            filter: TokenFilter::default(),
            sort: SortColumn::Created,
            descending: true,
            loading: false,
            loaded: false,
            error: None,
            search_input: false,
            gen: 0,
            land: Land::Top { offset: Some(0) },
        }
    }
}

impl TokenList {
    pub fn selected_token(&self) -> Option<&Token> {
        self.rows.get(self.selected)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Detail {
    pub token: Token,
    pub history: Vec<AuditEvent>,
    pub loading: bool,
    pub error: Option<DbError>,
    pub scroll: usize,
    pub window: UsageWindow,
    pub usage: Usage,
    pub usage_loading: bool,
    /// When the usage was last asked for (the clock of `App::now`).
    pub usage_asked: DateTime<Utc>,
}

impl Detail {
    /// The newest event that set the token's meta — a `token.meta`, or the
    /// `token.create` of a token minted (or rotated) with meta: the only way
    /// a reader sees a token's meta (the view has no meta; verify needs the
    /// plaintext). None when the history has none or could not be read.
    pub fn meta_event(&self) -> Option<&AuditEvent> {
        self.history.iter().find(|e| {
            e.action == "token.meta"
                || (e.action == "token.create"
                    && e.meta.as_ref().is_some_and(|m| m.get("meta").is_some()))
        })
    }

    /// The meta the last `token.meta` event set: Some(None) when it cleared it.
    pub fn last_meta(&self) -> Option<Option<&serde_json::Value>> {
        self.meta_event().map(|e| {
            e.meta
                .as_ref()
                .and_then(|m| m.get("meta"))
                .filter(|v| !v.is_null())
        })
    }
}

/// The detail pane's usage chart.
#[derive(Clone, Debug, PartialEq)]
pub enum Usage {
    Pending,
    Loaded(Vec<UsageBucket>),
    /// The server refused (42501): neither tokens_reader nor the owner.
    NotVisible,
    Failed(DbError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateField {
    Requests,
    Per,
}

/// `tokens.set_rate_limit` for one token: empty requests clears the limit.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimitForm {
    pub token: Token,
    pub field: RateField,
    pub requests: String,
    pub per: String,
    /// False when the session's grants say the server will refuse.
    pub may_set: bool,
    pub error: Option<DbError>,
    pub busy: bool,
}

impl RateLimitForm {
    /// The call this form describes, or what is wrong with the input.
    pub fn request(&self) -> Result<Request, String> {
        let requests = self.requests.trim();
        if requests.is_empty() {
            return Ok(Request::SetRateLimit {
                id: self.token.id,
                requests: None,
                per: None,
            });
        }
        let n: i32 = requests.parse().map_err(|_| {
            format!(
                "requests must be a whole number from 1 to {}, e.g. 100 (empty clears the limit)",
                i32::MAX
            )
        })?;
        let per = per_interval(&self.per);
        if per.is_empty() {
            return Err("per is needed: a window from 1 second to 1 day, e.g. 1 minute".into());
        }
        Ok(Request::SetRateLimit {
            id: self.token.id,
            requests: Some(n),
            per: Some(per),
        })
    }
}

/// A window as typed: `30s`, `5m`, `1h`, `1d` are spelled out for the
/// server; anything else is passed on for it to parse (`1 minute`).
pub fn per_interval(s: &str) -> String {
    let s = s.trim();
    for (short, long) in [
        ("s", "seconds"),
        ("m", "minutes"),
        ("min", "minutes"),
        ("h", "hours"),
        ("d", "days"),
    ] {
        if let Some(n) = s.strip_suffix(short) {
            if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) {
                // "1 hour", as the detail pane and the notices say it.
                let long = if n == "1" {
                    long.trim_end_matches('s')
                } else {
                    long
                };
                return format!("{n} {long}");
            }
        }
    }
    s.to_owned()
}

/// A window in seconds as the forms show it: "1 minute", "2 hours".
pub use crate::text::per_text;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreditField {
    Remaining,
    RefillAmount,
    RefillEvery,
}

impl CreditField {
    pub const ALL: [CreditField; 3] = [
        CreditField::Remaining,
        CreditField::RefillAmount,
        CreditField::RefillEvery,
    ];
}

/// `tokens.set_remaining` for one token: empty remaining removes the cap;
/// refill amount and refill every go together (both empty: no refill).
#[derive(Clone, Debug, PartialEq)]
pub struct CreditsForm {
    pub token: Token,
    pub field: CreditField,
    pub remaining: String,
    pub refill_amount: String,
    pub refill_every: String,
    /// False when the session's grants say the server will refuse.
    pub may_set: bool,
    pub error: Option<DbError>,
    pub busy: bool,
}

impl CreditsForm {
    /// Prefilled from the token's cap: what is left now and its refill.
    pub fn new(token: Token, may_set: bool) -> CreditsForm {
        let (remaining, refill_amount, refill_every) = match &token.credits {
            None => Default::default(),
            Some(c) => match &c.refill {
                None => (c.remaining.to_string(), String::new(), String::new()),
                Some(r) => (
                    c.remaining.to_string(),
                    r.amount.to_string(),
                    per_text(r.every_seconds),
                ),
            },
        };
        CreditsForm {
            token,
            field: CreditField::Remaining,
            remaining,
            refill_amount,
            refill_every,
            may_set,
            error: None,
            busy: false,
        }
    }

    /// The call this form describes, or the field that is wrong and why.
    pub fn request(&self) -> Result<Request, (CreditField, String)> {
        credits_call(
            self.token.id,
            &self.remaining,
            &self.refill_amount,
            &self.refill_every,
        )
    }

    fn text_mut(&mut self) -> &mut String {
        match self.field {
            CreditField::Remaining => &mut self.remaining,
            CreditField::RefillAmount => &mut self.refill_amount,
            CreditField::RefillEvery => &mut self.refill_every,
        }
    }
}

/// `tokens.set_remaining` as typed in the credits form (or given to the
/// `set-remaining` subcommand), or the field that is wrong and why.
/// Numbers are checked to be whole numbers; their range and the refill
/// interval are the server's to check.
pub fn credits_call(
    id: Uuid,
    remaining: &str,
    refill_amount: &str,
    refill_every: &str,
) -> Result<Request, (CreditField, String)> {
    let whole = |field, text: &str| {
        text.parse::<i64>().map_err(|_| {
            (
                field,
                if field == CreditField::Remaining {
                    "remaining must be a whole number of credits, 0 or more, e.g. 1000 (empty removes the cap)"
                } else {
                    "refill amount must be a whole number of credits, 0 or more, e.g. 100 (empty, with every empty too: no refill)"
                }
                .to_owned(),
            )
        })
    };
    let remaining = remaining.trim();
    if remaining.is_empty() {
        return Ok(Request::SetRemaining {
            id,
            remaining: None,
            refill_amount: None,
            refill_every: None,
        });
    }
    let remaining = whole(CreditField::Remaining, remaining)?;
    let every = per_interval(refill_every);
    let refill = match (refill_amount.trim(), every.as_str()) {
        ("", "") => None,
        ("", _) => {
            return Err((
                CreditField::RefillAmount,
                "refill amount is needed with refill every: the credits each period starts with (or empty both for no refill)".into(),
            ))
        }
        (_, "") => {
            return Err((
                CreditField::RefillEvery,
                "refill every is needed with a refill amount: from 1 second to 3650 days, e.g. 1 hour (or empty both for no refill)".into(),
            ))
        }
        (amount, _) => Some((
            whole(CreditField::RefillAmount, amount)?,
            every,
        )),
    };
    let (refill_amount, refill_every) = refill.unzip();
    Ok(Request::SetRemaining {
        id,
        remaining: Some(remaining),
        refill_amount,
        refill_every,
    })
}

/// The credits-form field a server refusal is about, to put the cursor
/// there; None leaves it where it is (a missing grant, an unknown token).
pub fn credit_field_of_error(e: &DbError) -> Option<CreditField> {
    let DbError::Server {
        sqlstate, message, ..
    } = e
    else {
        return None;
    };
    let m = message.to_lowercase();
    if sqlstate.starts_with("22007")
        || sqlstate.starts_with("22008")
        || sqlstate.starts_with("22015")
        || m.contains("interval")
        || (m.contains("refill_every") && !m.contains("refill_amount"))
    {
        Some(CreditField::RefillEvery)
    } else if m.contains("refill_amount") {
        Some(CreditField::RefillAmount)
    } else if m.contains("remaining") || sqlstate == "22003" {
        Some(CreditField::Remaining)
    } else {
        None
    }
}

/// `tokens.set_allowed_ips` for one token: empty clears the allowlist.
#[derive(Clone, Debug, PartialEq)]
pub struct AllowlistForm {
    pub token: Token,
    /// Comma- or space-separated CIDRs.
    pub text: String,
    pub may_set: bool,
    pub error: Option<DbError>,
    pub busy: bool,
}

impl AllowlistForm {
    /// The entries typed; None (clear) when there are none.
    pub fn entries(&self) -> Option<Vec<String>> {
        typed_list(&self.text)
    }
}

/// Items typed separated by commas or spaces; None when there are none.
fn typed_list(text: &str) -> Option<Vec<String>> {
    let list: Vec<String> = text
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (!list.is_empty()).then_some(list)
}

/// `tokens.set_meta` for one token: a JSON object typed over several
/// lines; empty clears the meta.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaForm {
    pub token: Token,
    pub text: String,
    /// What the last `token.meta` audit event set, as the form shows it
    /// ("unknown" when the history has none).
    pub current: String,
    pub may_set: bool,
    pub error: Option<DbError>,
    pub busy: bool,
}

impl MetaForm {
    /// The call this form describes, or why the text is not a JSON object.
    /// The text goes to the server as typed (it casts it to jsonb).
    pub fn request(&self) -> Result<Request, String> {
        Ok(Request::SetMeta {
            id: self.token.id,
            meta: meta_json(&self.text)?,
        })
    }
}

/// Meta as typed: None when empty (no meta, or clear it), the text itself
/// when it parses as a JSON object, else what is wrong with it. The size
/// limit (4096 bytes of the server's jsonb text) is the server's to check.
pub fn meta_json(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!("not valid JSON: {e} (a JSON object like {{\"plan\": \"pro\"}}; empty = no meta)")
    })?;
    let kind = match &value {
        serde_json::Value::Object(_) => return Ok(Some(text.to_owned())),
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
    };
    Err(format!(
        "meta must be a JSON object like {{\"plan\": \"pro\"}}, not {kind} (empty = no meta)"
    ))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditField {
    Action,
    Actor,
    Since,
    Until,
}

impl AuditField {
    const ALL: [AuditField; 4] = [
        AuditField::Action,
        AuditField::Actor,
        AuditField::Since,
        AuditField::Until,
    ];
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditFilterForm {
    pub field: AuditField,
    pub draft: AuditFilter,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditView {
    pub rows: Vec<AuditEvent>,
    pub selected: usize,
    pub filter: AuditFilter,
    pub editing: Option<AuditFilterForm>,
    pub follow: bool,
    /// Pages newer than this one exist (we paged down).
    pub newer: bool,
    pub older: bool,
    pub loading: bool,
    pub loaded: bool,
    pub error: Option<DbError>,
    gen: u64,
    polling: bool,
    land_bottom: bool,
}

impl Default for AuditView {
    fn default() -> Self {
        AuditView {
            rows: Vec::new(),
            selected: 0,
            filter: AuditFilter::default(),
            editing: None,
            follow: false,
            newer: false,
            older: false,
            loading: false,
            loaded: false,
            error: None,
            gen: 0,
            polling: false,
            land_bottom: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormField {
    Name,
    Kind,
    Owner,
    Scopes,
    Expiry,
    Custom,
    /// Optional: a JSON object verify returns.
    Meta,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CreateForm {
    pub field: FormField,
    pub name: String,
    pub personal: bool,
    pub owner: String,
    /// Free text (comma separated) when the catalogue is empty.
    pub scopes_text: String,
    /// One flag per catalogue entry when it has entries.
    pub picked: Vec<bool>,
    pub scope_cursor: usize,
    pub expiry: usize,
    pub custom: String,
    /// JSON object, one line; empty = no meta.
    pub meta: String,
    pub error: Option<DbError>,
    pub busy: bool,
}

impl CreateForm {
    pub fn fields(&self) -> Vec<FormField> {
        let mut f = vec![
            FormField::Name,
            FormField::Kind,
            FormField::Owner,
            FormField::Scopes,
            FormField::Expiry,
        ];
        if EXPIRY_PRESETS[self.expiry] == "custom" {
            f.push(FormField::Custom);
        }
        f.push(FormField::Meta);
        f
    }

    fn text_mut(&mut self) -> Option<&mut String> {
        match self.field {
            FormField::Name => Some(&mut self.name),
            FormField::Owner => Some(&mut self.owner),
            FormField::Scopes if self.picked.is_empty() => Some(&mut self.scopes_text),
            FormField::Custom => Some(&mut self.custom),
            FormField::Meta => Some(&mut self.meta),
            _ => None,
        }
    }

    /// The mint call this form describes, or why its meta is not a JSON object.
    pub fn request(&self, catalogue: &[ScopeEntry]) -> Result<MintRequest, String> {
        let meta = meta_json(&self.meta)?;
        let scopes = if self.picked.is_empty() {
            typed_list(&self.scopes_text)
        } else {
            let list: Vec<String> = catalogue
                .iter()
                .zip(&self.picked)
                .filter(|(_, p)| **p)
                .map(|(s, _)| s.scope.clone())
                .collect();
            if list.is_empty() {
                None
            } else {
                Some(list)
            }
        };
        let expiry = match EXPIRY_PRESETS[self.expiry] {
            "never" => Expiry::Never,
            "custom" => Expiry::At(self.custom.trim().to_owned()),
            span => Expiry::In(span.to_owned()),
        };
        let owner = Some(self.owner.trim())
            .filter(|o| !o.is_empty())
            .map(str::to_owned);
        Ok(MintRequest {
            name: self.name.clone(),
            kind: if self.personal { "personal" } else { "service" }.to_owned(),
            owner,
            scopes,
            expiry,
            meta,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmOp {
    Revoke,
    Rotate,
    Disable,
    Enable,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Confirm {
    pub op: ConfirmOp,
    pub token: Token,
    /// The console's role is not the owner.
    pub not_owner: bool,
    /// Offered only to members of tokens_revoker/tokens_writer.
    pub may_act_for_owner: bool,
    pub act_for_owner: bool,
    pub reason: String,
    pub grace: usize,
    pub error: Option<DbError>,
    pub busy: bool,
}

/// The reason the leak screen's revokes record in the audit log.
pub const LEAK_REASON: &str = "leak";

/// The leak triage screen: a pasted text, checked by `tokens.find_leaked`.
///
/// The text is never drawn (only its size), never logged (`Secret`), and
/// wiped when the user leaves the screen; until then it is kept to check
/// again after a revoke.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Leaks {
    pub text: Secret,
    /// Keys go to the text area.
    pub editing: bool,
    /// `text` is what the results were found in.
    pub checked: bool,
    pub rows: Vec<Leak>,
    pub selected: usize,
    pub loading: bool,
    pub loaded: bool,
    pub error: Option<DbError>,
    /// What the last "revoke every live one" did.
    pub summary: Option<LeakSummary>,
    gen: u64,
}

impl Leaks {
    /// The rows still live: what "revoke every live one" revokes.
    pub fn live(&self) -> Vec<RevokeTarget> {
        self.rows.iter().filter_map(Leak::revoke_target).collect()
    }

    fn wipe(&mut self) {
        self.text.clear();
        self.checked = false;
    }
}

/// The outcome of revoking the live tokens of a leak, token by token.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeakSummary {
    /// Prefixes revoked now.
    pub revoked: Vec<String>,
    /// Prefixes someone revoked meanwhile (revoke returned false).
    pub already: Vec<String>,
    /// Prefix and what the server said.
    pub errors: Vec<(String, DbError)>,
}

/// The confirmation before revoking every live token of a leak.
#[derive(Clone, Debug, PartialEq)]
pub struct RevokeLeaks {
    pub targets: Vec<RevokeTarget>,
    /// Found but left alone (revoked, expired, unknown...): (status, count).
    pub left_alone: Vec<(String, usize)>,
    pub busy: bool,
}

/// The once-only card: the plaintext, until the user closes it.
#[derive(Clone, Debug, PartialEq)]
pub struct OnceCard {
    pub minted: Minted,
    /// Prefix of the token this one replaces (rotate).
    pub replaces: Option<String>,
    pub copied: bool,
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

    fn load_tokens(
        &mut self,
        cursor: Option<Cursor>,
        direction: Direction,
        land: Land,
    ) -> Vec<Effect> {
        self.load_tokens_from(cursor, direction, false, land)
    }

    fn load_tokens_from(
        &mut self,
        cursor: Option<Cursor>,
        direction: Direction,
        inclusive: bool,
        land: Land,
    ) -> Vec<Effect> {
        let gen = self.next_gen();
        self.tokens.gen = gen;
        self.tokens.loading = true;
        self.tokens.land = land;
        let query = PageQuery {
            filter: self.tokens.filter.clone(),
            sort: self.tokens.sort,
            descending: self.tokens.descending,
            cursor,
            direction,
            inclusive,
            limit: PAGE,
        };
        vec![
            Effect::Db(Request::Tokens { gen, query }),
            Effect::Db(Request::Count {
                gen,
                filter: self.tokens.filter.clone(),
            }),
        ]
    }

    /// The list from its first page (a new filter, sort or search).
    fn reload_tokens(&mut self) -> Vec<Effect> {
        self.tokens.total = None;
        self.load_tokens(None, Direction::Forward, Land::Top { offset: Some(0) })
    }

    /// The current page again, from its first row (a refresh, or after a
    /// change): the same position in the order, the rows as they are now.
    fn refresh_tokens(&mut self) -> Vec<Effect> {
        let cursor = if self.tokens.has_prev {
            self.tokens.first.clone()
        } else {
            None
        };
        self.load_tokens_from(cursor, Direction::Forward, true, Land::Keep)
    }

    fn load_audit(&mut self, before: Option<i64>, after: Option<i64>, bottom: bool) -> Vec<Effect> {
        let gen = self.next_gen();
        self.audit.gen = gen;
        self.audit.loading = true;
        self.audit.land_bottom = bottom;
        let query = AuditQuery {
            filter: self.audit.filter.clone(),
            before,
            after,
            limit: PAGE,
        };
        vec![Effect::Db(Request::Audit {
            gen,
            query,
            follow: false,
        })]
    }

    fn load_detail(&mut self) -> Vec<Effect> {
        match &mut self.detail {
            Some(d) => {
                d.loading = true;
                let mut fx = vec![Effect::Db(Request::Detail { id: d.token.id })];
                fx.extend(self.load_usage());
                fx
            }
            None => vec![],
        }
    }

    fn load_usage(&mut self) -> Vec<Effect> {
        match &mut self.detail {
            Some(d) => {
                d.usage_loading = true;
                d.usage_asked = self.now;
                vec![Effect::Db(Request::Usage {
                    id: d.token.id,
                    window: d.window,
                })]
            }
            None => vec![],
        }
    }

    /// The token the keys act on: the detail pane's, else the selected row.
    fn focused_token(&self) -> Option<Token> {
        match (self.view, &self.detail) {
            (View::Detail, Some(d)) => Some(d.token.clone()),
            _ => self.tokens.selected_token().cloned(),
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
        if let Some(modal) = self.modal.take() {
            let (modal, fx) = self.update_modal(modal, action);
            self.modal = modal;
            return fx;
        }
        if self.help {
            if action == Action::ToggleHelp {
                self.help = false;
            }
            return vec![];
        }
        if self.view == View::Tokens && self.tokens.search_input {
            return self.update_search(action);
        }
        if self.view == View::Audit && self.audit.editing.is_some() {
            return self.update_audit_filter(action);
        }
        if self.view == View::Leaks && (self.leaks.editing || matches!(action, Action::Paste(_))) {
            return self.update_leak_text(action);
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
                if self.session.reader || self.audit.loaded {
                    if !self.audit.loaded && !self.audit.loading {
                        return self.load_audit(None, None, false);
                    }
                } else if !self.audit.loaded {
                    // Try anyway: the server's refusal is the answer to show.
                    return self.load_audit(None, None, false);
                }
                vec![]
            }
            Action::Refresh => match self.view {
                View::Tokens => self.refresh_tokens(),
                View::Detail => self.load_detail(),
                View::Audit => self.load_audit(None, None, false),
                View::Leaks => self.check_leaks(false),
            },
            _ => match self.view {
                View::Tokens => self.update_tokens(action),
                View::Detail => self.update_detail(action),
                View::Audit => self.update_audit(action),
                View::Leaks => self.update_leaks(action),
            },
        }
    }

    /// Leaving the leak screen wipes the pasted text; the results (no
    /// plaintext in them) stay for when the user comes back.
    fn leave_leaks(&mut self) {
        if self.view == View::Leaks {
            self.leaks.wipe();
            self.leaks.editing = false;
        }
    }

    /// The leak screen's text area has the keys (or a paste arrived).
    fn update_leak_text(&mut self, action: Action) -> Vec<Effect> {
        let l = &mut self.leaks;
        if !l.editing {
            // A paste on the results: a new text to check.
            l.editing = true;
            if l.checked {
                l.wipe();
            }
        }
        match action {
            Action::Paste(p) => l.text.push_str(p.expose()),
            Action::Input(c) => l.text.push(c),
            Action::Backspace => {
                l.text.pop();
            }
            Action::ClearInput => l.text.clear(),
            Action::Cancel => {
                if l.text.is_empty() {
                    l.editing = false;
                } else {
                    l.text.clear();
                }
            }
            Action::NextField => l.editing = false,
            Action::Submit => {
                if l.text.expose().trim().is_empty() {
                    self.error("nothing to check: paste or type the text first");
                    return vec![];
                }
                return self.check_leaks(true);
            }
            _ => {}
        }
        vec![]
    }

    /// Sends the text to `tokens.find_leaked`; `fresh` for a new text
    /// (the last revoke summary goes), else a check again.
    fn check_leaks(&mut self, fresh: bool) -> Vec<Effect> {
        if self.leaks.text.is_empty() {
            if self.leaks.loaded {
                self.info("the text was wiped when you left this screen: paste it again (e) to check it again");
            }
            return vec![];
        }
        let gen = self.next_gen();
        let l = &mut self.leaks;
        l.gen = gen;
        l.loading = true;
        l.editing = false;
        l.checked = true;
        if fresh {
            l.summary = None;
            l.selected = 0;
        }
        vec![Effect::Db(Request::FindLeaked {
            gen,
            text: l.text.clone(),
        })]
    }

    /// The leak screen's results have the keys.
    fn update_leaks(&mut self, action: Action) -> Vec<Effect> {
        let n = self.leaks.rows.len();
        let l = &mut self.leaks;
        match action {
            Action::Down => l.selected = (l.selected + 1).min(n.saturating_sub(1)),
            Action::Up => l.selected = l.selected.saturating_sub(1),
            Action::Scroll(d) => {
                l.selected =
                    (l.selected as i64 + d as i64).clamp(0, n.saturating_sub(1) as i64) as usize
            }
            Action::Top | Action::PrevPage => l.selected = 0,
            Action::Bottom | Action::NextPage => l.selected = n.saturating_sub(1),
            Action::StartSearch => {
                if l.checked {
                    l.wipe();
                }
                l.editing = true;
            }
            Action::RevokeLeaks => return self.open_revoke_leaks(),
            _ => {}
        }
        vec![]
    }

    fn open_revoke_leaks(&mut self) -> Vec<Effect> {
        if !self.session.revoker {
            self.error("revoking leaked tokens needs tokens_revoker: each one is revoked for its owner (actor => owner, reason 'leak')");
            return vec![];
        }
        if self.leaks.loading {
            self.info("still checking: wait for the results");
            return vec![];
        }
        let targets = self.leaks.live();
        if targets.is_empty() {
            self.info("no live (active or disabled) token in the results: nothing to revoke");
            return vec![];
        }
        let mut left_alone: Vec<(String, usize)> = Vec::new();
        for r in self
            .leaks
            .rows
            .iter()
            .filter(|r| r.revoke_target().is_none())
        {
            match left_alone.iter_mut().find(|(s, _)| *s == r.status) {
                Some((_, n)) => *n += 1,
                None => left_alone.push((r.status.clone(), 1)),
            }
        }
        self.modal = Some(Modal::RevokeLeaks(RevokeLeaks {
            targets,
            left_alone,
            busy: false,
        }));
        vec![]
    }

    fn on_leaks_revoked(
        &mut self,
        results: Vec<(RevokeTarget, Result<bool, DbError>)>,
    ) -> Vec<Effect> {
        match self.modal.take() {
            Some(Modal::RevokeLeaks(_)) | None => {}
            other => self.modal = other,
        }
        let mut summary = LeakSummary::default();
        for (t, r) in results {
            match r {
                Ok(true) => summary.revoked.push(t.prefix),
                Ok(false) => summary.already.push(t.prefix),
                Err(e) => summary.errors.push((t.prefix, e)),
            }
        }
        let text = format!(
            "revoked {} leaked token{} for {} owner{} (reason 'leak'); {} already revoked; {} error{}",
            summary.revoked.len(),
            if summary.revoked.len() == 1 { "" } else { "s" },
            if summary.revoked.len() == 1 { "its" } else { "their" },
            if summary.revoked.len() == 1 { "" } else { "s" },
            summary.already.len(),
            summary.errors.len(),
            if summary.errors.len() == 1 { "" } else { "s" },
        );
        if summary.errors.is_empty() {
            self.info(text);
        } else {
            self.error(text);
        }
        self.leaks.summary = Some(summary);
        // Check again, so the table shows what the server now says.
        let mut fx = self.check_leaks(false);
        fx.extend(self.refresh_tokens());
        fx
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
        if self.audit.follow
            && self.view == View::Audit
            && !self.audit.newer
            && !self.audit.polling
            && self.conn == Conn::Up
        {
            self.audit.polling = true;
            let gen = self.audit.gen;
            let after = self.audit.rows.first().map(|e| e.id).or(Some(0));
            let query = AuditQuery {
                filter: self.audit.filter.clone(),
                before: None,
                after,
                limit: PAGE,
            };
            return vec![Effect::Db(Request::Audit {
                gen,
                query,
                follow: true,
            })];
        }
        vec![]
    }

    fn update_tokens(&mut self, action: Action) -> Vec<Effect> {
        let n = self.tokens.rows.len();
        match action {
            Action::Down => self.move_token_selection(1),
            Action::Up => self.move_token_selection(-1),
            Action::Scroll(d) => self.move_token_selection(d),
            Action::Top => {
                self.tokens.selected = 0;
                if self.tokens.has_prev {
                    return self.load_tokens(
                        None,
                        Direction::Forward,
                        Land::Top { offset: Some(0) },
                    );
                }
                vec![]
            }
            Action::Bottom => {
                if self.tokens.has_next {
                    return self.load_tokens(None, Direction::Backward, Land::Bottom);
                }
                self.tokens.selected = n.saturating_sub(1);
                vec![]
            }
            Action::NextPage => {
                if self.tokens.has_next {
                    let offset = self.tokens.offset.map(|o| o + n as u64);
                    return self.load_tokens(
                        self.tokens.last.clone(),
                        Direction::Forward,
                        Land::Top { offset },
                    );
                }
                self.tokens.selected = n.saturating_sub(1);
                vec![]
            }
            Action::PrevPage => {
                if self.tokens.has_prev {
                    return self.load_tokens(
                        self.tokens.first.clone(),
                        Direction::Backward,
                        Land::Top { offset: None },
                    );
                }
                self.tokens.selected = 0;
                vec![]
            }
            Action::OpenDetail => {
                if let Some(t) = self.tokens.selected_token().cloned() {
                    self.detail = Some(Detail {
                        token: t,
                        history: vec![],
                        loading: true,
                        error: None,
                        scroll: 0,
                        window: UsageWindow::Day,
                        usage: Usage::Pending,
                        usage_loading: true,
                        usage_asked: self.now,
                    });
                    self.view = View::Detail;
                    return self.load_detail();
                }
                vec![]
            }
            Action::StartSearch => {
                self.tokens.search_input = true;
                vec![]
            }
            Action::Back => {
                if !self.tokens.filter.search.is_empty() {
                    self.tokens.filter.search.clear();
                    return self.reload_tokens();
                }
                vec![]
            }
            Action::CycleStatus => {
                let i = STATUSES
                    .iter()
                    .position(|s| s.map(str::to_owned) == self.tokens.filter.status)
                    .unwrap_or(0);
                self.tokens.filter.status = STATUSES[(i + 1) % STATUSES.len()].map(str::to_owned);
                self.reload_tokens()
            }
            Action::CycleKind => {
                let i = KINDS
                    .iter()
                    .position(|s| s.map(str::to_owned) == self.tokens.filter.kind)
                    .unwrap_or(0);
                self.tokens.filter.kind = KINDS[(i + 1) % KINDS.len()].map(str::to_owned);
                self.reload_tokens()
            }
            Action::CycleSort => {
                self.tokens.sort = self.tokens.sort.next();
                // Times read best newest first, words A to Z.
                self.tokens.descending =
                    matches!(self.tokens.sort, SortColumn::Created | SortColumn::LastUsed);
                self.reload_tokens()
            }
            Action::ReverseSort => {
                self.tokens.descending = !self.tokens.descending;
                self.reload_tokens()
            }
            Action::NewToken => self.open_create_form(),
            Action::Revoke => self.open_confirm(ConfirmOp::Revoke),
            Action::Rotate => self.open_confirm(ConfirmOp::Rotate),
            Action::ToggleDisabled => self.open_disable(),
            _ => vec![],
        }
    }

    fn move_token_selection(&mut self, delta: i32) -> Vec<Effect> {
        let n = self.tokens.rows.len();
        if n == 0 {
            return vec![];
        }
        let target = self.tokens.selected as i64 + delta as i64;
        if target >= n as i64 {
            if self.tokens.has_next && !self.tokens.loading {
                let offset = self.tokens.offset.map(|o| o + n as u64);
                return self.load_tokens(
                    self.tokens.last.clone(),
                    Direction::Forward,
                    Land::Top { offset },
                );
            }
            self.tokens.selected = n - 1;
        } else if target < 0 {
            if self.tokens.has_prev && !self.tokens.loading {
                return self.load_tokens(
                    self.tokens.first.clone(),
                    Direction::Backward,
                    Land::Bottom,
                );
            }
            self.tokens.selected = 0;
        } else {
            self.tokens.selected = target as usize;
        }
        vec![]
    }

    fn update_search(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Input(c) => {
                self.tokens.filter.search.push(c);
                self.reload_tokens()
            }
            Action::Backspace => {
                self.tokens.filter.search.pop();
                self.reload_tokens()
            }
            Action::Submit => {
                self.tokens.search_input = false;
                vec![]
            }
            Action::Cancel => {
                self.tokens.search_input = false;
                self.tokens.filter.search.clear();
                self.reload_tokens()
            }
            Action::Down | Action::Up => {
                self.tokens.search_input = false;
                self.update_tokens(action)
            }
            _ => vec![],
        }
    }

    fn update_detail(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Back | Action::Cancel => {
                self.view = View::Tokens;
                self.detail = None;
                vec![]
            }
            Action::Down | Action::Scroll(1..) => {
                if let Some(d) = &mut self.detail {
                    d.scroll = (d.scroll + 1).min(d.history.len().saturating_sub(1));
                }
                vec![]
            }
            Action::Up | Action::Scroll(..=-1) => {
                if let Some(d) = &mut self.detail {
                    d.scroll = d.scroll.saturating_sub(1);
                }
                vec![]
            }
            Action::Revoke => self.open_confirm(ConfirmOp::Revoke),
            Action::Rotate => self.open_confirm(ConfirmOp::Rotate),
            Action::ToggleDisabled => self.open_disable(),
            Action::EditMeta => {
                if let Some(d) = &self.detail {
                    let t = d.token.clone();
                    let (text, current) = match (&d.error, d.last_meta()) {
                        (Some(_), _) => (String::new(), "unknown: the audit log needs tokens_reader".to_owned()),
                        (None, Some(Some(m))) => (
                            serde_json::to_string_pretty(m).unwrap_or_default(),
                            m.to_string(),
                        ),
                        (None, Some(None)) => (String::new(), "none (cleared)".to_owned()),
                        (None, None) if d.loading => {
                            (String::new(), "unknown: the audit history is still loading".to_owned())
                        }
                        (None, None) => (
                            String::new(),
                            "unknown: not set since it was minted (only verify returns meta given to mint)".to_owned(),
                        ),
                    };
                    self.modal = Some(Modal::Meta(MetaForm {
                        may_set: self.session.may_set_trusted(),
                        token: t,
                        text,
                        current,
                        error: None,
                        busy: false,
                    }));
                }
                vec![]
            }
            Action::ToggleUsageWindow => {
                if let Some(d) = &mut self.detail {
                    d.window = d.window.other();
                    d.usage = Usage::Pending;
                }
                self.load_usage()
            }
            Action::EditRateLimit => {
                if let Some(d) = &self.detail {
                    let t = d.token.clone();
                    let (requests, per) = match &t.rate_limit {
                        Some(l) => (l.requests.to_string(), per_text(l.per_seconds)),
                        None => (String::new(), "1 minute".to_owned()),
                    };
                    self.modal = Some(Modal::RateLimit(RateLimitForm {
                        may_set: self.session.may_set_limits(&t),
                        token: t,
                        field: RateField::Requests,
                        requests,
                        per,
                        error: None,
                        busy: false,
                    }));
                }
                vec![]
            }
            Action::EditCredits => {
                if let Some(d) = &self.detail {
                    let t = d.token.clone();
                    let may_set = self.session.may_set_trusted();
                    self.modal = Some(Modal::Credits(CreditsForm::new(t, may_set)));
                }
                vec![]
            }
            Action::EditAllowedIps => {
                if let Some(d) = &self.detail {
                    let t = d.token.clone();
                    self.modal = Some(Modal::Allowlist(AllowlistForm {
                        may_set: self.session.may_set_limits(&t),
                        text: t
                            .allowed_ips
                            .as_ref()
                            .map(|v| v.join(", "))
                            .unwrap_or_default(),
                        token: t,
                        error: None,
                        busy: false,
                    }));
                }
                vec![]
            }
            _ => vec![],
        }
    }

    fn update_audit(&mut self, action: Action) -> Vec<Effect> {
        let n = self.audit.rows.len();
        match action {
            Action::Down | Action::Scroll(1..) => {
                let step = if let Action::Scroll(d) = action {
                    d as usize
                } else {
                    1
                };
                if self.audit.selected + step >= n {
                    if self.audit.older && !self.audit.loading {
                        let before = self.audit.rows.last().map(|e| e.id);
                        let mut fx = self.load_audit(before, None, false);
                        self.audit.newer = true;
                        self.audit.follow = false;
                        fx.truncate(1);
                        return fx;
                    }
                    self.audit.selected = n.saturating_sub(1);
                } else {
                    self.audit.selected += step;
                }
                vec![]
            }
            Action::Up | Action::Scroll(..=-1) => {
                let step = if let Action::Scroll(d) = action {
                    (-d) as usize
                } else {
                    1
                };
                if self.audit.selected < step {
                    if self.audit.newer && !self.audit.loading {
                        let after = self.audit.rows.first().map(|e| e.id);
                        return self.load_audit(None, after, true);
                    }
                    self.audit.selected = 0;
                } else {
                    self.audit.selected -= step;
                }
                vec![]
            }
            Action::NextPage => {
                if self.audit.older {
                    let before = self.audit.rows.last().map(|e| e.id);
                    self.audit.newer = true;
                    self.audit.follow = false;
                    return self.load_audit(before, None, false);
                }
                vec![]
            }
            Action::PrevPage => {
                if self.audit.newer {
                    let after = self.audit.rows.first().map(|e| e.id);
                    return self.load_audit(None, after, true);
                }
                vec![]
            }
            Action::Top => {
                self.audit.selected = 0;
                if self.audit.newer {
                    return self.load_audit(None, None, false);
                }
                vec![]
            }
            Action::Bottom => {
                self.audit.selected = n.saturating_sub(1);
                vec![]
            }
            Action::ToggleFollow => {
                self.audit.follow = !self.audit.follow;
                if self.audit.follow {
                    self.info("follow: new audit events appear at the top as they happen");
                    if self.audit.newer {
                        self.audit.selected = 0;
                        return self.load_audit(None, None, false);
                    }
                } else {
                    self.info("follow off");
                }
                vec![]
            }
            Action::EditAuditFilter => {
                self.audit.editing = Some(AuditFilterForm {
                    field: AuditField::Action,
                    draft: self.audit.filter.clone(),
                });
                vec![]
            }
            Action::Back => {
                if self.audit.filter != AuditFilter::default() {
                    self.audit.filter = AuditFilter::default();
                    return self.load_audit(None, None, false);
                }
                vec![]
            }
            _ => vec![],
        }
    }

    fn update_audit_filter(&mut self, action: Action) -> Vec<Effect> {
        let Some(form) = self.audit.editing.as_mut() else {
            return vec![];
        };
        let i = AuditField::ALL
            .iter()
            .position(|f| *f == form.field)
            .unwrap_or(0);
        let text = match form.field {
            AuditField::Action => &mut form.draft.action,
            AuditField::Actor => &mut form.draft.actor,
            AuditField::Since => &mut form.draft.since,
            AuditField::Until => &mut form.draft.until,
        };
        match action {
            Action::Input(c) => text.push(c),
            Action::Toggle => text.push(' '),
            Action::Backspace => {
                text.pop();
            }
            Action::NextField => form.field = AuditField::ALL[(i + 1) % AuditField::ALL.len()],
            Action::PrevField => {
                form.field =
                    AuditField::ALL[(i + AuditField::ALL.len() - 1) % AuditField::ALL.len()]
            }
            Action::Cancel => self.audit.editing = None,
            Action::Submit => {
                self.audit.filter = form.draft.clone();
                self.audit.editing = None;
                self.audit.selected = 0;
                self.audit.newer = false;
                return self.load_audit(None, None, false);
            }
            _ => {}
        }
        vec![]
    }

    fn open_create_form(&mut self) -> Vec<Effect> {
        // A self-service role may mint only personal tokens of its own.
        let personal = self.session.self_service && !self.session.writer;
        self.modal = Some(Modal::Create(CreateForm {
            field: FormField::Name,
            name: String::new(),
            personal,
            owner: String::new(),
            scopes_text: String::new(),
            picked: vec![false; self.scopes.len()],
            scope_cursor: 0,
            expiry: 2,
            custom: String::new(),
            meta: String::new(),
            error: None,
            busy: false,
        }));
        vec![]
    }

    fn open_confirm(&mut self, op: ConfirmOp) -> Vec<Effect> {
        let Some(token) = self.focused_token() else {
            return vec![];
        };
        let not_owner = token.owner != self.session.role;
        self.modal = Some(Modal::Confirm(Confirm {
            op,
            not_owner,
            may_act_for_owner: not_owner && self.session.may_act_for_owner(),
            act_for_owner: false,
            token,
            reason: String::new(),
            grace: 0,
            error: None,
            busy: false,
        }));
        vec![]
    }

    /// Disable an enabled token or enable a disabled one, after a
    /// confirmation; offered only when the server would allow it.
    fn open_disable(&mut self) -> Vec<Effect> {
        let Some(token) = self.focused_token() else {
            return vec![];
        };
        let enable = token.disabled_at.is_some();
        if !self.session.may_set_limits(&token) {
            self.error(format!(
                "{} {} needs tokens_writer, or tokens_self_service on your own personal token (you are {}; it is a {} token of {})",
                if enable { "enabling" } else { "disabling" },
                token.prefix,
                self.session.role,
                token.kind,
                token.owner
            ));
            return vec![];
        }
        self.modal = Some(Modal::Confirm(Confirm {
            op: if enable {
                ConfirmOp::Enable
            } else {
                ConfirmOp::Disable
            },
            not_owner: false,
            may_act_for_owner: false,
            act_for_owner: false,
            token,
            reason: String::new(),
            grace: 0,
            error: None,
            busy: false,
        }));
        vec![]
    }

    fn update_modal(&mut self, modal: Modal, action: Action) -> (Option<Modal>, Vec<Effect>) {
        match modal {
            Modal::Meta(mut f) => {
                if f.busy {
                    return (Some(Modal::Meta(f)), vec![]);
                }
                match action {
                    Action::Cancel => return (None, vec![]),
                    Action::Input(c) => f.text.push(c),
                    Action::Toggle => f.text.push(' '),
                    Action::Backspace => {
                        f.text.pop();
                    }
                    Action::ClearInput => f.text.clear(),
                    Action::Submit => match f.request() {
                        Ok(req) => {
                            f.busy = true;
                            f.error = None;
                            return (Some(Modal::Meta(f)), vec![Effect::Db(req)]);
                        }
                        Err(why) => f.error = Some(DbError::Client(why)),
                    },
                    _ => {}
                }
                (Some(Modal::Meta(f)), vec![])
            }
            Modal::RevokeLeaks(mut r) => {
                if r.busy {
                    return (Some(Modal::RevokeLeaks(r)), vec![]);
                }
                match action {
                    Action::Cancel => (None, vec![]),
                    Action::Submit => {
                        r.busy = true;
                        let req = Request::RevokeForOwners {
                            targets: r.targets.clone(),
                            reason: LEAK_REASON.to_owned(),
                        };
                        (Some(Modal::RevokeLeaks(r)), vec![Effect::Db(req)])
                    }
                    _ => (Some(Modal::RevokeLeaks(r)), vec![]),
                }
            }
            Modal::Card(mut card) => match action {
                Action::Copy => {
                    card.copied = true;
                    let secret = card.minted.token.clone();
                    (Some(Modal::Card(card)), vec![Effect::Copy(secret)])
                }
                Action::Submit => {
                    self.info(format!(
                        "token {} created; its plaintext is gone from this console",
                        card.minted.prefix
                    ));
                    (None, vec![])
                }
                _ => (Some(Modal::Card(card)), vec![]),
            },
            Modal::Confirm(mut c) => {
                if c.busy {
                    return (Some(Modal::Confirm(c)), vec![]);
                }
                match action {
                    Action::Cancel => (None, vec![]),
                    Action::Toggle => {
                        if c.may_act_for_owner {
                            c.act_for_owner = !c.act_for_owner;
                        }
                        (Some(Modal::Confirm(c)), vec![])
                    }
                    Action::Left if c.op == ConfirmOp::Rotate => {
                        c.grace = (c.grace + GRACES.len() - 1) % GRACES.len();
                        (Some(Modal::Confirm(c)), vec![])
                    }
                    Action::Right if c.op == ConfirmOp::Rotate => {
                        c.grace = (c.grace + 1) % GRACES.len();
                        (Some(Modal::Confirm(c)), vec![])
                    }
                    Action::Input(ch) if c.op == ConfirmOp::Revoke => {
                        if c.reason.chars().count() < 200 {
                            c.reason.push(ch);
                        }
                        (Some(Modal::Confirm(c)), vec![])
                    }
                    Action::Backspace => {
                        c.reason.pop();
                        (Some(Modal::Confirm(c)), vec![])
                    }
                    Action::Submit => {
                        c.busy = true;
                        c.error = None;
                        let actor = if c.act_for_owner {
                            Some(c.token.owner.clone())
                        } else {
                            None
                        };
                        let id = c.token.id;
                        let req = match c.op {
                            ConfirmOp::Revoke => Request::Revoke {
                                id,
                                actor,
                                reason: Some(c.reason.trim().to_owned()).filter(|r| !r.is_empty()),
                            },
                            ConfirmOp::Rotate => Request::Rotate {
                                id,
                                grace: GRACES[c.grace].1.to_owned(),
                                actor,
                            },
                            ConfirmOp::Disable | ConfirmOp::Enable => Request::SetDisabled {
                                id,
                                disabled: c.op == ConfirmOp::Disable,
                            },
                        };
                        (Some(Modal::Confirm(c)), vec![Effect::Db(req)])
                    }
                    _ => (Some(Modal::Confirm(c)), vec![]),
                }
            }
            Modal::RateLimit(mut f) => {
                if f.busy {
                    return (Some(Modal::RateLimit(f)), vec![]);
                }
                let text = match f.field {
                    RateField::Requests => &mut f.requests,
                    RateField::Per => &mut f.per,
                };
                match action {
                    Action::Cancel => return (None, vec![]),
                    Action::NextField | Action::PrevField => {
                        f.field = match f.field {
                            RateField::Requests => RateField::Per,
                            RateField::Per => RateField::Requests,
                        }
                    }
                    Action::Input(c) => text.push(c),
                    Action::Toggle => text.push(' '),
                    Action::Backspace => {
                        text.pop();
                    }
                    Action::Left | Action::Right if f.field == RateField::Per => {
                        f.per = cycle_preset(&PER_PRESETS, &f.per, action == Action::Right, 1);
                    }
                    Action::Submit => match f.request() {
                        Ok(req) => {
                            f.busy = true;
                            f.error = None;
                            return (Some(Modal::RateLimit(f)), vec![Effect::Db(req)]);
                        }
                        Err(why) => {
                            f.field = if f.requests.trim().parse::<i32>().is_err() {
                                RateField::Requests
                            } else {
                                RateField::Per
                            };
                            f.error = Some(DbError::Client(why));
                        }
                    },
                    _ => {}
                }
                (Some(Modal::RateLimit(f)), vec![])
            }
            Modal::Credits(mut f) => {
                if f.busy {
                    return (Some(Modal::Credits(f)), vec![]);
                }
                let fields = CreditField::ALL;
                let i = fields.iter().position(|x| *x == f.field).unwrap_or(0);
                match action {
                    Action::Cancel => return (None, vec![]),
                    Action::NextField => f.field = fields[(i + 1) % fields.len()],
                    Action::PrevField => f.field = fields[(i + fields.len() - 1) % fields.len()],
                    Action::Input(c) => f.text_mut().push(c),
                    Action::Toggle => f.text_mut().push(' '),
                    Action::Backspace => {
                        f.text_mut().pop();
                    }
                    Action::Left | Action::Right if f.field == CreditField::RefillEvery => {
                        f.refill_every = cycle_preset(
                            &REFILL_PRESETS,
                            &f.refill_every,
                            action == Action::Right,
                            0,
                        );
                    }
                    Action::Submit => match f.request() {
                        Ok(req) => {
                            f.busy = true;
                            f.error = None;
                            return (Some(Modal::Credits(f)), vec![Effect::Db(req)]);
                        }
                        Err((field, why)) => {
                            f.field = field;
                            f.error = Some(DbError::Client(why));
                        }
                    },
                    _ => {}
                }
                (Some(Modal::Credits(f)), vec![])
            }
            Modal::Allowlist(mut f) => {
                if f.busy {
                    return (Some(Modal::Allowlist(f)), vec![]);
                }
                match action {
                    Action::Cancel => return (None, vec![]),
                    Action::Input(c) => f.text.push(c),
                    Action::Toggle => f.text.push(' '),
                    Action::Backspace => {
                        f.text.pop();
                    }
                    Action::Submit => {
                        f.busy = true;
                        f.error = None;
                        let req = Request::SetAllowedIps {
                            id: f.token.id,
                            allowed: f.entries(),
                        };
                        return (Some(Modal::Allowlist(f)), vec![Effect::Db(req)]);
                    }
                    _ => {}
                }
                (Some(Modal::Allowlist(f)), vec![])
            }
            Modal::Create(mut f) => {
                if f.busy {
                    return (Some(Modal::Create(f)), vec![]);
                }
                let fields = f.fields();
                let i = fields.iter().position(|x| *x == f.field).unwrap_or(0);
                match action {
                    Action::Cancel => return (None, vec![]),
                    Action::NextField => f.field = fields[(i + 1) % fields.len()],
                    Action::PrevField => f.field = fields[(i + fields.len() - 1) % fields.len()],
                    Action::Left | Action::Right => {
                        let forward = action == Action::Right;
                        match f.field {
                            FormField::Kind => f.personal = !f.personal,
                            FormField::Expiry => {
                                let n = EXPIRY_PRESETS.len();
                                f.expiry = if forward {
                                    (f.expiry + 1) % n
                                } else {
                                    (f.expiry + n - 1) % n
                                };
                            }
                            FormField::Scopes if !f.picked.is_empty() => {
                                let n = f.picked.len();
                                f.scope_cursor = if forward {
                                    (f.scope_cursor + 1) % n
                                } else {
                                    (f.scope_cursor + n - 1) % n
                                };
                            }
                            _ => {}
                        }
                    }
                    Action::Toggle => match f.field {
                        FormField::Scopes if !f.picked.is_empty() => {
                            if let Some(p) = f.picked.get_mut(f.scope_cursor) {
                                *p = !*p;
                            }
                        }
                        FormField::Kind => f.personal = !f.personal,
                        _ => {
                            if let Some(t) = f.text_mut() {
                                t.push(' ');
                            }
                        }
                    },
                    Action::Input(c) => {
                        if let Some(t) = f.text_mut() {
                            t.push(c);
                        }
                    }
                    Action::Backspace => {
                        if let Some(t) = f.text_mut() {
                            t.pop();
                        }
                    }
                    Action::Submit => match f.request(&self.scopes) {
                        Ok(req) => {
                            f.busy = true;
                            f.error = None;
                            return (Some(Modal::Create(f)), vec![Effect::Db(Request::Mint(req))]);
                        }
                        Err(why) => {
                            f.field = FormField::Meta;
                            f.error = Some(DbError::Client(why));
                        }
                    },
                    _ => {}
                }
                (Some(Modal::Create(f)), vec![])
            }
        }
    }

    fn on_reply(&mut self, reply: Reply) -> Vec<Effect> {
        match reply {
            Reply::Tokens { gen, result } => {
                if gen != self.tokens.gen {
                    return vec![];
                }
                self.tokens.loading = false;
                match result {
                    Ok(page) => self.land_page(page),
                    Err(e) if e.is_connection_lost() => {}
                    Err(e) => {
                        self.tokens.error = Some(e);
                        self.tokens.loaded = true;
                    }
                }
            }
            Reply::Count { gen, result } => {
                if gen == self.tokens.gen {
                    if let Ok(n) = result {
                        self.tokens.total = Some(n);
                        if self.tokens.offset.is_none() && !self.tokens.has_next {
                            self.tokens.offset =
                                Some((n as u64).saturating_sub(self.tokens.rows.len() as u64));
                        }
                    }
                }
            }
            Reply::Detail { id, result } => {
                if let Some(d) = self.detail.as_mut().filter(|d| d.token.id == id) {
                    d.loading = false;
                    match result {
                        Ok((token, history)) => {
                            if let Some(t) = token {
                                d.token = t;
                            }
                            d.history = history;
                            d.error = None;
                        }
                        Err(e) if e.is_connection_lost() => {}
                        Err(e) => d.error = Some(e),
                    }
                }
            }
            Reply::Usage { id, window, result } => {
                if let Some(d) = self
                    .detail
                    .as_mut()
                    .filter(|d| d.token.id == id && d.window == window)
                {
                    d.usage_loading = false;
                    match result {
                        Ok(buckets) => d.usage = Usage::Loaded(buckets),
                        Err(e) if e.sqlstate() == Some("42501") => d.usage = Usage::NotVisible,
                        Err(e) if e.is_connection_lost() => {}
                        Err(e) => d.usage = Usage::Failed(e),
                    }
                }
            }
            Reply::Leaks { gen, result } => {
                let l = &mut self.leaks;
                if gen != l.gen {
                    return vec![];
                }
                l.loading = false;
                match result {
                    Ok(rows) => {
                        l.selected = l.selected.min(rows.len().saturating_sub(1));
                        l.rows = rows;
                        l.error = None;
                        l.loaded = true;
                    }
                    Err(e) if e.is_connection_lost() => {}
                    Err(e) => {
                        l.rows.clear();
                        l.error = Some(e);
                        l.loaded = true;
                    }
                }
            }
            Reply::RevokedForOwners { results } => return self.on_leaks_revoked(results),
            Reply::RateLimitSet { id, result } => return self.on_limit_set(id, result),
            Reply::AllowedIpsSet { id, result } => return self.on_limit_set(id, result),
            Reply::RemainingSet { id, result } => return self.on_limit_set(id, result),
            Reply::MetaSet { id, result } => return self.on_limit_set(id, result),
            Reply::DisabledSet {
                id,
                disabled,
                result,
            } => {
                let modal = self.modal.take();
                match result {
                    Ok(done) => {
                        let prefix = token_prefix(&modal).unwrap_or_default();
                        self.info(match (disabled, done) {
                            (true, true) => format!("disabled {prefix}: verify answers disabled until it is enabled (d)"),
                            (false, true) => format!("enabled {prefix}: it verifies again (unless revoked or expired)"),
                            (true, false) => format!("{prefix} was already disabled: nothing changed"),
                            (false, false) => format!("{prefix} was already enabled: nothing changed"),
                        });
                        let mut fx = self.refresh_tokens();
                        if self.detail.as_ref().is_some_and(|d| d.token.id == id) {
                            fx.extend(self.load_detail());
                        }
                        return fx;
                    }
                    Err(e) => self.refused(modal, e),
                }
            }
            Reply::Audit {
                gen,
                follow,
                result,
            } => return self.on_audit(gen, follow, result),
            Reply::Scopes(Ok(s)) => self.scopes = s,
            Reply::AuditChecked(Ok(verdict)) => self.audit_alarm = verdict.alarm(),
            Reply::AuditChecked(Err(e)) => {
                self.error(format!("audit checkpoints not checked: {e}"))
            }
            Reply::Scopes(Err(_)) => {} // no catalogue to pick from: scopes are typed
            Reply::Minted(result) => {
                let Some(Modal::Create(mut f)) = self.modal.take() else {
                    // The form was closed meanwhile: still show what was made.
                    if let Ok(m) = result {
                        self.modal = Some(Modal::Card(OnceCard {
                            minted: m,
                            replaces: None,
                            copied: false,
                        }));
                    }
                    return self.refresh_tokens();
                };
                f.busy = false;
                match result {
                    Ok(m) => {
                        self.modal = Some(Modal::Card(OnceCard {
                            minted: m,
                            replaces: None,
                            copied: false,
                        }));
                        return self.reload_tokens();
                    }
                    Err(e) => {
                        f.field = field_of_error(&e).unwrap_or(f.field);
                        f.error = Some(e);
                        self.modal = Some(Modal::Create(f));
                    }
                }
            }
            Reply::Revoked { id, result } => {
                let modal = self.modal.take();
                match result {
                    Ok(done) => {
                        let prefix = token_prefix(&modal).unwrap_or_default();
                        if done {
                            self.info(format!("revoked {prefix}: it no longer verifies"));
                        } else {
                            self.info(format!("{prefix} was already revoked: nothing changed"));
                        }
                        let mut fx = self.refresh_tokens();
                        if self.detail.as_ref().is_some_and(|d| d.token.id == id) {
                            fx.extend(self.load_detail());
                        }
                        return fx;
                    }
                    Err(e) => self.refused(modal, e),
                }
            }
            Reply::Rotated { id, result } => {
                let modal = self.modal.take();
                match result {
                    Ok(m) => {
                        let replaces = token_prefix(&modal);
                        self.modal = Some(Modal::Card(OnceCard {
                            minted: m,
                            replaces,
                            copied: false,
                        }));
                        let mut fx = self.refresh_tokens();
                        if self.detail.as_ref().is_some_and(|d| d.token.id == id) {
                            fx.extend(self.load_detail());
                        }
                        return fx;
                    }
                    Err(e) => self.refused(modal, e),
                }
            }
            Reply::ConnectionLost { error } => {
                self.conn = Conn::Lost {
                    error,
                    attempt: 0,
                    retry_in: Duration::ZERO,
                };
                self.tokens.loading = false;
                self.audit.loading = false;
                self.audit.polling = false;
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
                if self.audit.loaded {
                    fx.extend(self.load_audit(None, None, false));
                }
                fx.extend(self.load_detail());
                if self.leaks.checked {
                    fx.extend(self.check_leaks(false));
                }
                return fx;
            }
        }
        vec![]
    }

    /// A rate limit, allowlist, credit cap or meta was set (the detail and
    /// the list are read again), or refused (the form stays open with the
    /// server's message; the credits form puts the cursor on the field it
    /// is about).
    fn on_limit_set(&mut self, id: Uuid, result: Result<(), DbError>) -> Vec<Effect> {
        let modal = self.modal.take();
        match (modal, result) {
            (Some(Modal::RateLimit(mut f)), Err(e)) => {
                f.busy = false;
                f.error = Some(e);
                self.modal = Some(Modal::RateLimit(f));
                vec![]
            }
            (Some(Modal::Allowlist(mut f)), Err(e)) => {
                f.busy = false;
                f.error = Some(e);
                self.modal = Some(Modal::Allowlist(f));
                vec![]
            }
            (Some(Modal::Credits(mut f)), Err(e)) => {
                f.busy = false;
                f.field = credit_field_of_error(&e).unwrap_or(f.field);
                f.error = Some(e);
                self.modal = Some(Modal::Credits(f));
                vec![]
            }
            (Some(Modal::Meta(mut f)), Err(e)) => {
                f.busy = false;
                f.error = Some(e);
                self.modal = Some(Modal::Meta(f));
                vec![]
            }
            (other, Err(e)) => {
                self.modal = other;
                self.error(e.to_string());
                vec![]
            }
            (other, Ok(())) => {
                let done = match &other {
                    Some(Modal::RateLimit(f)) => Some(match f.requests.trim() {
                        "" => format!("rate limit of {} cleared", f.token.prefix),
                        n => format!(
                            "rate limit of {} set: {n} per {}",
                            f.token.prefix,
                            per_interval(&f.per)
                        ),
                    }),
                    Some(Modal::Allowlist(f)) => Some(match f.entries() {
                        None => format!(
                            "allowlist of {} cleared: it verifies from anywhere",
                            f.token.prefix
                        ),
                        Some(_) => format!("allowlist of {} set", f.token.prefix),
                    }),
                    Some(Modal::Credits(f)) => Some(match f.request() {
                        Ok(Request::SetRemaining {
                            remaining: Some(n),
                            refill_amount,
                            refill_every,
                            ..
                        }) => format!(
                            "credits of {} set: {n} left{}",
                            f.token.prefix,
                            match (refill_amount, refill_every) {
                                (Some(a), Some(e)) => format!(", refill {a} every {e}"),
                                _ => ", no refill".to_owned(),
                            }
                        ),
                        _ => format!(
                            "credit cap of {} removed: it no longer runs out of credits",
                            f.token.prefix
                        ),
                    }),
                    Some(Modal::Meta(f)) => Some(if f.text.trim().is_empty() {
                        format!("meta of {} cleared", f.token.prefix)
                    } else {
                        format!("meta of {} set: verify returns it", f.token.prefix)
                    }),
                    _ => {
                        self.modal = other;
                        None
                    }
                };
                if let Some(text) = done {
                    self.info(text);
                }
                let mut fx = self.refresh_tokens();
                if self.detail.as_ref().is_some_and(|d| d.token.id == id) {
                    fx.extend(self.load_detail());
                }
                fx
            }
        }
    }

    /// A refused revoke, rotate, disable or enable: shown plainly in its dialog.
    fn refused(&mut self, modal: Option<Modal>, e: DbError) {
        match modal {
            Some(Modal::Confirm(mut c)) => {
                c.busy = false;
                c.error = Some(e);
                self.modal = Some(Modal::Confirm(c));
            }
            other => {
                self.modal = other;
                self.error(e.to_string());
            }
        }
    }

    fn land_page(&mut self, page: TokenPage) {
        let t = &mut self.tokens;
        let previous = t.selected;
        let n = page.rows.len();
        t.error = None;
        t.loaded = true;
        t.has_prev = page.has_prev;
        t.has_next = page.has_next;
        t.first = page.first;
        t.last = page.last;
        t.rows = page.rows;
        match t.land {
            Land::Top { offset } => {
                t.selected = 0;
                t.offset = offset;
                if !t.has_prev {
                    t.offset = Some(0);
                }
            }
            Land::Bottom => {
                t.selected = n.saturating_sub(1);
                t.offset = match (t.has_next, t.total) {
                    (false, Some(total)) => Some((total as u64).saturating_sub(n as u64)),
                    _ => t.offset.and_then(|o| o.checked_sub(n as u64)),
                };
                if !t.has_prev {
                    t.offset = Some(0);
                }
            }
            Land::Keep => t.selected = previous.min(n.saturating_sub(1)),
        }
        if !t.has_prev {
            t.offset = Some(0);
        }
    }

    fn on_audit(
        &mut self,
        gen: u64,
        follow: bool,
        result: Result<Vec<AuditEvent>, DbError>,
    ) -> Vec<Effect> {
        let a = &mut self.audit;
        if follow {
            a.polling = false;
            if gen != a.gen || !a.follow {
                return vec![];
            }
            if let Ok(new) = result {
                if !new.is_empty() {
                    let added = new.len();
                    let mut rows = new;
                    rows.append(&mut a.rows);
                    if rows.len() > PAGE as usize {
                        rows.truncate(PAGE as usize);
                        a.older = true;
                    }
                    a.rows = rows;
                    if a.selected > 0 {
                        a.selected = (a.selected + added).min(a.rows.len() - 1);
                    }
                }
            }
            return vec![];
        }
        if gen != a.gen {
            return vec![];
        }
        a.loading = false;
        match result {
            Ok(rows) => {
                let n = rows.len();
                a.error = None;
                a.loaded = true;
                if a.land_bottom {
                    // A newer page: its rows, with the newest first.
                    a.newer = n as i64 >= PAGE;
                    a.older = true;
                    a.selected = n.saturating_sub(1);
                } else {
                    a.older = n as i64 >= PAGE;
                    a.selected = a.selected.min(n.saturating_sub(1));
                    if a.newer && a.rows.first().map(|e| e.id) == rows.first().map(|e| e.id) {
                        a.newer = false;
                    }
                }
                if n == 0 && a.land_bottom {
                    a.newer = false;
                    return vec![];
                }
                a.rows = rows;
            }
            Err(e) if e.is_connection_lost() => {}
            Err(e) => {
                a.error = Some(e);
                a.loaded = true;
            }
        }
        vec![]
    }
}

fn token_prefix(modal: &Option<Modal>) -> Option<String> {
    match modal {
        Some(Modal::Confirm(c)) => Some(c.token.prefix.clone()),
        _ => None,
    }
}

/// The form field a server error is about, to put the cursor there.
fn field_of_error(e: &DbError) -> Option<FormField> {
    let DbError::Server {
        sqlstate, message, ..
    } = e
    else {
        return None;
    };
    let m = message.to_lowercase();
    if sqlstate.starts_with("22007") || sqlstate.starts_with("22008") || m.contains("expir") {
        Some(FormField::Expiry)
    } else if m.contains("meta") {
        Some(FormField::Meta)
    } else if m.contains("scope") {
        Some(FormField::Scopes)
    } else if m.contains("owner") {
        Some(FormField::Owner)
    } else if m.contains("kind") {
        Some(FormField::Kind)
    } else if m.contains("name") {
        Some(FormField::Name)
    } else {
        None
    }
}

/// Parses a token id typed by a user, for messages.
pub fn parse_id(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s.trim()).ok()
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
