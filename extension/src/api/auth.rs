//! `tokens.authenticate` and the principal functions that RLS policies and
//! triggers call. The principal functions are plain C calls on backend
//! memory: no SPI, no catalog lookup, so they are cheap even per row.

use pg_tokens_core::Error;
use pgrx::prelude::*;
use pgrx::Uuid;

use super::verify::{check, verification_row, Verdict};
use crate::error::{raise, OrRaise};
use crate::principal::{self, Principal};

#[pg_extern(sql = false)]
fn authenticate(token: Option<&str>) -> pgrx::composite_type!('static, "tokens.verification") {
    let verdict = check(token.map(str::as_bytes), None, 1).or_raise();
    principal::set(match &verdict {
        Verdict::Valid(t) => Some(Principal {
            token_id: t.id,
            owner: t.owner.clone(),
            scopes: t.scopes.clone(),
        }),
        _ => None,
    });
    verification_row(&verdict).or_raise()
}

#[pg_extern(sql = false)]
fn current_token_id() -> Option<Uuid> {
    principal::with(|p| p.map(|p| p.token_id))
}

/// Whether a token is the principal of this transaction: what a policy
/// should test, since `current_scopes()` is NULL both without a principal
/// and for a full-access token.
#[pg_extern(sql = false)]
fn is_authenticated() -> bool {
    principal::with(|p| p.is_some())
}

#[pg_extern(sql = false)]
fn current_owner() -> Option<String> {
    principal::with(|p| p.map(|p| p.owner.clone()))
}

#[pg_extern(sql = false)]
fn current_scopes() -> Option<Vec<String>> {
    principal::with(|p| p.and_then(|p| p.scopes.clone()))
}

#[pg_extern(sql = false)]
fn has_scope(scope: Option<&str>) -> bool {
    scope.is_some_and(|scope| principal::with(|p| p.is_some_and(|p| p.has_scope(scope))))
}

#[pg_extern(sql = false)]
fn require_scope(scope: Option<&str>) {
    if has_scope(scope) {
        return;
    }
    let scope = scope.unwrap_or("NULL");
    // Never repeat back an argument shaped like a token.
    let named = if pg_tokens_core::parse(scope.as_bytes()).is_some() {
        "the required scope"
    } else {
        scope
    };
    let why = principal::with(|p| match p {
        None => "no token is authenticated in this transaction (call tokens.authenticate first)"
            .to_owned(),
        Some(p) => format!("the token {} does not grant it", p.token_id),
    });
    raise(Error::not_allowed(format!(
        "scope {named} is required: {why}"
    )));
}
