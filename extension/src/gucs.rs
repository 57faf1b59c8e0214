//! Every setting of the extension. All are SIGHUP: no ordinary session can
//! change how verification behaves (SPEC §7).

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// Seconds between two writes of a token's `last_used_at`.
pub static LAST_USED_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(60);

pub fn init() {
    GucRegistry::define_int_guc(
        c"pg_tokens.last_used_interval",
        c"Seconds between two recordings of a token's last use.",
        c"last_used_at is accurate to this interval; a token's last use is written at most once per interval.",
        &LAST_USED_INTERVAL,
        1,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    // No session may create settings under our prefix: nothing of the
    // extension can be forged or tuned with SET or set_config.
    // SAFETY: called from _PG_init with a static string.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"pg_tokens".as_ptr()) };
}

/// The interval in PostgreSQL microseconds.
pub fn last_used_interval_micros() -> i64 {
    i64::from(LAST_USED_INTERVAL.get()) * 1_000_000
}
