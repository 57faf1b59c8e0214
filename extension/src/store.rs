//! All table access. Every function here runs inside `AsOwner` (as the
//! extension's owner, search_path pinned) and names every relation with its
//! schema.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;

use pgrx::datum::{DatumWithOid, Interval, TimestampWithTimeZone};
use pgrx::pg_sys::{self, PgBuiltInOids};
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiHeapTupleData, SpiTupleTable};
use pgrx::{IntoDatum, PgOid, Uuid};

use pg_tokens_core::credits::Cap;
use pg_tokens_core::usage::{interval_micros, RateLimit};

use crate::error::{internal, Result};

mod probe;

pub use probe::*;

/// A token as stored, without its hash.
#[derive(Debug, Clone)]
pub struct StoredToken {
    pub id: Uuid,
    pub prefix: String,
    pub name: String,
    pub kind: String,
    pub owner: String,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// The IP allowlist, as cidr text; None: any address.
    pub allowed_ips: Option<Vec<String>>,
    pub rate_limit: Option<RateLimit>,
    /// Suspended by tokens.disable (status `disabled`).
    pub disabled: bool,
    /// Application data (a JSON object), returned by verify.
    pub meta: Option<Meta>,
    /// The credit pool of a usage-capped token (tokens.set_remaining).
    pub credit_pool: Option<i64>,
}

/// A token's meta as it was read: jsonb's text from SQL, or (on verify's
/// index probe) the jsonb value itself, copied out of the page, so that a
/// verification hands it on without printing and parsing it again.
#[derive(Debug, Clone)]
pub enum Meta {
    Text(String),
    Jsonb(pg_sys::Datum),
}

impl Meta {
    /// The value as a jsonb datum for a result row.
    pub fn datum(&self) -> Result<pg_sys::Datum> {
        match self {
            Meta::Text(text) => crate::row::jsonb(text),
            Meta::Jsonb(datum) => Ok(*datum),
        }
    }

    /// The value as jsonb's text (to store it again, e.g. on a rotation).
    pub fn text(&self) -> String {
        match self {
            Meta::Text(text) => text.clone(),
            // SAFETY: a datum copied from a jsonb column.
            Meta::Jsonb(datum) => unsafe { jsonb_text(*datum) },
        }
    }
}

/// A token about to be stored.
pub struct NewToken<'a> {
    pub id: Uuid,
    pub hash: &'a [u8],
    pub prefix: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub owner: &'a str,
    pub scopes: Option<&'a [String]>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub allowed_ips: Option<&'a [String]>,
    pub rate_limit: Option<RateLimit>,
    /// A rotation's successor of a disabled token is disabled too.
    pub disabled: bool,
    /// Application data, as jsonb's text.
    pub meta: Option<&'a str>,
}

pub fn timestamp(micros: i64) -> Result<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(micros).map_err(internal)
}

fn micros(value: Option<TimestampWithTimeZone>) -> Option<i64> {
    value.map(pg_sys::TimestampTz::from)
}

fn column<T: pgrx::FromDatum + pgrx::IntoDatum>(
    row: &SpiHeapTupleData<'_>,
    name: &str,
) -> Result<Option<T>> {
    row.get_by_name::<T, _>(name).map_err(internal)
}

fn required<T: pgrx::FromDatum + pgrx::IntoDatum>(
    row: &SpiHeapTupleData<'_>,
    name: &str,
) -> Result<T> {
    column(row, name)?.ok_or_else(|| internal(format!("column {name} is NULL")))
}

fn stored_token(row: &SpiHeapTupleData<'_>) -> Result<StoredToken> {
    Ok(StoredToken {
        id: required(row, "id")?,
        prefix: required(row, "prefix")?,
        name: required(row, "name")?,
        kind: required(row, "kind")?,
        owner: required(row, "owner")?,
        scopes: column(row, "scopes")?,
        expires_at: micros(column(row, "expires_at")?),
        created_at: pg_sys::TimestampTz::from(required::<TimestampWithTimeZone>(
            row,
            "created_at",
        )?),
        revoked_at: micros(column(row, "revoked_at")?),
        allowed_ips: column(row, "allowed_ips")?,
        rate_limit: match (
            column::<i32>(row, "rate_requests")?,
            column::<i64>(row, "rate_per_us")?,
        ) {
            (Some(requests), Some(per_micros)) if requests > 0 => Some(RateLimit {
                requests: requests as u32,
                per_micros,
            }),
            _ => None,
        },
        disabled: column::<bool>(row, "disabled")?.unwrap_or(false),
        meta: column::<String>(row, "meta")?.map(Meta::Text),
        credit_pool: column::<i64>(row, "credit_pool")?,
    })
}

