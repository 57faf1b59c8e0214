//! What the SQL API returns, as the console holds it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use zeroize::Zeroizing;

/// A plaintext token. Its `Debug` never shows it, so neither a log line nor
/// a panic message can carry it; it is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(Zeroizing::new(s))
    }
    /// The plaintext, for the once-only card, the clipboard and the stdout
    /// of `mint`/`rotate`: nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
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
}

impl Session {
    /// Members of tokens_revoker/tokens_writer may pass an actor other than
    /// themselves (SPEC §3): only they are offered "act for owner".
    pub fn may_act_for_owner(&self) -> bool {
        self.revoker || self.writer
    }
}
