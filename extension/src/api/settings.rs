//! The shape every setting call shares (`set_allowed_ips`, `set_rate_limit`,
//! `set_meta`, `disable`/`enable`): lock the token, check that the caller
//! may change it, apply the change, append its audit row, all in the
//! caller's transaction.

use pg_tokens_core::Error;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::Uuid;

use super::clock;
use crate::audit::{self, token_target, Event};
use crate::error::Result;
use crate::privilege::{AsOwner, Caller, WRITER};
use crate::store::{self, StoredToken};

/// What a setting call did: its audit meta, or nothing (already so).
pub enum Change {
    Made(Option<String>),
    Unchanged,
}

/// Applies `change` to token `id` for `caller`, who needs tokens_writer or
/// tokens_self_service on their own personal token. Returns whether
/// something changed (and was audited as `action`).
pub fn apply(
    caller: &Caller,
    id: Uuid,
    verb: &str,
    action: &str,
    change: impl FnOnce(&mut SpiClient<'_>, &StoredToken) -> Result<Change>,
) -> Result<bool> {
    let _owner = AsOwner::enter()?;
    Spi::connect_mut(|client| {
        let token =
            store::lock_by_id(client, id)?.ok_or_else(|| Error::UnknownToken(id.to_string()))?;
        authorize(caller, &token, verb)?;
        let Change::Made(meta) = change(client, &token)? else {
            return Ok(false);
        };
        audit::append(
            client,
            Event {
                actor: &caller.name,
                db_role: &caller.name,
                action,
                target: token_target(id),
                meta,
                at: clock(),
            },
        )?;
        Ok(true)
    })
}

/// Settings need tokens_writer, or tokens_self_service on one's own
/// personal token.
fn authorize(caller: &Caller, token: &StoredToken, verb: &str) -> Result<()> {
    if caller.acts_as(WRITER) || (token.kind == "personal" && token.owner == caller.name) {
        return Ok(());
    }
    Err(Error::not_allowed(format!(
        "role {} may not {verb} token {}: that needs tokens_writer, or tokens_self_service on one's own personal token",
        caller.name, token.id
    )))
}
