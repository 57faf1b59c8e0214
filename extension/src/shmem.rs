//! Usage counters and rate-limit windows in shared memory, the way
//! `pg_stat_statements` keeps its counters: a hash table keyed by
//! (database, token), sized by `pg_tokens.max_tracked_tokens`, under one
//! LWLock (shared for the hot path), each entry guarded by its own spin lock.
//!
//! Only with `shared_preload_libraries = 'pg_tokens'`; otherwise
//! [`available`] is false and verify falls back to its per-backend path.
//!
//! Nothing here decides whether a token is valid: entries hold counts and
//! windows, never a token's state, so no cached answer can outlive a revoke.

use std::ffi::c_void;
use std::ptr::{self, null_mut};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};

use pg_tokens_core::usage::{minute_of, RateLimit, RateWindow, MICROS_PER_SECOND};
use pgrx::pg_sys;

use crate::gucs;
use crate::leases::PoolRef;

mod dump;
mod entries;
mod flushing;

pub(crate) use entries::seq_scan;
use entries::*;
use flushing::pending_of;
pub use flushing::*;

/// Minute buckets an entry can hold before the flush has taken them.
const SLOTS: usize = 4;
const TRANCHE: &std::ffi::CStr = c"pg_tokens";

#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Key {
    pub db: u32,
    pub token: [u8; 16],
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The minute counted (its start); 0: the slot is free.
    pub minute: i64,
    pub count: u64,
    pub denied: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct State {
    /// The latest successful verification, and the latest one flushed.
    last_used: i64,
    flushed_last_used: i64,
    slots: [Slot; SLOTS],
    window: RateWindow,
    /// The window's length when it was last used (to know when it is over).
    window_per: i64,
    /// Who owns the token (a hash of its owner; 0: not known), for the
    /// per-owner bound on entries.
    owner: u64,
    /// The rate window as the flush last wrote it to tokens.rate_windows:
    /// while it is the window, the entry may be evicted and its window is
    /// read back when the token is next verified.
    flushed_window: RateWindow,
    /// Whether `window` was read back from tokens.rate_windows (or there
    /// was none to read): an entry made by a refusal or a lease has not.
    window_known: bool,
}

#[repr(C)]
struct Entry {
    key: Key, // first: dynahash keys are the entry's leading bytes
    lock: AtomicU32,
    state: State,
}

#[repr(C)]
struct Shared {
    lock: *mut pg_sys::LWLock,
    /// Taken exclusively to lease credits: one lease at a time, so a pool's
    /// leased counter is read and written by one process at a time.
    lease_lock: *mut pg_sys::LWLock,
    /// Uses that found no room in the table (counted, then logged by the flush).
    dropped: AtomicU64,
    /// When an eviction pass last ran: at most one per second.
    last_eviction: AtomicI64,
    /// A spend left a lease low since the launcher last looked: it starts
    /// a top-up ([`crate::credits::top_up`]).
    leases_low: AtomicBool,
    /// The flush under way: its worker's pid (0: none) and database. One
    /// flush at a time; and the shutdown dump leaves out the database of a
    /// flush that may have committed without taking its counts out yet.
    flushing_pid: AtomicI32,
    flushing_db: AtomicU32,
    /// A Bloom filter of the tokens evicted with an open rate window (on
    /// record in tokens.rate_windows): only those are looked up there when
    /// they come back, so a verification of any other token never reads
    /// the table. Cleared by a restart (windows start afresh then).
    evicted: [AtomicU64; BLOOM_WORDS],
}

const BLOOM_WORDS: usize = 8192;
const BLOOM_BITS: u64 = (BLOOM_WORDS * 64) as u64;

/// The filter's two bits for `key` (the random half of a v7 uuid, mixed
/// with the database).
fn bloom_bits(key: &Key) -> [u64; 2] {
    let mut random = [0u8; 8];
    random.copy_from_slice(&key.token[8..16]);
    let h = u64::from_le_bytes(random) ^ u64::from(key.db).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let h2 = h.rotate_left(31).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    [h % BLOOM_BITS, h2 % BLOOM_BITS]
}

