//! The events outbox, `tokens.events`: what happened to tokens, for
//! consumers that act on it.
//!
//! An event is written in the transaction that causes it (a revoke, a
//! leak found), or by the background worker for what time causes (an
//! expiry); `NOTIFY pg_tokens_events` with its id goes out when that
//! transaction commits, so a listener never hears of an event it cannot
//! read yet, nor of one rolled back. An event holds ids, names and reasons,
//! never the plaintext nor any part of it.
//!
//! A database not yet upgraded to 0.5.0 has no outbox: nothing is written
//! there, and nothing fails.

use pg_tokens_core::Error;
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::BuiltinOid::{INT8OID, TEXTOID, TIMESTAMPTZOID, UUIDOID};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::Uuid;

use crate::error::{internal, OrRaise, Result};
use crate::gucs;
use crate::privilege::AsOwner;
use crate::store::{timestamp, Statement};

/// One event, as [`emit`] writes it.
pub struct Event<'a> {
    /// `token.expiring`, `token.expired`, `token.revoked`, ...
    pub kind: &'static str,
    pub token_id: Option<Uuid>,
    pub owner: Option<&'a str>,
    /// A JSON object, or nothing.
    pub detail: Option<serde_json::Value>,
    /// PostgreSQL microseconds.
    pub at: i64,
}

const INSERT: Statement = Statement {
    sql: "WITH e AS (INSERT INTO tokens.event_store (at, kind, token_id, owner, detail) \
                     VALUES ($1, $2, $3, $4, $5::pg_catalog.jsonb) RETURNING id) \
          SELECT id, pg_catalog.pg_notify('pg_tokens_events', id::pg_catalog.text) FROM e",
    args: &[TIMESTAMPTZOID, TEXTOID, UUIDOID, TEXTOID, TEXTOID],
    fresh_snapshot: true,
};

/// Writes `event` and announces it at commit; its id, or None in a
/// database without the outbox (not yet upgraded). Run as the extension's
/// owner (an [`AsOwner`] or the background worker).
pub fn emit(client: &mut SpiClient<'_>, event: Event<'_>) -> Result<Option<i64>> {
    if !crate::privilege::has_own_table(c"event_store")? {
        return Ok(None);
    }
    let args: [DatumWithOid; 5] = [
        timestamp(event.at)?.into(),
        event.kind.into(),
        event.token_id.into(),
        event.owner.into(),
        event.detail.map(|d| d.to_string()).into(),
    ];
    INSERT
        .run(client, &args)?
        .first()
        .get_one::<i64>()
        .map_err(internal)
}

const ACK: Statement = Statement {
    sql: "WITH d AS (DELETE FROM tokens.event_store WHERE id OPERATOR(pg_catalog.<=) $1 RETURNING 1) \
          SELECT pg_catalog.count(*) FROM d",
    args: &[INT8OID],
    fresh_snapshot: true,
};

/// `tokens.ack_events(upto)`: a consumer has handled every event up to
/// `upto`; they are deleted. The number deleted.
#[pg_extern(sql = false)]
fn ack_events(upto: Option<i64>) -> i64 {
    let upto = upto
        .ok_or_else(|| {
            Error::invalid(
                "upto",
                "upto must not be NULL: pass the id of the last event handled (tokens.events.id)",
            )
        })
        .or_raise();
    let _owner = AsOwner::enter().or_raise();
    Spi::connect_mut(|client| {
        ACK.run(client, &[upto.into()])?
            .first()
            .get_one::<i64>()
            .map_err(internal)
            .map(Option::unwrap_or_default)
    })
    .or_raise()
}

const PRUNE: Statement = Statement {
    sql: "DELETE FROM tokens.event_store WHERE at OPERATOR(pg_catalog.<) $1",
    args: &[TIMESTAMPTZOID],
    fresh_snapshot: true,
};

/// Deletes the events older than `pg_tokens.event_retention` (0: keeps
/// them all), for the worker's lifecycle pass.
pub fn prune(client: &mut SpiClient<'_>, now: i64) -> Result<()> {
    let retention = i64::from(gucs::EVENT_RETENTION.get());
    if retention == 0 || !crate::privilege::has_own_table(c"event_store")? {
        return Ok(());
    }
    PRUNE.run(client, &[timestamp(now - retention * 1_000_000)?.into()])?;
    Ok(())
}

/// A throttled event: written when the token has no mark of `$2` still
/// running at `$3`, which then runs to `$4`. Concurrent callers wait on
/// the mark's row, and only one writes.
const THROTTLED: Statement = Statement {
    sql: "WITH marked AS ( \
              INSERT INTO tokens.event_marks AS m (token_id, kind, until) VALUES ($1, $2, $4) \
              ON CONFLICT (token_id, kind) DO UPDATE SET until = excluded.until \
               WHERE m.until IS NOT NULL AND m.until OPERATOR(pg_catalog.<=) $3 \
              RETURNING 1), \
          written AS ( \
              INSERT INTO tokens.event_store (at, kind, token_id, owner, detail) \
              SELECT $3, $2, $1, $5, $6::pg_catalog.jsonb FROM marked RETURNING id) \
          SELECT pg_catalog.pg_notify('pg_tokens_events', id::pg_catalog.text) FROM written",
    args: &[
        UUIDOID,
        TEXTOID,
        TIMESTAMPTZOID,
        TIMESTAMPTZOID,
        TEXTOID,
        TEXTOID,
    ],
    fresh_snapshot: true,
};

thread_local! {
    /// Until when this backend knows a token's `token.rate_limited` event
    /// of the current window is written: a hammered token costs one
    /// attempt per window per backend, not one per refusal.
    static RATE_LIMITED: std::cell::RefCell<std::collections::HashMap<Uuid, i64>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// A verification of token `id` (owned by `owner`) was refused by its rate
/// limit of `requests` per `per_micros` at `now`: a `token.rate_limited`
/// event, at most once per token per window. Written only where the write
/// cannot fail the verification (READ COMMITTED, read-write, primary).
pub fn rate_limited(
    id: Uuid,
    owner: &str,
    limit: Option<pg_tokens_core::usage::RateLimit>,
    now: i64,
) -> Result<()> {
    let per = limit.map_or(60_000_000, |l| l.per_micros.max(1));
    let known = RATE_LIMITED.with(|r| r.borrow().get(&id).is_some_and(|&until| until > now));
    if known || !crate::usage::writable() {
        return Ok(());
    }
    let _owner = AsOwner::enter()?;
    Spi::connect_mut(|client| -> Result<()> {
        if !crate::privilege::has_own_table(c"event_store")? {
            return Ok(());
        }
        let detail = serde_json::json!({
            "requests": limit.map(|l| l.requests),
            "per_seconds": per as f64 / 1e6,
        });
        let args: [DatumWithOid; 6] = [
            id.into(),
            "token.rate_limited".into(),
            timestamp(now)?.into(),
            timestamp(now.saturating_add(per))?.into(),
            owner.into(),
            detail.to_string().into(),
        ];
        THROTTLED.run(client, &args)?;
        Ok(())
    })?;
    RATE_LIMITED.with(|r| {
        let mut known = r.borrow_mut();
        if known.len() >= 65_536 {
            known.retain(|_, until| *until > now);
        }
        known.insert(id, now.saturating_add(per));
    });
    Ok(())
}
