//! `tokens.set_meta`: application data returned by verify (a plan, a
//! tenant, quota data), a JSON object of at most 4096 bytes.

use pgrx::prelude::*;
use pgrx::Uuid;

use super::revoke::required_id;
use super::settings::{self, Change, Gate};
use crate::error::OrRaise;
use crate::privilege::Caller;
use crate::row;
use crate::store;

/// The SQL function `tokens.set_meta(id, meta jsonb)` passes `meta::text`.
#[pg_extern(sql = false)]
fn set_meta_text(id: Option<Uuid>, meta: Option<&str>) {
    let caller = Caller::current();
    let id = required_id(id).or_raise();
    let meta = row::token_meta(meta).or_raise();
    let meta = meta.as_deref();
    settings::apply(
        &caller,
        Gate::Writer,
        id,
        "set the meta of",
        "token.meta",
        |client, _| {
            store::set_meta(client, id, meta)?;
            // jsonb's own text is valid JSON: kept exactly (big numbers too).
            Ok(Change::Made(Some(format!(
                "{{\"meta\": {}}}",
                meta.unwrap_or("null")
            ))))
        },
    )
    .or_raise();
}
