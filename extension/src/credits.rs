//! Usage-capped tokens: leasing credits from a pool row.
//!
//! A pool row (`tokens.credit_store`) is inserted by `tokens.set_remaining`
//! and never updated by SQL. Leases change only its `period` and `leased`
//! columns, in place ([`overwrite_in_place`]: WAL-logged, outside any
//! transaction, never rolled back), and the WAL is flushed before the
//! leased credits are handed out. So a credit is spent whatever the
//! caller's transaction does afterwards, and a crash can lose only the
//! unspent part of a lease, never grant a credit twice.
//!
//! With shared memory a lease is a block of credits kept for the pool
//! ([`crate::leases`]: a token and its rotated successor share it), taken
//! one lease at a time under an LWLock, and given back by the flush once
//! idle. Without it, every success leases (and spends) one credit, under
//! a lock on the pool, in a read-write transaction only.

use pg_tokens_core::credits::{next_lease_size, Cap, Grant, Ledger, Refill, MAX_LEASE, MIN_LEASE};
use pg_tokens_core::usage::interval_micros;
use pgrx::pg_sys;
use pgrx::IntoDatum;

use crate::api::clock;
use crate::error::{internal, Result};
use crate::leases::{self, Lease, LeaseKey, PoolRef};
use crate::shmem::{self, Key};
use crate::store;

/// A pool row as read: its cap, when its periods start, its ledger, and
/// whether this transaction inserted it (not committed yet).
pub struct Pool {
    pub cap: Cap,
    pub started_at: i64,
    pub ledger: Ledger,
    pub own: bool,
}

/// Pool `number` of this database's tokens.credit_store.
pub fn pool_ref(number: i64) -> Result<PoolRef> {
    // SAFETY: catalog lookups, cached per transaction.
    let (table, _) = unsafe { pool_relations()? };
    Ok(PoolRef {
        table: u32::from(table),
        number,
    })
}

/// What [`lease`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leased {
    /// Credits may be in the entry now: record the use again.
    Retry,
    /// The cost was spent for this verification itself, durably (a pool
    /// this transaction created, whose lease no one else may share).
    SpentOne,
    /// No credit: the period's are all out, the pool is gone, a newer cap
    /// of the token is in use, or none can be spent here (a standby, a
    /// parallel worker).
    Refused,
}

/// Leases credits of `pool` into `key`'s shared-memory entry.
///
/// The pool row is written under the lease lock; its WAL is flushed after
/// the lock is released (so that leases of different tokens share their
/// flushes), and only then are the credits handed out. Meanwhile the entry
/// is marked pending: other backends wait for it instead of leasing a
/// second block for the same token.
///
/// `cost` credits are needed at once: a lease holding fewer is renewed
/// (its credits kept), and one that cannot reach them is refused.
pub fn lease(key: Key, pool: PoolRef, cost: i64) -> Result<Leased> {
    let cost = cost.max(1);
    if !can_write_wal() {
        return Ok(Leased::Refused);
    }
    let key = LeaseKey::of(key.db, pool);
    if pending(&leases::lease_of(key), clock()) {
        return Ok(wait());
    }
    // Locks on the pool table are taken before the LWLock, never under it.
    lock_pool_relations()?;
    let step = shmem::leasing(|| {
        let now = clock();
        let held = leases::lease_of(key);
        if held.spendable_for(pool, now, cost) {
            return Ok(Step::Ready); // leased by another backend meanwhile
        }
        if pending(&held, now) {
            return Ok(Step::Wait);
        }
        let size = if held.pool == pool {
            next_lease_size(held.size, held.granted_at, now)
        } else {
            MIN_LEASE
        };
        // Marked first: a lease that finds no room in the table is never taken.
        if !leases::mark_pending(key, now) {
            return Ok(Step::Refused);
        }
        // A pool this transaction created is spent from directly, all of
        // the cost or nothing.
        // The block is sized in verifications of this cost (4 at first),
        // within the same bound on credits.
        let taken = take(pool.number, now, |own| {
            if own {
                (cost, cost)
            } else {
                (size.saturating_mul(cost).min(MAX_LEASE.max(cost)), 1)
            }
        })?;
        let Some((grant, own, lsn)) = taken.filter(|(g, ..)| g.credits > 0) else {
            leases::clear_pending(key);
            return Ok(Step::Refused);
        };
        if own {
            leases::clear_pending(key);
            return Ok(Step::Direct(lsn));
        }
        Ok(Step::Flush(lsn, granted(pool, &grant, size, now)))
    })?;
    Ok(match step {
        Step::Ready => Leased::Retry,
        Step::Refused => Leased::Refused,
        Step::Wait => wait(),
        Step::Direct(lsn) => {
            flush(lsn);
            Leased::SpentOne
        }
        Step::Flush(lsn, lease) => {
            flush(lsn);
            if leases::publish(key, lease, lease.granted_at) {
                Leased::Retry
            } else {
                Leased::Refused
            }
        }
    })
}

