//! `tokens.disable` / `tokens.enable`: a reversible suspension for incident
//! response. verify says `disabled` meanwhile; effective for every
//! transaction that starts after the change commits.

use pgrx::prelude::*;
use pgrx::Uuid;

use super::clock;
use super::revoke::required_id;
use super::settings::{self, Change, Gate};
use crate::error::OrRaise;
use crate::privilege::Caller;
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
    settings::apply(
        &caller,
        Gate::WriterOrOwner,
        id,
        verb,
        action,
        |client, token| {
            if token.disabled == disabled {
                return Ok(Change::Unchanged);
            }
            store::set_disabled(client, id, disabled, clock())?;
            Ok(Change::Made(None))
        },
    )
    .or_raise()
}
