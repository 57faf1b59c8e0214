//! The background flush: a launcher (connected to no database) wakes every
//! `pg_tokens.flush_interval`, and for each database with usage in shared
//! memory starts a short-lived worker connected to it, which writes the
//! counts and last uses in one transaction and exits. Nothing stays
//! connected to a database, so the flush never holds up CREATE DATABASE
//! (from a template) or DROP DATABASE for more than a flush.
//!
//! The flush runs on a primary only (the launcher starts when recovery
//! ends): a standby counts no usage.

use std::time::Duration;

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags,
};
use pgrx::prelude::*;
use pgrx::{pg_sys, Uuid};

use crate::gucs;
use crate::shmem::{self, Pending};
use crate::store::timestamp;

/// Registers the launcher; called from `_PG_init` while preloading only.
pub fn register() {
    BackgroundWorkerBuilder::new("pg_tokens usage flush")
        .set_type("pg_tokens flush launcher")
        .set_function("pg_tokens_flush_launcher")
        .set_library("pg_tokens")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

fn interval() -> Duration {
    Duration::from_millis(gucs::FLUSH_INTERVAL.get().max(100) as u64)
}

/// Leases not spent from since then are given back to their pools: twelve
/// flush intervals (a minute by default), so that a token in use keeps its
/// lease and a quiet one strands nothing.
fn idle_since() -> i64 {
    crate::api::clock() - 12 * i64::try_from(interval().as_micros()).unwrap_or(i64::MAX / 24)
}

/// Tops up the leases of this worker's database that are in use and
/// running low ([`crate::credits::top_up`]), in a transaction of its own.
fn top_up_leases(db: u32) {
    let outcome = BackgroundWorker::transaction(|| {
        // SAFETY: the pool probe reads with the active snapshot.
        unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
        let result = crate::credits::top_up(db, idle_since());
        // SAFETY: pushed above.
        unsafe { pg_sys::PopActiveSnapshot() };
        result
    });
    if let Err(e) = outcome {
        pgrx::log!("pg_tokens: topping up credit leases of database {db} failed, will retry: {e}");
    }
}

/// Gives back the idle leases of this worker's database (their unspent
/// credits return to the pool rows), in a transaction of its own.
fn give_back_idle(db: u32) {
    let pools = crate::leases::idle(db, idle_since());
    if pools.is_empty() {
        return;
    }
    let outcome = BackgroundWorker::transaction(|| {
        // SAFETY: the pool probe reads with the active snapshot.
        unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
        let result = pools
            .iter()
            .try_for_each(|&pool| crate::credits::give_back_idle(db, pool));
        // SAFETY: pushed above.
        unsafe { pg_sys::PopActiveSnapshot() };
        result
    });
    if let Err(e) = outcome {
        pgrx::log!(
            "pg_tokens: giving back idle credit leases of database {db} failed, will retry: {e}"
        );
    }
}

/// How often the launcher looks for audit events to seal: an event is
/// sealed within about a second of its commit.
const SEAL_INTERVAL: Duration = Duration::from_millis(500);

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn pg_tokens_flush_launcher(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    // No database: the launcher reads only the shared catalog pg_database.
    BackgroundWorker::connect_worker_to_spi(None, None);
    let mut flushed = std::time::Instant::now();
    // The first lifecycle pass comes a minute after the start.
    let mut lifecycle = std::time::Instant::now();
    while BackgroundWorker::wait_latch(Some(interval().min(SEAL_INTERVAL))) {
        if BackgroundWorker::sighup_received() {
            // SAFETY: the documented way for a worker to reload its settings.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        let usage_due = flushed.elapsed() >= interval();
        if usage_due {
            flushed = std::time::Instant::now();
        }
        let lifecycle_due = lifecycle.elapsed() >= crate::lifecycle::INTERVAL;
        if lifecycle_due {
            lifecycle = std::time::Instant::now();
        }
        flush_all(usage_due, lifecycle_due);
    }
    // What is left is written to disk by the postmaster at a clean
    // shutdown. Exit 1, so that the postmaster restarts a launcher that was
    // only terminated (exit 0 would unregister it until the next restart).
    // SAFETY: the documented way for a background worker to end.
    unsafe { pg_sys::proc_exit(1) };
}

/// One round: the usage of every database with some (when `usage_due`),
/// the audit events of every database that committed some, and the
/// lifecycle pass of every database (when `lifecycle_due`).
fn flush_all(usage_due: bool, lifecycle_due: bool) {
    let dropped = if usage_due { shmem::take_dropped() } else { 0 };
    if dropped > 0 {
        pgrx::log!(
            "pg_tokens: {dropped} verifications were not counted in usage: more tokens were in use than \
             pg_tokens.max_tracked_tokens ({}) holds",
            gucs::MAX_TRACKED_TOKENS.get()
        );
    }
    let mut dbs = if usage_due {
        let mut dbs = shmem::databases_with_pending(crate::api::clock());
        for db in crate::leases::databases_idle(idle_since()) {
            if !dbs.contains(&db) {
                dbs.push(db);
            }
        }
        dbs
    } else {
        Vec::new()
    };
    // Leases gone low since the last round are topped up now, by a worker
    // that does only that, in each database not flushed this round anyway.
    if shmem::take_leases_low() && !crate::credits::sync_standbys_named() {
        for db in crate::leases::databases_low_in_use(idle_since(), crate::api::clock()) {
            if !dbs.contains(&db) && !BackgroundWorker::sigterm_received() {
                run_database_worker(db, TOP_UP);
            }
        }
    }
    let to_seal = crate::seal::take_unsealed();
    if !lifecycle_due && dbs.is_empty() && to_seal.as_ref().is_some_and(Vec::is_empty) {
        return;
    }
    let connectable = BackgroundWorker::transaction(connectable_databases);
    if usage_due {
        shmem::forget_databases_except(|db| connectable.contains(&db));
    }
    // No record of which databases committed audit events (a restart):
    // all of them. The lifecycle pass visits all of them too.
    let also = match to_seal {
        Some(to_seal) if !lifecycle_due => to_seal,
        _ => connectable.clone(),
    };
    for db in also {
        if !dbs.contains(&db) {
            dbs.push(db);
        }
    }
    for db in dbs.into_iter().filter(|db| connectable.contains(db)) {
        if BackgroundWorker::sigterm_received() {
            return;
        }
        flush_database(db, lifecycle_due);
    }
}

/// Starts the worker for `db` (with the lifecycle pass when `lifecycle`)
/// and waits for it to finish.
fn flush_database(db: u32, lifecycle: bool) {
    run_database_worker(
        db,
        if lifecycle {
            crate::lifecycle::EXTRA
        } else {
            ""
        },
    );
}

/// What a database worker started with it does: only top up leases.
const TOP_UP: &str = "top-up";

/// Starts the worker for `db` doing `extra` (see pg_tokens_flush_database)
/// and waits for it to finish.
fn run_database_worker(db: u32, extra: &str) {
    let worker = BackgroundWorkerBuilder::new(&format!("pg_tokens usage flush for database {db}"))
        .set_type("pg_tokens flush")
        .set_function("pg_tokens_flush_database")
        .set_library("pg_tokens")
        .set_argument(Some(pg_sys::Datum::from(db)))
        .set_extra(extra)
        .enable_spi_access()
        .set_restart_time(None)
        // SAFETY: reads this process's pid.
        .set_notify_pid(unsafe { pg_sys::MyProcPid })
        .load_dynamic();
    match worker {
        Ok(worker) => {
            let _ = worker.wait_for_shutdown();
        }
        Err(_) => {
            // No free worker slot (max_worker_processes): next round, said
            // in the log at most once a minute.
            use std::sync::atomic::{AtomicI64, Ordering};
            static LAST_SAID: AtomicI64 = AtomicI64::new(0);
            let now = crate::api::clock();
            if now - LAST_SAID.load(Ordering::Relaxed) > 60_000_000 {
                LAST_SAID.store(now, Ordering::Relaxed);
                pgrx::log!(
                    "pg_tokens: no free background worker slot to flush usage of database {db}: \
                     raise max_worker_processes"
                );
            }
        }
    }
}

/// Databases that exist and accept connections, from the shared catalog.
fn connectable_databases() -> Vec<u32> {
    let mut dbs = Vec::new();
    // SAFETY: a catalog heap scan inside a transaction, as the autovacuum
    // launcher does it; each tuple is a FormData_pg_database.
    unsafe {
        let rel = pg_sys::table_open(pg_sys::DatabaseRelationId, pg_sys::AccessShareLock as _);
        let scan = pg_sys::table_beginscan_catalog(rel, 0, std::ptr::null_mut());
        loop {
            let tuple = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tuple.is_null() {
                break;
            }
            let data = (*tuple).t_data;
            let form = data
                .cast::<u8>()
                .add((*data).t_hoff as usize)
                .cast::<pg_sys::FormData_pg_database>();
            // datconnlimit -2 marks a database whose DROP was interrupted.
            if (*form).datallowconn && (*form).datconnlimit != -2 {
                dbs.push(u32::from((*form).oid));
            }
        }
        pg_sys::table_endscan(scan);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as _);
    }
    dbs
}

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn pg_tokens_flush_database(arg: pg_sys::Datum) {
    // SIGTERM only sets a flag: a flush that has begun finishes (and takes
    // what it wrote out of shared memory) before the worker exits.
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGTERM);
    let db = arg.value() as u32;
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(pg_sys::Oid::from(db)), None);
    if BackgroundWorker::get_extra() == TOP_UP {
        // Leases only (under the lease lock): no flush of usage, so it
        // needs no turn of its own.
        session_settings();
        top_up_leases(db);
        return;
    }
    if !shmem::begin_flush() {
        crate::seal::mark_unsealed(db); // seal at the next round
        return; // another flush worker is still at work
    }
    session_settings();
    let pending = shmem::pending(db, crate::api::clock());
    if !pending.is_empty() {
        flush_pending(db, &pending);
    }
    top_up_leases(db);
    give_back_idle(db);
    if let Err(e) = crate::seal::seal_database(db) {
        pgrx::log!("pg_tokens: audit seal for database {db} failed, will retry: {e}");
        crate::seal::mark_unsealed(db);
    }
    if BackgroundWorker::get_extra() == crate::lifecycle::EXTRA {
        crate::lifecycle::run(db);
    }
    shmem::end_flush();
}