/// Renews the lease of `key` ahead of its end: a spend left it running low
/// ([`Lease::running_low`]) and no renewal is under way. This backend makes
/// the next block durable now, while the others keep spending what is left
/// (without this, every backend waits for the renewal's flush once the
/// lease is out: a busy pool, an owner's, stalls every ~1,000 calls). The
/// block is added to what is left, and the two together stay within
/// MAX_LEASE credits, so the crash bound is the same. Nothing is refused
/// here: a pool that has run out is found out by the next spend.
pub fn renew_ahead(key: LeaseKey, cost: i64) -> Result<()> {
    let cost = cost.max(1);
    let wanted = |held: &Lease, pool, now| {
        held.spendable(pool, now) && held.running_low(cost) && !pending(held, now)
    };
    if !can_write_wal() || !wanted(&leases::lease_of(key), key.pool(), clock()) {
        return Ok(());
    }
    // A pool of another table (the extension created again) is not ours.
    if pool_ref(key.number)? != key.pool() {
        return Ok(());
    }
    lock_pool_relations()?;
    if let Some((lsn, lease)) = renewal(key, cost, wanted)? {
        flush(lsn);
        leases::publish(key, lease, lease.granted_at);
    }
    Ok(())
}

/// The next block of `key`'s lease, when `wanted` still says so under the
/// lease lock: written in the pool row (the lease marked pending), to be
/// handed out once `lsn` is flushed. Never a pool this transaction made
/// (spent from directly). The caller has locked the pool relations.
fn renewal(
    key: LeaseKey,
    cost: i64,
    wanted: impl Fn(&Lease, PoolRef, i64) -> bool,
) -> Result<Option<(pg_sys::XLogRecPtr, Lease)>> {
    let pool = key.pool();
    shmem::leasing(|| {
        let now = clock();
        let held = leases::lease_of(key);
        if !wanted(&held, pool, now) {
            return Ok(None);
        }
        let size = next_lease_size(held.size, held.granted_at, now);
        let room = MAX_LEASE.max(cost) - held.credits.max(0);
        let block = size.saturating_mul(cost).min(room);
        if block < cost || !leases::mark_pending(key, now) {
            return Ok(None);
        }
        let taken = take(pool.number, now, |own| {
            if own {
                (0, i64::MAX)
            } else {
                (block, cost)
            }
        })?;
        // Once taken, a grant is written in the pool row: it is handed out
        // (added to what is left, or in its place for a new period).
        match taken {
            Some((grant, false, lsn)) if grant.credits > 0 => {
                Ok(Some((lsn, granted(pool, &grant, size, now))))
            }
            _ => {
                leases::clear_pending(key);
                Ok(None)
            }
        }
    })
}

/// How many leases the flush tops up between two flushes of the WAL: a
/// verification that finds one of them out waits for at most this many
/// writes and one flush.
const TOP_UP_CHUNK: usize = 64;

