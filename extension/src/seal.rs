//! Sealing the audit log: committed events get their position in the chain
//! after their transaction (issue 14), so that appending transactions
//! share nothing.
//!
//! One sealer at a time holds the row of `tokens.audit_lock`; it reads the
//! chain's head and the queue (`tokens.audit_unsealed`) in event id order,
//! chains each event to the previous position's hash in Rust, inserts the
//! positions and takes the events off the queue, in one transaction. What
//! a sealer sees has committed, and what it writes commits at once or not
//! at all: every committed event gets exactly one position, a sealed row
//! never moves. The background worker seals a database within about a
//! second of a commit that appended to it (the commit marks the database
//! in shared memory); `tokens.seal_audit()` does the same by hand.
//!
//! The worker also writes a checkpoint of the chain to the server log every
//! `pg_tokens.audit_checkpoint_interval` while the log grows, so that log
//! shipping keeps anchors outside the database.

use std::ptr::{self, null_mut};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};

use pg_tokens_core::audit::{chain_hash, AuditRow};
use pg_tokens_core::Error;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::pg_sys::BuiltinOid::INT8OID;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::error::{internal, raise, OrRaise, Result};
use crate::gucs;
use crate::privilege::AsOwner;
use crate::store::{timestamp, Statement};

/// Events sealed per transaction of the sealer.
const BATCH: i64 = 10_000;

// ---------------------------------------------------------------------------
// Shared memory: the databases with events to seal, and the checkpoints
// logged.

const SLOTS: usize = 256;

#[repr(C)]
struct Logged {
    db: AtomicU32,
    /// The head position as last sealed, and as last logged (and when).
    sealed: AtomicI64,
    logged: AtomicI64,
    logged_at: AtomicI64,
}

#[repr(C)]
struct Shared {
    /// Databases with a commit that appended since their last seal (0: free).
    unsealed: [AtomicU32; SLOTS],
    /// Seal every database at the next round: set at start (a crash may
    /// have left committed events unsealed) and when `unsealed` overflows.
    all: AtomicBool,
    logged: [Logged; SLOTS],
}

static mut SHARED: *mut Shared = null_mut();

pub fn shmem_size() -> usize {
    std::mem::size_of::<Shared>()
}

/// Called by shmem's startup hook, holding AddinShmemInitLock.
pub unsafe fn shmem_init() {
    let mut found = false;
    SHARED = pg_sys::ShmemInitStruct(c"pg_tokens audit".as_ptr(), shmem_size(), &mut found).cast();
    if !found {
        ptr::write_bytes(SHARED.cast::<u8>(), 0, shmem_size());
        (*SHARED).all.store(true, Ordering::Release);
    }
}

fn shared() -> Option<&'static Shared> {
    // SAFETY: set once by the postmaster before any backend forks.
    unsafe { SHARED.as_ref() }
}

/// Marks `db` as having committed events to seal.
pub fn mark_unsealed(db: u32) {
    let Some(shared) = shared() else { return };
    if shared
        .unsealed
        .iter()
        .any(|s| s.load(Ordering::Acquire) == db)
    {
        return;
    }
    for slot in &shared.unsealed {
        if slot
            .compare_exchange(0, db, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return;
        }
        if slot.load(Ordering::Acquire) == db {
            return;
        }
    }
    shared.all.store(true, Ordering::Release);
}

/// The databases to seal now, taken: None for "every database".
pub fn take_unsealed() -> Option<Vec<u32>> {
    let shared = shared()?;
    if shared.all.swap(false, Ordering::AcqRel) {
        for slot in &shared.unsealed {
            slot.store(0, Ordering::Release);
        }
        return None;
    }
    let mut dbs: Vec<u32> = shared
        .unsealed
        .iter()
        .map(|s| s.swap(0, Ordering::AcqRel))
        .filter(|&db| db != 0)
        .collect();
    // Checkpoints due for a database whose log grew since the last one.
    let interval = checkpoint_interval();
    if interval > 0 {
        let now = crate::api::clock();
        for l in &shared.logged {
            let db = l.db.load(Ordering::Acquire);
            if db != 0
                && l.sealed.load(Ordering::Acquire) > l.logged.load(Ordering::Acquire)
                && now - l.logged_at.load(Ordering::Acquire) >= interval
                && !dbs.contains(&db)
            {
                dbs.push(db);
            }
        }
    }
    Some(dbs)
}

fn checkpoint_interval() -> i64 {
    i64::from(gucs::AUDIT_CHECKPOINT_INTERVAL.get()) * 1_000_000
}

