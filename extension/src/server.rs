//! What differs between the PostgreSQL majors pg_tokens builds for (15 and
//! 18), in one place: the rest of the crate calls these and never tests a
//! `pg*` feature itself.
//!
//! - PG 17 moved a backend's local transaction id into `PGPROC.vxid`.
//! - PG 18 gave `index_beginscan` an instrumentation argument.
//!
//! (PG 18 also replaced `heap_inplace_update` by a protocol that waits for
//! a transaction deleting the tuple: the credit ledger's in-place write is
//! a generic WAL record on both majors instead, `credits::overwrite_in_place`.)

use pgrx::pg_sys;

/// This backend's local transaction id (changes with every transaction,
/// read-only ones included): the key of the per-transaction caches.
pub fn local_xid() -> pg_sys::LocalTransactionId {
    // SAFETY: MyProc is this backend's own PGPROC, set before any call.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            (*pg_sys::MyProc).lxid
        }
        #[cfg(not(feature = "pg15"))]
        {
            (*pg_sys::MyProc).vxid.lxid
        }
    }
}

/// `index_beginscan` of `heap` through `index` with `nkeys` keys and no
/// ordering keys.
///
/// # Safety
/// Both relations open and locked, `snapshot` registered or active.
pub unsafe fn index_beginscan(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    snapshot: pg_sys::Snapshot,
    nkeys: i32,
) -> pg_sys::IndexScanDesc {
    #[cfg(feature = "pg15")]
    {
        pg_sys::index_beginscan(heap, index, snapshot, nkeys, 0)
    }
    #[cfg(not(feature = "pg15"))]
    {
        pg_sys::index_beginscan(heap, index, snapshot, std::ptr::null_mut(), nkeys, 0)
    }
}
