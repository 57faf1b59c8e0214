//! Credit leases in shared memory, one per credit pool (issue 15).
//!
//! A lease is a block of a pool's credits made durable in the pool row
//! before the first is spent ([`crate::credits`]). It is keyed by the pool,
//! not by a token: a token and its rotated successor, which spend from the
//! same pool during the grace period, spend from the same lease. The table
//! lives under the usage table's LWLock ([`crate::shmem`]), each lease under
//! a spin lock of its own; a verification spends its credit in the same
//! critical section that takes its rate slot.
//!
//! Credits are never stranded: the flush gives back a lease that has been
//! idle for two flush intervals (its unspent credits return to the pool
//! row), a clean shutdown writes the leases to the usage file and the next
//! start reads them back, and a lease is dropped from a full table only
//! once it holds no credit. Only a crash loses credits: at most the unspent
//! leases of that server.

use std::cell::Cell;
use std::ffi::c_void;
use std::ptr::{self, null_mut};
use std::sync::atomic::AtomicU32;

use pgrx::pg_sys;

use crate::shmem;
use pg_tokens_core::credits::{MAX_LEASE, MIN_LEASE};

#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LeaseKey {
    pub db: u32,
    pub table: u32,
    pub number: i64,
}

impl LeaseKey {
    pub fn of(db: u32, pool: PoolRef) -> LeaseKey {
        LeaseKey {
            db,
            table: pool.table,
            number: pool.number,
        }
    }

    /// The pool leased from.
    pub fn pool(&self) -> PoolRef {
        PoolRef {
            table: self.table,
            number: self.number,
        }
    }
}

#[repr(C)]
struct LeaseEntry {
    key: LeaseKey, // first: dynahash keys are the entry's leading bytes
    lock: AtomicU32,
    lease: Lease,
    /// When a credit of it was last spent (or it was granted).
    last_spent: i64,
}

/// Credits of a pool leased to this server (made durable in the pool before
/// the first is spent): `credits` left of the grant for `period`, spendable
/// until `until`. `size` and `granted_at` pace the next lease.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The pool leased from: its number and its table (a table dropped and
    /// created again numbers its pools afresh).
    pub pool: PoolRef,
    pub period: i64,
    pub until: i64,
    pub credits: i64,
    pub size: i64,
    pub granted_at: i64,
    /// A backend is making the next lease durable (since when; 0: none):
    /// others wait for it rather than lease a second block.
    pub pending_since: i64,
}

/// A credit pool: its number in its table (tokens.credit_store's oid).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct PoolRef {
    pub table: u32,
    pub number: i64,
}

impl Lease {
    pub fn spendable(&self, pool: PoolRef, now: i64) -> bool {
        self.spendable_for(pool, now, 1)
    }

    /// Whether what is left (spending `cost` a call) is a quarter of the
    /// lease's size or less, and the lease large enough to be renewed
    /// ahead: a lease of a few credits (a token used now and then) is not,
    /// so that it never holds more than a few.
    pub fn running_low(&self, cost: i64) -> bool {
        let cost = cost.max(1);
        self.block(cost) >= 4 * MIN_LEASE * cost && self.low(cost)
    }

    /// Whether what is left is a quarter of the lease's block or less,
    /// whatever its size (the flush tops such leases up when in use).
    pub fn low(&self, cost: i64) -> bool {
        self.credits <= self.block(cost) / 4
    }

    /// Whether the flush should top it up ([`crate::credits::top_up`]):
    /// of `pool`, its period not over, low (out, even), not being renewed.
    pub fn wants_top_up(&self, pool: PoolRef, now: i64) -> bool {
        self.pool == pool && now < self.until && self.low(1) && self.pending_since == 0
    }

    /// The lease's size in credits, for calls costing `cost`.
    fn block(&self, cost: i64) -> i64 {
        let cost = cost.max(1);
        self.size.saturating_mul(cost).min(MAX_LEASE.max(cost))
    }

    /// Whether `cost` credits (at least one) can be spent from it at `now`.
    pub fn spendable_for(&self, pool: PoolRef, now: i64, cost: i64) -> bool {
        self.pool == pool && self.credits >= cost.max(1) && now < self.until
    }
}

