//! All table access. Every function here runs inside `AsOwner` (as the
//! extension's owner, search_path pinned) and names every relation with its
//! schema.

use std::cell::RefCell;
use std::collections::HashMap;

use pgrx::datum::{DatumWithOid, TimestampWithTimeZone};
use pgrx::pg_sys::{self, PgBuiltInOids};
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiHeapTupleData, SpiTupleTable};
use pgrx::{PgOid, Uuid};

use crate::error::{internal, Result};

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
}

pub fn timestamp(micros: i64) -> Result<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(micros).map_err(internal)
}

fn micros(value: Option<TimestampWithTimeZone>) -> Option<i64> {
    value.map(pg_sys::TimestampTz::from)
}

fn column<T: pgrx::FromDatum + pgrx::IntoDatum>(row: &SpiHeapTupleData<'_>, name: &str) -> Result<Option<T>> {
    row.get_by_name::<T, _>(name).map_err(internal)
}

fn required<T: pgrx::FromDatum + pgrx::IntoDatum>(row: &SpiHeapTupleData<'_>, name: &str) -> Result<T> {
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
        created_at: pg_sys::TimestampTz::from(required::<TimestampWithTimeZone>(row, "created_at")?),
        revoked_at: micros(column(row, "revoked_at")?),
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
    pub fn run<'c>(&self, client: &SpiClient<'c>, args: &[DatumWithOid<'_>]) -> Result<SpiTupleTable<'c>> {
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
            let plan = plans.get(self.sql).ok_or_else(|| internal("a kept plan vanished"))?;
            client.select(&**plan, None, args).map_err(internal)
        })
    }
}

use pgrx::pg_sys::BuiltinOid::{BYTEAOID, TEXTARRAYOID, TEXTOID, TIMESTAMPTZOID, UUIDOID};

const FIND_BY_HASH: Statement = Statement {
    sql: "SELECT id, prefix, name, kind, owner, scopes, expires_at, created_at, revoked_at \
            FROM tokens.token_store WHERE hash OPERATOR(pg_catalog.=) $1",
    args: &[BYTEAOID],
    fresh_snapshot: false,
};

/// The token with this hash: one probe of the unique index, no row lock.
pub fn find_by_hash(client: &SpiClient<'_>, hash: &[u8]) -> Result<Option<StoredToken>> {
    let table = FIND_BY_HASH.run(client, &[hash.into()])?;
    table.into_iter().next().map(|row| stored_token(&row)).transpose()
}

const LOCK_BY_ID: Statement = Statement {
    sql: "SELECT id, prefix, name, kind, owner, scopes, expires_at, created_at, revoked_at \
            FROM tokens.token_store WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
    args: &[UUIDOID],
    fresh_snapshot: true,
};

/// The token with this id, row-locked until the end of the transaction so
/// that concurrent revokes and rotations of one token happen one at a time.
pub fn lock_by_id(client: &mut SpiClient<'_>, id: Uuid) -> Result<Option<StoredToken>> {
    let table = LOCK_BY_ID.run(client, &[id.into()])?;
    table.into_iter().next().map(|row| stored_token(&row)).transpose()
}

pub fn insert(client: &mut SpiClient<'_>, token: &NewToken<'_>) -> Result<()> {
    let expires_at = token.expires_at.map(timestamp).transpose()?;
    let scopes: Option<Vec<String>> = token.scopes.map(<[String]>::to_vec);
    let args: [DatumWithOid; 9] = [
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
    INSERT.run(client, &args)?;
    Ok(())
}

const INSERT: Statement = Statement {
    sql: "WITH t AS (INSERT INTO tokens.token_store (id, hash, prefix, name, kind, owner, scopes, expires_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id) \
          INSERT INTO tokens.token_last_use (token_id) SELECT id FROM t",
    args: &[UUIDOID, BYTEAOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID],
    fresh_snapshot: true,
};

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
                     FOR UPDATE SKIP LOCKED)",
    args: &[UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID],
    fresh_snapshot: true,
};

pub fn touch_last_use(client: &mut SpiClient<'_>, id: Uuid, now: i64, stale_before: i64) -> Result<()> {
    TOUCH_LAST_USE.run(client, &[id.into(), timestamp(now)?.into(), timestamp(stale_before)?.into()])?;
    Ok(())
}

/// The first of `scopes` missing from a non-empty scope catalogue.
pub fn first_undefined_scope(client: &SpiClient<'_>, scopes: &[String]) -> Result<Option<String>> {
    if scopes.is_empty() {
        return Ok(None);
    }
    let table = UNDEFINED_SCOPE.run(client, &[scopes.to_vec().into()])?;
    table.into_iter().next().map(|row| required::<String>(&row, "scope")).transpose()
}

const UNDEFINED_SCOPE: Statement = Statement {
    sql: "SELECT s.scope FROM pg_catalog.unnest($1) WITH ORDINALITY AS s(scope, n) \
           WHERE EXISTS (SELECT FROM tokens.scope_catalog) \
             AND NOT EXISTS (SELECT FROM tokens.scope_catalog c WHERE c.scope OPERATOR(pg_catalog.=) s.scope) \
           ORDER BY s.n LIMIT 1",
    args: &[TEXTARRAYOID],
    fresh_snapshot: true,
};

pub fn define_scope(client: &mut SpiClient<'_>, scope: &str, description: Option<&str>) -> Result<()> {
    DEFINE_SCOPE.run(client, &[scope.into(), description.into()])?;
    Ok(())
}

const DEFINE_SCOPE: Statement = Statement {
    sql: "INSERT INTO tokens.scope_catalog (scope, description) VALUES ($1, $2) \
          ON CONFLICT (scope) DO UPDATE SET description = EXCLUDED.description",
    args: &[TEXTOID, TEXTOID],
    fresh_snapshot: true,
};
