//! Every setting of the extension. All are SIGHUP or POSTMASTER: no
//! ordinary session can change how verification behaves (SPEC §7).

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// Seconds between two writes of a token's `last_used_at`.
pub static LAST_USED_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(60);

/// Tokens whose usage and rate window shared memory can hold at once.
pub static MAX_TRACKED_TOKENS: GucSetting<i32> = GucSetting::<i32>::new(100_000);

/// Entries one database, and one owner in a database, may hold (0: no
/// bound but the table's): one tenant or user cannot fill the table.
pub static MAX_TRACKED_PER_DATABASE: GucSetting<i32> = GucSetting::<i32>::new(0);
pub static MAX_TRACKED_PER_OWNER: GucSetting<i32> = GucSetting::<i32>::new(10_000);

/// Seconds between two audit checkpoints written to the server log (0: none).
pub static AUDIT_CHECKPOINT_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(60);

/// Milliseconds between two flushes of usage to the tables.
pub static FLUSH_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(5_000);
/// Seconds an unacknowledged event is kept (0: forever).
pub static EVENT_RETENTION: GucSetting<i32> = GucSetting::<i32>::new(30 * 86_400);
/// Seconds before its expiry a token's `token.expiring` event is written.
pub static EXPIRY_WARNING: GucSetting<i32> = GucSetting::<i32>::new(7 * 86_400);

pub fn init() {
    // A POSTMASTER setting can only be created while preloading (shared
    // memory is sized from it then); otherwise it keeps its default.
    // SAFETY: reads a postmaster flag.
    if unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress } {
        define_max_tracked_tokens();
    }
    GucRegistry::define_int_guc(
        c"pg_tokens.flush_interval",
        c"How often the background worker writes usage counters and last use to the tables.",
        c"Usage is visible in tokens.usage and tokens.tokens after at most about this long; a crash loses at most this much.",
        &FLUSH_INTERVAL,
        100,
        5_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
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
    GucRegistry::define_int_guc(
        c"pg_tokens.max_tracked_per_database",
        c"Entries of shared memory one database may hold at once (0: no bound but max_tracked_tokens).",
        c"A verification that would need one more is answered but not counted, and a rate-limited or capped \
          token is refused, as when the table is full.",
        &MAX_TRACKED_PER_DATABASE,
        0,
        10_000_000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_tokens.max_tracked_per_owner",
        c"Entries of shared memory the tokens of one owner (in one database) may hold at once (0: no bound).",
        c"So that one user minting many personal tokens cannot fill the table for everyone else.",
        &MAX_TRACKED_PER_OWNER,
        0,
        10_000_000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_tokens.audit_checkpoint_interval",
        c"How often the background worker writes the audit chain's head to the server log while the log grows (0: never).",
        c"LOG: pg_tokens: audit checkpoint db=... id=... hash=...: anchors kept by log shipping, outside the database.",
        &AUDIT_CHECKPOINT_INTERVAL,
        0,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"pg_tokens.event_retention",
        c"How long an event nobody acknowledged stays in tokens.events (0: forever).",
        c"The background worker deletes older ones once a minute; tokens.ack_events deletes handled ones at once.",
        &EVENT_RETENTION,
        0,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"pg_tokens.expiry_warning",
        c"How long before a token expires its token.expiring event is written (0: no warning).",
        c"Written once per token by the background worker, at most a minute late.",
        &EXPIRY_WARNING,
        0,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    // No session may create settings under our prefix: nothing of the
    // extension can be forged or tuned with SET or set_config.
    // SAFETY: called from _PG_init with a static string.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"pg_tokens".as_ptr()) };
}

fn define_max_tracked_tokens() {
    GucRegistry::define_int_guc(
        c"pg_tokens.max_tracked_tokens",
        c"Tokens whose usage counters and rate-limit window shared memory holds at once.",
        c"About 200 bytes each. Past it, clean entries are evicted; when none is, a verification is still \
          answered but its use is not counted, and a rate-limited token is refused as rate_limited.",
        &MAX_TRACKED_TOKENS,
        100,
        10_000_000,
        GucContext::Postmaster,
        GucFlags::default(),
    );
}

/// The interval in PostgreSQL microseconds.
pub fn last_used_interval_micros() -> i64 {
    i64::from(LAST_USED_INTERVAL.get()) * 1_000_000
}
