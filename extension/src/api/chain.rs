//! SQL helpers shared by views and the audit log: the status rule and the
//! audit chain hash, both pure.

use pg_tokens_core::audit::{chain_hash, AuditRow};
use pg_tokens_core::status::status;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// The status `tokens.tokens` shows, for a token that may be disabled
/// (0.3.0; the three-argument form stays for databases not yet upgraded).
#[pg_extern(sql = false, immutable, parallel_safe)]
fn token_status_disabled(
    revoked_at: Option<TimestampWithTimeZone>,
    expires_at: Option<TimestampWithTimeZone>,
    disabled: Option<bool>,
    at: Option<TimestampWithTimeZone>,
) -> Option<&'static str> {
    let at = pg_sys::TimestampTz::from(at?);
    Some(
        pg_tokens_core::status::status_of(
            revoked_at.map(pg_sys::TimestampTz::from),
            expires_at.map(pg_sys::TimestampTz::from),
            disabled.unwrap_or(false),
            at,
        )
        .as_str(),
    )
}

#[pg_extern(sql = false, immutable, parallel_safe)]
fn token_status(
    revoked_at: Option<TimestampWithTimeZone>,
    expires_at: Option<TimestampWithTimeZone>,
    at: Option<TimestampWithTimeZone>,
) -> Option<&'static str> {
    let at = pg_sys::TimestampTz::from(at?);
    Some(
        status(
            revoked_at.map(pg_sys::TimestampTz::from),
            expires_at.map(pg_sys::TimestampTz::from),
            at,
        )
        .as_str(),
    )
}

#[pg_extern(sql = false, immutable, parallel_safe)]
#[allow(clippy::too_many_arguments)]
fn audit_row_hash(
    previous: Option<&[u8]>,
    id: Option<i64>,
    at: Option<TimestampWithTimeZone>,
    actor: Option<&str>,
    db_role: Option<&str>,
    action: Option<&str>,
    target: Option<&str>,
    meta: Option<&str>,
) -> Option<Vec<u8>> {
    let row = AuditRow {
        id: id?,
        at: pg_sys::TimestampTz::from(at?),
        actor: actor?,
        db_role: db_role?,
        action: action?,
        target,
        meta,
    };
    Some(chain_hash(previous, &row).to_vec())
}
