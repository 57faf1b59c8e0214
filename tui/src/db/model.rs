//! What the SQL API returns, as the console holds it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use zeroize::Zeroizing;

/// A plaintext token, or text that may hold some (a paste for leak
/// triage). Its `Debug` never shows it, so neither a log line nor a panic
/// message can carry it; it is wiped from memory when dropped or cleared,
/// and growing it wipes the buffer it outgrew.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(Zeroizing::new(s))
    }
    /// The plaintext, for the once-only card, the clipboard, the stdout of
    /// `mint`/`rotate` and the bind parameter of `tokens.find_leaked`:
    /// nowhere else.
    /// One editing key with the cursor at the end: the text is never
    /// drawn, so it has no cursor of its own.
    pub fn edit(&mut self, edit: crate::input::Edit) -> bool {
        let mut end = self.0.len();
        crate::input::apply(&mut self.0, &mut end, edit)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Characters and lines, to say how much text is held without showing
    /// it. A line ends at LF, CRLF or a lone CR (what terminals paste).
    pub fn size(&self) -> (usize, usize) {
        let (mut chars, mut breaks) = (0, 0);
        let mut it = self.0.chars().peekable();
        while let Some(c) = it.next() {
            chars += 1;
            if c == '\n' || (c == '\r' && it.peek() != Some(&'\n')) {
                breaks += 1;
            }
        }
        let open_line = !self.0.is_empty() && !self.0.ends_with(['\n', '\r']);
        (chars, breaks + usize::from(open_line))
    }

    /// Appends `s`. A `String` that grows copies itself and frees the old
    /// buffer unwiped, so this grows into a new zeroizing buffer instead.
    pub fn push_str(&mut self, s: &str) {
        let need = self.0.len() + s.len();
        if need > self.0.capacity() {
            let mut bigger = Zeroizing::new(String::with_capacity(
                need.max(self.0.capacity() * 2).max(256),
            ));
            bigger.push_str(&self.0);
            bigger.push_str(s);
            // The old buffer is wiped as it drops.
            self.0 = bigger;
        } else {
            self.0.push_str(s);
        }
    }

    pub fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }

    /// Removes the last character (its bytes are wiped with the buffer).
    pub fn pop(&mut self) -> Option<char> {
        self.0.pop()
    }

    /// Wipes the text and its whole buffer now.
    pub fn clear(&mut self) {
        use zeroize::Zeroize;
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Serialized only by the `mint`/`rotate` subcommands, to stdout.
impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

/// One row of the `tokens.tokens` view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Token {
    pub id: Uuid,
    pub prefix: String,
    pub name: String,
    pub kind: String,
    pub owner: String,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub status: String,
    /// Since when `tokens.disable` holds it (None: not disabled). A revoked
    /// or expired token may be disabled too; its status says the first.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Successful verifications in the last 24 hours.
    pub uses_24h: i64,
    /// None: no limit.
    pub rate_limit: Option<RateLimit>,
    /// CIDRs a verification may come from; None: anywhere.
    pub allowed_ips: Option<Vec<String>>,
    /// The usage cap (`tokens.set_remaining`); None: no cap.
    pub credits: Option<Credits>,
    /// The list's markers, computed by the list query (`queries::BADGES`);
    /// all off where a token is read on its own (the detail pane).
    #[serde(skip)]
    pub badges: Badges,
}

/// What deserves a look on a token's row in the list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Badges {
    /// Live, and expires within 24 hours.
    pub expiring: bool,
    /// Live, capped, and under 10% of its period's credits.
    pub credits_low: bool,
    /// Three or more `token.rate_limited` events in the last 24 hours.
    pub rate_limited: bool,
}

impl Badges {
    pub fn any(self) -> bool {
        self.expiring || self.credits_low || self.rate_limited
    }
}

/// At most `requests` successful verifications per `per_seconds`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RateLimit {
    pub requests: i32,
    pub per_seconds: f64,
}

/// A usage cap: each successful verification spends one credit; at zero
/// verify answers `usage_exceeded` until the next refill, if any.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Credits {
    /// Credits left in the current period, on this server.
    pub remaining: i64,
    /// None: no refill, the credits are all there will be.
    pub refill: Option<Refill>,
}

/// Every `every_seconds` the credits are set back to `amount`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Refill {
    pub amount: i64,
    pub every_seconds: f64,
}

/// The span of the usage chart: a day by hour, or an hour by minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UsageWindow {
    Day,
    Hour,
}

impl UsageWindow {
    /// How many buckets the chart has.
    pub fn buckets(self) -> i64 {
        match self {
            UsageWindow::Day => 24,
            UsageWindow::Hour => 60,
        }
    }

