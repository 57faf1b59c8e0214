//! The SQL surface, one file per call. Each `#[pg_extern]` is a thin
//! boundary: it converts arguments, calls plain Rust returning `Result`, and
//! raises the error (with its SQLSTATE) there and only there.

mod allowlist;
mod audit_event;
mod auth;
mod chain;
mod credits;
mod disable;
mod import;
mod leak;
mod meta;
mod mint;
mod owner_limits;
mod rate_limit;
mod revoke;
mod rotate;
mod scope;
mod settings;
mod usage;
mod verify;

use pg_tokens_core::validate::Timestamp;
use pg_tokens_core::{Error, Plaintext};
use pgrx::datum::{Array, TimestampWithTimeZone};
use pgrx::pg_sys;

use crate::error::Result;
use crate::row::{self, value, Composite};
use crate::store::{timestamp, StoredToken};

/// `now()`: the start of the current transaction, in PostgreSQL microseconds.
/// Verification judges a token as of its transaction's start.
pub fn now() -> i64 {
    // SAFETY: reads backend state.
    unsafe { pg_sys::GetCurrentTransactionStartTimestamp() }
}

/// The wall clock, for administrative decisions and the times they store:
/// a revoke committed after this transaction began must still be seen as
/// revoked (not revoked again at an earlier time), and an expiry must lie
/// in the future of the moment of the call, not of the transaction's start.
pub fn clock() -> i64 {
    // SAFETY: reads the system clock.
    unsafe { pg_sys::GetCurrentTimestamp() }
}

pub fn timestamp_arg(value: Option<TimestampWithTimeZone>) -> Option<Timestamp> {
    value.map(|t| {
        if t.is_infinity() {
            Timestamp::Infinity
        } else if t.is_neg_infinity() {
            Timestamp::NegInfinity
        } else {
            Timestamp::At(pg_sys::TimestampTz::from(t))
        }
    })
}

/// A text[] argument as a list, refusing arrays of more than one dimension
/// (PostgreSQL would otherwise hand them over flattened).
pub fn text_list(
    what: &'static str,
    value: Option<Array<'_, &str>>,
) -> Result<Option<Vec<Option<String>>>> {
    let Some(array) = value else { return Ok(None) };
    let items = array.iter().map(|s| s.map(str::to_owned)).collect();
    // SAFETY: a non-NULL array argument is a valid ArrayType.
    let ndim = unsafe { (*array.into_array_type()).ndim };
    if ndim > 1 {
        return Err(Error::invalid(
            what,
            format!("{what} must be a one-dimensional array (got {ndim} dimensions)"),
        ));
    }
    Ok(Some(items))
}

/// The `tokens.minted` row: the only place a plaintext leaves the extension.
pub fn minted_row(plaintext: &Plaintext, token: &StoredToken) -> Result<Composite> {
    row::build(
        c"minted",
        vec![
            value(plaintext.expose()),
            value(token.id),
            value(token.prefix.as_str()),
            value(token.name.as_str()),
            value(token.kind.as_str()),
            value(token.owner.as_str()),
            value(token.scopes.clone()),
            value(token.expires_at.map(timestamp).transpose()?),
            value(timestamp(token.created_at)?),
        ],
    )
}
