//! `tokens.rotate`: a successor with the same name, kind, owner, scopes and
//! expiry; the old token keeps working until now + grace.

use pg_tokens_core::status::{status, Status};
use pg_tokens_core::validate;
use pg_tokens_core::{Error, Plaintext};
use pgrx::datum::Interval;
use pgrx::prelude::*;
use pgrx::Uuid;

use super::mint::{store_new, Origin, Request};
use super::revoke::{lock_managed, required_id};
use super::{clock, minted_row};
use crate::audit::{self, token_target, Event};
use crate::error::{OrRaise, Result};
use crate::privilege::{AsOwner, Caller, WRITER};
use crate::store::{self, Meta};

#[pg_extern(sql = false)]
fn rotate(
    id: Option<Uuid>,
    grace: Option<Interval>,
    actor: Option<&str>,
) -> pgrx::composite_type!('static, "tokens.minted") {
    let caller = Caller::current();
    let id = required_id(id).or_raise();
    let grace = grace_micros(grace).or_raise();
    let actor = caller.actor(actor).or_raise();
    let (plaintext, token) = {
        let _owner = AsOwner::enter().or_raise();
        Spi::connect_mut(|client| {
            let old = lock_managed(client, &caller, caller.acts_as(WRITER), &actor, id, "rotate")?;
            let now = clock();
            match (old.revoked_at, status(old.revoked_at, old.expires_at, now)) {
                (_, Status::Revoked) => {
                    return Err(Error::invalid("id", format!(
                        "token {id} is revoked and cannot be rotated: mint a new token instead"
                    )))
                }
                (_, Status::Expired) => {
                    return Err(Error::invalid("id", format!(
                        "token {id} has expired and cannot be rotated: mint a new token instead"
                    )))
                }
                (Some(_), Status::Active) => {
                    return Err(Error::invalid("id", format!(
                        "token {id} was already rotated and is in its grace period: rotate its successor, \
                         or revoke it to end the grace period now"
                    )))
                }
                // IpDenied, Forbidden, RateLimited and UsageExceeded are decided by verify, never by the stored state.
                (None, Status::Active) | (
                    _,
                    Status::Disabled
                    | Status::IpDenied
                    | Status::Forbidden
                    | Status::RateLimited
                    | Status::UsageExceeded,
                ) => {}
            }
            crate::policies::expiry_rule(client, now)?.admits_rotation(id, old.expires_at)?;
            let request = Request {
                name: old.name.clone(),
                scopes: old.scopes.clone(),
                expires_at: old.expires_at,
                kind: validate::kind(Some(&old.kind))?,
                owner: old.owner.clone(),
                allowed_ips: old.allowed_ips.clone(),
                rate_limit: old.rate_limit,
                disabled: old.disabled,
                meta: old.meta.as_ref().map(Meta::text),
            };
            let plaintext = Plaintext::generate()?;
            let mut new = store_new(
                client,
                &caller,
                (&plaintext).into(),
                &request,
                Origin::Rotation { from: id, actor: &actor },
            )?;
            // The credits move with the token: the successor spends from the
            // same pool, and from the same lease of it (during a grace
            // period, both do), so none is duplicated and none is stranded.
            if let Some(pool) = old.credit_pool {
                store::set_credit_pool(client, new.id, Some(pool))?;
                new.credit_pool = Some(pool);
            }
            store::set_revoked_at(client, id, now.saturating_add(grace))?;
            crate::reuse::record_rotation(client, id, new.id, now)?;
            audit::append(
                client,
                Event {
                    actor: &actor,
                    db_role: &caller.name,
                    action: "token.rotate",
                    target: token_target(id),
                    meta: audit::meta(serde_json::json!({
                        "new_token_id": new.id.to_string(),
                        "grace_seconds": grace as f64 / 1e6,
                        "old_token_works_until": pg_tokens_core::time::rfc3339(now.saturating_add(grace)),
                    })),
                    at: now,
                },
            )?;
            Ok((plaintext, new))
        })
        .or_raise()
    };
    minted_row(&plaintext, &token).or_raise()
}

fn grace_micros(grace: Option<Interval>) -> Result<i64> {
    let grace = grace.ok_or_else(|| {
        Error::invalid(
            "grace",
            "grace must not be NULL: pass an interval from '0' to '30 days'",
        )
    })?;
    validate::grace(grace.months(), grace.days(), grace.micros())
}
