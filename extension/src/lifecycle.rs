//! The worker's lifecycle pass: once a minute, in every database with the
//! extension at 0.5.0, what time makes happen (events older than their
//! retention go; a token nearing or past its expiry gets its event), in a
//! transaction of its own.

use pgrx::bgworkers::BackgroundWorker;
use pgrx::prelude::*;

use pgrx::spi::SpiClient;

use pgrx::pg_sys::BuiltinOid::{TEXTOID, TIMESTAMPTZOID};

use crate::error::{OrRaise, Result};
use crate::gucs;
use crate::privilege::AsOwner;
use crate::store::{timestamp, Statement};

/// How often each database gets the pass.
pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The background worker's argument (`bgw_extra`) that asks for the pass.
pub const EXTRA: &str = "lifecycle";

/// Runs the pass in the worker's database; a failure is logged and the
/// next pass retries.
pub fn run(db: u32) {
    let outcome = BackgroundWorker::transaction(|| {
        // SAFETY: the statements read with the active snapshot.
        unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
        let result = Spi::connect_mut(|client| -> Result<()> {
            if !crate::privilege::has_table(client, c"event_store")? {
                return Ok(());
            }
            pass(client, crate::api::clock())
        });
        // SAFETY: pushed above.
        unsafe { pg_sys::PopActiveSnapshot() };
        result
    });
    if let Err(e) = outcome {
        pgrx::log!("pg_tokens: lifecycle pass for database {db} failed, will retry: {e}");
    }
}

/// The pass itself, as the extension's owner, at `now`.
fn pass(client: &mut SpiClient<'_>, now: i64) -> Result<()> {
    crate::events::prune(client, now)?;
    crate::policies::revoke_unused(client, now)?;
    CREDITS_LOW.run(client, &[timestamp(now)?.into()])?;
    let warning = i64::from(gucs::EXPIRY_WARNING.get()) * 1_000_000;
    // Live tokens whose expiry is within the warning; then those expired
    // within the last `warning` (a worker down for longer, or a database
    // upgraded with long-expired tokens, does not flood the outbox).
    TIME_EVENT.run(
        client,
        &[
            "token.expiring".into(),
            timestamp(now)?.into(),
            timestamp(now.saturating_add(warning))?.into(),
        ],
    )?;
    TIME_EVENT.run(
        client,
        &[
            "token.expired".into(),
            timestamp(now.saturating_sub(warning))?.into(),
            timestamp(now)?.into(),
        ],
    )?;
    Ok(())
}

/// Writes event `$1` once for each live token whose expiry is in
/// (`$2`, `$3`]; `tokens.event_marks` remembers which have had it, so a
/// concurrent pass (the worker and a `run_lifecycle()`) waits on the mark
/// and writes nothing twice.
const TIME_EVENT: Statement = Statement {
    sql: "WITH due AS ( \
              SELECT id, owner, expires_at FROM tokens.token_store \
               WHERE revoked_at IS NULL \
                 AND expires_at OPERATOR(pg_catalog.>) $2 AND expires_at OPERATOR(pg_catalog.<=) $3), \
          marked AS ( \
              INSERT INTO tokens.event_marks (token_id, kind) SELECT id, $1 FROM due \
              ON CONFLICT DO NOTHING RETURNING token_id), \
          written AS ( \
              INSERT INTO tokens.event_store (at, kind, token_id, owner, detail) \
              SELECT pg_catalog.now(), $1, d.id, d.owner, \
                     pg_catalog.jsonb_build_object('expires_at', d.expires_at) \
                FROM due d JOIN marked m ON m.token_id OPERATOR(pg_catalog.=) d.id \
              RETURNING id) \
          SELECT pg_catalog.pg_notify('pg_tokens_events', id::pg_catalog.text) FROM written",
    args: &[TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID],
    fresh_snapshot: true,
};

/// `token.credits_low` for each live capped token whose credits left in
/// the current period (as `tokens.tokens` shows them) are under 10% of the
/// period's credits, once until they are back at 10% or more (a refill, a
/// `set_remaining`), which re-arms it. A rotated predecessor in its grace
/// shares the pool: only the live successor gets the event.
const CREDITS_LOW: Statement = Statement {
    sql: "WITH capped AS ( \
              SELECT t.id, t.owner, tokens.credits_left(t.id, t.credit_pool) AS left_now, \
                     CASE WHEN c.refill_every IS NOT NULL \
                           AND $1 OPERATOR(pg_catalog.>=) (c.started_at OPERATOR(pg_catalog.+) c.refill_every) \
                          THEN c.refill_amount ELSE c.remaining END AS cap \
                FROM tokens.token_store t \
                JOIN tokens.credit_store c ON c.pool OPERATOR(pg_catalog.=) t.credit_pool \
               WHERE t.revoked_at IS NULL AND t.disabled_at IS NULL \
                 AND (t.expires_at IS NULL OR t.expires_at OPERATOR(pg_catalog.>) $1)), \
          rearmed AS ( \
              DELETE FROM tokens.event_marks m USING capped k \
               WHERE m.token_id OPERATOR(pg_catalog.=) k.id AND m.kind OPERATOR(pg_catalog.=) 'token.credits_low' \
                 AND (k.left_now OPERATOR(pg_catalog.*) 10) OPERATOR(pg_catalog.>=) k.cap), \
          low AS ( \
              SELECT * FROM capped \
               WHERE cap OPERATOR(pg_catalog.>) 0 \
                 AND (left_now OPERATOR(pg_catalog.*) 10) OPERATOR(pg_catalog.<) cap), \
          marked AS ( \
              INSERT INTO tokens.event_marks (token_id, kind) SELECT id, 'token.credits_low' FROM low \
              ON CONFLICT DO NOTHING RETURNING token_id), \
          written AS ( \
              INSERT INTO tokens.event_store (at, kind, token_id, owner, detail) \
              SELECT pg_catalog.now(), 'token.credits_low', l.id, l.owner, \
                     pg_catalog.jsonb_build_object('remaining', l.left_now, 'period_credits', l.cap) \
                FROM low l JOIN marked m ON m.token_id OPERATOR(pg_catalog.=) l.id \
              RETURNING id) \
          SELECT pg_catalog.pg_notify('pg_tokens_events', id::pg_catalog.text) FROM written",
    args: &[TIMESTAMPTZOID],
    fresh_snapshot: true,
};

/// `tokens.run_lifecycle()`: the pass, now, in the caller's transaction;
/// what a cron job calls without `shared_preload_libraries` (no worker).
#[pg_extern(sql = false)]
fn run_lifecycle() {
    let _owner = AsOwner::enter().or_raise();
    Spi::connect_mut(|client| pass(client, crate::api::clock())).or_raise()
}