/// A statement planned once per backend and kept (parsing and planning
/// would otherwise cost more than running it). Plans are revalidated by
/// PostgreSQL when the tables change, and they name every object with its
/// schema, so the caller's search_path cannot change what they mean.
pub struct Statement {
    pub sql: &'static str,
    pub args: &'static [PgBuiltInOids],
    /// Reads that must see the latest committed rows (or our own writes)
    /// run like writes: with a fresh snapshot per statement.
    pub fresh_snapshot: bool,
}

thread_local! {
    static PLANS: RefCell<HashMap<&'static str, OwnedPreparedStatement>> = RefCell::new(HashMap::new());
}

impl Statement {
    pub fn run<'c>(
        &self,
        client: &SpiClient<'c>,
        args: &[DatumWithOid<'_>],
    ) -> Result<SpiTupleTable<'c>> {
        PLANS.with(|plans| {
            let mut plans = plans.borrow_mut();
            if !plans.contains_key(self.sql) {
                let types: Vec<PgOid> = self.args.iter().map(|&t| PgOid::BuiltIn(t)).collect();
                let plan = if self.fresh_snapshot {
                    client.prepare_mut(self.sql, &types)
                } else {
                    client.prepare(self.sql, &types)
                };
                plans.insert(self.sql, plan.map_err(internal)?.keep());
            }
            let plan = plans
                .get(self.sql)
                .ok_or_else(|| internal("a kept plan vanished"))?;
            client.select(&**plan, None, args).map_err(internal)
        })
    }
}

use pgrx::pg_sys::BuiltinOid::{
    BOOLOID, BYTEAOID, INT4OID, INT8OID, INTERVALOID, TEXTARRAYOID, TEXTOID, TIMESTAMPTZOID,
    UUIDOID,
};

const LOCK_BY_ID: Statement = Statement {
    // allowed_ips is read through the row's JSON form so that a database
    // still at 0.1.0 (installed library newer than its schema, before ALTER
    // EXTENSION UPDATE) keeps working: there the column does not exist.
    sql: "SELECT id, prefix, name, kind, owner, scopes, expires_at, created_at, revoked_at, \
                 CASE WHEN pg_catalog.jsonb_typeof(pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.->) 'allowed_ips') \
                           OPERATOR(pg_catalog.=) 'array' \
                      THEN ARRAY(SELECT pg_catalog.jsonb_array_elements_text( \
                                   pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.->) 'allowed_ips')) END AS allowed_ips, \
                 (pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.->>) 'rate_requests')::pg_catalog.int4 AS rate_requests, \
                 (pg_catalog.date_part('epoch', (pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.->>) 'rate_per')::pg_catalog.interval) \
                    OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8 AS rate_per_us, \
                 (pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.->>) 'disabled_at') IS NOT NULL AS disabled, \
                 CASE WHEN pg_catalog.jsonb_typeof(pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.->) 'meta') OPERATOR(pg_catalog.=) 'object' \
                      THEN (pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.->) 'meta')::pg_catalog.text END AS meta, \
                 (pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.->>) 'credit_pool')::pg_catalog.int8 AS credit_pool \
            FROM tokens.token_store t WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
    args: &[UUIDOID],
    fresh_snapshot: true,
};

/// The token with this id, row-locked until the end of the transaction so
/// that concurrent revokes and rotations of one token happen one at a time.
pub fn lock_by_id(client: &mut SpiClient<'_>, id: Uuid) -> Result<Option<StoredToken>> {
    let table = LOCK_BY_ID.run(client, &[id.into()])?;
    table
        .into_iter()
        .next()
        .map(|row| stored_token(&row))
        .transpose()
}