/// The flush worker's top-up of database `db`'s leases that were spent
/// from since `in_use_since` and hold a quarter of their block or less
/// ([`Lease::low`]), whatever their size: each renewed as
/// [`renew_ahead`] renews, in chunks that share one WAL flush. So a token
/// used every few seconds, whose lease is a few credits (too small to be
/// renewed ahead by a verification), has its next block before it needs
/// it, and its verifications seldom wait for a lease's flush. The crash
/// bound is the same: a block and what is left stay within MAX_LEASE.
/// Nothing with synchronous standbys named: the worker would wait for
/// them (verifications then renew their own leases). Returns how many
/// leases were topped up.
pub fn top_up(db: u32, in_use_since: i64) -> Result<usize> {
    if !shmem::available() || !can_write_wal() || sync_standbys_named() {
        return Ok(0);
    }
    // SAFETY: catalog lookups, cached per transaction.
    let Ok((table, _)) = (unsafe { pool_relations() }) else {
        return Ok(0); // no pool table (not yet upgraded)
    };
    let wanted = |held: &Lease, pool, now| held.wants_top_up(pool, now);
    let keys = leases::low_in_use(db, u32::from(table), in_use_since, clock(), |l, p, n| {
        wanted(l, p, n)
    });
    if keys.is_empty() {
        return Ok(0);
    }
    lock_pool_relations()?;
    let mut topped = 0;
    for chunk in keys.chunks(TOP_UP_CHUNK) {
        let mut renewed = Vec::with_capacity(chunk.len());
        for &key in chunk {
            if let Some(next) = renewal(key, 1, wanted)? {
                renewed.push((key, next));
            }
        }
        let Some(lsn) = renewed.iter().map(|(_, (lsn, _))| *lsn).max() else {
            continue;
        };
        flush(lsn);
        for (key, (_, lease)) in &renewed {
            leases::publish(*key, *lease, lease.granted_at);
        }
        topped += renewed.len();
    }
    Ok(topped)
}

/// Whether `synchronous_standby_names` names any standby.
pub fn sync_standbys_named() -> bool {
    // SAFETY: reads a GUC's current value (a C string, possibly empty).
    unsafe {
        let names = pg_sys::SyncRepStandbyNames;
        !names.is_null() && *names != 0
    }
}

/// The lease a grant of `pool` made at `now` hands out (`size` calls'
/// worth, for pacing the next).
fn granted(pool: PoolRef, grant: &Grant, size: i64, now: i64) -> Lease {
    Lease {
        pool,
        period: grant.period,
        until: grant.until,
        credits: grant.credits,
        size,
        granted_at: now,
        pending_since: 0,
    }
}

/// How long a lease may stay pending before others stop waiting for it.
const PENDING_MICROS: i64 = 1_000_000;

fn pending(lease: &Lease, now: i64) -> bool {
    lease.pending_since != 0 && (0..PENDING_MICROS).contains(&(now - lease.pending_since))
}

/// Another backend is making a lease of this token durable: wait a little.
fn wait() -> Leased {
    pgrx::check_for_interrupts!();
    // SAFETY: a plain sleep.
    unsafe { pg_sys::pg_usleep(1000) };
    Leased::Retry
}

/// Makes a lease durable before any of it is spent: the WAL flushed here
/// and, with `synchronous_standby_names` set, flushed by the synchronous
/// standbys too, whatever `synchronous_commit` the session has (so that a
/// promoted standby never grants a credit twice). A wait cancelled by the
/// client (PostgreSQL then warns that it "might not have been replicated")
/// hands the lease out unconfirmed.
fn flush(lsn: pg_sys::XLogRecPtr) {
    // SAFETY: flushes WAL this backend wrote; the wait is the one a commit
    // does, with synchronous_commit pinned to on in a GUC level of its own
    // (undone by AtEOXact_GUC, or by the abort on an error).
    unsafe {
        pg_sys::XLogFlush(lsn);
        let level = crate::privilege::pin_setting(c"synchronous_commit", c"on");
        pg_sys::SyncRepWaitForLSN(lsn, false);
        pg_sys::AtEOXact_GUC(true, level);
    }
}

enum Step {
    Ready,
    Wait,
    Refused,
    Direct(pg_sys::XLogRecPtr),
    Flush(pg_sys::XLogRecPtr, Lease),
}

/// Returns the unspent credits of database `db`'s lease of `pool` to the
/// pool row (the flush does it for a lease idle for two intervals). Not
/// transactional, and safe either way: the credits are taken out of the
/// lease in one step (none can be spent after that) before the pool is
/// credited, so a crash in between loses them, and a rollback leaves them
/// in the pool.
fn give_back(db: u32, pool: PoolRef) -> Result<()> {
    if !shmem::available() || !can_write_wal() {
        return Ok(());
    }
    lock_pool_relations()?;
    shmem::leasing(|| {
        let Some((period, credits)) = leases::take_credits(LeaseKey::of(db, pool)) else {
            return Ok(());
        };
        read(pool.number, |p| {
            let back = (p.ledger.period == period).then(|| Ledger {
                period,
                leased: (p.ledger.leased - credits).max(0),
            });
            (back, ())
        })?;
        Ok(())
    })
}

