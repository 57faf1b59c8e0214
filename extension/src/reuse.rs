//! Reuse detection: a rotated token presented after its grace has ended is
//! a sign that it leaked. verify still says `revoked`; the first such
//! presentation writes a `token.reused` event, and with policy
//! `revoke_on_reuse` every live token of the rotation chain after it is
//! disabled (audited as `token.reuse`, announced by the same event).
//!
//! It is written by the verifying transaction, when that one may write
//! without risk of failing the verification: a READ COMMITTED, read-write
//! transaction on a primary (an autocommit call is one). A presentation
//! elsewhere, or in a transaction that rolls back, leaves it to the next.

use pg_tokens_core::policy::Policy;
use pgrx::pg_sys::BuiltinOid::{TIMESTAMPTZOID, UUIDOID};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::Uuid;

use crate::audit::{self, token_target, Event};
use crate::error::{internal, Result};
use crate::events;
use crate::policies::{self, SYSTEM_ACTOR};
use crate::privilege::{AsOwner, Caller};
use crate::store::{self, timestamp, Statement, StoredToken};

/// Records the rotation of `predecessor` into `successor` (a database not
/// yet upgraded to 0.5.0 keeps none).
pub fn record_rotation(
    client: &mut SpiClient<'_>,
    predecessor: Uuid,
    successor: Uuid,
    at: i64,
) -> Result<()> {
    if !crate::privilege::has_own_table(c"rotations")? {
        return Ok(());
    }
    const INSERT: Statement = Statement {
        sql:
            "INSERT INTO tokens.rotations (predecessor, successor, rotated_at) VALUES ($1, $2, $3)",
        args: &[UUIDOID, UUIDOID, TIMESTAMPTZOID],
        fresh_snapshot: true,
    };
    INSERT.run(
        client,
        &[predecessor.into(), successor.into(), timestamp(at)?.into()],
    )?;
    Ok(())
}

const SUCCESSOR: Statement = Statement {
    sql: "SELECT successor FROM tokens.rotations WHERE predecessor OPERATOR(pg_catalog.=) $1",
    args: &[UUIDOID],
    fresh_snapshot: true,
};

/// The first presentation of a predecessor marks it (once per token).
const MARK: Statement = Statement {
    sql: "INSERT INTO tokens.event_marks (token_id, kind) VALUES ($1, 'token.reused') \
          ON CONFLICT DO NOTHING RETURNING true",
    args: &[UUIDOID],
    fresh_snapshot: true,
};

/// The live, enabled tokens of the chain after `$1`, locked (a concurrent
/// presentation waits, then finds them disabled).
const LIVE_CHAIN: Statement = Statement {
    sql: "WITH RECURSIVE chain(id, depth) AS ( \
              SELECT successor, 1 FROM tokens.rotations WHERE predecessor OPERATOR(pg_catalog.=) $1 \
              UNION ALL \
              SELECT r.successor, c.depth OPERATOR(pg_catalog.+) 1 FROM chain c \
                JOIN tokens.rotations r ON r.predecessor OPERATOR(pg_catalog.=) c.id \
               WHERE c.depth OPERATOR(pg_catalog.<) 1000) \
          SELECT t.id FROM tokens.token_store t \
           WHERE t.id OPERATOR(pg_catalog.=) ANY (SELECT id FROM chain) \
             AND t.disabled_at IS NULL \
             AND (t.revoked_at IS NULL OR t.revoked_at OPERATOR(pg_catalog.>) $2) \
           ORDER BY t.id FOR UPDATE OF t",
    args: &[UUIDOID, TIMESTAMPTZOID],
    fresh_snapshot: true,
};

/// `token`, revoked, was presented to verify at `now`.
pub fn presented(token: &StoredToken, now: i64) -> Result<()> {
    if !crate::usage::writable() {
        return Ok(());
    }
    let _owner = AsOwner::enter()?;
    Spi::connect_mut(|client| {
        if !crate::privilege::has_own_table(c"rotations")? {
            return Ok(());
        }
        let Some(successor) = SUCCESSOR
            .run(client, &[token.id.into()])?
            .into_iter()
            .next()
            .map(|row| row.get::<Uuid>(1).map_err(internal))
            .transpose()?
            .flatten()
        else {
            return Ok(()); // revoked, never rotated: no sign of a leak
        };
        let first = !MARK.run(client, &[token.id.into()])?.is_empty();
        let disabled = if policies::is_on(client, Policy::RevokeOnReuse)? {
            disable_chain(client, token.id, now)?
        } else {
            Vec::new()
        };
        if !first && disabled.is_empty() {
            return Ok(());
        }
        let detail = serde_json::json!({
            "successor": successor.to_string(),
            "disabled": disabled.iter().map(Uuid::to_string).collect::<Vec<_>>(),
        });
        if !disabled.is_empty() {
            audit::append(
                client,
                Event {
                    actor: SYSTEM_ACTOR,
                    db_role: &Caller::current().name,
                    action: "token.reuse",
                    target: token_target(token.id),
                    meta: audit::meta(detail.clone()),
                    at: now,
                },
            )?;
        }
        events::emit(
            client,
            events::Event {
                kind: "token.reused",
                token_id: Some(token.id),
                owner: Some(&token.owner),
                detail: Some(detail),
                at: now,
            },
        )?;
        Ok(())
    })
}

fn disable_chain(client: &mut SpiClient<'_>, from: Uuid, now: i64) -> Result<Vec<Uuid>> {
    let live: Vec<Uuid> = LIVE_CHAIN
        .run(client, &[from.into(), timestamp(now)?.into()])?
        .into_iter()
        .filter_map(|row| row.get::<Uuid>(1).transpose())
        .collect::<std::result::Result<_, _>>()
        .map_err(internal)?;
    for &id in &live {
        store::set_disabled(client, id, true, now)?;
    }
    Ok(live)
}
