//! `tokens.set_allowed_ips`: restrict a token to client networks.

use pg_tokens_core::allowlist;
use pgrx::datum::Array;
use pgrx::prelude::*;
use pgrx::Uuid;

use super::revoke::required_id;
use super::settings::{self, Change, Gate};
use super::text_list;
use crate::audit;
use crate::error::OrRaise;
use crate::privilege::Caller;
use crate::store;

#[pg_extern(sql = false)]
fn set_allowed_ips_text(id: Option<Uuid>, allowed: Option<Array<'_, &str>>) {
    let caller = Caller::current();
    let id = required_id(id).or_raise();
    let allowed = text_list("allowed", allowed)
        .and_then(|a| allowlist::allowed_ips(a.as_deref()))
        .or_raise();
    settings::apply(
        &caller,
        Gate::WriterOrOwner,
        id,
        "set the allowlist of",
        "token.allowed_ips",
        |client, _| {
            let stored = store::set_allowed_ips(client, id, allowed)?;
            Ok(Change::Made(audit::meta(
                serde_json::json!({ "allowed_ips": stored }),
            )))
        },
    )
    .or_raise();
}
