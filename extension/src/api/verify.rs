//! `tokens.verify`: never raises, rejects a malformed token before any table
//! access, and costs one index probe (no row lock) for a well-formed one
//! (or for a key shaped like one imported from another system).

use std::net::IpAddr;

use pg_tokens_core::allowlist;
use pg_tokens_core::status::{grants, status_of, Status};
use pgrx::datum::Array;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::Uuid;

use super::{clock, now};
use crate::error::{OrRaise, Result};
use crate::row::{self, value, Composite};
use crate::store::{self, timestamp, Meta, StoredToken};
use crate::usage::{self, Admission};

/// What verification concluded. Only `Valid` carries the token's fields.
pub enum Verdict {
    Malformed,
    Unknown,
    Refused(Uuid, Status),
    Valid(StoredToken),
}

impl Verdict {
    fn status(&self) -> &'static str {
        match self {
            Verdict::Malformed => "malformed",
            Verdict::Unknown => "unknown",
            Verdict::Refused(_, s) => s.as_str(),
            Verdict::Valid(_) => "valid",
        }
    }
}

#[pg_extern(sql = false)]
fn verify(token: Option<&str>) -> pgrx::composite_type!('static, "tokens.verification") {
    let verdict = check(token.map(str::as_bytes), None, 1).or_raise();
    verification_row(&verdict).or_raise()
}

/// `tokens.verify(token, required_scopes)`: as verify, and `forbidden`
/// unless the token grants every required scope. Never raises either: an
/// array of more dimensions counts its elements as the list.
#[pg_extern(sql = false)]
fn verify_scoped(
    token: Option<&str>,
    required_scopes: Option<Array<'_, &str>>,
) -> pgrx::composite_type!('static, "tokens.verification") {
    let required: Option<Vec<Option<String>>> =
        required_scopes.map(|a| a.iter().map(|s| s.map(str::to_owned)).collect());
    let verdict = check(token.map(str::as_bytes), required.as_deref(), 1).or_raise();
    verification_row(&verdict).or_raise()
}

/// The most credits one verification may spend.
pub const MAX_COST: i32 = 1_000;

/// `tokens.verify(token, required_scopes, cost)`: as the scoped verify,
/// spending `cost` credits of a capped token (and of its owner's pool):
/// 0 checks without spending, and a token (or owner) with fewer credits
/// left than `cost` is `usage_exceeded` and spends nothing. Raises 22023
/// for a cost below 0 or above 1,000 (or NULL), before anything else: the
/// one way this verify raises.
#[pg_extern(sql = false)]
fn verify_cost(
    token: Option<&str>,
    required_scopes: Option<Array<'_, &str>>,
    cost: Option<i32>,
) -> pgrx::composite_type!('static, "tokens.verification") {
    let cost = valid_cost(cost).or_raise();
    let required: Option<Vec<Option<String>>> =
        required_scopes.map(|a| a.iter().map(|s| s.map(str::to_owned)).collect());
    let verdict = check(token.map(str::as_bytes), required.as_deref(), cost).or_raise();
    verification_row(&verdict).or_raise()
}

fn valid_cost(cost: Option<i32>) -> Result<i64> {
    match cost {
        Some(cost) if (0..=MAX_COST).contains(&cost) => Ok(i64::from(cost)),
        Some(cost) => Err(pg_tokens_core::Error::invalid(
            "cost",
            format!("cost must be between 0 and {MAX_COST} credits (got {cost}); 0 checks without spending"),
        )),
        None => Err(pg_tokens_core::Error::invalid(
            "cost",
            format!("cost must be between 0 and {MAX_COST} credits, not NULL"),
        )),
    }
}