fn bloom_set(shared: &Shared, key: &Key) {
    for bit in bloom_bits(key) {
        shared.evicted[(bit / 64) as usize].fetch_or(1 << (bit % 64), Ordering::Relaxed);
    }
}

/// Whether `key` may have been evicted with its rate window on record: its
/// window is to be read back from tokens.rate_windows.
pub fn maybe_evicted_with_window(key: Key) -> bool {
    // SAFETY: shared memory is there (the caller checked available()).
    let shared = unsafe { &*SHARED };
    bloom_bits(&key).iter().all(|&bit| {
        shared.evicted[(bit / 64) as usize].load(Ordering::Relaxed) & (1 << (bit % 64)) != 0
    })
}

static mut SHARED: *mut Shared = null_mut();
static mut HASH: *mut pg_sys::HTAB = null_mut();
/// Entries per (database, owner), and per database (owner 0).
static mut OWNERS: *mut pg_sys::HTAB = null_mut();

#[repr(C)]
#[derive(Clone, Copy)]
struct OwnerKey {
    db: u32,
    _pad: u32,
    owner: u64,
}

#[repr(C)]
struct OwnerCount {
    key: OwnerKey, // first, as in Entry
    entries: i64,
}
static mut PREV_REQUEST: pg_sys::shmem_request_hook_type = None;
static mut PREV_STARTUP: pg_sys::shmem_startup_hook_type = None;

/// Installs the hooks; called from `_PG_init` while preloading only.
pub fn init() {
    // SAFETY: _PG_init runs once, single-threaded, in the postmaster.
    unsafe {
        PREV_REQUEST = pg_sys::shmem_request_hook;
        pg_sys::shmem_request_hook = Some(request);
        PREV_STARTUP = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(startup);
    }
}

/// Whether shared memory is there (the library was preloaded).
pub fn available() -> bool {
    // SAFETY: set once by the postmaster before any backend forks.
    let tables = unsafe { !SHARED.is_null() && !HASH.is_null() && !OWNERS.is_null() };
    tables && crate::leases::available()
}

pub(crate) fn capacity() -> i64 {
    i64::from(gucs::MAX_TRACKED_TOKENS.get())
}

/// An owner counter and a database counter for every entry, at most.
fn owner_capacity() -> i64 {
    2 * capacity()
}