pub fn insert(client: &mut SpiClient<'_>, token: &NewToken<'_>) -> Result<()> {
    let expires_at = token.expires_at.map(timestamp).transpose()?;
    let scopes: Option<Vec<String>> = token.scopes.map(<[String]>::to_vec);
    let allowed_ips: Option<Vec<String>> = token.allowed_ips.map(<[String]>::to_vec);
    let mut args: Vec<DatumWithOid> = vec![
        token.id.into(),
        token.hash.into(),
        token.prefix.into(),
        token.name.into(),
        token.kind.into(),
        token.owner.into(),
        scopes.into(),
        expires_at.into(),
        timestamp(token.created_at)?.into(),
    ];
    // Only a rotation of a token with settings stores them; everything else
    // leaves those columns alone (and so works on an older schema too).
    match (allowed_ips, token.rate_limit, token.disabled, token.meta) {
        (None, None, false, None) => INSERT.run(client, &args)?,
        (Some(list), None, false, None) => {
            args.push(list.into());
            INSERT_WITH_ALLOWLIST.run(client, &args)?
        }
        (list, limit, disabled, meta) => {
            args.push(list.into());
            args.push(limit.map(|l| l.requests as i32).into());
            args.push(limit.map(|l| l.per_micros).into());
            args.push(disabled.into());
            args.push(meta.into());
            INSERT_WITH_SETTINGS.run(client, &args)?
        }
    };
    Ok(())
}

const INSERT: Statement = Statement {
    sql: "WITH t AS (INSERT INTO tokens.token_store (id, hash, prefix, name, kind, owner, scopes, expires_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id) \
          INSERT INTO tokens.token_last_use (token_id) SELECT id FROM t",
    args: &[UUIDOID, BYTEAOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID],
    fresh_snapshot: true,
};

const INSERT_WITH_ALLOWLIST: Statement = Statement {
    sql: "WITH t AS (INSERT INTO tokens.token_store (id, hash, prefix, name, kind, owner, scopes, expires_at, created_at, allowed_ips) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::pg_catalog.cidr[]) RETURNING id) \
          INSERT INTO tokens.token_last_use (token_id) SELECT id FROM t",
    args: &[UUIDOID, BYTEAOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTARRAYOID],
    fresh_snapshot: true,
};

const INSERT_WITH_SETTINGS: Statement = Statement {
    sql: "WITH t AS (INSERT INTO tokens.token_store (id, hash, prefix, name, kind, owner, scopes, expires_at, created_at, \
                                                    allowed_ips, rate_requests, rate_per, disabled_at, meta) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::pg_catalog.cidr[], $11, \
                             $12 OPERATOR(pg_catalog.*) interval '1 microsecond', \
                             CASE WHEN $13 THEN $9 END, $14::pg_catalog.jsonb) RETURNING id) \
          INSERT INTO tokens.token_last_use (token_id) SELECT id FROM t",
    args: &[
        UUIDOID, BYTEAOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTARRAYOID,
        INT4OID, INT8OID, BOOLOID, TEXTOID,
    ],
    fresh_snapshot: true,
};

const SET_RATE_LIMIT: Statement = Statement {
    sql: "UPDATE tokens.token_store \
             SET rate_requests = $2, rate_per = $3 OPERATOR(pg_catalog.*) interval '1 microsecond' \
           WHERE id OPERATOR(pg_catalog.=) $1",
    args: &[UUIDOID, INT4OID, INT8OID],
    fresh_snapshot: true,
};

/// Sets (or with None clears) a token's rate limit.
pub fn set_rate_limit(
    client: &mut SpiClient<'_>,
    id: Uuid,
    limit: Option<RateLimit>,
) -> Result<()> {
    let requests = limit.map(|l| l.requests as i32);
    let per = limit.map(|l| l.per_micros);
    SET_RATE_LIMIT.run(client, &[id.into(), requests.into(), per.into()])?;
    Ok(())
}

const NEW_CREDIT_POOL: Statement = Statement {
    sql: "INSERT INTO tokens.credit_store (pool, remaining, refill_amount, refill_every, started_at) \
          VALUES (pg_catalog.nextval('tokens.credit_pool_seq'::pg_catalog.regclass), $1, $2, $3, $4) \
          RETURNING pool",
    args: &[INT8OID, INT8OID, INTERVALOID, TIMESTAMPTZOID],
    fresh_snapshot: true,
};

