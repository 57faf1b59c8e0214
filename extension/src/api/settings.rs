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

/// Who may make a change.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// tokens_writer, or tokens_self_service on its own personal token: the
    /// allowlist, the rate limit, disable/enable.
    WriterOrOwner,
    /// tokens_writer only: what applications trust (meta, credits).
    Writer,
}

/// Applies `change` to token `id` for `caller`, if `gate` lets them.
/// Returns whether something changed (and was audited as `action`).
pub fn apply(
    caller: &Caller,
    gate: Gate,
    id: Uuid,
    verb: &str,
    action: &str,
    change: impl FnOnce(&mut SpiClient<'_>, &StoredToken) -> Result<Change>,
) -> Result<bool> {
    let _owner = AsOwner::enter()?;
    Spi::connect_mut(|client| {
        let token =
            store::lock_by_id(client, id)?.ok_or_else(|| Error::UnknownToken(id.to_string()))?;
        authorize(caller, gate, &token, verb)?;
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

/// Settings need tokens_writer, or (for [`Gate::WriterOrOwner`])
/// tokens_self_service on one's own personal token.
fn authorize(caller: &Caller, gate: Gate, token: &StoredToken, verb: &str) -> Result<()> {
    let own = token.kind == "personal" && token.owner == caller.name;
    if caller.acts_as(WRITER) || (gate == Gate::WriterOrOwner && own) {
        return Ok(());
    }
    if gate == Gate::Writer {
        return Err(Error::not_allowed(format!(
            "role {} may not {verb} token {}: that needs tokens_writer (applications trust it, so a token's owner may not set it)",
            caller.name, token.id
        )));
    }
    Err(Error::not_allowed(format!(
        "role {} may not {verb} token {}: that needs tokens_writer, or tokens_self_service on one's own personal token",
        caller.name, token.id
    )))
}
