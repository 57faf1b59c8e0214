//! Appending to the audit log, in the caller's transaction, chained to the
//! previous row.

use pgrx::datum::DatumWithOid;
use pgrx::spi::SpiClient;
use pgrx::JsonB;

use crate::error::{internal, Result};
use crate::store::timestamp;

pub struct Event<'a> {
    pub actor: &'a str,
    pub db_role: &'a str,
    pub action: &'a str,
    pub target: Option<String>,
    pub meta: Option<serde_json::Value>,
    pub at: i64,
}

/// `token:<id>`, the target of every token event.
pub fn token_target(id: impl std::fmt::Display) -> Option<String> {
    Some(format!("token:{id}"))
}

/// Appends `event` and returns its id. The chain head's row lock, held to the
/// end of the transaction, orders concurrent appends into one chain.
pub fn append(client: &mut SpiClient<'_>, event: Event<'_>) -> Result<i64> {
    let head = client
        .update(
            "INSERT INTO tokens.audit_head AS h (only_row, last_id, last_hash) VALUES (true, 0, NULL) \
             ON CONFLICT (only_row) DO UPDATE SET last_id = h.last_id \
             RETURNING last_id, last_hash",
            Some(1),
            &[],
        )
        .map_err(internal)?
        .first();
    let (last_id, last_hash) = head.get_two::<i64, Vec<u8>>().map_err(internal)?;
    let id = last_id.ok_or_else(|| internal("audit chain head has no id"))? + 1;

    let args: [DatumWithOid; 8] = [
        id.into(),
        timestamp(event.at)?.into(),
        event.actor.into(),
        event.db_role.into(),
        event.action.into(),
        event.target.into(),
        last_hash.into(),
        event.meta.map(JsonB).into(),
    ];
    let hash = client
        .update(
            "INSERT INTO tokens.audit_store (id, at, actor, db_role, action, target, meta, hash) \
             SELECT $1, $2, $3, $4, $5, $6, s.m, tokens.audit_row_hash($7, $1, $2, $3, $4, $5, $6, s.m::text) \
               FROM (SELECT $8::jsonb AS m) AS s \
             RETURNING hash",
            Some(1),
            &args,
        )
        .map_err(internal)?
        .first()
        .get_one::<Vec<u8>>()
        .map_err(internal)?;
    client
        .update(
            "UPDATE tokens.audit_head SET last_id = $1, last_hash = $2",
            None,
            &[id.into(), hash.into()],
        )
        .map_err(internal)?;
    Ok(id)
}
