//! `tokens.disable` / `tokens.enable`: a reversible suspension for incident
//! response. verify says `disabled` meanwhile; effective for every
//! transaction that starts after the change commits.

use pg_tokens_core::Error;
use pgrx::prelude::*;
use pgrx::Uuid;

use super::allowlist::authorize_setting;
use super::clock;
use super::revoke::required_id;
use crate::audit::{self, token_target, Event};
use crate::error::OrRaise;
use crate::privilege::{AsOwner, Caller};
use crate::store;

#[pg_extern(sql = false)]
fn disable(id: Option<Uuid>) -> bool {
    set(id, true)
}

#[pg_extern(sql = false)]
fn enable(id: Option<Uuid>) -> bool {
    set(id, false)
}

/// False (nothing written) when the token is already in that state.
fn set(id: Option<Uuid>, disabled: bool) -> bool {
    let caller = Caller::current();
    let id = required_id(id).or_raise();
    let (verb, action) = if disabled {
        ("disable", "token.disable")
    } else {
        ("enable", "token.enable")
    };
    let _owner = AsOwner::enter().or_raise();
    Spi::connect_mut(|client| {
        let token =
            store::lock_by_id(client, id)?.ok_or_else(|| Error::UnknownToken(id.to_string()))?;
        authorize_setting(&caller, &token, verb)?;
        if token.disabled == disabled {
            return Ok(false);
        }
        let now = clock();
        store::set_disabled(client, id, disabled, now)?;
        audit::append(
            client,
            Event {
                actor: &caller.name,
                db_role: &caller.name,
                action,
                target: token_target(id),
                meta: None,
                at: now,
            },
        )?;
        Ok(true)
    })
    .or_raise()
}
