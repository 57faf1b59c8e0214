//! `tokens.set_rate_limit`: at most `requests` successful verifications of
//! a token per `per` (a fixed window opened by the first success after the
//! previous window closed), enforced by verify from shared memory.

use pg_tokens_core::usage::{self, RateLimit};
use pgrx::datum::Interval;
use pgrx::prelude::*;
use pgrx::Uuid;

use super::revoke::required_id;
use super::settings::{self, Change, Gate};
use crate::audit;
use crate::error::OrRaise;
use crate::privilege::Caller;
use crate::store;

#[pg_extern(sql = false)]
fn set_rate_limit(id: Option<Uuid>, requests: Option<i32>, per: Option<Interval>) {
    let caller = Caller::current();
    let id = required_id(id).or_raise();
    let limit =
        usage::rate_limit(requests, per.map(|p| (p.months(), p.days(), p.micros()))).or_raise();
    settings::apply(
        &caller,
        Gate::WriterOrOwner,
        id,
        "set the rate limit of",
        "token.rate_limit",
        |client, _| {
            store::set_rate_limit(client, id, limit)?;
            Ok(Change::Made(audit::meta(match limit {
                Some(RateLimit {
                    requests,
                    per_micros,
                }) => serde_json::json!({
                    "requests": requests,
                    "per_seconds": per_micros as f64 / 1e6,
                }),
                None => serde_json::json!({ "requests": null }),
            })))
        },
    )
    .or_raise();
}
