//! `tokens.audit`: an application's own audit event, in the same chained log
//! as the extension's, attributed to the authenticated token's owner.

use pg_tokens_core::{validate, Error};
use pgrx::datum::{AnyElement, DatumWithOid};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::now;
use crate::audit::{self, Event};
use crate::error::{internal, OrRaise, Result};
use crate::principal;
use crate::privilege::{AsOwner, Caller};

/// `meta` is declared jsonb in SQL; it is taken as the datum itself so that
/// PostgreSQL, not a JSON library, reads it: numbers keep every digit.
#[pg_extern(sql = false)]
fn audit(action: Option<&str>, target: Option<&str>, meta: Option<AnyElement>) -> i64 {
    let caller = Caller::current();
    let action = validate::audit_action(action).or_raise();
    let target = validate::audit_target(target).or_raise();
    let (actor, via) = principal::with(|p| match p {
        Some(p) => (p.owner.clone(), Some(p.token_id)),
        None => (caller.name.clone(), None),
    });
    let _owner = AsOwner::enter().or_raise();
    Spi::connect_mut(|client| {
        let meta = checked_meta(client, meta, via)?;
        audit::append(
            client,
            Event {
                actor: &actor,
                db_role: &caller.name,
                action: &action,
                target,
                meta,
                at: now(),
            },
        )
    })
    .or_raise()
}

/// `meta`: NULL, or a JSON object of at most 4096 bytes (as
/// `octet_length(meta::text)`) that leaves `via` and `token_id` to us; with
/// a principal, those two keys are added. Returns the JSON text to store.
fn checked_meta(
    client: &SpiClient<'_>,
    meta: Option<AnyElement>,
    via: Option<pgrx::Uuid>,
) -> Result<Option<String>> {
    let limit = validate::META_MAX_BYTES;
    let added =
        via.map(|id| serde_json::json!({"via": "token", "token_id": id.to_string()}).to_string());
    let Some(meta) = meta else { return Ok(added) };
    // SAFETY: the argument is declared jsonb, so the datum is a jsonb.
    let datum = unsafe { DatumWithOid::new(meta.datum(), pg_sys::JSONBOID) };
    let row = client
        .select(
            "SELECT pg_catalog.jsonb_typeof(m) = 'object' AS is_object, \
                    pg_catalog.octet_length(m::pg_catalog.text) AS bytes, \
                    m OPERATOR(pg_catalog.?|) ARRAY['via', 'token_id'] AS reserved, \
                    (m OPERATOR(pg_catalog.||) coalesce($2::pg_catalog.jsonb, '{}'))::pg_catalog.text AS stored \
               FROM (SELECT $1 AS m) AS a",
            Some(1),
            &[datum, added.into()],
        )
        .map_err(internal)?
        .first();
    let column = |name: &str| row.get_by_name::<bool, _>(name).map_err(internal);
    if column("is_object")? != Some(true) {
        return Err(Error::invalid(
            "meta",
            format!("meta must be a JSON object of at most {limit} bytes, or NULL"),
        ));
    }
    if column("reserved")? == Some(true) {
        return Err(Error::invalid("meta", 
            "meta may not set \"via\" or \"token_id\": pg_tokens records them when a token is authenticated",
        ));
    }
    let bytes = row
        .get_by_name::<i32, _>("bytes")
        .map_err(internal)?
        .unwrap_or(0);
    if bytes as usize > limit {
        return Err(Error::invalid(
            "meta",
            format!("meta must be at most {limit} bytes as text (got {bytes})"),
        ));
    }
    row.get_by_name::<String, _>("stored").map_err(internal)
}
