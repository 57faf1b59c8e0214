//! `tokens.set_meta`: application data returned by verify (a plan, a
//! tenant, quota data), a JSON object of at most 4096 bytes.

use pg_tokens_core::{validate, Error};
use pgrx::prelude::*;
use pgrx::Uuid;

use super::allowlist::authorize_setting;
use super::now;
use super::revoke::required_id;
use crate::audit::{self, token_target, Event};
use crate::error::OrRaise;
use crate::privilege::{AsOwner, Caller};
use crate::store;

/// The SQL function `tokens.set_meta(id, meta jsonb)` passes `meta::text`.
#[pg_extern(sql = false)]
fn set_meta_text(id: Option<Uuid>, meta: Option<&str>) {
    let caller = Caller::current();
    let id = required_id(id).or_raise();
    let meta = validate::token_meta(meta).or_raise();
    let _owner = AsOwner::enter().or_raise();
    Spi::connect_mut(|client| {
        let token =
            store::lock_by_id(client, id)?.ok_or_else(|| Error::UnknownToken(id.to_string()))?;
        authorize_setting(&caller, &token, "set the meta of")?;
        store::set_meta(client, id, meta)?;
        audit::append(
            client,
            Event {
                actor: &caller.name,
                db_role: &caller.name,
                action: "token.meta",
                target: token_target(id),
                // jsonb's own text is valid JSON: kept exactly (big numbers too).
                meta: Some(format!("{{\"meta\": {}}}", meta.unwrap_or("null"))),
                at: now(),
            },
        )?;
        Ok(())
    })
    .or_raise()
}