fn shared_size() -> usize {
    std::mem::size_of::<Shared>().next_multiple_of(64)
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn request() {
    if let Some(prev) = PREV_REQUEST {
        prev();
    }
    let table = pg_sys::hash_estimate_size(capacity() as _, std::mem::size_of::<Entry>());
    let owners =
        pg_sys::hash_estimate_size(owner_capacity() as _, std::mem::size_of::<OwnerCount>());
    pg_sys::RequestAddinShmemSpace(
        shared_size()
            + table
            + owners
            + crate::seal::shmem_size()
            + crate::leases::size(capacity()),
    );
    pg_sys::RequestNamedLWLockTranche(TRANCHE.as_ptr(), 2);
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn startup() {
    if let Some(prev) = PREV_STARTUP {
        prev();
    }
    // AddinShmemInitLock is MainLWLockArray[21] (lwlocknames.h).
    let init_lock = ptr::addr_of_mut!((*pg_sys::MainLWLockArray.add(21)).lock);
    pg_sys::LWLockAcquire(init_lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
    let mut found = false;
    SHARED = pg_sys::ShmemInitStruct(c"pg_tokens".as_ptr(), shared_size(), &mut found).cast();
    if !found {
        let locks = pg_sys::GetNamedLWLockTranche(TRANCHE.as_ptr());
        ptr::write(
            SHARED,
            Shared {
                lock: ptr::addr_of_mut!((*locks).lock),
                lease_lock: ptr::addr_of_mut!((*locks.add(1)).lock),
                dropped: AtomicU64::new(0),
                last_eviction: AtomicI64::new(0),
                leases_low: AtomicBool::new(false),
                flushing_pid: AtomicI32::new(0),
                flushing_db: AtomicU32::new(0),
                evicted: [const { AtomicU64::new(0) }; BLOOM_WORDS],
            },
        );
    }
    let mut info = pg_sys::HASHCTL {
        keysize: std::mem::size_of::<Key>(),
        entrysize: std::mem::size_of::<Entry>(),
        ..Default::default()
    };
    HASH = pg_sys::ShmemInitHash(
        c"pg_tokens usage".as_ptr(),
        capacity() as _,
        capacity() as _,
        &mut info,
        (pg_sys::HASH_ELEM | pg_sys::HASH_BLOBS) as _,
    );
    let mut owner_info = pg_sys::HASHCTL {
        keysize: std::mem::size_of::<OwnerKey>(),
        entrysize: std::mem::size_of::<OwnerCount>(),
        ..Default::default()
    };
    OWNERS = pg_sys::ShmemInitHash(
        c"pg_tokens owners".as_ptr(),
        owner_capacity() as _,
        owner_capacity() as _,
        &mut owner_info,
        (pg_sys::HASH_ELEM | pg_sys::HASH_BLOBS) as _,
    );
    crate::seal::shmem_init();
    crate::leases::init(capacity());
    pg_sys::LWLockRelease(init_lock);
    if !pg_sys::IsUnderPostmaster {
        // The postmaster: keep unflushed counts across a clean shutdown.
        pg_sys::on_shmem_exit(Some(dump::shutdown), pg_sys::Datum::from(0));
    }
    if !found {
        dump::load();
    }
}

/// What a verification adds to its token's entry.
pub enum Use {
    /// A refusal of the token (revoked, expired, ip_denied, …).
    Denied,
    /// A verification that passed every other check; with a rate limit it
    /// still needs a slot in the window, and with a cap (its credit pool)
    /// `cost` credits of this server's lease.
    Valid {
        limit: Option<RateLimit>,
        pool: Option<PoolRef>,
    },
}

/// What [`record`] decided about a `Valid` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Admitted (and counted): a rate slot and the credits spent, if any.
    Admitted,
    /// Refused by a rate limit, the token's or its owner's (counted as a
    /// refusal of the token).
    RateLimited,
    /// The rate limits would admit it but the lease of this pool (the
    /// token's or its owner's) has too few credits: nothing was spent or
    /// counted; lease credits, then record again.
    NeedsCredits(PoolRef),
    /// A `Denied` use, counted.
    Denied,
    /// A rate limit applies and the window of its entry (the token's or
    /// the owner's) is not known yet, nor was it read back: nothing was
    /// spent or counted; read the windows back, then record again.
    NeedsWindow,
}

/// The limits a verification must also pass: its owner's (tokens.
/// set_owner_limits), kept in an entry of their own, keyed like a token's.
#[derive(Clone, Copy)]
pub struct Party<'a> {
    pub tracked: Tracked<'a>,
    pub limit: Option<RateLimit>,
    pub pool: Option<PoolRef>,
}

/// Who a verification is of: the token's entry, its owner (for the bound
/// on entries per owner) and, for a rate-limited token without an entry,
/// the window read back from tokens.rate_windows.
#[derive(Clone, Copy)]
pub struct Tracked<'a> {
    pub key: Key,
    /// The token's owner ("": not known).
    pub owner: &'a str,
    /// The window read back from tokens.rate_windows (Some(None): there
    /// is none), or None when it was not looked up.
    pub window: Option<Option<RateWindow>>,
}

/// Records a verification of `token` in database `db` at `now`, or None
/// when the table had no room for the token (the use is not counted).
/// `count` is false on a standby: only the rate window is kept. A refused
/// verification spends neither a rate slot nor a credit.
pub fn record(tracked: Tracked<'_>, what: Use, now: i64, count: bool) -> Option<Outcome> {
    record_with(tracked, what, 1, None, now, count)
}

