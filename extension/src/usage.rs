//! Recording a verification: its use and the token's rate limit.
//!
//! With `shared_preload_libraries = 'pg_tokens'` both live in shared memory
//! ([`crate::shmem`]) and a verification writes nothing: the background
//! flush writes usage and last use. Without it (said once per backend in a
//! NOTICE), `last_used_at` is written by the verifying transaction at most
//! once per `pg_tokens.last_used_interval`, usage is not counted, and rate
//! limits are counted per backend.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use pg_tokens_core::usage::{RateLimit, RateWindow};
use pgrx::prelude::*;
use pgrx::{pg_sys, Uuid};

use crate::api::clock;
use crate::credits::{self, Leased};
use crate::error::internal;
use crate::error::Result;
use crate::gucs;
use crate::privilege::AsOwner;
use crate::shmem::{self, Key, Outcome, Party, Tracked, Use};
use crate::store::{self, Statement};

pub fn key(id: Uuid) -> Key {
    // SAFETY: reads backend state.
    Key {
        db: u32::from(unsafe { pg_sys::MyDatabaseId }),
        token: *id.as_bytes(),
    }
}

/// Usage is counted on a primary only (a standby cannot flush it).
fn counting() -> bool {
    // SAFETY: reads shared state.
    !unsafe { pg_sys::RecoveryInProgress() }
}

/// Counts a refusal of a known token, owned by `owner`.
pub fn denied(id: Uuid, owner: &str) {
    if shmem::available() && counting() {
        let tracked = Tracked {
            key: key(id),
            owner,
            window: None,
        };
        shmem::record(tracked, Use::Denied, clock(), true);
    }
}

/// The last two checks of a verification (SPEC §2's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    RateLimited,
    UsageExceeded,
}

/// The limits a token's owner shares with its other tokens
/// (tokens.set_owner_limits): a rate limit and a credit pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerLimits {
    pub limit: Option<RateLimit>,
    pub pool: Option<i64>,
}

/// Where `owner`'s shared limits are kept: an entry keyed like a token's.
pub fn owner_key(owner: &str) -> Key {
    // SAFETY: reads backend state.
    Key {
        db: u32::from(unsafe { pg_sys::MyDatabaseId }),
        token: pg_tokens_core::usage::owner_entry_id(owner),
    }
}

/// Whether a verification that passed every other check is admitted by the
/// token's rate limit and, for a capped token (`pool`), has `cost` credits
/// to spend; and the same of its owner's `shared` limits, when it has any.
/// An admitted one is recorded as a use. A refusal spends nothing.
pub fn admitted(
    id: Uuid,
    owner: &str,
    limit: Option<RateLimit>,
    pool: Option<i64>,
    cost: i64,
    shared: Option<OwnerLimits>,
    now: i64,
) -> Result<Admission> {
    let shared = shared.filter(|s| s.limit.is_some() || s.pool.is_some());
    if shmem::available() {
        // The windows are read back only when shared memory asks for them
        // (Outcome::NeedsWindow): an entry whose window is known needs no
        // second look-up.
        let tracked = Tracked {
            key: key(id),
            owner,
            window: None,
        };
        let party = shared.map(|limits| {
            let tracked = Tracked {
                key: owner_key(owner),
                owner,
                window: None,
            };
            (tracked, limits)
        });
        return shared_admission(tracked, limit, pool, cost, party);
    }
    notice_no_preload();
    let admission = backend_admission(id, limit, pool, cost, shared.map(|s| (owner, s)))?;
    if admission == Admission::Admitted {
        record_use(id, now)?;
    }
    Ok(admission)
}

/// A rate-limited entry evicted with an open window: the window as the
/// flush wrote it before the eviction (any other has none on record that
/// matters: a restart starts windows afresh).
fn read_back_window(key: Key, limit: Option<RateLimit>) -> Result<Option<Option<RateWindow>>> {
    Ok(match limit {
        Some(_) if !shmem::window_known(key) => Some(if shmem::maybe_evicted_with_window(key) {
            recorded_window(Uuid::from_bytes(key.token))?
        } else {
            None
        }),
        _ => None,
    })
}

