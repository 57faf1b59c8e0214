//! Per-database policies, `tokens.policies`: set by tokens_writer with
//! `tokens.set_policy`, audited as `token.policy`, kept by pg_dump.
//!
//! `max_lifetime` and `require_expiry` are checked by mint and rotate in
//! the caller's transaction; `revoke_unused_after` by the worker's
//! lifecycle pass; `revoke_on_reuse` by verify (see [`crate::reuse`]).
//! A database not yet upgraded to 0.5.0 has no policies.

use pg_tokens_core::policy::{Policy, Shape};
use pg_tokens_core::Error;
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::pg_sys::BuiltinOid::{TEXTOID, TIMESTAMPTZOID};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::Uuid;

use crate::audit::{self, token_target, Event};
use crate::error::{internal, OrRaise, Result};
use crate::events;
use crate::privilege::{AsOwner, Caller};
use crate::store::{self, timestamp, Statement};

const UPSERT: Statement = Statement {
    sql: "WITH old AS (SELECT value FROM tokens.policy_store WHERE name OPERATOR(pg_catalog.=) $1), \
          new AS (INSERT INTO tokens.policy_store (name, value, set_at, set_by) VALUES ($1, $2, $3, $4) \
                  ON CONFLICT (name) DO UPDATE SET value = excluded.value, set_at = excluded.set_at, \
                                                   set_by = excluded.set_by \
                  RETURNING 1) \
          SELECT (SELECT value FROM old) AS previous FROM new",
    args: &[TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID],
    fresh_snapshot: true,
};

const DELETE: Statement = Statement {
    sql: "WITH d AS (DELETE FROM tokens.policy_store WHERE name OPERATOR(pg_catalog.=) $1 RETURNING value) \
          SELECT (SELECT value FROM d) AS previous",
    args: &[TEXTOID],
    fresh_snapshot: true,
};

/// `tokens.set_policy(name, value)`: NULL sets the policy back to its
/// default. The boolean and interval overloads pass their value as text.
#[pg_extern(sql = false)]
fn set_policy(name: Option<&str>, value: Option<&str>) {
    let caller = Caller::current();
    let policy = Policy::parse(name).or_raise();
    let value = value.map(|v| canonical(policy, v)).transpose().or_raise();
    let _owner = AsOwner::enter().or_raise();
    Spi::connect_mut(|client| {
        let now = crate::api::clock();
        let previous = match &value {
            Some(v) => UPSERT.run(
                client,
                &[
                    policy.name().into(),
                    v.as_str().into(),
                    timestamp(now)?.into(),
                    caller.name.as_str().into(),
                ],
            )?,
            None => DELETE.run(client, &[policy.name().into()])?,
        }
        .first()
        .get_one::<String>()
        .map_err(internal)?;
        if previous == value {
            return Ok(()); // unchanged: nothing to audit
        }
        audit::append(
            client,
            Event {
                actor: &caller.name,
                db_role: &caller.name,
                action: "token.policy",
                target: Some(format!("policy:{}", policy.name())),
                meta: audit::meta(serde_json::json!({
                    "name": policy.name(),
                    "value": value,
                    "previous": previous,
                })),
                at: now,
            },
        )
        .map(|_| ())
    })
    .or_raise()
}

/// The value as stored: an interval as PostgreSQL prints it, a boolean as
/// `true` or `false`.
fn canonical(policy: Policy, value: &str) -> Result<String> {
    match policy.shape() {
        Shape::Boolean => Ok(policy.boolean(value)?.to_owned()),
        Shape::Interval { .. } => {
            let interval = parse_interval(value).ok_or_else(|| policy.wrong_value())?;
            policy.check_interval(interval.months(), interval.days(), interval.micros())?;
            Ok(interval.to_string())
        }
    }
}

/// PostgreSQL's own interval input (every IntervalStyle's output parses);
/// None for text it refuses, whatever its error.
fn parse_interval(text: &str) -> Option<Interval> {
    let text = std::ffi::CString::new(text).ok()?;
    PgTryBuilder::new(|| {
        // SAFETY: interval_in takes a cstring, a type oid and a typmod.
        unsafe {
            pgrx::direct_function_call::<Interval>(
                pg_sys::interval_in,
                &[
                    text.as_c_str().into_datum(),
                    pg_sys::InvalidOid.into_datum(),
                    (-1i32).into_datum(),
                ],
            )
        }
    })
    .catch_others(|_| None)
    .execute()
}

/// What the policies allow of a token's expiry, as of a moment.
pub struct ExpiryRule {
    /// With `max_lifetime`: the latest expiry allowed, and the policy's value.
    latest: Option<(i64, String)>,
    require: bool,
}

const EXPIRY_RULE: Statement = Statement {
    sql: "SELECT $1 OPERATOR(pg_catalog.+) l.value::pg_catalog.interval AS latest, l.value AS lifetime, \
                 COALESCE((SELECT value::pg_catalog.bool FROM tokens.policy_store \
                            WHERE name OPERATOR(pg_catalog.=) 'require_expiry'), false) AS require \
            FROM (SELECT (SELECT value FROM tokens.policy_store \
                           WHERE name OPERATOR(pg_catalog.=) 'max_lifetime') AS value) l",
    args: &[TIMESTAMPTZOID],
    fresh_snapshot: true,
};