/// As [`record`], spending `cost` credits of each pool (0: none), and with
/// the owner's limits (`owner`) checked in the same critical section: both
/// must admit, and a refusal by either spends nothing from either.
pub fn record_with(
    tracked: Tracked<'_>,
    what: Use,
    cost: i64,
    owner: Option<Party<'_>>,
    now: i64,
    count: bool,
) -> Option<Outcome> {
    let owner = owner.filter(|o| o.limit.is_some() || (o.pool.is_some() && cost > 0));
    // Whether the token has limits of its own (then only its entry keeps them).
    let own_limits =
        matches!(what, Use::Valid { limit, pool } if limit.is_some() || pool.is_some());
    if !(count || owner.is_some() || own_limits) {
        return Some(match what {
            Use::Denied => Outcome::Denied,
            Use::Valid { .. } => Outcome::Admitted,
        });
    }
    let db = tracked.key.db;
    // Whether the windows were read back (a window not known in shared
    // memory must be, before a rate limit is judged on it).
    let token_window_given = tracked.window.is_some();
    let owner_window_given = owner.is_some_and(|p| p.tracked.window.is_some());
    let decide = |state: &mut State, other: Option<&mut State>| {
        let outcome = match what {
            Use::Denied => Outcome::Denied,
            Use::Valid { limit, pool } => {
                let unknown = |s: &State, given: bool| !s.window_known && !given;
                if (limit.is_some() && unknown(state, token_window_given))
                    || (owner.is_some_and(|p| p.limit.is_some())
                        && other
                            .as_deref()
                            .is_some_and(|o| unknown(o, owner_window_given)))
                {
                    return Outcome::NeedsWindow;
                }
                let pool = pool.filter(|_| cost > 0);
                let mut window = state.window;
                let mut within = limit.is_none_or(|limit| window.admit(limit, now));
                let mut owner_window = None;
                if let (Some(party), Some(other)) = (owner, other.as_deref()) {
                    let mut w = other.window;
                    within = within && party.limit.is_none_or(|limit| w.admit(limit, now));
                    owner_window = Some(w);
                }
                if within {
                    // The credits are spent with the rate slots, in one
                    // critical section: the pools' leases are under the
                    // same LWLock. The token's pool may be shared with a
                    // rotated successor (another entry): each spend is
                    // whole or nothing, and the first is put back when
                    // the second cannot be made.
                    let owner_pool = owner.and_then(|p| p.pool).filter(|_| cost > 0);
                    // SAFETY: with_entries holds the LWLock.
                    let spent = match pool {
                        None => Some(None),
                        Some(pool) => unsafe {
                            crate::leases::spend_locked(
                                crate::leases::LeaseKey::of(db, pool),
                                now,
                                cost,
                            )
                        }
                        .map(|period| Some((pool, period))),
                    };
                    let Some(spent) = spent else {
                        return Outcome::NeedsCredits(pool.unwrap_or_default());
                    };
                    if let Some(owner_pool) = owner_pool {
                        // SAFETY: as above.
                        let ok = unsafe {
                            crate::leases::spend_locked(
                                crate::leases::LeaseKey::of(db, owner_pool),
                                now,
                                cost,
                            )
                        }
                        .is_some();
                        if !ok {
                            if let Some((pool, period)) = spent {
                                // SAFETY: as above.
                                unsafe {
                                    crate::leases::refund_locked(
                                        crate::leases::LeaseKey::of(db, pool),
                                        period,
                                        cost,
                                    )
                                };
                            }
                            return Outcome::NeedsCredits(owner_pool);
                        }
                    }
                    if let Some(limit) = limit {
                        state.window_per = limit.per_micros;
                        state.window = window;
                    }
                    if let (Some(party), Some(other), Some(w)) = (owner, other, owner_window) {
                        if let Some(limit) = party.limit {
                            other.window_per = limit.per_micros;
                            other.window = w;
                        }
                    }
                    Outcome::Admitted
                } else {
                    Outcome::RateLimited
                }
            }
        };
        let admitted = outcome == Outcome::Admitted;
        if count {
            let slot = slot_for(&mut state.slots, minute_of(now));
            if admitted {
                slot.count += 1;
                state.last_used = state.last_used.max(now);
            } else {
                slot.denied += 1;
            }
        }
        outcome
    };
    match owner {
        None => with_entry(tracked, now, |state| decide(state, None)),
        Some(party) => {
            // A token with no limit of its own needs its entry only to be
            // counted: when there is no room for it (its owner's share of
            // the table is full, say), its owner's limits are kept by the
            // owner's entry alone, and the use goes uncounted, as any
            // token's in a full table.
            with_entries(tracked, party.tracked, !own_limits, now, |state, other| {
                decide(state, Some(other))
            })
        }
    }
}

