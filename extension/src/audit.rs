//! Appending to the audit log, in the caller's transaction.
//!
//! Since 0.5.0 an append shares nothing with other transactions: one row in
//! `tokens.audit_store` (its id from a sequence) and one in the queue
//! `tokens.audit_unsealed`. Its position in the chain is fixed after it
//! commits, by the sealer ([`crate::seal`]); the commit tells the
//! background worker that the database has something to seal.
//!
//! A database not yet upgraded to 0.5.0 (the library is, `ALTER EXTENSION
//! pg_tokens UPDATE` not yet run) has no queue: there appends are chained
//! as 0.4.0 did, serialised by the append lock (`tokens.audit_lock`), taken
//! by the first append of each (sub)transaction and held until it ends.

use std::cell::Cell;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::spi::SpiClient;

use crate::error::{internal, Result};
use crate::store::{timestamp, Statement};
use pgrx::pg_sys::BuiltinOid::{BYTEAOID, INT8OID, TEXTOID, TIMESTAMPTZOID};

pub struct Event<'a> {
    pub actor: &'a str,
    pub db_role: &'a str,
    pub action: &'a str,
    pub target: Option<String>,
    /// JSON text of an object, stored as jsonb exactly as PostgreSQL reads it.
    pub meta: Option<String>,
    pub at: i64,
}

/// The meta of an extension event.
pub fn meta(value: serde_json::Value) -> Option<String> {
    Some(value.to_string())
}

/// `token:<id>`, the target of every token event.
pub fn token_target(id: impl std::fmt::Display) -> Option<String> {
    Some(format!("token:{id}"))
}

/// The chain's tip as this (sub)transaction last wrote it.
#[derive(Clone, Copy)]
struct Tip {
    xid: pg_sys::TransactionId,
    subxid: pg_sys::SubTransactionId,
    id: i64,
    hash: [u8; 32],
}

thread_local! {
    static TIP: Cell<Option<Tip>> = const { Cell::new(None) };
    /// Whether this transaction appended (to the queue): said to the
    /// worker at commit.
    static APPENDED: Cell<bool> = const { Cell::new(false) };
    /// Whether the database has the queue, looked up once per transaction.
    static QUEUED: Cell<Option<(pg_sys::LocalTransactionId, bool)>> = const { Cell::new(None) };
}

/// Whether this transaction appended to the queue; clears the mark (called
/// at the end of each transaction).
pub fn take_appended() -> bool {
    APPENDED.replace(false)
}

/// Whether appends go to the queue (0.5.0's log) in this database.
fn queued() -> Result<bool> {
    // SAFETY: MyProc is this backend's PGPROC.
    let lxid = crate::server::local_xid();
    if let Some((at, queued)) = QUEUED.get() {
        if at == lxid {
            return Ok(queued);
        }
    }
    let schema = crate::privilege::schema()?;
    // SAFETY: a syscache lookup by name.
    let queued = unsafe { pg_sys::get_relname_relid(c"audit_unsealed".as_ptr(), schema) }
        != pg_sys::InvalidOid;
    QUEUED.set(Some((lxid, queued)));
    Ok(queued)
}

const QUEUE: Statement = Statement {
    sql: "WITH e AS (INSERT INTO tokens.audit_store (id, at, actor, db_role, action, target, meta) \
                     VALUES (pg_catalog.nextval('tokens.audit_id_seq'), $1, $2, $3, $4, $5, $6::pg_catalog.jsonb) \
                     RETURNING id) \
          INSERT INTO tokens.audit_unsealed (event_id) SELECT id FROM e RETURNING event_id",
    args: &[TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID],
    fresh_snapshot: true,
};

/// The (sub)transaction we are in. Its top-level xid is assigned by then:
/// every append follows a write of its own.
fn current() -> (pg_sys::TransactionId, pg_sys::SubTransactionId) {
    // SAFETY: reads backend state.
    unsafe {
        (
            pg_sys::GetTopTransactionIdIfAny(),
            pg_sys::GetCurrentSubTransactionId(),
        )
    }
}

/// Locks the chain (once per (sub)transaction) and returns its tip.
fn tip(client: &mut SpiClient<'_>) -> Result<(i64, Option<Vec<u8>>)> {
    let (xid, subxid) = current();
    if let Some(t) = TIP
        .get()
        .filter(|t| t.xid == xid && t.subxid == subxid && xid != pg_sys::InvalidTransactionId)
    {
        return Ok((t.id, Some(t.hash.to_vec())));
    }
    LOCK.run(client, &[])?;
    let last = TIP_ROW.run(client, &[])?;
    if last.is_empty() {
        return Ok((0, None));
    }
    let (id, hash) = last.first().get_two::<i64, Vec<u8>>().map_err(internal)?;
    Ok((id.ok_or_else(|| internal("an audit row has no id"))?, hash))
}

const LOCK: Statement = Statement {
    sql: "INSERT INTO tokens.audit_lock AS l (only_row, appends) VALUES (true, 1) \
          ON CONFLICT (only_row) DO UPDATE SET appends = l.appends OPERATOR(pg_catalog.+) 1",
    args: &[],
    fresh_snapshot: true,
};

const TIP_ROW: Statement = Statement {
    sql: "SELECT id, hash FROM tokens.audit_store ORDER BY id DESC LIMIT 1",
    args: &[],
    fresh_snapshot: true,
};

const INSERT: Statement = Statement {
    sql: "INSERT INTO tokens.audit_store (id, at, actor, db_role, action, target, meta, hash) \
          SELECT $1, $2, $3, $4, $5, $6, m.meta, tokens.audit_row_hash($7, $1, $2, $3, $4, $5, $6, m.meta::pg_catalog.text) \
            FROM (SELECT $8::pg_catalog.jsonb AS meta) AS m \
          RETURNING hash",
    args: &[INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, BYTEAOID, TEXTOID],
    fresh_snapshot: true,
};

/// Appends `event` and returns its id.
pub fn append(client: &mut SpiClient<'_>, event: Event<'_>) -> Result<i64> {
    if !queued()? {
        return append_chained(client, event);
    }
    let args: [DatumWithOid; 6] = [
        timestamp(event.at)?.into(),
        event.actor.into(),
        event.db_role.into(),
        event.action.into(),
        event.target.into(),
        event.meta.into(),
    ];
    let id = QUEUE
        .run(client, &args)?
        .first()
        .get_one::<i64>()
        .map_err(internal)?
        .ok_or_else(|| internal("the audit row has no id"))?;
    APPENDED.set(true);
    Ok(id)
}

/// 0.4.0's append, for a database not yet upgraded: chained at once under
/// the append lock.
fn append_chained(client: &mut SpiClient<'_>, event: Event<'_>) -> Result<i64> {
    let (last_id, last_hash) = tip(client)?;
    let id = last_id + 1;
    let args: [DatumWithOid; 8] = [
        id.into(),
        timestamp(event.at)?.into(),
        event.actor.into(),
        event.db_role.into(),
        event.action.into(),
        event.target.into(),
        last_hash.into(),
        event.meta.into(),
    ];
    let hash = INSERT
        .run(client, &args)?
        .first()
        .get_one::<Vec<u8>>()
        .map_err(internal)?
        .ok_or_else(|| internal("the audit row has no hash"))?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| internal("an audit hash is not 32 bytes"))?;
    let (xid, subxid) = current();
    TIP.set(Some(Tip {
        xid,
        subxid,
        id,
        hash,
    }));
    Ok(id)
}
