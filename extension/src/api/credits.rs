//! `tokens.set_remaining`: a usage-capped token (each successful
//! verification spends one credit; refilled every `refill_every`), and
//! `tokens.credits_left`, what the listing shows of it.

use pg_tokens_core::credits::{self, Cap};
use pgrx::datum::Interval;
use pgrx::prelude::*;
use pgrx::Uuid;

use super::clock;
use super::revoke::required_id;
use super::settings::{self, Change, Gate};
use crate::audit;
use crate::error::OrRaise;
use crate::privilege::{AsOwner, Caller, READER};
use crate::store;
use crate::usage::key;

#[pg_extern(sql = false)]
fn set_remaining(
    id: Option<Uuid>,
    remaining: Option<i64>,
    refill_amount: Option<i64>,
    refill_every: Option<Interval>,
) {
    let caller = Caller::current();
    let id = required_id(id).or_raise();
    let cap = credits::cap(
        remaining,
        refill_amount,
        refill_every.map(|e| (e.months(), e.days(), e.micros())),
    )
    .or_raise();
    settings::apply(
        &caller,
        Gate::Writer,
        id,
        "set the remaining credits of",
        "token.remaining",
        |client, token| {
            // A new pool each time: its periods start now, and leases of the
            // previous one stop (pools are numbered in order).
            let pool = cap
                .map(|cap| store::new_credit_pool(client, &cap, refill_every, clock()))
                .transpose()?;
            store::set_credit_pool(client, id, pool)?;
            // The replaced pool goes (a rotated predecessor still in its
            // grace period that shared it is then usage_exceeded).
            // A rotated (or revoked) token's pool may be its successor's
            // too: it stays.
            if let Some(old) = token.credit_pool.filter(|_| token.revoked_at.is_none()) {
                store::delete_credit_pool(client, old)?;
            }
            Ok(Change::Made(audit::meta(audit_meta(cap))))
        },
    )
    .or_raise();
}

fn audit_meta(cap: Option<Cap>) -> serde_json::Value {
    match cap {
        None => serde_json::json!({ "remaining": null }),
        Some(cap) => serde_json::json!({
            "remaining": cap.remaining,
            "refill_amount": cap.refill.map(|r| r.amount),
            "refill_every_seconds": cap.refill.map(|r| r.every_micros as f64 / 1e6),
        }),
    }
}

/// The credits `token` can still spend on this server in the current
/// period (NULL when it has no cap). Called by the `tokens.tokens` view for
/// capped tokens; answers only about a token the caller may list
/// (tokens_reader, or its owner) and its own pool, so that no pool can be
/// probed by number.
#[pg_extern(sql = false)]
fn credits_left(token: Uuid, pool: i64) -> Option<i64> {
    let caller = Caller::current();
    if !caller.acts_as(READER) {
        let ours = {
            let _owner = AsOwner::enter().or_raise();
            Spi::connect(|client| store::owner_and_pool(client, token)).or_raise()
        };
        if ours != Some((caller.name.clone(), Some(pool))) {
            return None;
        }
    }
    crate::credits::left(key(token), pool).or_raise()
}