/// The slot of `db` (taken when free, or the one logged longest ago).
fn logged_slot(shared: &'static Shared, db: u32) -> &'static Logged {
    if let Some(l) = shared
        .logged
        .iter()
        .find(|l| l.db.load(Ordering::Acquire) == db)
    {
        return l;
    }
    let slot = shared
        .logged
        .iter()
        .find(|l| l.db.load(Ordering::Acquire) == 0)
        .unwrap_or_else(|| {
            shared
                .logged
                .iter()
                .min_by_key(|l| l.logged_at.load(Ordering::Acquire))
                .unwrap_or(&shared.logged[0])
        });
    slot.db.store(db, Ordering::Release);
    slot.sealed.store(0, Ordering::Release);
    slot.logged.store(0, Ordering::Release);
    slot.logged_at.store(0, Ordering::Release);
    slot
}

// ---------------------------------------------------------------------------
// Sealing.

const LOCK: Statement = Statement {
    sql: "UPDATE tokens.audit_lock SET appends = appends OPERATOR(pg_catalog.+) 0 WHERE only_row RETURNING only_row",
    args: &[],
    fresh_snapshot: true,
};

const CREATE_LOCK: Statement = Statement {
    sql: "INSERT INTO tokens.audit_lock (only_row, appends) VALUES (true, 0) ON CONFLICT (only_row) DO NOTHING",
    args: &[],
    fresh_snapshot: true,
};

const HEAD: Statement = Statement {
    sql: "SELECT position, hash FROM tokens.audit_chain ORDER BY position DESC LIMIT 1",
    args: &[],
    fresh_snapshot: true,
};

const QUEUED: Statement = Statement {
    sql: "SELECT s.id, s.at, s.actor, s.db_role, s.action, s.target, s.meta::pg_catalog.text AS meta \
            FROM tokens.audit_unsealed u JOIN tokens.audit_store s ON s.id OPERATOR(pg_catalog.=) u.event_id \
           WHERE u.event_id OPERATOR(pg_catalog.>) $2 \
           ORDER BY u.event_id LIMIT $1",
    args: &[INT8OID, INT8OID],
    fresh_snapshot: true,
};

const SEAL: Statement = Statement {
    sql: "WITH c AS (INSERT INTO tokens.audit_chain (position, event_id, hash, sealed_at) \
                     SELECT x.p, x.e, x.h, $4 FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), \
                            pg_catalog.unnest($2::pg_catalog.int8[]), pg_catalog.unnest($3::pg_catalog.bytea[])) AS x(p, e, h) \
                     RETURNING event_id) \
          DELETE FROM tokens.audit_unsealed u USING c WHERE u.event_id OPERATOR(pg_catalog.=) c.event_id",
    args: &[
        pgrx::pg_sys::BuiltinOid::INT8ARRAYOID,
        pgrx::pg_sys::BuiltinOid::INT8ARRAYOID,
        pgrx::pg_sys::BuiltinOid::BYTEAARRAYOID,
        pgrx::pg_sys::BuiltinOid::TIMESTAMPTZOID,
    ],
    fresh_snapshot: true,
};

/// The chain's head after a seal: its position and hash (0 and None for an
/// empty chain).
pub struct Head {
    pub position: i64,
    pub hash: Option<Vec<u8>>,
}

/// Seals up to [`BATCH`] committed events with an id above `after` in the
/// caller's transaction; the number sealed, the head and the last event id
/// sealed. (A pass goes up the ids batch by batch, so that no batch reads
/// past the queue rows the previous ones deleted; an event that commits
/// later with a lower id is sealed by the next pass.) The caller runs as
/// the extension's owner (or is the worker).
pub fn seal_batch(client: &mut SpiClient<'_>, now: i64, after: i64) -> Result<(i64, Head, i64)> {
    if LOCK.run(client, &[])?.is_empty() {
        CREATE_LOCK.run(client, &[])?;
        LOCK.run(client, &[])?;
    }
    let head = HEAD.run(client, &[])?;
    let (mut position, mut hash) = if head.is_empty() {
        (0, None)
    } else {
        let (p, h) = head.first().get_two::<i64, Vec<u8>>().map_err(internal)?;
        (p.unwrap_or(0), h)
    };
    let queued = QUEUED.run(client, &[BATCH.into(), after.into()])?;
    let (mut positions, mut events, mut hashes) = (vec![], vec![], vec![]);
    for row in queued {
        let id = row
            .get::<i64>(1)
            .map_err(internal)?
            .ok_or_else(|| internal("an event has no id"))?;
        let at = row
            .get::<TimestampWithTimeZone>(2)
            .map_err(internal)?
            .ok_or_else(|| internal("an event has no time"))?;
        let text = |i: usize| row.get::<String>(i).map_err(internal);
        let (actor, db_role, action) = (text(3)?, text(4)?, text(5)?);
        let (target, meta) = (text(6)?, text(7)?);
        position += 1;
        let next = chain_hash(
            hash.as_deref(),
            &AuditRow {
                id,
                at: pg_sys::TimestampTz::from(at),
                actor: actor.as_deref().unwrap_or_default(),
                db_role: db_role.as_deref().unwrap_or_default(),
                action: action.as_deref().unwrap_or_default(),
                target: target.as_deref(),
                meta: meta.as_deref(),
            },
        )
        .to_vec();
        positions.push(position);
        events.push(id);
        hashes.push(next.clone());
        hash = Some(next);
    }
    let sealed = positions.len() as i64;
    let last = events.last().copied().unwrap_or(after);
    if sealed > 0 {
        SEAL.run(
            client,
            &[
                positions.into(),
                events.into(),
                hashes.into(),
                timestamp(now)?.into(),
            ],
        )?;
    }
    Ok((sealed, Head { position, hash }, last))
}

/// Whether the database has the extension, in its own schema, with 0.5.0's
/// log (the queue); an error when the schema is not the extension's own.
fn has_queue(client: &SpiClient<'_>) -> Result<bool> {
    crate::privilege::has_table(client, c"audit_unsealed")
}

/// The worker's seal of its database, in its own transactions: everything
/// committed, then the checkpoint line when one is due.
pub fn seal_database(db: u32) -> std::result::Result<(), String> {
    let mut after = 0;
    let head = loop {
        let step = pgrx::bgworkers::BackgroundWorker::transaction(|| {
            Spi::connect_mut(|client| {
                if !has_queue(client)? {
                    return Ok(None);
                }
                // Named here: the catalog is read inside a transaction.
                let (sealed, head, last) = seal_batch(client, crate::api::clock(), after)?;
                Ok::<_, Error>(Some((sealed, head, last, database_name())))
            })
        });
        match step {
            Ok(None) => return Ok(()),
            Ok(Some((sealed, head, _, name))) if sealed < BATCH => break (head, name),
            Ok(Some((_, _, last, _))) => after = last,
            Err(e) => return Err(e.to_string()),
        }
    };
    let (head, name) = head;
    if let Some(shared) = shared() {
        let slot = logged_slot(shared, db);
        slot.sealed.store(head.position, Ordering::Release);
        let interval = checkpoint_interval();
        let now = crate::api::clock();
        if interval > 0
            && head.position > slot.logged.load(Ordering::Acquire)
            && now - slot.logged_at.load(Ordering::Acquire) >= interval
        {
            let hash = head.hash.as_deref().map(hex).unwrap_or_default();
            pgrx::log!(
                "pg_tokens: audit checkpoint db={name} id={} hash={hash}",
                head.position
            );
            slot.logged.store(head.position, Ordering::Release);
            slot.logged_at.store(now, Ordering::Release);
        }
    }
    Ok(())
}

fn database_name() -> String {
    // SAFETY: reads backend state; get_database_name palloc's a copy.
    unsafe {
        let name = pg_sys::get_database_name(pg_sys::MyDatabaseId);
        if name.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned()
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// SQL.

/// `tokens.seal_audit()`: seals everything committed; the number of events
/// sealed. In a READ COMMITTED transaction only (each batch reads the
/// latest chain head).
#[pg_extern(sql = false)]
fn seal_audit() -> i64 {
    // SAFETY: reads backend state.
    if unsafe { pg_sys::XactIsoLevel } != pg_sys::XACT_READ_COMMITTED as i32 {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "tokens.seal_audit() runs in a READ COMMITTED transaction: it reads the chain's latest head"
        );
    }
    let _owner = AsOwner::enter().or_raise();
    let (mut total, mut after) = (0, 0);
    loop {
        let (sealed, _, last) = Spi::connect_mut(|client| {
            if !has_queue(client)? {
                return Ok((
                    0,
                    Head {
                        position: 0,
                        hash: None,
                    },
                    0,
                ));
            }
            seal_batch(client, crate::api::clock(), after)
        })
        .or_raise();
        total += sealed;
        after = last;
        if sealed < BATCH {
            return total;
        }
    }
}

/// `tokens.verify_audit_chain(checkpoint_id, checkpoint_hash)`.
#[pg_extern(sql = false)]
fn verify_audit_chain_at(
    checkpoint_id: Option<i64>,
    checkpoint_hash: Option<&[u8]>,
) -> Option<i64> {
    let (Some(id), Some(hash)) = (checkpoint_id, checkpoint_hash) else {
        raise(Error::invalid("checkpoint_id", 
            "a checkpoint is an id of at least 1 and a 32-byte hash, as tokens.audit_checkpoint() gives them",
        ))
    };
    if id < 1 || hash.len() != 32 {
        raise(Error::invalid("checkpoint_id", format!(
            "a checkpoint is an id of at least 1 and a 32-byte hash, as tokens.audit_checkpoint() gives them \
             (got id {id} and {} bytes)",
            hash.len()
        )));
    }
    let _owner = AsOwner::enter().or_raise();
    Spi::connect(|client| {
        let row = client
            .select(
                "SELECT tokens.verify_audit_chain() AS broken, \
                        (SELECT c.hash OPERATOR(pg_catalog.=) $2 FROM tokens.audit_chain c \
                          WHERE c.position OPERATOR(pg_catalog.=) $1) AS matches",
                Some(1),
                &[id.into(), hash.into()],
            )
            .map_err(internal)?
            .first();
        let broken = row.get::<i64>(1).map_err(internal)?;
        let matches = row.get::<bool>(2).map_err(internal)?;
        Ok::<_, Error>(match (broken, matches) {
            (Some(first), _) if first <= id => Some(first),
            (_, Some(true)) => broken,
            // The checkpoint's row is gone or hashes otherwise.
            _ => Some(id),
        })
    })
    .or_raise()
}
