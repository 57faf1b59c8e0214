//! `tokens.set_rate_limit`: at most `requests` successful verifications of
//! a token per `per` (a fixed window opened by the first success after the
//! previous window closed), enforced by verify from shared memory.

use pg_tokens_core::usage::{self, RateLimit};
use pg_tokens_core::Error;
use pgrx::datum::Interval;
use pgrx::prelude::*;
use pgrx::Uuid;

use super::allowlist::authorize_setting;
use super::now;
use super::revoke::required_id;
use crate::audit::{self, token_target, Event};
use crate::error::OrRaise;
use crate::privilege::{AsOwner, Caller};
use crate::store;

#[pg_extern(sql = false)]
fn set_rate_limit(id: Option<Uuid>, requests: Option<i32>, per: Option<Interval>) {
    let caller = Caller::current();
    let id = required_id(id).or_raise();
    let limit =
        usage::rate_limit(requests, per.map(|p| (p.months(), p.days(), p.micros()))).or_raise();
    let _owner = AsOwner::enter().or_raise();
    Spi::connect_mut(|client| {
        let token =
            store::lock_by_id(client, id)?.ok_or_else(|| Error::UnknownToken(id.to_string()))?;
        authorize_setting(&caller, &token, "set the rate limit of")?;
        store::set_rate_limit(client, id, limit)?;
        audit::append(
            client,
            Event {
                actor: &caller.name,
                db_role: &caller.name,
                action: "token.rate_limit",
                target: token_target(id),
                meta: audit::meta(match limit {
                    Some(RateLimit {
                        requests,
                        per_micros,
                    }) => serde_json::json!({
                        "requests": requests,
                        "per_seconds": per_micros as f64 / 1e6,
                    }),
                    None => serde_json::json!({ "requests": null }),
                }),
                at: now(),
            },
        )?;
        Ok(())
    })
    .or_raise()
}
