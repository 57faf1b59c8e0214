//! The flush's side of the usage table: what each database has to write,
//! settling what a committed flush wrote, and the one-flush-at-a-time claim.

use std::sync::atomic::Ordering;

use pg_tokens_core::usage::RateWindow;
use pgrx::pg_sys;

use super::entries::*;
use super::{available, capacity, Entry, Key, Slot, State, HASH, SHARED};
use crate::gucs;

/// Visits every entry under the shared lock.
unsafe fn for_each(mut visit: impl FnMut(*mut Entry)) {
    let shared = &*SHARED;
    pg_sys::LWLockAcquire(shared.lock, pg_sys::LWLockMode::LW_SHARED);
    scan(|entry| {
        visit(entry);
        true
    });
    pg_sys::LWLockRelease(shared.lock);
}

/// What a flush takes from one entry.
#[derive(Clone, Debug)]
pub struct Pending {
    pub token: [u8; 16],
    /// Minute buckets with uses or refusals.
    pub slots: Vec<Slot>,
    /// A last use to record, when one is due.
    pub last_used: Option<i64>,
    /// The open rate window and its length, when it is not on record.
    pub window: Option<(RateWindow, i64)>,
}

/// The open rate window when it differs from the one on record, and the
/// table is nine tenths full (only then may entries need evicting: below
/// that, windows stay in memory and nothing is written for them).
fn window_to_write(state: &State, now: i64, pressed: bool) -> Option<(RateWindow, i64)> {
    (pressed && !state.window.closed(state.window_per, now) && state.window != state.flushed_window)
        .then_some((state.window, state.window_per))
}

/// Whether the table is nine tenths full (read without the lock: a hint).
fn pressed() -> bool {
    // SAFETY: a read of the table's entry count.
    let entries = unsafe { pg_sys::hash_get_num_entries(HASH) } as i64;
    entries >= capacity() - capacity() / 10
}

pub(super) fn pending_of(state: &State, interval: i64) -> (Vec<Slot>, Option<i64>) {
    let slots: Vec<Slot> = state
        .slots
        .iter()
        .copied()
        .filter(|s| s.minute != 0)
        .collect();
    let due = state.last_used > state.flushed_last_used
        && (state.flushed_last_used == 0 || state.last_used - state.flushed_last_used >= interval);
    (slots, due.then_some(state.last_used))
}

/// `visit` on every entry with something to flush: its key and a copy of
/// what it has (minute buckets, a last use due, a window to write).
fn each_pending(now: i64, mut visit: impl FnMut(Key, Pending)) {
    let interval = gucs::last_used_interval_micros();
    let pressed = pressed();
    // SAFETY: shared memory is there (only the flush workers call this).
    unsafe {
        for_each(|entry| {
            let ((slots, last_used), window) = locked(entry, |s| {
                (pending_of(s, interval), window_to_write(s, now, pressed))
            });
            if !slots.is_empty() || last_used.is_some() || window.is_some() {
                let key = (*entry).key;
                visit(
                    key,
                    Pending {
                        token: key.token,
                        slots,
                        last_used,
                        window,
                    },
                );
            }
        });
    }
}

/// The databases with something to flush.
pub fn databases_with_pending(now: i64) -> Vec<u32> {
    let mut dbs = Vec::new();
    each_pending(now, |key, _| {
        if !dbs.contains(&key.db) {
            dbs.push(key.db);
        }
    });
    dbs
}

/// A copy of what database `db` has to flush. Nothing is taken yet: the
/// flush settles what it wrote once its transaction has committed.
pub fn pending(db: u32, now: i64) -> Vec<Pending> {
    let mut out = Vec::new();
    each_pending(now, |key, p| {
        if key.db == db {
            out.push(p);
        }
    });
    out
}

/// Takes what a committed flush wrote out of the counters (uses counted
/// since the copy stay). Also used to discard what cannot be written.
pub fn settle(db: u32, written: &[Pending]) {
    // SAFETY: as above; entries with pending counts are never evicted.
    unsafe {
        let shared = &*SHARED;
        pg_sys::LWLockAcquire(shared.lock, pg_sys::LWLockMode::LW_SHARED);
        for p in written {
            let entry = find(&Key { db, token: p.token });
            if entry.is_null() {
                continue;
            }
            locked(entry, |s| {
                for done in &p.slots {
                    if let Some(slot) = s.slots.iter_mut().find(|x| x.minute == done.minute) {
                        slot.count = slot.count.saturating_sub(done.count);
                        slot.denied = slot.denied.saturating_sub(done.denied);
                        if slot.count == 0 && slot.denied == 0 {
                            *slot = Slot::default();
                        }
                    }
                }
                if let Some(at) = p.last_used {
                    s.flushed_last_used = s.flushed_last_used.max(at);
                }
                if let Some((window, _)) = p.window {
                    s.flushed_window = window;
                }
            });
        }
        pg_sys::LWLockRelease(shared.lock);
    }
}

/// Removes the entries of databases that no longer exist (or cannot be
/// connected to): nobody can read their usage any more.
pub fn forget_databases_except(exists: impl Fn(u32) -> bool) {
    // SAFETY: as above; removal under the exclusive lock.
    unsafe {
        let shared = &*SHARED;
        pg_sys::LWLockAcquire(shared.lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        scan(|entry| {
            if !exists((*entry).key.db) {
                remove(entry);
            }
            true
        });
        crate::leases::forget_databases_except(&exists);
        pg_sys::LWLockRelease(shared.lock);
    }
}

/// Claims the flush for this process: false when another live flush worker
/// holds it (a launcher restarted while its worker ran).
pub fn begin_flush() -> bool {
    // SAFETY: as above; kill(pid, 0) only checks that the process exists.
    unsafe {
        let shared = &*SHARED;
        let me = pg_sys::MyProcPid;
        let holder = shared.flushing_pid.load(Ordering::Acquire);
        if holder != 0 && holder != me && libc_kill(holder, 0) == 0 {
            return false;
        }
        if shared
            .flushing_pid
            .compare_exchange(holder, me, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        shared.flushing_db.store(0, Ordering::Release);
        // An ERROR ends the worker without reaching end_flush: release the
        // claim on the way out, or the dead worker's pid would hold it (and
        // stop every flush once the pid is reused by a live process).
        pg_sys::before_shmem_exit(Some(release_flush), pg_sys::Datum::from(0));
        true
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn release_flush(_code: i32, _arg: pg_sys::Datum) {
    if available() {
        let shared = &*SHARED;
        if shared.flushing_pid.load(Ordering::Acquire) == pg_sys::MyProcPid {
            shared.flushing_db.store(0, Ordering::Release);
            shared.flushing_pid.store(0, Ordering::Release);
        }
    }
}

/// Marks the claimed flush of `db` as committing: until [`end_flush`], its
/// counts may be in the table and in memory at once.
pub fn committing(db: u32) {
    // SAFETY: as above.
    unsafe { (*SHARED).flushing_db.store(db, Ordering::Release) };
}

/// Ends the flush claimed by [`begin_flush`], once its counts are settled.
pub fn end_flush() {
    // SAFETY: as above.
    unsafe {
        let shared = &*SHARED;
        shared.flushing_db.store(0, Ordering::Release);
        shared.flushing_pid.store(0, Ordering::Release);
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}
