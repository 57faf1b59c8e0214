//! `tokens.define_scope`: the scope catalogue.

use pg_tokens_core::validate;
use pgrx::prelude::*;

use crate::error::OrRaise;
use crate::privilege::AsOwner;
use crate::store;

#[pg_extern(sql = false)]
fn define_scope(scope: Option<&str>, description: Option<&str>) {
    let scope = scope
        .ok_or_else(|| pg_tokens_core::Error::invalid("scope", "scope must not be NULL"))
        .and_then(|s| validate::scope(s).map(|()| s))
        .or_raise();
    let description = validate::description(description).or_raise();
    let _owner = AsOwner::enter().or_raise();
    Spi::connect_mut(|client| store::define_scope(client, scope, description.as_deref()))
        .or_raise();
}
