//! `tokens.find_leaked`: leak triage. Every well-formed token in a pasted
//! blob, looked up by hash, with its status; the plaintext is never
//! returned, stored or logged (only its 12-character display prefix).

use pg_tokens_core::leak::{find_tokens, LEAK_TEXT_MAX_BYTES};
use pg_tokens_core::status::status_of;
use pg_tokens_core::Error;
use pgrx::prelude::*;
use pgrx::Uuid;

use super::now;
use crate::error::OrRaise;
use crate::events::{self, Event};
use crate::privilege::{AsOwner, Caller, READER};
use crate::store;

type Found = (String, Option<Uuid>, String, Option<String>, Option<String>);

#[pg_extern(sql = false)]
fn find_leaked(
    text: Option<&str>,
) -> TableIterator<
    'static,
    (
        name!(prefix, String),
        name!(token_id, Option<Uuid>),
        name!(status, String),
        name!(owner, Option<String>),
        name!(name, Option<String>),
    ),
> {
    let caller = Caller::current();
    if !caller.acts_as(READER) {
        // EXECUTE is granted to tokens_reader only; this holds even if a
        // grant to someone else is added by mistake.
        Err::<(), _>(Error::not_allowed(format!(
            "role {} may not triage leaks: tokens.find_leaked needs tokens_reader",
            caller.name
        )))
        .or_raise();
    }
    let text = text.unwrap_or_default();
    if text.len() > LEAK_TEXT_MAX_BYTES {
        Err::<(), _>(Error::invalid("text", format!(
            "the text to triage is {} bytes: tokens.find_leaked takes at most {} bytes (16 MiB); split it",
            text.len(),
            LEAK_TEXT_MAX_BYTES
        )))
        .or_raise();
    }
    let now = now();
    let mut rows: Vec<Found> = Vec::new();
    for token in find_tokens(text.as_bytes()) {
        // A long blob holds many tokens: each lookup may be cancelled
        // (statement_timeout, pg_cancel_backend).
        pgrx::check_for_interrupts!();
        let prefix = token.display_prefix().to_owned();
        let row = match store::find_by_hash(&token.hash()).or_raise() {
            Some(t) => (
                prefix,
                Some(t.id),
                status_of(t.revoked_at, t.expires_at, t.disabled, now)
                    .as_str()
                    .to_owned(),
                Some(t.owner),
                Some(t.name),
            ),
            None => (prefix, None, "unknown".to_owned(), None, None),
        };
        rows.push(row);
    }
    announce(&rows);
    TableIterator::new(rows)
}

/// One `token.leaked` event for each live token found (not revoked, not
/// expired: a disabled one works again once enabled), once per call
/// however often the blob holds it. A read-only transaction or a standby
/// triages without writing.
fn announce(rows: &[Found]) {
    // SAFETY: read backend state.
    if unsafe { pg_sys::XactReadOnly || pg_sys::RecoveryInProgress() } {
        return;
    }
    let mut seen = std::collections::HashSet::new();
    let live = rows.iter().filter(|r| {
        matches!(r.2.as_str(), "active" | "disabled") && r.1.is_some_and(|id| seen.insert(id))
    });
    let live: Vec<&Found> = live.collect();
    if live.is_empty() {
        return;
    }
    let _owner = AsOwner::enter().or_raise();
    let at = now();
    Spi::connect_mut(|client| {
        for (prefix, id, status, owner, name) in live {
            events::emit(
                client,
                Event {
                    kind: "token.leaked",
                    token_id: *id,
                    owner: owner.as_deref(),
                    detail: Some(serde_json::json!({
                        "prefix": prefix, "name": name, "status": status,
                    })),
                    at,
                },
            )?;
        }
        Ok(())
    })
    .or_raise()
}