/// The expiry rule at `now` (none without the policies table).
pub fn expiry_rule(client: &SpiClient<'_>, now: i64) -> Result<ExpiryRule> {
    let none = ExpiryRule {
        latest: None,
        require: false,
    };
    if !crate::privilege::has_own_table(c"policy_store")? {
        return Ok(none);
    }
    let rows = EXPIRY_RULE.run(client, &[timestamp(now)?.into()])?;
    let row = rows.first();
    let latest = row
        .get::<TimestampWithTimeZone>(1)
        .map_err(internal)?
        .map(pg_sys::TimestampTz::from);
    let lifetime = row.get::<String>(2).map_err(internal)?;
    let require = row.get::<bool>(3).map_err(internal)?.unwrap_or(false);
    Ok(ExpiryRule {
        latest: latest.zip(lifetime),
        require,
    })
}

impl ExpiryRule {
    /// A new token's expiry (None: never) at mint.
    pub fn admits_mint(&self, expires_at: Option<i64>) -> Result<()> {
        match (expires_at, &self.latest) {
            (None, Some((_, lifetime))) => Err(Error::invalid(
                "expires_at",
                format!(
                    "expires_at must be set: policy max_lifetime is {lifetime}, so a token must expire \
                     within {lifetime} from now (pass expires_at => now() + interval '...')"
                ),
            )),
            (Some(at), Some((latest, lifetime))) if at > *latest => Err(Error::invalid(
                "expires_at",
                format!(
                    "expires_at is later than policy max_lifetime allows: a token must expire \
                     within {lifetime} from now"
                ),
            )),
            (None, None) if self.require => Err(Error::invalid(
                "expires_at",
                "expires_at must be set: policy require_expiry is on, so every token must expire \
                 (pass expires_at => now() + interval '...')",
            )),
            _ => Ok(()),
        }
    }

    /// A rotation's successor, which keeps the predecessor's expiry.
    pub fn admits_rotation(&self, id: Uuid, expires_at: Option<i64>) -> Result<()> {
        self.admits_mint(expires_at).map_err(|e| match e {
            Error::InvalidArgument { .. } => Error::invalid(
                "id",
                format!(
                    "token {id} cannot be rotated: its successor would keep its expiry, and {}; \
                     mint a new token with an expiry the policies allow instead",
                    match &self.latest {
                        Some((_, lifetime)) => format!(
                            "policy max_lifetime ({lifetime}) allows none that is {}",
                            if expires_at.is_none() {
                                "never"
                            } else {
                                "that late"
                            }
                        ),
                        None =>
                            "policy require_expiry refuses a token that never expires".to_owned(),
                    }
                ),
            ),
            other => other,
        })
    }
}

/// Whether `policy` (a boolean one) is on.
pub fn is_on(client: &SpiClient<'_>, policy: Policy) -> Result<bool> {
    if !crate::privilege::has_own_table(c"policy_store")? {
        return Ok(false);
    }
    const ON: Statement = Statement {
        sql: "SELECT COALESCE((SELECT value::pg_catalog.bool FROM tokens.policy_store \
                                WHERE name OPERATOR(pg_catalog.=) $1), false)",
        args: &[TEXTOID],
        fresh_snapshot: true,
    };
    Ok(ON
        .run(client, &[policy.name().into()])?
        .first()
        .get_one::<bool>()
        .map_err(internal)?
        .unwrap_or(false))
}

/// Live tokens not used (nor created) within `revoke_unused_after` of
/// `$1`, locked; a batch at a time, skipping rows another transaction
/// holds (the next pass gets them).
const UNUSED: Statement = Statement {
    sql: "SELECT t.id, t.owner FROM tokens.token_store t \
            LEFT JOIN tokens.token_last_use u ON u.token_id OPERATOR(pg_catalog.=) t.id \
           WHERE t.revoked_at IS NULL \
             AND COALESCE(u.last_used_at, t.created_at) OPERATOR(pg_catalog.<) \
                 ($1 OPERATOR(pg_catalog.-) (SELECT value::pg_catalog.interval FROM tokens.policy_store \
                                              WHERE name OPERATOR(pg_catalog.=) 'revoke_unused_after')) \
           ORDER BY t.id LIMIT 1000 FOR UPDATE OF t SKIP LOCKED",
    args: &[TIMESTAMPTZOID],
    fresh_snapshot: true,
};

/// With `revoke_unused_after`: revokes the tokens unused for that long
/// (reason `inactive`), each audited and announced as `token.revoked`.
/// Last use is as the flush last wrote it (within `pg_tokens.flush_interval`).
pub fn revoke_unused(client: &mut SpiClient<'_>, now: i64) -> Result<usize> {
    if !crate::privilege::has_own_table(c"policy_store")? {
        return Ok(0);
    }
    let due: Vec<(Uuid, String)> = UNUSED
        .run(client, &[timestamp(now)?.into()])?
        .into_iter()
        .map(|row| {
            let id = row.get::<Uuid>(1).map_err(internal)?;
            let owner = row.get::<String>(2).map_err(internal)?;
            id.zip(owner)
                .ok_or_else(|| internal("an unused token without id or owner"))
        })
        .collect::<Result<_>>()?;
    let role = Caller::current().name;
    for (id, owner) in &due {
        store::set_revoked_at(client, *id, now)?;
        audit::append(
            client,
            Event {
                actor: SYSTEM_ACTOR,
                db_role: &role,
                action: "token.revoke",
                target: token_target(id),
                meta: audit::meta(serde_json::json!({
                    "reason": "inactive",
                    "policy": "revoke_unused_after",
                })),
                at: now,
            },
        )?;
        events::emit(
            client,
            events::Event {
                kind: "token.revoked",
                token_id: Some(*id),
                owner: Some(owner),
                detail: Some(serde_json::json!({ "actor": SYSTEM_ACTOR, "reason": "inactive" })),
                at: now,
            },
        )?;
    }
    Ok(due.len())
}

/// The actor of what the extension does by itself (a policy applied).
pub const SYSTEM_ACTOR: &str = "pg_tokens";
