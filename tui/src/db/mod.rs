//! Database work: every statement runs on the worker thread (worker.rs),
//! through the SQL API (queries.rs), and comes back to the UI as a `Reply`.

pub mod error;
pub mod model;
pub mod queries;
pub mod worker;

use std::time::Duration;

use uuid::Uuid;

use error::DbError;
use model::{
    AuditEvent, Leak, Minted, RevokeTarget, ScopeEntry, Secret, Session, Token, TokenEvent,
    UsageBucket, UsageWindow,
};
use queries::{AuditQuery, EventQuery, MintRequest, PageQuery, TokenFilter, TokenPage};

/// What the UI asks of the database. `gen` ties a reply to the request that
/// is current, so a stale page (an older search) is ignored.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Tokens {
        gen: u64,
        query: PageQuery,
    },
    Count {
        gen: u64,
        filter: TokenFilter,
    },
    Detail {
        id: Uuid,
    },
    Usage {
        id: Uuid,
        window: UsageWindow,
    },
    Audit {
        gen: u64,
        query: AuditQuery,
        follow: bool,
    },
    Events {
        gen: u64,
        query: EventQuery,
        follow: bool,
    },
    /// `tokens.ack_events(upto)`.
    AckEvents {
        upto: i64,
    },
    Scopes,
    /// The audit log against the checkpoints this console keeps.
    CheckAudit,
    Mint(MintRequest),
    Revoke {
        id: Uuid,
        actor: Option<String>,
        reason: Option<String>,
    },
    Rotate {
        id: Uuid,
        grace: String,
        actor: Option<String>,
    },
    /// `requests` None clears the limit.
    SetRateLimit {
        id: Uuid,
        requests: Option<i32>,
        per: Option<String>,
    },
    /// `allowed` None clears the allowlist.
    SetAllowedIps {
        id: Uuid,
        allowed: Option<Vec<String>>,
    },
    /// `tokens.set_remaining`: `remaining` None removes the cap; the refill
    /// is both values or neither.
    SetRemaining {
        id: Uuid,
        remaining: Option<i64>,
        refill_amount: Option<i64>,
        refill_every: Option<String>,
    },
    /// `tokens.disable(id)` (true) or `tokens.enable(id)` (false).
    SetDisabled {
        id: Uuid,
        disabled: bool,
    },
    /// `tokens.set_meta(id, meta)`: the JSON text as typed; None clears.
    SetMeta {
        id: Uuid,
        meta: Option<String>,
    },
    /// `tokens.find_leaked(text)`: the pasted text, wiped when the request
    /// is dropped.
    FindLeaked {
        gen: u64,
        text: Secret,
    },
    /// The marked rows' bulk revoke: `tokens.revoke(id, actor => actor)`
    /// for each, one statement each.
    RevokeMany {
        targets: Vec<(Uuid, Option<String>)>,
    },
    /// `tokens.revoke(id, actor => owner, reason => reason)` for each target.
    RevokeForOwners {
        targets: Vec<RevokeTarget>,
        reason: String,
    },
}

/// What the worker answers, and what it says about the connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Tokens {
        gen: u64,
        result: Result<TokenPage, DbError>,
    },
    Count {
        gen: u64,
        result: Result<i64, DbError>,
    },
    Detail {
        id: Uuid,
        result: Result<(Option<Token>, Vec<AuditEvent>), DbError>,
    },
    Usage {
        id: Uuid,
        window: UsageWindow,
        result: Result<Vec<UsageBucket>, DbError>,
    },
    Audit {
        gen: u64,
        follow: bool,
        result: Result<Vec<AuditEvent>, DbError>,
    },
    Events {
        gen: u64,
        follow: bool,
        result: Result<Vec<TokenEvent>, DbError>,
    },
    /// The number of events acknowledged.
    EventsAcked {
        upto: i64,
        result: Result<i64, DbError>,
    },
    Scopes(Result<Vec<ScopeEntry>, DbError>),
    AuditChecked(Result<crate::checkpoints::Verdict, DbError>),
    Minted(Result<Minted, DbError>),
    Revoked {
        id: Uuid,
        result: Result<bool, DbError>,
    },
    Rotated {
        id: Uuid,
        result: Result<Minted, DbError>,
    },
    RateLimitSet {
        id: Uuid,
        result: Result<(), DbError>,
    },
    AllowedIpsSet {
        id: Uuid,
        result: Result<(), DbError>,
    },
    RemainingSet {
        id: Uuid,
        result: Result<(), DbError>,
    },
    /// False: it was already in that state.
    DisabledSet {
        id: Uuid,
        disabled: bool,
        result: Result<bool, DbError>,
    },
    MetaSet {
        id: Uuid,
        result: Result<(), DbError>,
    },
    Leaks {
        gen: u64,
        result: Result<Vec<Leak>, DbError>,
    },
    /// One result per bulk-revoke target, in order: true revoked, false
    /// already revoked.
    RevokedMany {
        results: Vec<(Uuid, Result<bool, DbError>)>,
    },
    /// One result per target, in order.
    RevokedForOwners {
        results: Vec<(RevokeTarget, Result<bool, DbError>)>,
    },
    ConnectionLost {
        error: String,
    },
    Reconnecting {
        attempt: u32,
        retry_in: Duration,
        error: String,
    },
    Reconnected {
        session: Session,
    },
}

impl Reply {
    /// The error this reply carries, if any.
    pub fn error(&self) -> Option<&DbError> {
        match self {
            Reply::Tokens { result: Err(e), .. }
            | Reply::Count { result: Err(e), .. }
            | Reply::Detail { result: Err(e), .. }
            | Reply::Usage { result: Err(e), .. }
            | Reply::Audit { result: Err(e), .. }
            | Reply::Scopes(Err(e))
            | Reply::AuditChecked(Err(e))
            | Reply::Minted(Err(e))
            | Reply::Revoked { result: Err(e), .. }
            | Reply::Rotated { result: Err(e), .. }
            | Reply::RateLimitSet { result: Err(e), .. }
            | Reply::AllowedIpsSet { result: Err(e), .. }
            | Reply::RemainingSet { result: Err(e), .. }
            | Reply::DisabledSet { result: Err(e), .. }
            | Reply::MetaSet { result: Err(e), .. }
            | Reply::Leaks { result: Err(e), .. } => Some(e),
            // A lost connection first: the worker must see it.
            Reply::RevokedMany { results } => {
                let errors = || results.iter().filter_map(|(_, r)| r.as_ref().err());
                errors()
                    .find(|e| e.is_connection_lost())
                    .or_else(|| errors().next())
            }
            Reply::RevokedForOwners { results } => {
                let errors = || results.iter().filter_map(|(_, r)| r.as_ref().err());
                errors()
                    .find(|e| e.is_connection_lost())
                    .or_else(|| errors().next())
            }
            _ => None,
        }
    }
}