    /// The bucket width, as an interval the server parses.
    pub fn bucket(self) -> &'static str {
        match self {
            UsageWindow::Day => "1 hour",
            UsageWindow::Hour => "1 minute",
        }
    }

    /// The unit the bucket starts are truncated to (`date_trunc`).
    pub fn unit(self) -> &'static str {
        match self {
            UsageWindow::Day => "hour",
            UsageWindow::Hour => "minute",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            UsageWindow::Day => "last 24 h, per hour",
            UsageWindow::Hour => "last 60 min, per minute",
        }
    }

    pub fn other(self) -> UsageWindow {
        match self {
            UsageWindow::Day => UsageWindow::Hour,
            UsageWindow::Hour => UsageWindow::Day,
        }
    }
}

/// One row of `tokens.usage`: successful and refused verifications.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UsageBucket {
    pub bucket_start: DateTime<Utc>,
    pub count: i64,
    pub denied: i64,
}

/// One row of the `tokens.events` view, with the token's prefix when the
/// token is still there to name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub token_id: Option<Uuid>,
    pub prefix: Option<String>,
    pub owner: Option<String>,
    pub detail: Option<serde_json::Value>,
}

/// One row of the `tokens.audit_log` view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub db_role: String,
    pub action: String,
    pub target: Option<String>,
    pub meta: Option<serde_json::Value>,
}

/// A `tokens.minted` row: what mint and rotate return, plaintext included.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Minted {
    pub token: Secret,
    pub id: Uuid,
    pub prefix: String,
    pub name: String,
    pub kind: String,
    pub owner: String,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// One row of `tokens.find_leaked`: a token found in a pasted text, by
/// its prefix and status; id, owner and name are None when it is not one of
/// ours (status `unknown`). The plaintext is never part of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Leak {
    pub prefix: String,
    pub token_id: Option<Uuid>,
    pub status: String,
    pub owner: Option<String>,
    pub name: Option<String>,
}

impl Leak {
    /// A live token found in the text, to revoke for its owner; None for
    /// one that is revoked, expired or not one of ours. A disabled token is
    /// live: it is still a credential that anyone may enable again.
    pub fn revoke_target(&self) -> Option<RevokeTarget> {
        match (self.status.as_str(), self.token_id, &self.owner) {
            ("active" | "disabled", Some(id), Some(owner)) => Some(RevokeTarget {
                id,
                prefix: self.prefix.clone(),
                owner: owner.clone(),
                status: self.status.clone(),
            }),
            _ => None,
        }
    }
}

/// A token the leak screen revokes with `actor => owner`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RevokeTarget {
    pub id: Uuid,
    pub prefix: String,
    pub owner: String,
    /// `active` or `disabled` when it was found.
    pub status: String,
}

/// An entry of the scope catalogue (`tokens.scopes`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScopeEntry {
    pub scope: String,
    pub description: Option<String>,
}

/// Who the console is connected as, and what its grants let it do.
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct Session {
    pub role: String,
    pub database: String,
    pub extension_version: String,
    pub reader: bool,
    pub writer: bool,
    pub revoker: bool,
    pub self_service: bool,
    /// The TLS version ("TLSv1.3") of an encrypted connection; None: plain.
    pub tls: Option<String>,
}

impl Session {
    /// Members of tokens_revoker/tokens_writer may pass an actor other than
    /// themselves (SPEC §3): only they are offered "act for owner".
    pub fn may_act_for_owner(&self) -> bool {
        self.revoker || self.writer
    }

    /// Rate limit, allowlist and disable/enable are changed by tokens_writer,
    /// or by the owner of a personal token through tokens_self_service
    /// (SPEC §3, §7).
    pub fn may_set_limits(&self, t: &Token) -> bool {
        self.writer || (self.self_service && t.kind == "personal" && t.owner == self.role)
    }

    /// Meta and credits are what applications trust (a plan, a quota):
    /// tokens_writer's only, never a token's owner (0.5.0).
    pub fn may_set_trusted(&self) -> bool {
        self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn a_secret_grows_clears_and_never_debug_prints() {
        let mut s = Secret::default();
        assert_eq!(s.size(), (0, 0));
        let part = "tbm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
        for _ in 0..100 {
            s.push_str(part);
        }
        s.push('é');
        assert_eq!(s.expose().len(), part.len() * 100 + 2);
        assert_eq!(s.size(), (part.len() * 100 + 1, 101));
        assert_eq!(s.pop(), Some('é'));
        assert!(!format!("{s:?}").contains("tbm_"));
        for (text, lines) in [
            ("a", 1),
            ("a\n", 1),
            ("a\rb\r", 2),
            ("a\r\nb", 2),
            ("\n\n", 2),
        ] {
            assert_eq!(Secret::new(text.into()).size().1, lines, "{text:?}");
        }
        s.clear();
        assert!(s.is_empty());
    }
}