/// Settings of the flush's own session, whatever the database or its owner
/// set: a flush is a short read-write transaction that never waits long on
/// a lock and whose commit never waits for a synchronous standby (it could
/// then not be stopped).
const SESSION: &[(&std::ffi::CStr, &std::ffi::CStr)] = &[
    (c"default_transaction_read_only", c"off"),
    (c"default_transaction_isolation", c"read committed"),
    (c"statement_timeout", c"0"),
    (c"lock_timeout", c"2s"),
    (c"idle_in_transaction_session_timeout", c"0"),
    (c"synchronous_commit", c"local"),
    (c"search_path", c"pg_catalog, pg_temp"),
];

fn session_settings() {
    // SAFETY: setting options of this worker's own session.
    unsafe {
        for (name, value) in SESSION {
            pg_sys::SetConfigOption(
                name.as_ptr(),
                value.as_ptr(),
                pg_sys::GucContext::PGC_SUSET,
                pg_sys::GucSource::PGC_S_OVERRIDE,
            );
        }
    }
}

fn flush_pending(db: u32, pending: &[Pending]) {
    // SAFETY: a background worker's own transaction, as PostgreSQL's
    // worker_spi example runs it; an ERROR inside ends the worker (the
    // transaction aborts, nothing is settled, the next round retries).
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        let outcome = write(pending);
        pg_sys::PopActiveSnapshot();
        match outcome {
            // Written (or, without the extension's tables, nowhere to
            // write): either way these counts are done with. Windows are
            // on record only where the table for them exists.
            Ok(windows_written) => {
                shmem::committing(db);
                pg_sys::CommitTransactionCommand();
                if windows_written {
                    shmem::settle(db, pending);
                } else {
                    let without: Vec<Pending> = pending
                        .iter()
                        .map(|p| Pending {
                            window: None,
                            ..p.clone()
                        })
                        .collect();
                    shmem::settle(db, &without);
                }
            }
            Err(e) => {
                pg_sys::AbortCurrentTransaction();
                pgrx::log!("pg_tokens: usage flush for database {db} failed, will retry: {e}");
            }
        }
    }
}