/// A new credit pool for `cap` (its refill interval kept as it was given,
/// `every`), its periods starting at `started_at`.
pub fn new_credit_pool(
    client: &mut SpiClient<'_>,
    cap: &Cap,
    every: Option<Interval>,
    started_at: i64,
) -> Result<i64> {
    let table = NEW_CREDIT_POOL.run(
        client,
        &[
            cap.remaining.into(),
            cap.refill.map(|r| r.amount).into(),
            cap.refill.and(every).into(),
            timestamp(started_at)?.into(),
        ],
    )?;
    let row = table
        .into_iter()
        .next()
        .ok_or_else(|| internal("INSERT ... RETURNING gave no row"))?;
    required(&row, "pool")
}

const SET_CREDIT_POOL: Statement = Statement {
    sql: "UPDATE tokens.token_store SET credit_pool = $2 WHERE id OPERATOR(pg_catalog.=) $1",
    args: &[UUIDOID, INT8OID],
    fresh_snapshot: true,
};

/// Caps a token with `pool`'s credits, or (None) removes its cap.
pub fn set_credit_pool(client: &mut SpiClient<'_>, id: Uuid, pool: Option<i64>) -> Result<()> {
    SET_CREDIT_POOL.run(client, &[id.into(), pool.into()])?;
    Ok(())
}

const DELETE_CREDIT_POOL: Statement = Statement {
    sql: "DELETE FROM tokens.credit_store WHERE pool OPERATOR(pg_catalog.=) $1",
    args: &[INT8OID],
    fresh_snapshot: true,
};

/// Deletes a credit pool a new cap replaced.
pub fn delete_credit_pool(client: &mut SpiClient<'_>, pool: i64) -> Result<()> {
    DELETE_CREDIT_POOL.run(client, &[pool.into()])?;
    Ok(())
}

const OWNER_AND_POOL: Statement = Statement {
    sql: "SELECT owner, credit_pool FROM tokens.token_store WHERE id OPERATOR(pg_catalog.=) $1",
    args: &[UUIDOID],
    fresh_snapshot: false,
};

/// The owner and credit pool of the token with this id, if there is one.
pub fn owner_and_pool(client: &SpiClient<'_>, id: Uuid) -> Result<Option<(String, Option<i64>)>> {
    let table = OWNER_AND_POOL.run(client, &[id.into()])?;
    table
        .into_iter()
        .next()
        .map(|row| {
            Ok((
                required::<String>(&row, "owner")?,
                column::<i64>(&row, "credit_pool")?,
            ))
        })
        .transpose()
}

const SET_META: Statement = Statement {
    sql: "UPDATE tokens.token_store SET meta = $2::pg_catalog.jsonb WHERE id OPERATOR(pg_catalog.=) $1",
    args: &[UUIDOID, TEXTOID],
    fresh_snapshot: true,
};

/// Sets (or with None clears) a token's meta, given as jsonb text.
pub fn set_meta(client: &mut SpiClient<'_>, id: Uuid, meta: Option<&str>) -> Result<()> {
    SET_META.run(client, &[id.into(), meta.into()])?;
    Ok(())
}

const SET_DISABLED: Statement = Statement {
    sql: "UPDATE tokens.token_store SET disabled_at = CASE WHEN $2 THEN $3 END \
           WHERE id OPERATOR(pg_catalog.=) $1",
    args: &[UUIDOID, BOOLOID, TIMESTAMPTZOID],
    fresh_snapshot: true,
};

/// Disables (at `at`) or enables a token.
pub fn set_disabled(client: &mut SpiClient<'_>, id: Uuid, disabled: bool, at: i64) -> Result<()> {
    SET_DISABLED.run(client, &[id.into(), disabled.into(), timestamp(at)?.into()])?;
    Ok(())
}

const SET_REVOKED_AT: Statement = Statement {
    sql: "UPDATE tokens.token_store SET revoked_at = $2 WHERE id OPERATOR(pg_catalog.=) $1",
    args: &[UUIDOID, TIMESTAMPTZOID],
    fresh_snapshot: true,
};

pub fn set_revoked_at(client: &mut SpiClient<'_>, id: Uuid, at: i64) -> Result<()> {
    SET_REVOKED_AT.run(client, &[id.into(), timestamp(at)?.into()])?;
    Ok(())
}

