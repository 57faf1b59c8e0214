//! `tokens.set_owner_limits`: one rate limit and one credit pool shared by
//! every token of an owner, checked by verify together with each token's
//! own (both must admit). Kept by the same mechanism as a token's: the rate
//! window in shared memory under a key derived from (database, owner), the
//! credits in a pool of tokens.credit_store leased like a capped token's.

use pg_tokens_core::credits::{self, Cap};
use pg_tokens_core::usage::{self, RateLimit};
use pg_tokens_core::Error;
use pgrx::datum::Interval;
use pgrx::prelude::*;

use super::clock;
use crate::audit::{self, Event};
use crate::error::{OrRaise, Result};
use crate::privilege::{AsOwner, Caller, WRITER};
use crate::store;

/// The longest owner name accepted (a role name is at most 63 bytes;
/// owners of service tokens are free text).
const MAX_OWNER_LEN: usize = 256;

#[pg_extern(sql = false)]
fn set_owner_limits(
    owner: Option<&str>,
    requests: Option<i32>,
    per: Option<Interval>,
    remaining: Option<i64>,
    refill_amount: Option<i64>,
    refill_every: Option<Interval>,
) {
    let caller = Caller::current();
    apply(
        &caller,
        owner,
        requests,
        per,
        remaining,
        refill_amount,
        refill_every,
    )
    .or_raise();
}

fn apply(
    caller: &Caller,
    owner: Option<&str>,
    requests: Option<i32>,
    per: Option<Interval>,
    remaining: Option<i64>,
    refill_amount: Option<i64>,
    refill_every: Option<Interval>,
) -> Result<()> {
    let owner = match owner {
        Some(owner) if !owner.is_empty() && owner.len() <= MAX_OWNER_LEN => owner,
        _ => {
            return Err(Error::invalid(
                "owner",
                format!("owner must be a non-empty name of at most {MAX_OWNER_LEN} bytes"),
            ))
        }
    };
    let limit = usage::rate_limit(requests, per.map(|p| (p.months(), p.days(), p.micros())))?;
    let cap = credits::cap(
        remaining,
        refill_amount,
        refill_every.map(|e| (e.months(), e.days(), e.micros())),
    )?;
    if !caller.acts_as(WRITER) {
        return Err(Error::not_allowed(format!(
            "role {} may not set the limits of owner {owner}: that needs tokens_writer",
            caller.name
        )));
    }
    let _as_owner = AsOwner::enter()?;
    Spi::connect_mut(|client| {
        let old = store::lock_owner_limits(client, owner)?.flatten();
        // A new pool each time, as tokens.set_remaining makes one: its
        // periods start now, and leases of the previous one stop.
        let pool = cap
            .map(|cap| store::new_credit_pool(client, &cap, refill_every, clock()))
            .transpose()?;
        store::set_owner_limits(client, owner, limit, pool)?;
        if let Some(old) = old {
            store::delete_credit_pool(client, old)?;
        }
        audit::append(
            client,
            Event {
                actor: &caller.name,
                db_role: &caller.name,
                action: "token.owner_limits",
                target: Some(format!("owner:{owner}")),
                meta: audit::meta(audit_meta(limit, cap)),
                at: clock(),
            },
        )?;
        Ok(())
    })
}

fn audit_meta(limit: Option<RateLimit>, cap: Option<Cap>) -> serde_json::Value {
    serde_json::json!({
        "requests": limit.map(|l| l.requests),
        "per_seconds": limit.map(|l| l.per_micros as f64 / 1e6),
        "remaining": cap.map(|c| c.remaining),
        "refill_amount": cap.and_then(|c| c.refill.map(|r| r.amount)),
        "refill_every_seconds": cap.and_then(|c| c.refill.map(|r| r.every_micros as f64 / 1e6)),
    })
}