/// Decides a presented token's verdict and records a valid one's use.
/// `required` scopes (None or empty: none) are checked after the token's
/// state and client address, before its rate limit (SPEC §2's order).
/// A capped token (and its owner's pool) spends `cost` credits.
pub fn check(
    presented: Option<&[u8]>,
    required: Option<&[Option<String>]>,
    cost: i64,
) -> Result<Verdict> {
    let Some(presented) = presented else {
        return Ok(Verdict::Malformed);
    };
    let token = match pg_tokens_core::parse(presented) {
        Some(well_formed) => store::find_by_hash(&well_formed.hash())?,
        // Not in the tbm_ format: a key imported from another system
        // (tokens.import), or malformed. A key shaped like an imported one
        // that is not stored is malformed, as it was before imports.
        None => {
            let Some(hash) = pg_tokens_core::imported_hash(presented) else {
                return Ok(Verdict::Malformed);
            };
            let Some(found) = store::find_by_hash(&hash)? else {
                return Ok(Verdict::Malformed);
            };
            Some(found)
        }
    };
    let now = now();
    let Some(token) = token else {
        return Ok(Verdict::Unknown);
    };
    // Revoked, expired and disabled are decided by the wall clock at the
    // call, so a long transaction sees an expiry (or a rotation's grace
    // ending) at its next call.
    let refusal = match status_of(token.revoked_at, token.expires_at, token.disabled, clock()) {
        Status::Active if !client_permitted(&token) => Some(Status::IpDenied),
        Status::Active if !grants(token.scopes.as_deref(), required) => Some(Status::Forbidden),
        Status::Active => None,
        refused => Some(refused),
    };
    if let Some(refused) = refusal {
        usage::denied(token.id, &token.owner);
        if refused == Status::Revoked {
            crate::reuse::presented(&token, clock())?;
        }
        return Ok(Verdict::Refused(token.id, refused));
    }
    // Last: a refused verification spends no rate slot and no credit, of
    // the token or of its owner's shared limits (both must admit).
    let shared = store::owner_limits(&token.owner)?;
    match usage::admitted(
        token.id,
        &token.owner,
        token.rate_limit,
        token.credit_pool,
        cost,
        shared,
        now,
    )? {
        Admission::Admitted => Ok(Verdict::Valid(token)),
        Admission::RateLimited => {
            crate::events::rate_limited(token.id, &token.owner, token.rate_limit, clock())?;
            Ok(Verdict::Refused(token.id, Status::RateLimited))
        }
        Admission::UsageExceeded => Ok(Verdict::Refused(token.id, Status::UsageExceeded)),
    }
}

fn client_permitted(token: &StoredToken) -> bool {
    match &token.allowed_ips {
        None => true,
        Some(list) => allowlist::permits(list, client_address()),
    }
}

thread_local! {
    /// The client's address never changes during a backend's life.
    static CLIENT: std::cell::OnceCell<Option<IpAddr>> = const { std::cell::OnceCell::new() };
}

/// The client's IP address (`inet_client_addr()`); None over a Unix socket.
fn client_address() -> Option<IpAddr> {
    CLIENT.with(|c| {
        *c.get_or_init(|| {
            // SAFETY: inet_client_addr takes no argument and may return NULL.
            let inet: Option<pgrx::Inet> =
                unsafe { pgrx::direct_function_call(pg_sys::inet_client_addr, &[]) };
            inet.and_then(|i| i.0.split('/').next().and_then(|a| a.parse().ok()))
        })
    })
}

/// The `tokens.verification` row. A refusal names the token id (when known)
/// and nothing else about it.
pub fn verification_row(verdict: &Verdict) -> Result<Composite> {
    let head = [
        value(matches!(verdict, Verdict::Valid(_))),
        value(verdict.status()),
    ];
    // meta (the last attribute) arrived with 0.3.0: row::build leaves it
    // out for a database whose type does not have it yet.
    let rest = match verdict {
        Verdict::Malformed | Verdict::Unknown => vec![None; 7],
        Verdict::Refused(id, _) => vec![value(*id), None, None, None, None, None, None],
        Verdict::Valid(t) => vec![
            value(t.id),
            value(t.kind.as_str()),
            value(t.owner.as_str()),
            value(t.name.as_str()),
            value(t.scopes.clone()),
            value(t.expires_at.map(timestamp).transpose()?),
            t.meta.as_ref().map(Meta::datum).transpose()?,
        ],
    };
    row::build(c"verification", head.into_iter().chain(rest).collect())
}