static mut HASH: *mut pg_sys::HTAB = null_mut();

pub fn size(capacity: i64) -> usize {
    // SAFETY: a pure size computation.
    unsafe { pg_sys::hash_estimate_size(capacity as _, std::mem::size_of::<LeaseEntry>()) }
}

/// Called by shmem's startup hook, holding AddinShmemInitLock.
pub unsafe fn init(capacity: i64) {
    let mut info = pg_sys::HASHCTL {
        keysize: std::mem::size_of::<LeaseKey>(),
        entrysize: std::mem::size_of::<LeaseEntry>(),
        ..Default::default()
    };
    HASH = pg_sys::ShmemInitHash(
        c"pg_tokens leases".as_ptr(),
        capacity as _,
        capacity as _,
        &mut info,
        (pg_sys::HASH_ELEM | pg_sys::HASH_BLOBS) as _,
    );
}

pub fn available() -> bool {
    // SAFETY: set once by the postmaster before any backend forks.
    unsafe { !HASH.is_null() }
}

/// The entry of `key`, or null; the caller holds the table's LWLock.
unsafe fn find(key: &LeaseKey) -> *mut LeaseEntry {
    pg_sys::hash_search(
        HASH,
        ptr::from_ref(key).cast::<c_void>(),
        pg_sys::HASHACTION::HASH_FIND,
        null_mut(),
    )
    .cast()
}

unsafe fn locked<R>(entry: *mut LeaseEntry, f: impl FnOnce(&mut Lease, &mut i64) -> R) -> R {
    shmem::spin(&(*entry).lock, || {
        f(
            &mut *ptr::addr_of_mut!((*entry).lease),
            &mut *ptr::addr_of_mut!((*entry).last_spent),
        )
    })
}

/// Spends `cost` credits of the lease of `key` if it has that many for
/// `now`: the period they were spent from, or None (nothing spent). The
/// caller holds the table's LWLock (shared is enough).
pub unsafe fn spend_locked(key: LeaseKey, now: i64, cost: i64) -> Option<i64> {
    let entry = find(&key);
    if entry.is_null() {
        return None;
    }
    let pool = key.pool();
    locked(entry, |lease, last| {
        lease.spendable_for(pool, now, cost).then(|| {
            lease.credits -= cost;
            *last = now;
            if lease.running_low(cost) {
                note_running_low(key);
            }
            if lease.low(cost) {
                shmem::note_leases_low();
            }
            lease.period
        })
    })
}

thread_local! {
    /// Leases this backend's last spends left running low (see
    /// [`Lease::running_low`]): the token's pool and its owner's.
    static RUNNING_LOW: Cell<[Option<LeaseKey>; 2]> = const { Cell::new([None; 2]) };
}

fn note_running_low(key: LeaseKey) {
    RUNNING_LOW.with(|low| {
        let mut keys = low.get();
        if !keys.contains(&Some(key)) {
            keys.rotate_right(1);
            keys[0] = Some(key);
        }
        low.set(keys);
    });
}

/// The leases this backend's spends left running low since it last asked
/// (to be renewed ahead, [`crate::credits::renew_ahead`]).
pub fn take_running_low() -> [Option<LeaseKey>; 2] {
    RUNNING_LOW.with(|low| low.replace([None; 2]))
}

/// Puts back `cost` credits spent by [`spend_locked`] from `period` (the
/// verification was refused by its other party). Still leased in the pool
/// row, so they are the lease's again; a lease of another period since
/// keeps nothing of them (their period is over). The caller holds the
/// table's LWLock.
pub unsafe fn refund_locked(key: LeaseKey, period: i64, cost: i64) {
    let entry = find(&key);
    if entry.is_null() {
        return;
    }
    locked(entry, |lease, _| {
        if lease.period == period
            && lease.pool.number == key.number
            && lease.pool.table == key.table
        {
            lease.credits = lease.credits.max(0) + cost;
        }
    });
}