/// The flush's give-back of a lease idle since it last looked: a lease of
/// a pool table that is gone (the extension dropped and created again) is
/// dropped instead.
pub fn give_back_idle(db: u32, pool: PoolRef) -> Result<()> {
    // SAFETY: catalog lookups, cached per transaction.
    let current = unsafe { pool_relations() }
        .ok()
        .map(|(table, _)| u32::from(table));
    if current != Some(pool.table) {
        leases::take_credits(LeaseKey::of(db, pool));
        return Ok(());
    }
    give_back(db, pool)
}

/// Without shared memory: spends `cost` credits of each of `pools` (a
/// token's and its owner's) for this verification, durably, before it is
/// answered `valid`; all or nothing. None when all were spent, else the
/// index of a pool without enough (or none can be spent at all: a
/// read-only transaction, a standby, and then the first).
pub fn spend(pools: &[i64], cost: i64) -> Result<Option<usize>> {
    // SAFETY: reads backend state.
    if unsafe { pg_sys::XactReadOnly } || !can_write_wal() {
        return Ok(Some(0));
    }
    // One lease at a time per pool, the pools locked in their order (so
    // two verifications locking the same two never wait for each other).
    let mut order: Vec<i64> = pools.to_vec();
    order.sort_unstable();
    order.dedup();
    let tags = order
        .iter()
        .map(|&pool| pool_lock_tag(pool))
        .collect::<Result<Vec<_>>>()?;
    // SAFETY: session-level locks, so that they are released right after
    // the spend (not at the end of the caller's transaction); the finally
    // arm releases them on an error too.
    for tag in &tags {
        unsafe {
            pg_sys::LockAcquire(tag, pg_sys::ExclusiveLock as _, true, false);
        }
    }
    pgrx::PgTryBuilder::new(|| {
        let now = clock();
        for (i, &pool) in pools.iter().enumerate() {
            let enough = read(pool, |p| {
                (
                    None,
                    p.ledger.available(&p.cap, p.started_at, now).1 >= cost,
                )
            })?;
            if enough != Some(true) {
                return Ok(Some(i));
            }
        }
        let mut lsn = 0;
        for &pool in pools {
            if let Some((grant, _, at)) = take(pool, now, |_| (cost, cost))? {
                if grant.credits != cost {
                    return Err(internal("credits read as available were not there"));
                }
                lsn = at;
            }
        }
        if lsn != 0 {
            flush(lsn);
        }
        Ok(None)
    })
    .finally(|| {
        for tag in &tags {
            unsafe {
                pg_sys::LockRelease(tag, pg_sys::ExclusiveLock as _, true);
            }
        }
    })
    .execute()
}

/// What `token` (capped by `pool`) can still spend on this server in the
/// current period: the credits not leased yet, plus this server's unspent
/// lease. None when the pool is gone.
pub fn left(key: Key, number: i64) -> Result<Option<i64>> {
    let now = clock();
    let pool = pool_ref(number)?;
    let Some((period, available)) = read(number, |p| {
        (None, p.ledger.available(&p.cap, p.started_at, now))
    })?
    else {
        return Ok(None);
    };
    let leased = if shmem::available() {
        let lease = leases::lease_of(LeaseKey::of(key.db, pool));
        if lease.spendable(pool, now) && lease.period == period {
            lease.credits
        } else {
            0
        }
    } else {
        0
    };
    Ok(Some(available + leased))
}

/// Leases `want(own).0` credits of `pool` at `now` (`own`: this
/// transaction inserted the pool), or nothing when fewer than `want(own).1`
/// are left: the pool row is updated in place. Returns the grant (0
/// credits when nothing was leased), `own`, and the end of the WAL to flush
/// before any is spent; None when the pool row is gone.
fn take(
    pool: i64,
    now: i64,
    want: impl FnOnce(bool) -> (i64, i64),
) -> Result<Option<(Grant, bool, pg_sys::XLogRecPtr)>> {
    read(pool, |p| {
        let (want, least) = want(p.own);
        let (ledger, grant) = p.ledger.lease(&p.cap, p.started_at, now, want);
        if grant.credits < least.max(1) {
            return (
                None,
                (
                    Grant {
                        credits: 0,
                        ..grant
                    },
                    p.own,
                ),
            );
        }
        (Some(ledger), (grant, p.own))
    })
    // SAFETY: reads this backend's WAL position.
    .map(|taken| taken.map(|(g, own)| (g, own, unsafe { pg_sys::XactLastRecEnd })))
}

