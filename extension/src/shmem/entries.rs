//! The usage table's entries: finding, making and evicting them, under the
//! LWLock and each entry's spin lock, within the table's capacity and the
//! shares per database and per owner.

use super::*;

pub(super) fn owner_of(tracked: &Tracked<'_>) -> u64 {
    if tracked.owner.is_empty() {
        0
    } else {
        pg_tokens_core::usage::owner_key(tracked.owner)
    }
}

/// Runs `f` on the entry of `key` (created when missing) under its spin
/// lock. None when there is no room: the table is full, or the token's
/// database or owner holds its share (`pg_tokens.max_tracked_per_database`,
/// `pg_tokens.max_tracked_per_owner`).
pub(super) fn with_entry<R>(
    tracked: Tracked<'_>,
    now: i64,
    f: impl FnOnce(&mut State) -> R,
) -> Option<R> {
    let key = tracked.key;
    // SAFETY: available() was checked by the caller's module; the LWLock is
    // always released before returning (nothing in between raises: plain
    // arithmetic and dynahash lookups that do not allocate, or HASH_ENTER_NULL).
    unsafe {
        let shared = &*SHARED;
        pg_sys::LWLockAcquire(shared.lock, pg_sys::LWLockMode::LW_SHARED);
        let entry = find(&key);
        if !entry.is_null() {
            let result = locked(entry, |s| f(seeded(s, tracked.window)));
            pg_sys::LWLockRelease(shared.lock);
            return Some(result);
        }
        if no_room_yet(&tracked, now) {
            pg_sys::LWLockRelease(shared.lock);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        pg_sys::LWLockRelease(shared.lock);

        pg_sys::LWLockAcquire(shared.lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let entry = entry_or_new(&tracked, now);
        if entry.is_null() {
            pg_sys::LWLockRelease(shared.lock);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let result = locked(entry, |s| f(seeded(s, tracked.window)));
        pg_sys::LWLockRelease(shared.lock);
        Some(result)
    }
}

/// As [`with_entry`], on two entries at once (a token's, then its owner's:
/// always in that order, so two callers never wait for each other), both
/// under their spin locks. None when either finds no room.
///
/// `first_optional`: without room for the first entry, `f` gets a blank
/// state in its place (whatever it does to it is dropped).
pub(super) fn with_entries<R>(
    first: Tracked<'_>,
    second: Tracked<'_>,
    first_optional: bool,
    now: i64,
    f: impl FnOnce(&mut State, &mut State) -> R,
) -> Option<R> {
    // SAFETY: as in with_entry.
    unsafe {
        let shared = &*SHARED;
        pg_sys::LWLockAcquire(shared.lock, pg_sys::LWLockMode::LW_SHARED);
        let (a, b) = (find(&first.key), find(&second.key));
        if !a.is_null() && !b.is_null() {
            let result = locked_both(a, b, &first, &second, f);
            pg_sys::LWLockRelease(shared.lock);
            return Some(result);
        }
        // The owner's entry is there and the token's cannot be made now:
        // the owner's entry alone decides, without the exclusive lock.
        if a.is_null() && !b.is_null() && first_optional && no_room_yet(&first, now) {
            let result = locked(b, |sb| f(&mut State::default(), seeded(sb, second.window)));
            pg_sys::LWLockRelease(shared.lock);
            return Some(result);
        }
        pg_sys::LWLockRelease(shared.lock);

        pg_sys::LWLockAcquire(shared.lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let a = entry_or_new(&first, now);
        let b = if a.is_null() && !first_optional {
            null_mut()
        } else {
            entry_or_new(&second, now)
        };
        // Making room for the second may have evicted the first (a new
        // entry is clean): look it up again.
        let a = if b.is_null() {
            null_mut()
        } else {
            find(&first.key)
        };
        if a.is_null() && first_optional && !b.is_null() {
            let result = locked(b, |sb| f(&mut State::default(), seeded(sb, second.window)));
            pg_sys::LWLockRelease(shared.lock);
            return Some(result);
        }
        if a.is_null() || b.is_null() {
            pg_sys::LWLockRelease(shared.lock);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let result = locked_both(a, b, &first, &second, f);
        pg_sys::LWLockRelease(shared.lock);
        Some(result)
    }
}

/// `f` on two entries' states (seeded), under both spin locks, `a`'s first.
pub(super) unsafe fn locked_both<R>(
    a: *mut Entry,
    b: *mut Entry,
    first: &Tracked<'_>,
    second: &Tracked<'_>,
    f: impl FnOnce(&mut State, &mut State) -> R,
) -> R {
    locked(a, |sa| {
        locked(b, |sb| {
            f(seeded(sa, first.window), seeded(sb, second.window))
        })
    })
}

/// The entry of `tracked`, made when missing (evicting clean entries when
/// the table or a share is full); null when there is no room. The caller
/// holds the LWLock exclusively.
pub(super) unsafe fn entry_or_new(tracked: &Tracked<'_>, now: i64) -> *mut Entry {
    let key = tracked.key;
    let key_ptr = ptr::addr_of!(key).cast::<c_void>();
    let owner = owner_of(tracked);
    if pg_sys::hash_get_num_entries(HASH) as i64 >= capacity() || !within_shares(key.db, owner) {
        evict(now);
    }
    let mut found = false;
    let full =
        pg_sys::hash_get_num_entries(HASH) as i64 >= capacity() || !within_shares(key.db, owner);
    let entry = if full {
        pg_sys::hash_search(HASH, key_ptr, pg_sys::HASHACTION::HASH_FIND, &mut found)
    } else {
        pg_sys::hash_search(
            HASH,
            key_ptr,
            pg_sys::HASHACTION::HASH_ENTER_NULL,
            &mut found,
        )
    }
    .cast::<Entry>();
    if !entry.is_null() && !found {
        ptr::write(ptr::addr_of_mut!((*entry).lock), AtomicU32::new(0));
        ptr::write(
            ptr::addr_of_mut!((*entry).state),
            State {
                owner,
                ..State::default()
            },
        );
        count_entry(key.db, owner, 1);
    }
    entry
}

/// Whether an entry for `tracked` certainly cannot be made before the next
/// eviction pass is due: the table or a share is full, and the last pass
/// was less than a second ago. Then a verification that finds no entry
/// needs no exclusive lock to learn so: without this, every verification
/// of a token past its owner's share would serialise every backend's
/// verifications on the exclusive lock. The caller holds the LWLock, in
/// either mode (the counts read only change under it exclusively).
pub(super) unsafe fn no_room_yet(tracked: &Tracked<'_>, now: i64) -> bool {
    let shared = &*SHARED;
    let last = shared.last_eviction.load(Ordering::Relaxed);
    let eviction_due = now - last >= MICROS_PER_SECOND || now < last;
    !eviction_due
        && (pg_sys::hash_get_num_entries(HASH) as i64 >= capacity()
            || !within_shares(tracked.key.db, owner_of(tracked)))
}

/// `state` with the window read back put in, the first time one is given.
pub(super) fn seeded(state: &mut State, window: Option<Option<RateWindow>>) -> &mut State {
    if let Some(window) = window.filter(|_| !state.window_known) {
        let window = window.unwrap_or_default();
        state.window = window;
        state.flushed_window = window;
        state.window_known = true;
    }
    state
}

/// Whether one more entry of database `db` and `owner` in it stays within
/// their bounds (0: none). The caller holds the LWLock (exclusively to
/// then add one).
pub(super) unsafe fn within_shares(db: u32, owner: u64) -> bool {
    let per_db = i64::from(gucs::MAX_TRACKED_PER_DATABASE.get());
    let per_owner = i64::from(gucs::MAX_TRACKED_PER_OWNER.get());
    (per_db == 0 || entries_of(db, 0) < per_db)
        && (per_owner == 0 || owner == 0 || entries_of(db, owner) < per_owner)
}

pub(super) unsafe fn entries_of(db: u32, owner: u64) -> i64 {
    let key = OwnerKey { db, _pad: 0, owner };
    let found = pg_sys::hash_search(
        OWNERS,
        ptr::addr_of!(key).cast(),
        pg_sys::HASHACTION::HASH_FIND,
        null_mut(),
    )
    .cast::<OwnerCount>();
    if found.is_null() {
        0
    } else {
        (*found).entries
    }
}

/// Adds `delta` to the counts of `db` and of `owner` in it (0: the
/// database's alone); the caller holds the LWLock exclusively (or is the
/// postmaster, alone).
pub(super) unsafe fn count_entry(db: u32, owner: u64, delta: i64) {
    let owners = if owner == 0 {
        &[0][..]
    } else {
        &[0, owner][..]
    };
    for &owner in owners {
        let key = OwnerKey { db, _pad: 0, owner };
        let mut found = false;
        let counter = pg_sys::hash_search(
            OWNERS,
            ptr::addr_of!(key).cast(),
            pg_sys::HASHACTION::HASH_ENTER_NULL,
            &mut found,
        )
        .cast::<OwnerCount>();
        if counter.is_null() {
            continue; // sized for every entry: cannot happen
        }
        let entries = if found { (*counter).entries } else { 0 } + delta;
        if entries <= 0 {
            pg_sys::hash_search(
                OWNERS,
                ptr::addr_of!(key).cast(),
                pg_sys::HASHACTION::HASH_REMOVE,
                null_mut(),
            );
        } else {
            (*counter).entries = entries;
        }
    }
}

/// The entry of `key`, or null; the caller holds the table's LWLock.
pub(super) unsafe fn find(key: &Key) -> *mut Entry {
    pg_sys::hash_search(
        HASH,
        ptr::from_ref(key).cast(),
        pg_sys::HASHACTION::HASH_FIND,
        null_mut(),
    )
    .cast()
}

/// `f` on the entry's state, under the entry's spin lock.
pub(super) unsafe fn locked<R>(entry: *mut Entry, f: impl FnOnce(&mut State) -> R) -> R {
    spin(&(*entry).lock, || {
        f(&mut *ptr::addr_of_mut!((*entry).state))
    })
}

/// An entry that can go without losing anything: nothing left to flush
/// (its last use is on record, or within the last-used interval of the
/// recorded one), and no open rate window but the one on record in
/// tokens.rate_windows. (Credits are in the pool's lease, not here.)
pub(super) fn clean(state: &State, now: i64, interval: i64) -> bool {
    state.slots.iter().all(|s| s.minute == 0)
        && (state.last_used <= state.flushed_last_used
            || (state.flushed_last_used != 0
                && state.last_used - state.flushed_last_used < interval))
        && (state.window.closed(state.window_per, now) || state.window == state.flushed_window)
}

/// Frees up to a tenth of the table from clean entries. Called with the
/// LWLock held exclusively; at most one pass per second, so a full table of
/// busy entries costs a verification nothing but the lost count.
pub(super) unsafe fn evict(now: i64) {
    let shared = &*SHARED;
    let last = shared.last_eviction.load(Ordering::Relaxed);
    if now - last < MICROS_PER_SECOND && now >= last {
        return;
    }
    shared.last_eviction.store(now, Ordering::Relaxed);
    let interval = gucs::last_used_interval_micros();
    let mut budget = (capacity() / 10).max(1);
    scan(|entry| {
        if let Some(open_window) = locked(entry, |s| {
            clean(s, now, interval).then(|| !s.window.closed(s.window_per, now))
        }) {
            if open_window {
                bloom_set(shared, &(*entry).key);
            }
            remove(entry);
            budget -= 1;
        }
        budget > 0
    });
}

/// Visits every entry until `visit` says stop; the caller holds the lock
/// (or, at postmaster exit, is alone). Removing the entry just visited is
/// allowed.
pub(super) unsafe fn scan(visit: impl FnMut(*mut Entry) -> bool) {
    seq_scan(HASH, visit);
}

/// Visits every entry of the shared hash `table` (of `T`s) until `visit`
/// says stop; the caller holds the lock guarding it (or is alone).
pub(crate) unsafe fn seq_scan<T>(table: *mut pg_sys::HTAB, mut visit: impl FnMut(*mut T) -> bool) {
    let mut status: pg_sys::HASH_SEQ_STATUS = std::mem::zeroed();
    pg_sys::hash_seq_init(&mut status, table);
    loop {
        let entry = pg_sys::hash_seq_search(&mut status).cast::<T>();
        if entry.is_null() {
            return;
        }
        if !visit(entry) {
            pg_sys::hash_seq_term(&mut status);
            return;
        }
    }
}

pub(super) unsafe fn remove(entry: *mut Entry) {
    let key = (*entry).key;
    count_entry(key.db, (*entry).state.owner, -1);
    pg_sys::hash_search(
        HASH,
        ptr::addr_of!(key).cast(),
        pg_sys::HASHACTION::HASH_REMOVE,
        null_mut(),
    );
}
