//! `tokens.set_allowed_ips`: restrict a token to client networks.

use pg_tokens_core::{allowlist, Error};
use pgrx::datum::Array;
use pgrx::prelude::*;
use pgrx::Uuid;

use super::revoke::required_id;
use super::{now, text_list};
use crate::audit::{self, token_target, Event};
use crate::error::{OrRaise, Result};
use crate::privilege::{AsOwner, Caller, WRITER};
use crate::store::{self, StoredToken};

#[pg_extern(sql = false)]
fn set_allowed_ips_text(id: Option<Uuid>, allowed: Option<Array<'_, &str>>) {
    let caller = Caller::current();
    let id = required_id(id).or_raise();
    let allowed = text_list("allowed", allowed)
        .and_then(|a| allowlist::allowed_ips(a.as_deref()))
        .or_raise();
    let _owner = AsOwner::enter().or_raise();
    Spi::connect_mut(|client| {
        let token =
            store::lock_by_id(client, id)?.ok_or_else(|| Error::UnknownToken(id.to_string()))?;
        authorize_setting(&caller, &token, "set the allowlist of")?;
        let stored = store::set_allowed_ips(client, id, allowed)?;
        audit::append(
            client,
            Event {
                actor: &caller.name,
                db_role: &caller.name,
                action: "token.allowed_ips",
                target: token_target(id),
                meta: audit::meta(serde_json::json!({ "allowed_ips": stored })),
                at: now(),
            },
        )?;
        Ok(())
    })
    .or_raise()
}

/// Settings (allowlist, and later rate limits, meta, credits) need
/// tokens_writer, or tokens_self_service on one's own personal token.
pub fn authorize_setting(caller: &Caller, token: &StoredToken, verb: &str) -> Result<()> {
    if caller.acts_as(WRITER) || (token.kind == "personal" && token.owner == caller.name) {
        return Ok(());
    }
    Err(Error::not_allowed(format!(
        "role {} may not {verb} token {}: that needs tokens_writer, or tokens_self_service on one's own personal token",
        caller.name, token.id
    )))
}