fn can_write_wal() -> bool {
    // SAFETY: read backend and shared state.
    unsafe { !pg_sys::RecoveryInProgress() && !pg_sys::IsInParallelMode() }
}

/// Takes the AccessShareLocks a pool read needs, so that the read under
/// the lease LWLock never waits for a heavyweight lock (the probe then
/// finds them held).
fn lock_pool_relations() -> Result<()> {
    // SAFETY: catalog lookups and relation locks kept to the end of the
    // transaction, as the probe would keep them.
    unsafe {
        let (table, index) = pool_relations()?;
        pg_sys::LockRelationOid(table, pg_sys::AccessShareLock as _);
        pg_sys::LockRelationOid(index, pg_sys::AccessShareLock as _);
    }
    Ok(())
}

/// A heavyweight lock tag for `pool` (the pool table's oid as class, the
/// pool number as object): without shared memory, one lease at a time.
fn pool_lock_tag(pool: i64) -> Result<pg_sys::LOCKTAG> {
    // SAFETY: reads backend state; the relation lookup is cached.
    let (table, _) = unsafe { pool_relations()? };
    Ok(pg_sys::LOCKTAG {
        locktag_field1: u32::from(unsafe { pg_sys::MyDatabaseId }),
        locktag_field2: u32::from(table),
        locktag_field3: pool as u32,
        locktag_field4: (pool >> 32) as u16,
        locktag_type: pg_sys::LockTagType::LOCKTAG_OBJECT as u8,
        locktag_lockmethodid: pg_sys::DEFAULT_LOCKMETHOD as u8,
    })
}

/// Reads pool row `pool` (one probe of its primary key, as the caller's
/// snapshot sees it) and hands it to `decide`, which returns the ledger to
/// write in place (if any) and a result. None when there is no such row.
fn read<R>(pool: i64, decide: impl FnOnce(&Pool) -> (Option<Ledger>, R)) -> Result<Option<R>> {
    // SAFETY: the tuple is copied out of the buffer before it is deformed;
    // the in-place overwrite checks that the new tuple has the old one's
    // length and header, which holds because only two NOT NULL bigint
    // columns change.
    unsafe {
        let (table, index) = pool_relations()?;
        let key = pool.into_datum().ok_or_else(|| internal("pool datum"))?;
        store::probe(
            table,
            index,
            pg_sys::F_INT8EQ,
            key,
            store::Seen::Caller,
            |heap, slot| decide_and_write(heap, slot, decide),
        )
    }
}

/// Columns of tokens.credit_store, in declaration order.
const POOL_COLUMNS: usize = 7;
const PERIOD: usize = 5;
const LEASED: usize = 6;

unsafe fn decide_and_write<R>(
    heap: pg_sys::Relation,
    slot: *mut pg_sys::TupleTableSlot,
    decide: impl FnOnce(&Pool) -> (Option<Ledger>, R),
) -> Result<R> {
    let tuple = pg_sys::ExecCopySlotHeapTuple(slot);
    let desc = (*heap).rd_att;
    if (*desc).natts as usize != POOL_COLUMNS {
        return Err(internal(
            "tokens.credit_store does not have the expected columns",
        ));
    }
    let mut values = [pg_sys::Datum::from(0usize); POOL_COLUMNS];
    let mut nulls = [false; POOL_COLUMNS];
    pg_sys::heap_deform_tuple(tuple, desc, values.as_mut_ptr(), nulls.as_mut_ptr());
    let int8 = |i: usize| (!nulls[i]).then(|| values[i].value() as i64);
    let refill_every = (!nulls[3]).then(|| {
        let every = &*values[3].cast_mut_ptr::<pg_sys::Interval>();
        interval_micros(every.month, every.day, every.time).clamp(1, i64::MAX as i128) as i64
    });
    let pool = Pool {
        cap: Cap {
            remaining: int8(1).unwrap_or(0),
            refill: match (int8(2), refill_every) {
                (Some(amount), Some(every_micros)) => Some(Refill {
                    amount,
                    every_micros,
                }),
                _ => None,
            },
        },
        started_at: int8(4).unwrap_or(0),
        ledger: Ledger {
            period: int8(PERIOD).unwrap_or(0),
            leased: int8(LEASED).unwrap_or(0),
        },
        own: pg_sys::TransactionIdIsCurrentTransactionId(
            pg_sys::submodules::htup::HeapTupleHeaderGetXmin((*tuple).t_data),
        ),
    };
    let (write, result) = decide(&pool);
    if let Some(ledger) = write {
        values[PERIOD] = pg_sys::Datum::from(ledger.period);
        values[LEASED] = pg_sys::Datum::from(ledger.leased);
        let new = pg_sys::heap_form_tuple(desc, values.as_mut_ptr(), nulls.as_mut_ptr());
        (*new).t_self = (*tuple).t_self;
        (*new).t_tableOid = (*tuple).t_tableOid;
        overwrite_in_place(heap, slot, new)?;
    }
    Ok(result)
}