/// Records a use at `now` unless one was recorded after `stale_before`.
/// Skips (never waits) when another transaction holds the row.
const TOUCH_LAST_USE: Statement = Statement {
    sql: "UPDATE tokens.token_last_use SET last_used_at = $2 \
           WHERE token_id OPERATOR(pg_catalog.=) \
                 (SELECT token_id FROM tokens.token_last_use \
                   WHERE token_id OPERATOR(pg_catalog.=) $1 \
                     AND (last_used_at IS NULL OR last_used_at OPERATOR(pg_catalog.<) $3) \
                     FOR UPDATE SKIP LOCKED) \
          RETURNING true AS written",
    args: &[UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID],
    fresh_snapshot: true,
};

const RECENTLY_USED: Statement = Statement {
    sql: "SELECT coalesce(last_used_at OPERATOR(pg_catalog.>=) $2, false) AS recent \
            FROM tokens.token_last_use WHERE token_id OPERATOR(pg_catalog.=) $1",
    args: &[UUIDOID, TIMESTAMPTZOID],
    fresh_snapshot: true,
};

/// Records a use at `now` unless one was recorded after `stale_before`.
/// Skips (never waits) when another transaction holds the row. Returns
/// whether a use after `stale_before` is now on record (written by us or
/// already there), i.e. whether there is nothing left to record.
pub fn touch_last_use(
    client: &mut SpiClient<'_>,
    id: Uuid,
    now: i64,
    stale_before: i64,
) -> Result<bool> {
    if !TOUCH_LAST_USE
        .run(
            client,
            &[
                id.into(),
                timestamp(now)?.into(),
                timestamp(stale_before)?.into(),
            ],
        )?
        .is_empty()
    {
        return Ok(true);
    }
    let recent = RECENTLY_USED.run(client, &[id.into(), timestamp(stale_before)?.into()])?;
    Ok(recent
        .into_iter()
        .next()
        .map(|row| column::<bool>(&row, "recent"))
        .transpose()?
        .flatten()
        == Some(true))
}

/// The first of `scopes` missing from a non-empty scope catalogue.
pub fn first_undefined_scope(client: &SpiClient<'_>, scopes: &[String]) -> Result<Option<String>> {
    if scopes.is_empty() {
        return Ok(None);
    }
    let table = UNDEFINED_SCOPE.run(client, &[scopes.to_vec().into()])?;
    table
        .into_iter()
        .next()
        .map(|row| required::<String>(&row, "scope"))
        .transpose()
}

const UNDEFINED_SCOPE: Statement = Statement {
    sql: "SELECT s.scope FROM pg_catalog.unnest($1) WITH ORDINALITY AS s(scope, n) \
           WHERE EXISTS (SELECT FROM tokens.scope_catalog) \
             AND NOT EXISTS (SELECT FROM tokens.scope_catalog c WHERE c.scope OPERATOR(pg_catalog.=) s.scope) \
           ORDER BY s.n LIMIT 1",
    args: &[TEXTARRAYOID],
    fresh_snapshot: true,
};

pub fn define_scope(
    client: &mut SpiClient<'_>,
    scope: &str,
    description: Option<&str>,
) -> Result<()> {
    DEFINE_SCOPE.run(client, &[scope.into(), description.into()])?;
    Ok(())
}

const DEFINE_SCOPE: Statement = Statement {
    sql: "INSERT INTO tokens.scope_catalog (scope, description) VALUES ($1, $2) \
          ON CONFLICT (scope) DO UPDATE SET description = EXCLUDED.description",
    args: &[TEXTOID, TEXTOID],
    fresh_snapshot: true,
};

const SET_ALLOWED_IPS: Statement = Statement {
    sql: "UPDATE tokens.token_store SET allowed_ips = $2::pg_catalog.cidr[] WHERE id OPERATOR(pg_catalog.=) $1 \
          RETURNING allowed_ips::pg_catalog.text[] AS allowed_ips",
    args: &[UUIDOID, TEXTARRAYOID],
    fresh_snapshot: true,
};