/// `f` on the lease of `key`, if there is one, under the table's LWLock.
fn with_existing<R>(key: LeaseKey, f: impl FnOnce(&mut Lease, &mut i64) -> R) -> Option<R> {
    shmem::under_lock(false, || {
        // SAFETY: under the LWLock; the entry is locked while in use.
        unsafe {
            let entry = find(&key);
            (!entry.is_null()).then(|| locked(entry, f))
        }
    })
}

/// The lease of `key` (a default one when there is none).
pub fn lease_of(key: LeaseKey) -> Lease {
    with_existing(key, |l, _| *l).unwrap_or_default()
}

/// Marks the lease of `key` as being renewed by this backend (creating its
/// entry: a lease that finds no room is never taken); false when the
/// table has no room even after dropping leases without credits.
pub fn mark_pending(key: LeaseKey, now: i64) -> bool {
    if with_existing(key, |l, _| l.pending_since = now).is_some() {
        return true;
    }
    shmem::under_lock(true, || {
        // SAFETY: under the LWLock held exclusively.
        unsafe {
            let capacity = shmem::capacity();
            if pg_sys::hash_get_num_entries(HASH) as i64 >= capacity {
                drop_spent(now);
            }
            let mut found = false;
            let action = if pg_sys::hash_get_num_entries(HASH) as i64 >= capacity {
                pg_sys::HASHACTION::HASH_FIND
            } else {
                pg_sys::HASHACTION::HASH_ENTER_NULL
            };
            let entry = pg_sys::hash_search(HASH, ptr::addr_of!(key).cast(), action, &mut found)
                .cast::<LeaseEntry>();
            if entry.is_null() {
                return false;
            }
            if !found {
                ptr::write(ptr::addr_of_mut!((*entry).lock), AtomicU32::new(0));
                ptr::write(ptr::addr_of_mut!((*entry).lease), Lease::default());
                ptr::write(ptr::addr_of_mut!((*entry).last_spent), now);
            }
            locked(entry, |l, _| l.pending_since = now);
            true
        }
    })
}

/// Leases that hold no credit (or whose period is over) go; the caller
/// holds the LWLock exclusively.
unsafe fn drop_spent(now: i64) {
    let mut gone = Vec::new();
    scan(|entry| {
        if locked(entry, |l, _| {
            l.pending_since == 0 && (l.credits <= 0 || now >= l.until)
        }) {
            gone.push((*entry).key);
        }
    });
    for key in gone {
        remove(&key);
    }
}

unsafe fn remove(key: &LeaseKey) {
    pg_sys::hash_search(
        HASH,
        ptr::from_ref(key).cast(),
        pg_sys::HASHACTION::HASH_REMOVE,
        null_mut(),
    );
}

unsafe fn scan(mut visit: impl FnMut(*mut LeaseEntry)) {
    shmem::seq_scan(HASH, |entry| {
        visit(entry);
        true
    });
}

/// Clears the mark of a renewal that leased nothing.
pub fn clear_pending(key: LeaseKey) {
    with_existing(key, |l, _| l.pending_since = 0);
}

/// Hands out a lease made durable: added to the held one when that is of
/// the same period (so that no credit is overwritten), else in its place.
/// False when its entry is gone (cannot happen: marked pending first).
pub fn publish(key: LeaseKey, lease: Lease, now: i64) -> bool {
    with_existing(key, |held, last| {
        *held = if held.pool == lease.pool && held.period == lease.period && now < held.until {
            Lease {
                credits: held.credits.max(0) + lease.credits,
                ..lease
            }
        } else {
            lease
        };
        held.pending_since = 0;
        *last = now;
    })
    .is_some()
}

/// Takes every unspent credit out of the lease of `key`, in one step under
/// its lock (so none is both spent and taken): the period and the credits.
pub fn take_credits(key: LeaseKey) -> Option<(i64, i64)> {
    with_existing(key, |l, _| {
        (l.credits > 0 && l.pending_since == 0).then(|| (l.period, std::mem::take(&mut l.credits)))
    })
    .flatten()
}

/// `visit` on every lease (a copy taken under its lock), with its key and
/// when it was last spent from, under the table's LWLock.
fn each(mut visit: impl FnMut(LeaseKey, &Lease, i64)) {
    shmem::under_lock(false, || {
        // SAFETY: under the LWLock; each entry under its lock.
        unsafe {
            scan(|entry| {
                let (lease, last) = locked(entry, |l, last| (*l, *last));
                visit((*entry).key, &lease, last);
            });
        }
    });
}