thread_local! {
    /// The pool table and its primary key, looked up once per transaction.
    static POOL_RELATIONS: std::cell::Cell<Option<(pg_sys::LocalTransactionId, pg_sys::Oid, pg_sys::Oid)>> =
        const { std::cell::Cell::new(None) };
}

unsafe fn pool_relations() -> Result<(pg_sys::Oid, pg_sys::Oid)> {
    let lxid = crate::server::local_xid();
    if let Some((at, table, index)) = POOL_RELATIONS.with(|r| r.get()) {
        if at == lxid {
            return Ok((table, index));
        }
    }
    let schema = crate::privilege::schema()?;
    let table = pg_sys::get_relname_relid(c"credit_store".as_ptr(), schema);
    let index = pg_sys::get_relname_relid(c"credit_store_pkey".as_ptr(), schema);
    if table == pg_sys::InvalidOid || index == pg_sys::InvalidOid {
        return Err(internal(
            "tokens.credit_store is missing: run ALTER EXTENSION pg_tokens UPDATE",
        ));
    }
    POOL_RELATIONS.with(|r| r.set(Some((lxid, table, index))));
    Ok((table, index))
}

/// Overwrites the data of the tuple in `slot` (a buffer slot of `heap`
/// filled by a scan still open) with `new`'s, of the same length and
/// header, in place: WAL-logged as a generic record, outside the
/// transaction, never rolled back, and without waiting for anyone: the
/// tuple's header (and so whoever is deleting it) is left as it is. The
/// scan's pin keeps the line pointer where it is (pruning needs a cleanup
/// lock).
///
/// # Safety
/// `slot` holds a tuple of `heap` from a scan still open.
unsafe fn overwrite_in_place(
    heap: pg_sys::Relation,
    slot: *mut pg_sys::TupleTableSlot,
    new: pg_sys::HeapTuple,
) -> Result<()> {
    let buffered = slot.cast::<pg_sys::BufferHeapTupleTableSlot>();
    let buffer = (*buffered).buffer;
    let line = (*(*buffered).base.tuple).t_self.ip_posid;
    let new_header = (*new).t_data;
    let start = usize::from((*new_header).t_hoff);
    let len = (*new).t_len as usize;
    pg_sys::LockBuffer(buffer, pg_sys::BUFFER_LOCK_EXCLUSIVE as _);
    let state = pg_sys::GenericXLogStart(heap);
    let page = pg_sys::GenericXLogRegisterBuffer(state, buffer, 0);
    let item = pg_sys::PageGetItemId(page, line);
    let header = pg_sys::PageGetItem(page, item).cast::<pg_sys::HeapTupleHeaderData>();
    if (*item).lp_len() as usize != len || usize::from((*header).t_hoff) != start {
        pg_sys::GenericXLogAbort(state);
        pg_sys::LockBuffer(buffer, pg_sys::BUFFER_LOCK_UNLOCK as _);
        return Err(internal("an in-place overwrite of a different length"));
    }
    std::ptr::copy_nonoverlapping(
        new_header.cast::<u8>().add(start),
        header.cast::<u8>().add(start),
        len - start,
    );
    pg_sys::GenericXLogFinish(state);
    pg_sys::LockBuffer(buffer, pg_sys::BUFFER_LOCK_UNLOCK as _);
    Ok(())
}