/// Whether `key` has an entry whose window was read back (see
/// [`Tracked::window`]).
pub fn window_known(key: Key) -> bool {
    with_existing(key, |s| s.window_known).unwrap_or(false)
}

/// `f` on the state of `key`'s entry, if there is one (none is created).
fn with_existing<R>(key: Key, f: impl FnOnce(&mut State) -> R) -> Option<R> {
    under_lock(false, || {
        // SAFETY: under the LWLock; a lookup that does not allocate.
        unsafe {
            let entry = find(&key);
            (!entry.is_null()).then(|| locked(entry, f))
        }
    })
}

/// Runs `f` under the usage table's LWLock (exclusively or shared): the
/// lease table ([`crate::leases`]) lives under it too.
pub(crate) fn under_lock<R>(exclusive: bool, f: impl FnOnce() -> R) -> R {
    // SAFETY: available() was checked by the caller's module; `f` does not
    // raise (dynahash lookups that do not allocate, or HASH_ENTER_NULL).
    unsafe {
        let lock = (*SHARED).lock;
        let mode = if exclusive {
            pg_sys::LWLockMode::LW_EXCLUSIVE
        } else {
            pg_sys::LWLockMode::LW_SHARED
        };
        pg_sys::LWLockAcquire(lock, mode);
        let result = f();
        pg_sys::LWLockRelease(lock);
        result
    }
}

/// `f` under the spin lock `lock` (an entry's). A waiter that has spun a
/// while yields the processor: the holder may have been descheduled (more
/// backends than cores, an owner's entry that every session takes), and
/// spinning on would only burn the time slice it needs to finish.
pub(crate) fn spin<R>(lock: &AtomicU32, f: impl FnOnce() -> R) -> R {
    let mut spins = 0u32;
    while lock
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        spins += 1;
        if spins % 64 == 0 {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    let result = f();
    lock.store(0, Ordering::Release);
    result
}

/// Runs `f` holding the lease lock: leases are taken one at a time.
pub fn leasing<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: the lock exists with shared memory; an error raised by `f`
    // releases it with every other LWLock when the transaction aborts.
    unsafe {
        let lock = (*SHARED).lease_lock;
        pg_sys::LWLockAcquire(lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let result = f();
        pg_sys::LWLockRelease(lock);
        result
    }
}

/// The slot counting `minute`: its own, a free one, or (if the flush has
/// stalled for longer than the ring) the latest one, so no use is lost.
fn slot_for(slots: &mut [Slot; SLOTS], minute: i64) -> &mut Slot {
    let i = slots
        .iter()
        .position(|s| s.minute == minute)
        .or_else(|| slots.iter().position(|s| s.minute == 0))
        .unwrap_or_else(|| (0..SLOTS).max_by_key(|&i| slots[i].minute).unwrap_or(0));
    let slot = &mut slots[i];
    if slot.minute == 0 {
        *slot = Slot {
            minute,
            count: 0,
            denied: 0,
        };
    }
    slot
}

/// A spend left a lease low (see `leases_low`).
pub fn note_leases_low() {
    // SAFETY: called with shared memory there (a lease was spent from).
    unsafe { (*SHARED).leases_low.store(true, Ordering::Relaxed) }
}

/// Whether a spend left a lease low since the last call.
pub fn take_leases_low() -> bool {
    // SAFETY: the launcher runs with shared memory there.
    unsafe { (*SHARED).leases_low.swap(false, Ordering::Relaxed) }
}

/// Uses not counted for lack of room since the last call.
pub fn take_dropped() -> u64 {
    // SAFETY: as above.
    unsafe { (*SHARED).dropped.swap(0, Ordering::Relaxed) }
}
