//! `tokens.audit`: an application's own audit event, in the same chained log
//! as the extension's, attributed to the authenticated token's owner.

use pg_tokens_core::{validate, Error};
use pgrx::prelude::*;
use pgrx::JsonB;
use pgrx::spi::SpiClient;

use super::now;
use crate::audit::{self, Event};
use crate::error::{internal, OrRaise, Result};
use crate::principal;
use crate::privilege::{AsOwner, Caller};

#[pg_extern(sql = false)]
fn audit(action: Option<&str>, target: Option<&str>, meta: Option<JsonB>) -> i64 {
    let caller = Caller::current();
    let action = validate::audit_action(action).or_raise();
    let target = validate::audit_target(target).or_raise();
    let (actor, via) = principal::with(|p| match p {
        Some(p) => (p.owner.clone(), Some(p.token_id)),
        None => (caller.name.clone(), None),
    });
    let _owner = AsOwner::enter().or_raise();
    Spi::connect_mut(|client| {
        let mut meta = checked_meta(client, meta)?;
        if let Some(token_id) = via {
            let object = meta.get_or_insert_with(|| serde_json::json!({}));
            object["via"] = serde_json::json!("token");
            object["token_id"] = serde_json::json!(token_id.to_string());
        }
        audit::append(
            client,
            Event { actor: &actor, db_role: &caller.name, action: &action, target, meta, at: now() },
        )
    })
    .or_raise()
}

/// `meta`: NULL, or a JSON object of at most 4096 bytes (as
/// `octet_length(meta::text)`) that leaves `via` and `token_id` to us.
fn checked_meta(client: &SpiClient<'_>, meta: Option<JsonB>) -> Result<Option<serde_json::Value>> {
    let Some(JsonB(value)) = meta else { return Ok(None) };
    let limit = validate::META_MAX_BYTES;
    let not_object = || Error::invalid(format!("meta must be a JSON object of at most {limit} bytes, or NULL"));
    let object = value.as_object().ok_or_else(not_object)?;
    if object.contains_key("via") || object.contains_key("token_id") {
        return Err(Error::invalid(
            "meta may not set \"via\" or \"token_id\": pg_tokens records them when a token is authenticated",
        ));
    }
    // The size as PostgreSQL renders it, not as serde would.
    let bytes = client
        .select("SELECT octet_length($1::jsonb::text)", Some(1), &[JsonB(value.clone()).into()])
        .map_err(internal)?
        .first()
        .get_one::<i32>()
        .map_err(internal)?
        .unwrap_or(0);
    if bytes as usize > limit {
        return Err(Error::invalid(format!("meta must be at most {limit} bytes as text (got {bytes})")));
    }
    Ok(Some(value))
}