/// Sets (or with None clears) a token's allowlist; returns it as stored
/// (canonical cidr text).
pub fn set_allowed_ips(
    client: &mut SpiClient<'_>,
    id: Uuid,
    allowed: Option<Vec<String>>,
) -> Result<Option<Vec<String>>> {
    let table = SET_ALLOWED_IPS.run(client, &[id.into(), allowed.into()])?;
    match table.into_iter().next() {
        Some(row) => column(&row, "allowed_ips"),
        None => Ok(None),
    }
}

const OWNER_OF: Statement = Statement {
    sql: "SELECT owner FROM tokens.token_store WHERE id OPERATOR(pg_catalog.=) $1",
    args: &[UUIDOID],
    fresh_snapshot: false,
};

/// The owner of the token with this id, if there is one.
pub fn owner_of(client: &SpiClient<'_>, id: Uuid) -> Result<Option<String>> {
    let table = OWNER_OF.run(client, &[id.into()])?;
    table
        .into_iter()
        .next()
        .map(|row| required::<String>(&row, "owner"))
        .transpose()
}

const USAGE_MINUTES: Statement = Statement {
    sql: "SELECT bucket, count, denied FROM tokens.usage_counts \
           WHERE token_id OPERATOR(pg_catalog.=) $1 \
             AND bucket OPERATOR(pg_catalog.>=) $2 AND bucket OPERATOR(pg_catalog.<) $3",
    args: &[UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID],
    fresh_snapshot: false,
};

/// The flushed per-minute counts of a token in [from, to).
pub fn usage_minutes(
    client: &SpiClient<'_>,
    id: Uuid,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, i64, i64)>> {
    let table = USAGE_MINUTES.run(
        client,
        &[id.into(), timestamp(from)?.into(), timestamp(to)?.into()],
    )?;
    table
        .into_iter()
        .map(|row| {
            Ok((
                pg_sys::TimestampTz::from(required::<TimestampWithTimeZone>(&row, "bucket")?),
                required::<i64>(&row, "count")?,
                required::<i64>(&row, "denied")?,
            ))
        })
        .collect()
}

const OWNER_LIMITS_POOL: Statement = Statement {
    sql: "SELECT credit_pool FROM tokens.owner_limit_store WHERE owner OPERATOR(pg_catalog.=) $1 FOR UPDATE",
    args: &[TEXTOID],
    fresh_snapshot: true,
};

const SET_OWNER_LIMITS: Statement = Statement {
    sql: "INSERT INTO tokens.owner_limit_store AS o (owner, rate_requests, rate_per, credit_pool) \
          VALUES ($1, $2, $3 OPERATOR(pg_catalog.*) interval '1 microsecond', $4) \
          ON CONFLICT (owner) DO UPDATE \
             SET rate_requests = EXCLUDED.rate_requests, rate_per = EXCLUDED.rate_per, \
                 credit_pool = EXCLUDED.credit_pool",
    args: &[TEXTOID, INT4OID, INT8OID, INT8OID],
    fresh_snapshot: true,
};

const CLEAR_OWNER_LIMITS: Statement = Statement {
    sql: "DELETE FROM tokens.owner_limit_store WHERE owner OPERATOR(pg_catalog.=) $1",
    args: &[TEXTOID],
    fresh_snapshot: true,
};

/// The credit pool of `owner`'s shared limits, its row locked until the
/// end of the transaction: Some(None) when it has limits but no pool, None
/// when it has none.
pub fn lock_owner_limits(client: &mut SpiClient<'_>, owner: &str) -> Result<Option<Option<i64>>> {
    let table = OWNER_LIMITS_POOL.run(client, &[owner.into()])?;
    match table.into_iter().next() {
        None => Ok(None),
        Some(row) => Ok(Some(column(&row, "credit_pool")?)),
    }
}

/// Sets `owner`'s shared limits; with neither a limit nor a pool, removes
/// its row.
pub fn set_owner_limits(
    client: &mut SpiClient<'_>,
    owner: &str,
    limit: Option<RateLimit>,
    pool: Option<i64>,
) -> Result<()> {
    if limit.is_none() && pool.is_none() {
        CLEAR_OWNER_LIMITS.run(client, &[owner.into()])?;
        return Ok(());
    }
    let requests = limit.map(|l| l.requests as i32);
    let per = limit.map(|l| l.per_micros);
    SET_OWNER_LIMITS.run(
        client,
        &[owner.into(), requests.into(), per.into(), pool.into()],
    )?;
    Ok(())
}
