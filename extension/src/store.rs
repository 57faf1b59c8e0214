//! All table access. Every function here runs inside `AsOwner` (as the
//! extension's owner, search_path pinned) and names every relation with its
//! schema.

use std::cell::RefCell;

use pgrx::datum::{DatumWithOid, TimestampWithTimeZone};
use pgrx::pg_sys::{self, PgBuiltInOids};
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiHeapTupleData};
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

const COLUMNS: &str = "id, prefix, name, kind, owner, scopes, expires_at, created_at, revoked_at";

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

thread_local! {
    /// The verification probe, planned once per backend and kept.
    static FIND_BY_HASH: RefCell<Option<OwnedPreparedStatement>> = const { RefCell::new(None) };
}

/// The token with this hash: one probe of the unique index, no row lock.
pub fn find_by_hash(client: &SpiClient<'_>, hash: &[u8]) -> Result<Option<StoredToken>> {
    FIND_BY_HASH.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let query = format!("SELECT {COLUMNS} FROM tokens.token_store WHERE hash = $1");
            let plan = client
                .prepare(query.as_str(), &[PgOid::BuiltIn(PgBuiltInOids::BYTEAOID)])
                .map_err(internal)?;
            *slot = Some(plan.keep());
        }
        let plan = slot.as_ref().ok_or_else(|| internal("verification plan missing"))?;
        let args: [DatumWithOid; 1] = [hash.into()];
        let table = client.select(&**plan, Some(1), &args).map_err(internal)?;
        table.into_iter().next().map(|row| stored_token(&row)).transpose()
    })
}

/// The token with this id, row-locked until the end of the transaction so
/// that concurrent revokes and rotations of one token happen one at a time.
pub fn lock_by_id(client: &mut SpiClient<'_>, id: Uuid) -> Result<Option<StoredToken>> {
    let query = format!("SELECT {COLUMNS} FROM tokens.token_store WHERE id = $1 FOR UPDATE");
    let table = client.update(query.as_str(), Some(1), &[id.into()]).map_err(internal)?;
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
    client
        .update(
            "INSERT INTO tokens.token_store (id, hash, prefix, name, kind, owner, scopes, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            None,
            &args,
        )
        .map_err(internal)?;
    client
        .update("INSERT INTO tokens.token_last_use (token_id) VALUES ($1)", None, &[token.id.into()])
        .map_err(internal)?;
    Ok(())
}

pub fn set_revoked_at(client: &mut SpiClient<'_>, id: Uuid, at: i64) -> Result<()> {
    client
        .update(
            "UPDATE tokens.token_store SET revoked_at = $2 WHERE id = $1",
            None,
            &[id.into(), timestamp(at)?.into()],
        )
        .map_err(internal)?;
    Ok(())
}

/// Records a use at `now` unless one was recorded after `stale_before`.
/// Skips (never waits) when another transaction holds the row.
pub fn touch_last_use(client: &mut SpiClient<'_>, id: Uuid, now: i64, stale_before: i64) -> Result<()> {
    client
        .update(
            "UPDATE tokens.token_last_use SET last_used_at = $2 \
              WHERE token_id = (SELECT token_id FROM tokens.token_last_use \
                                 WHERE token_id = $1 AND (last_used_at IS NULL OR last_used_at < $3) \
                                   FOR UPDATE SKIP LOCKED)",
            None,
            &[id.into(), timestamp(now)?.into(), timestamp(stale_before)?.into()],
        )
        .map_err(internal)?;
    Ok(())
}

/// The first of `scopes` missing from a non-empty scope catalogue.
pub fn first_undefined_scope(client: &SpiClient<'_>, scopes: &[String]) -> Result<Option<String>> {
    if scopes.is_empty() {
        return Ok(None);
    }
    let table = client
        .select(
            "SELECT s.scope FROM unnest($1::text[]) WITH ORDINALITY AS s(scope, n) \
              WHERE EXISTS (SELECT FROM tokens.scope_catalog) \
                AND NOT EXISTS (SELECT FROM tokens.scope_catalog c WHERE c.scope = s.scope) \
              ORDER BY s.n LIMIT 1",
            None,
            &[scopes.to_vec().into()],
        )
        .map_err(internal)?;
    table.into_iter().next().map(|row| required::<String>(&row, "scope")).transpose()
}

pub fn define_scope(client: &mut SpiClient<'_>, scope: &str, description: Option<&str>) -> Result<()> {
    client
        .update(
            "INSERT INTO tokens.scope_catalog (scope, description) VALUES ($1, $2) \
             ON CONFLICT (scope) DO UPDATE SET description = EXCLUDED.description",
            None,
            &[scope.into(), description.into()],
        )
        .map_err(internal)?;
    Ok(())
}