/// The databases with a lease for which `pick` holds.
fn databases_where(pick: impl Fn(LeaseKey, &Lease, i64) -> bool) -> Vec<u32> {
    let mut dbs = Vec::new();
    each(|key, lease, last| {
        if !dbs.contains(&key.db) && pick(key, lease, last) {
            dbs.push(key.db);
        }
    });
    dbs
}

/// Whether a lease is idle since `idle_since`: it holds credits, no one is
/// renewing it, and none was spent since.
fn idle_since(lease: &Lease, last: i64, idle_since: i64) -> bool {
    lease.credits > 0 && lease.pending_since == 0 && last < idle_since
}

/// Pools of database `db` whose lease holds credits and has not been spent
/// from since `idle_since`: the flush gives them back.
pub fn idle(db: u32, since: i64) -> Vec<PoolRef> {
    let mut out = Vec::new();
    each(|key, lease, last| {
        if key.db == db && idle_since(lease, last, since) {
            out.push(key.pool());
        }
    });
    out
}

/// Leases of database `db`'s pool table `table` spent from since
/// `in_use_since` for which `wanted` holds: the flush tops them up.
pub fn low_in_use(
    db: u32,
    table: u32,
    in_use_since: i64,
    now: i64,
    wanted: impl Fn(&Lease, PoolRef, i64) -> bool,
) -> Vec<LeaseKey> {
    let mut out = Vec::new();
    each(|key, lease, last| {
        if key.db == db
            && key.table == table
            && last >= in_use_since
            && wanted(lease, key.pool(), now)
        {
            out.push(key);
        }
    });
    out
}

/// Databases with a lease spent from since `in_use_since` that wants a
/// top-up ([`Lease::wants_top_up`]): the launcher tops them up.
pub fn databases_low_in_use(in_use_since: i64, now: i64) -> Vec<u32> {
    databases_where(|key, lease, last| last >= in_use_since && lease.wants_top_up(key.pool(), now))
}

/// Databases with a lease idle since `since` (see [`idle`]).
pub fn databases_idle(since: i64) -> Vec<u32> {
    databases_where(|_, lease, last| idle_since(lease, last, since))
}

/// Forgets the leases of databases that no longer exist. The caller holds
/// the LWLock exclusively.
pub unsafe fn forget_databases_except(exists: &impl Fn(u32) -> bool) {
    let mut gone = Vec::new();
    scan(|entry| {
        if !exists((*entry).key.db) {
            gone.push((*entry).key);
        }
    });
    for key in gone {
        remove(&key);
    }
}

/// Every lease with credits, for the shutdown file (the postmaster, alone).
pub unsafe fn all_with_credits() -> Vec<(LeaseKey, Lease)> {
    let mut out = Vec::new();
    if HASH.is_null() {
        return out;
    }
    scan(|entry| {
        let lease = (*entry).lease;
        if lease.credits > 0 {
            out.push((
                (*entry).key,
                Lease {
                    pending_since: 0,
                    ..lease
                },
            ));
        }
    });
    out
}

/// Puts back a lease read from the shutdown file (the postmaster, alone).
pub unsafe fn restore(key: LeaseKey, lease: Lease, now: i64) {
    let mut found = false;
    let entry = pg_sys::hash_search(
        HASH,
        ptr::addr_of!(key).cast(),
        pg_sys::HASHACTION::HASH_ENTER_NULL,
        &mut found,
    )
    .cast::<LeaseEntry>();
    if entry.is_null() {
        return;
    }
    ptr::write(ptr::addr_of_mut!((*entry).lock), AtomicU32::new(0));
    ptr::write(ptr::addr_of_mut!((*entry).lease), lease);
    // Idle from the start: the first flushes give it back to the pool, so
    // a dump taken after them has every unspent credit in the pool row.
    ptr::write(
        ptr::addr_of_mut!((*entry).last_spent),
        now.saturating_sub(i64::MAX / 4),
    );
}