/// Writes the counts, last uses and windows; whether windows have a table.
fn write(pending: &[Pending]) -> Result<bool, pgrx::spi::Error> {
    Spi::connect_mut(|client| {
        // The name tokens must still mean the extension's own schema, owned
        // by its owner: the worker writes as the bootstrap superuser.
        let tables = client
            .select(
                "SELECT n.nspname OPERATOR(pg_catalog.=) 'tokens' AND n.nspowner OPERATOR(pg_catalog.=) e.extowner, \
                        pg_catalog.to_regclass('tokens.token_last_use') IS NOT NULL, \
                        pg_catalog.to_regclass('tokens.usage_counts') IS NOT NULL, \
                        pg_catalog.to_regclass('tokens.rate_windows') IS NOT NULL \
                   FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace \
                  WHERE e.extname OPERATOR(pg_catalog.=) 'pg_tokens'",
                None,
                &[],
            )?;
        if tables.is_empty() {
            return Ok(false); // the extension was dropped: nothing to keep
        }
        let row = tables.first();
        let (Some(own_schema), Some(last_use_table), Some(counts_table)) =
            row.get_three::<bool, bool, bool>()?
        else {
            return Ok(false);
        };
        let windows_table = row.get::<bool>(4)? == Some(true);
        if !own_schema {
            // SAFETY: reads backend state.
            let db = u32::from(unsafe { pg_sys::MyDatabaseId });
            pgrx::warning!(
                "pg_tokens: usage of database {db} not flushed: schema tokens is not the extension's own \
                 (renamed, replaced, or owned by another role than the extension's owner)"
            );
            return Err(pgrx::spi::Error::InvalidPosition);
        }
        let mut ids = Vec::new();
        let mut minutes = Vec::new();
        let mut counts = Vec::new();
        let mut denied = Vec::new();
        let mut used_ids = Vec::new();
        let mut used_at = Vec::new();
        let (mut window_ids, mut opened, mut admitted, mut per) = (vec![], vec![], vec![], vec![]);
        for p in pending {
            let id = Uuid::from_bytes(p.token);
            for s in &p.slots {
                ids.push(id);
                minutes.push(timestamp(s.minute).map_err(|_| pgrx::spi::Error::InvalidPosition)?);
                counts.push(s.count as i64);
                denied.push(s.denied as i64);
            }
            if let Some(at) = p.last_used {
                used_ids.push(id);
                used_at.push(timestamp(at).map_err(|_| pgrx::spi::Error::InvalidPosition)?);
            }
            if let Some((window, window_per)) = p.window {
                window_ids.push(id);
                opened.push(
                    timestamp(window.opened_at).map_err(|_| pgrx::spi::Error::InvalidPosition)?,
                );
                admitted.push(i64::from(window.admitted));
                per.push(window_per);
            }
        }
        if windows_table && !window_ids.is_empty() {
            client.update(
                "INSERT INTO tokens.rate_windows AS w (token_id, opened_at, admitted, per_micros) \
                 SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), pg_catalog.unnest($2::pg_catalog.timestamptz[]), \
                                          pg_catalog.unnest($3::pg_catalog.int8[]), pg_catalog.unnest($4::pg_catalog.int8[])) \
                 ON CONFLICT (token_id) DO UPDATE \
                    SET opened_at = EXCLUDED.opened_at, admitted = EXCLUDED.admitted, per_micros = EXCLUDED.per_micros",
                None,
                &[window_ids.into(), opened.into(), admitted.into(), per.into()],
            )?;
        }
        // A database still at 0.2.0 (library updated, ALTER EXTENSION
        // UPDATE not yet run) has no usage table: its counts are dropped.
        if counts_table && !ids.is_empty() {
            client.update(
                "INSERT INTO tokens.usage_counts AS u (token_id, bucket, count, denied) \
                 SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), pg_catalog.unnest($2::pg_catalog.timestamptz[]), \
                                          pg_catalog.unnest($3::pg_catalog.int8[]), pg_catalog.unnest($4::pg_catalog.int8[])) \
                 ON CONFLICT (token_id, bucket) DO UPDATE \
                    SET count = u.count OPERATOR(pg_catalog.+) EXCLUDED.count, \
                        denied = u.denied OPERATOR(pg_catalog.+) EXCLUDED.denied",
                None,
                &[ids.into(), minutes.into(), counts.into(), denied.into()],
            )?;
        }
        if last_use_table && !used_ids.is_empty() {
            client.update(
                "INSERT INTO tokens.token_last_use AS l (token_id, last_used_at) \
                 SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), pg_catalog.unnest($2::pg_catalog.timestamptz[])) \
                 ON CONFLICT (token_id) DO UPDATE SET last_used_at = EXCLUDED.last_used_at \
                  WHERE l.last_used_at IS NULL OR l.last_used_at OPERATOR(pg_catalog.<) EXCLUDED.last_used_at",
                None,
                &[used_ids.into(), used_at.into()],
            )?;
        }
        Ok(windows_table)
    })
}
