//! `tokens.revoke`: owner-only; effective for every transaction that starts
//! after it commits.

use pg_tokens_core::status::{status, Status};
use pg_tokens_core::{validate, Error};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::Uuid;

use super::clock;
use crate::audit::{self, token_target, Event};
use crate::error::{OrRaise, Result};
use crate::events;
use crate::privilege::{AsOwner, Caller, REVOKER};
use crate::store::{self, StoredToken};

#[pg_extern(sql = false)]
fn revoke(id: Option<Uuid>, actor: Option<&str>, reason: Option<&str>) -> bool {
    let caller = Caller::current();
    let id = required_id(id).or_raise();
    let actor = caller.actor(actor).or_raise();
    let reason = validate::reason(reason).or_raise();
    let _owner = AsOwner::enter().or_raise();
    Spi::connect_mut(|client| {
        let token = lock_managed(
            client,
            &caller,
            caller.acts_as(REVOKER),
            &actor,
            id,
            "revoke",
        )?;
        let now = clock();
        if status(token.revoked_at, None, now) == Status::Revoked {
            return Ok(false);
        }
        store::set_revoked_at(client, id, now)?;
        audit::append(
            client,
            Event {
                actor: &actor,
                db_role: &caller.name,
                action: "token.revoke",
                target: token_target(id),
                meta: reason
                    .as_ref()
                    .and_then(|r| audit::meta(serde_json::json!({ "reason": r }))),
                at: now,
            },
        )?;
        events::emit(
            client,
            events::Event {
                kind: "token.revoked",
                token_id: Some(id),
                owner: Some(&token.owner),
                detail: Some(serde_json::json!({ "actor": actor, "reason": reason })),
                at: now,
            },
        )?;
        Ok(true)
    })
    .or_raise()
}

pub fn required_id(id: Option<Uuid>) -> Result<Uuid> {
    id.ok_or_else(|| {
        Error::invalid(
            "id",
            "id must not be NULL: pass the token's id (tokens.tokens.id)",
        )
    })
}

/// Locks token `id` for an owner-only change (`verb`) by `actor`: the token
/// must exist (P0002), `actor` must be its owner (42501), and a caller
/// without `authority` (the role that manages every kind: tokens_revoker for
/// revoke, tokens_writer for rotate) may change only personal tokens.
pub fn lock_managed(
    client: &mut SpiClient<'_>,
    caller: &Caller,
    authority: bool,
    actor: &str,
    id: Uuid,
    verb: &str,
) -> Result<StoredToken> {
    let token =
        store::lock_by_id(client, id)?.ok_or_else(|| Error::UnknownToken(id.to_string()))?;
    if token.owner != actor {
        return Err(Error::not_allowed(format!(
            "only the owner of token {id} may {verb} it: the actor is not its owner \
             (pass actor => the token's owner, as a member of tokens_writer or tokens_revoker)"
        )));
    }
    // Without the role that manages every token, the caller acts as
    // tokens_self_service: on its own personal tokens only, whatever actor
    // another of its grants would let it name.
    if !authority && (token.kind != "personal" || token.owner != caller.name) {
        return Err(Error::not_allowed(format!(
            "role {} may {verb} only its own personal tokens: token {id} is not one of them",
            caller.name
        )));
    }
    Ok(token)
}