fn shared_admission(
    mut tracked: Tracked<'_>,
    limit: Option<RateLimit>,
    pool: Option<i64>,
    cost: i64,
    owner: Option<(Tracked<'_>, OwnerLimits)>,
) -> Result<Admission> {
    let key = tracked.key;
    let mut pool = pool
        .filter(|_| cost > 0)
        .map(credits::pool_ref)
        .transpose()?;
    let mut owner = owner
        .map(|(tracked, limits)| {
            Ok::<_, pg_tokens_core::Error>(Party {
                tracked,
                limit: limits.limit,
                pool: limits
                    .pool
                    .filter(|_| cost > 0)
                    .map(credits::pool_ref)
                    .transpose()?,
            })
        })
        .transpose()?;
    let mut window_reads = 0;
    loop {
        let what = Use::Valid { limit, pool };
        match shmem::record_with(tracked, what, cost, owner, clock(), counting()) {
            Some(Outcome::NeedsWindow) => {
                // Each read finds the window known, or seeds it: a second
                // ask means the entry went and came back meanwhile.
                window_reads += 1;
                if window_reads > 3 {
                    return Err(internal("rate windows asked for again and again"));
                }
                tracked.window = read_back_window(tracked.key, limit)?;
                if let Some(party) = owner.as_mut() {
                    party.tracked.window = read_back_window(party.tracked.key, party.limit)?;
                }
            }
            Some(Outcome::Admitted) => {
                for key in crate::leases::take_running_low().into_iter().flatten() {
                    credits::renew_ahead(key, cost)?;
                }
                return Ok(Admission::Admitted);
            }
            Some(Outcome::RateLimited) => return Ok(Admission::RateLimited),
            Some(Outcome::NeedsCredits(needed)) => {
                // Each pass leases credits, waits for a lease under way, or
                // ends the loop.
                match credits::lease(key, needed, cost)? {
                    Leased::Retry => {}
                    Leased::SpentOne => {
                        // The cost is spent from that pool (one this
                        // transaction created): the rest is recorded
                        // without it.
                        if pool == Some(needed) {
                            pool = None;
                        }
                        if let Some(party) = owner.as_mut().filter(|p| p.pool == Some(needed)) {
                            party.pool = None;
                        }
                    }
                    Leased::Refused => {
                        if counting() {
                            shmem::record(tracked, Use::Denied, clock(), true);
                        }
                        return Ok(Admission::UsageExceeded);
                    }
                }
            }
            Some(Outcome::Denied) => return Err(internal("a valid use recorded as denied")),
            // No room in shared memory: the use goes uncounted, and a limit
            // or a cap that cannot be kept refuses rather than lets through.
            None if limit.is_some() || owner.is_some_and(|o| o.limit.is_some()) => {
                return Ok(Admission::RateLimited)
            }
            None if pool.is_some() || owner.is_some_and(|o| o.pool.is_some()) => {
                return Ok(Admission::UsageExceeded)
            }
            None => return Ok(Admission::Admitted),
        }
    }
}

const HAS_WINDOWS: Statement = Statement {
    sql: "SELECT pg_catalog.to_regclass('tokens.rate_windows') IS NOT NULL AS present",
    args: &[],
    fresh_snapshot: false,
};

/// In PostgreSQL microseconds, as the window keeps it.
const WINDOW: Statement = Statement {
    sql: "SELECT ((EXTRACT(epoch FROM opened_at) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8 \
                  OPERATOR(pg_catalog.-) 946684800000000) AS opened_at, admitted \
            FROM tokens.rate_windows WHERE token_id OPERATOR(pg_catalog.=) $1",
    args: &[pgrx::pg_sys::BuiltinOid::UUIDOID],
    fresh_snapshot: true,
};

/// The window of `id` in tokens.rate_windows (None: none, or a database
/// not yet upgraded to 0.5.0, which has no such table).
fn recorded_window(id: Uuid) -> Result<Option<RateWindow>> {
    let _owner = AsOwner::enter()?;
    Spi::connect(|client| {
        let present = HAS_WINDOWS
            .run(&client, &[])?
            .first()
            .get_one::<bool>()
            .map_err(internal)?;
        if present != Some(true) {
            return Ok(None);
        }
        let rows = WINDOW.run(&client, &[id.into()])?;
        if rows.is_empty() {
            return Ok(None);
        }
        let (opened_at, admitted) = rows.first().get_two::<i64, i64>().map_err(internal)?;
        Ok(opened_at
            .zip(admitted)
            .map(|(opened_at, admitted)| RateWindow {
                opened_at,
                admitted: u32::try_from(admitted).unwrap_or(u32::MAX),
            }))
    })
}

/// Without shared memory: the rate windows of this backend (the token's,
/// its owner's), then `cost` credits spent durably from each pool; the
/// windows' slots are taken only when all admit.
fn backend_admission(
    id: Uuid,
    limit: Option<RateLimit>,
    pool: Option<i64>,
    cost: i64,
    shared: Option<(&str, OwnerLimits)>,
) -> Result<Admission> {
    let now = clock();
    let window_of = |id: Uuid, limit: Option<RateLimit>| {
        limit.map(|limit| {
            let mut window =
                WINDOWS.with(|w| w.borrow().get(&id).map(|(w, _)| *w).unwrap_or_default());
            let admits = window.admit(limit, now);
            (id, limit, window, admits)
        })
    };
    let owner_id = shared.map(|(owner, _)| Uuid::from_bytes(owner_key(owner).token));
    let windows = [
        window_of(id, limit),
        owner_id.and_then(|owner| window_of(owner, shared.and_then(|(_, s)| s.limit))),
    ];
    if windows.iter().flatten().any(|(.., admits)| !admits) {
        return Ok(Admission::RateLimited);
    }
    let pools: Vec<i64> = [pool, shared.and_then(|(_, s)| s.pool)]
        .into_iter()
        .flatten()
        .collect();
    if cost > 0 && !pools.is_empty() && credits::spend(&pools, cost)?.is_some() {
        return Ok(Admission::UsageExceeded);
    }
    for (id, limit, window, _) in windows.into_iter().flatten() {
        WINDOWS.with(|w| {
            let mut windows = w.borrow_mut();
            if windows.len() >= RECORDED_MAX {
                windows.retain(|_, (window, per)| !window.closed(*per, now));
            }
            windows.insert(id, (window, limit.per_micros));
        });
    }
    Ok(Admission::Admitted)
}

thread_local! {
    static NOTICED: Cell<bool> = const { Cell::new(false) };
    /// Rate windows of this backend, without shared memory.
    static WINDOWS: RefCell<HashMap<Uuid, (RateWindow, i64)>> = RefCell::new(HashMap::new());
}

fn notice_no_preload() {
    if !NOTICED.with(|n| n.replace(true)) {
        pgrx::notice!(
            "pg_tokens is not in shared_preload_libraries: verifications write last_used_at themselves \
             (throttled), usage is not counted and rate limits are counted per session; \
             add pg_tokens to shared_preload_libraries and restart to enable them"
        );
    }
}

thread_local! {
    /// When this backend last recorded each token's use: most verifications
    /// then cost no write attempt at all.
    static RECORDED: RefCell<HashMap<Uuid, i64>> = RefCell::new(HashMap::new());
}
const RECORDED_MAX: usize = 65_536;

/// Without shared memory: writes `last_used_at` at most once per
/// `pg_tokens.last_used_interval`, never waiting on a lock, and not at all
/// where a write could fail the verification: a read-only transaction, a
/// hot standby, or an isolation level where a concurrent update would raise
/// a serialization error.
fn record_use(id: Uuid, now: i64) -> Result<()> {
    let interval = gucs::last_used_interval_micros();
    let due = RECORDED.with(|r| r.borrow().get(&id).is_none_or(|&at| now - at >= interval));
    if !due || !writable() {
        return Ok(());
    }
    let on_record = {
        let _owner = AsOwner::enter()?;
        Spi::connect_mut(|client| store::touch_last_use(client, id, now, now - interval))?
    };
    if !on_record {
        return Ok(()); // the row was busy: try again on the next verification
    }
    RECORDED.with(|r| {
        let mut recorded = r.borrow_mut();
        if recorded.len() >= RECORDED_MAX {
            recorded.clear();
        }
        recorded.insert(id, now);
    });
    Ok(())
}

/// A transaction that aborts takes its recorded uses with it: forget them
/// all, so the next verification records again.
pub fn forget_recorded_uses() {
    RECORDED.with(|r| r.borrow_mut().clear());
}

pub fn writable() -> bool {
    // SAFETY: reads backend state.
    unsafe {
        !pg_sys::XactReadOnly
            && !pg_sys::RecoveryInProgress()
            && pg_sys::XactIsoLevel == pg_sys::XACT_READ_COMMITTED as i32
    }
}
