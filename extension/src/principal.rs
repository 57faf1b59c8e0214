//! The transaction's principal: the token that `tokens.authenticate` accepted.
//!
//! It lives in this backend's memory — not in a GUC, so `SET`, `set_config`,
//! `RESET ALL` and `SET ROLE` can neither create nor change it — and it ends
//! with the transaction, commit or abort, so a pooled connection handed to
//! the next client carries nothing over. Savepoints follow SQL semantics: a
//! principal set inside a savepoint that is rolled back is gone with it, and
//! the one before the savepoint is back.

use std::cell::RefCell;
use std::ffi::c_void;

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::Uuid;

#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: Uuid,
    pub owner: String,
    /// NULL: full access.
    pub scopes: Option<Vec<String>>,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|s| s.iter().any(|granted| granted == scope))
    }
}

#[derive(Default)]
struct State {
    current: Option<Principal>,
    /// For each subtransaction that changed the principal (innermost last):
    /// its id and the principal before its first change.
    saved: Vec<(pg_sys::SubTransactionId, Option<Principal>)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Reads the principal without copying it.
pub fn with<R>(f: impl FnOnce(Option<&Principal>) -> R) -> R {
    STATE.with(|s| f(s.borrow().current.as_ref()))
}

/// Makes `principal` (or nobody) the principal of the current transaction.
pub fn set(principal: Option<Principal>) {
    // SAFETY: reads backend state.
    let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if s.saved.last().is_none_or(|&(id, _)| id != subxact) {
            let previous = s.current.take();
            s.saved.push((subxact, previous));
        }
        s.current = principal;
    });
}

/// Registers the transaction callbacks; called once, from `_PG_init`.
pub fn init() {
    // SAFETY: registering callbacks with static lifetime.
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut c_void) {
    use pg_sys::XactEvent::*;
    if matches!(
        event,
        XACT_EVENT_COMMIT
            | XACT_EVENT_ABORT
            | XACT_EVENT_PARALLEL_COMMIT
            | XACT_EVENT_PARALLEL_ABORT
            | XACT_EVENT_PREPARE
    ) {
        STATE.with(|s| *s.borrow_mut() = State::default());
        // The events of a committed transaction are there to seal: wake
        // the worker (the commit is visible by now).
        if crate::audit::take_appended() && event == XACT_EVENT_COMMIT && crate::shmem::available()
        {
            crate::seal::mark_unsealed(u32::from(pg_sys::MyDatabaseId));
        }
    }
    // Not the principal's business, but the one transaction hook we have:
    // uses recorded by an aborted transaction were never written.
    if matches!(event, XACT_EVENT_ABORT | XACT_EVENT_PARALLEL_ABORT) {
        crate::usage::forget_recorded_uses();
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
    _arg: *mut c_void,
) {
    use pg_sys::SubXactEvent::*;
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        match event {
            SUBXACT_EVENT_ABORT_SUB => {
                // Undo every change made in this subtransaction or below it.
                let mut restored = None;
                while s.saved.last().is_some_and(|&(id, _)| id >= my_subid) {
                    restored = s.saved.pop();
                }
                if let Some((_, previous)) = restored {
                    s.current = previous;
                }
            }
            SUBXACT_EVENT_COMMIT_SUB => {
                // The changes now belong to the parent, which keeps its own
                // older saved value when it has one.
                if s.saved.last().is_some_and(|&(id, _)| id == my_subid) {
                    let parent_has_one =
                        s.saved.len() >= 2 && s.saved[s.saved.len() - 2].0 == parent_subid;
                    if parent_has_one {
                        s.saved.pop();
                    } else if let Some(last) = s.saved.last_mut() {
                        last.0 = parent_subid;
                    }
                }
            }
            _ => {}
        }
    });
}
