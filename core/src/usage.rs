//! Usage accounting that needs no database: the per-token rate-limit
//! window, the minute buckets usage is counted in, and the rules of
//! `tokens.set_rate_limit` and `tokens.usage`.
//!
//! Times are PostgreSQL microseconds (since 2000-01-01, which is minute
//! aligned), so a minute bucket is the same in every time zone.

use crate::error::{Error, Result};

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// `tokens.usage` answers at most this many buckets.
pub const MAX_BUCKETS: i64 = 10_000;

/// An interval argument as microseconds, months counting as 30 days (as
/// everywhere else in pg_tokens).
pub fn interval_micros(months: i32, days: i32, micros: i64) -> i128 {
    (months as i128 * 30 + days as i128) * MICROS_PER_DAY as i128 + micros as i128
}

/// The start of the minute holding `at`.
pub fn minute_of(at: i64) -> i64 {
    at - at.rem_euclid(MICROS_PER_MINUTE)
}

/// A validated rate limit: at most `requests` successes per `per_micros`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per_micros: i64,
}

/// The arguments of `tokens.set_rate_limit`. NULL requests clears the
/// limit (whatever `per` is); otherwise requests ≥ 1 and per from 1 second
/// to 1 day.
pub fn rate_limit(
    requests: Option<i32>,
    per: Option<(i32, i32, i64)>,
) -> Result<Option<RateLimit>> {
    let Some(requests) = requests else {
        return Ok(None);
    };
    if requests < 1 {
        return Err(Error::invalid(
            "requests",
            format!(
                "requests must be at least 1 (got {requests}); pass NULL to remove the rate limit"
            ),
        ));
    }
    let Some((months, days, micros)) = per else {
        return Err(Error::invalid(
            "per",
            "per must not be NULL: pass an interval from '1 second' to '1 day'",
        ));
    };
    let per = interval_micros(months, days, micros);
    if !(MICROS_PER_SECOND as i128..=MICROS_PER_DAY as i128).contains(&per) {
        return Err(Error::invalid(
            "per",
            "per must be between '1 second' and '1 day'",
        ));
    }
    Ok(Some(RateLimit {
        requests: requests as u32,
        per_micros: per as i64,
    }))
}

/// The key of a token's owner in shared memory's per-owner counts: 64 bits
/// of its SHA-256, never 0 (which stands for "not known").
pub fn owner_key(owner: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(owner.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first) | 1
}

/// The id an owner's shared limits (tokens.set_owner_limits) are kept
/// under in shared memory and tokens.rate_windows, beside tokens' ids: 128
/// bits of the SHA-256 of the owner, marked as a version 8 uuid so that it
/// is never a token's (whose ids are version 7).
pub fn owner_entry_id(owner: &str) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"pg_tokens owner limits\0")
        .chain_update(owner.as_bytes())
        .finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id[6] = (id[6] & 0x0f) | 0x80;
    id[8] = (id[8] & 0x3f) | 0x80;
    id
}

/// A token's fixed rate-limit window: it opens at the first success after
/// the previous window closed and lasts `per`. Refusals are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateWindow {
    /// When the current window opened; 0: no window yet.
    pub opened_at: i64,
    /// Successes admitted in it.
    pub admitted: u32,
}

impl RateWindow {
    /// Admits one verification at `now` if the limit allows, counting it.
    ///
    /// Concurrent callers read the clock before they take the window's
    /// lock, so a time slightly older than the window's opening is normal:
    /// it counts in the open window. Only a jump back by more than a whole
    /// window (the system clock was set back) opens a new one.
    pub fn admit(&mut self, limit: RateLimit, now: i64) -> bool {
        let clock_set_back = now < self.opened_at.saturating_sub(limit.per_micros);
        let now = if clock_set_back {
            now
        } else {
            now.max(self.opened_at)
        };
        if self.opened_at == 0
            || clock_set_back
            || now >= self.opened_at.saturating_add(limit.per_micros)
        {
            *self = RateWindow {
                opened_at: now,
                admitted: 0,
            };
        }
        if self.admitted >= limit.requests {
            return false;
        }
        self.admitted += 1;
        true
    }

    /// Whether the window is over at `now`, so forgetting it changes nothing.
    pub fn closed(&self, per_micros: i64, now: i64) -> bool {
        self.opened_at == 0 || now >= self.opened_at.saturating_add(per_micros)
    }
}

/// The buckets `tokens.usage(id, since, bucket)` answers: `count` buckets
/// of `width` from `start` (since truncated to the minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    pub start: i64,
    pub width: i64,
    pub count: usize,
}

impl Buckets {
    /// The bucket a stored minute counts in: the one holding the minute's
    /// last instant (so the minute holding `since` counts in the first
    /// bucket, and the minute under way in the last one), or None for a
    /// minute outside the period.
    pub fn index(&self, minute: i64) -> Option<usize> {
        let last_instant = minute.saturating_add(MICROS_PER_MINUTE - 1);
        if self.count == 0 || last_instant < self.start || minute >= self.start_of(self.count) {
            return None;
        }
        let i = (last_instant - self.start) / self.width;
        usize::try_from(i).ok().map(|i| i.min(self.count - 1))
    }

    /// The start of bucket `index`; below `count` that is before now.
    pub fn start_of(&self, index: usize) -> i64 {
        let at = self.start as i128 + self.width as i128 * index as i128;
        at.min(i64::MAX as i128) as i64
    }
}

/// `since` is None for -infinity, Some(i64::MAX) for +infinity. The bucket
/// is a whole number of minutes (usage is counted per minute); there are
/// ceil((now − since) / bucket) buckets from `since`, at most 10,000; a
/// `since` not before now has none.
pub fn buckets(since: Option<i64>, bucket: (i32, i32, i64), now: i64) -> Result<Buckets> {
    let width = interval_micros(bucket.0, bucket.1, bucket.2);
    if width < MICROS_PER_MINUTE as i128 || width % MICROS_PER_MINUTE as i128 != 0 {
        return Err(Error::invalid("bucket", 
            "bucket must be a whole number of minutes, at least '1 minute' (usage is counted per minute)",
        ));
    }
    let too_many = || {
        Error::invalid("bucket", format!(
            "since and bucket ask for more than {MAX_BUCKETS} buckets: pass a later since or a wider bucket"
        ))
    };
    let Some(start) = since else {
        return Err(too_many());
    };
    let width_i64 = width.min(i64::MAX as i128) as i64;
    if start >= now {
        return Ok(Buckets {
            start,
            width: width_i64,
            count: 0,
        });
    }
    let span = (now - start) as i128;
    let count = (span + width - 1) / width;
    if count > MAX_BUCKETS as i128 {
        return Err(too_many());
    }
    Ok(Buckets {
        start,
        width: width_i64,
        count: count as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn owner_entry_ids_are_never_token_ids_and_differ_by_owner() {
        let a = owner_entry_id("alice");
        let b = owner_entry_id("bob");
        assert_ne!(a, b);
        assert_eq!(a, owner_entry_id("alice"));
        // Version 8, RFC variant: a token's v7 id never equals one.
        for id in [a, b, owner_entry_id("")] {
            assert_eq!(id[6] >> 4, 8);
            assert_eq!(id[8] >> 6, 0b10);
        }
    }

    const SEC: i64 = MICROS_PER_SECOND;

    #[test]
    fn rate_limit_rules() {
        assert_eq!(rate_limit(None, None).unwrap(), None);
        assert_eq!(
            rate_limit(None, Some((0, 0, -5))).unwrap(),
            None,
            "NULL requests clears"
        );
        assert_eq!(
            rate_limit(Some(10), Some((0, 0, 60 * SEC))).unwrap(),
            Some(RateLimit {
                requests: 10,
                per_micros: 60 * SEC
            })
        );
        assert_eq!(
            rate_limit(Some(1), Some((0, 1, 0)))
                .unwrap()
                .unwrap()
                .per_micros,
            MICROS_PER_DAY
        );
        for (requests, per) in [
            (Some(0), Some((0, 0, SEC))),
            (Some(-1), Some((0, 0, SEC))),
            (Some(1), None),
            (Some(1), Some((0, 0, SEC - 1))),
            (Some(1), Some((0, 1, 1))),
            (Some(1), Some((1, 0, 0))),
            (Some(1), Some((0, 0, 0))),
        ] {
            let e = rate_limit(requests, per).unwrap_err();
            assert_eq!(e.sqlstate().code(), "22023", "{requests:?} {per:?}");
        }
    }

    #[test]
    fn a_window_admits_its_requests_then_refuses_until_it_has_passed() {
        let limit = RateLimit {
            requests: 3,
            per_micros: SEC,
        };
        let mut w = RateWindow::default();
        let t0 = 1_000 * SEC;
        assert!(w.admit(limit, t0));
        assert!(w.admit(limit, t0 + 1));
        assert!(w.admit(limit, t0 + 2));
        assert!(!w.admit(limit, t0 + 3));
        assert!(!w.admit(limit, t0 + SEC - 1));
        assert!(
            w.admit(limit, t0 + SEC),
            "a whole window later it succeeds again"
        );
        assert_eq!(
            w,
            RateWindow {
                opened_at: t0 + SEC,
                admitted: 1
            }
        );
        assert!(!w.closed(SEC, t0 + 2 * SEC - 1));
        assert!(w.closed(SEC, t0 + 2 * SEC));
    }

    proptest! {
        /// Whatever the arrival times, no window ever admits more than the
        /// limit, and a refusal happens only when the window is full.
        #[test]
        fn never_more_than_the_limit_per_window(
            requests in 1u32..20,
            per_s in 1i64..5,
            gaps in proptest::collection::vec((0i64..400_000, 0i64..50_000), 1..300),
        ) {
            let limit = RateLimit { requests, per_micros: per_s * SEC };
            let mut w = RateWindow::default();
            let mut now = 5_000 * SEC;
            let mut admitted_in: std::collections::HashMap<i64, u32> = Default::default();
            for (gap, late) in gaps {
                now += gap;
                // A caller that read the clock a little earlier (up to 50 ms).
                let seen = now - late;
                let before = w;
                let ok = w.admit(limit, seen);
                if ok {
                    *admitted_in.entry(w.opened_at).or_default() += 1;
                } else {
                    prop_assert!(!before.closed(limit.per_micros, seen.max(before.opened_at)));
                    prop_assert_eq!(before.admitted, requests);
                }
            }
            for (_, n) in admitted_in {
                prop_assert!(n <= requests);
            }
        }

        #[test]
        fn buckets_cover_since_to_now(since_min in 0i64..100_000, width_min in 1i64..500, extra in 0i64..200_000_000) {
            let now = (since_min * 60 * SEC) + extra + 7;
            let since = since_min * 60 * SEC + (extra % (60 * SEC));
            match buckets(Some(since), (0, 0, width_min * 60 * SEC), now) {
                Ok(b) => {
                    prop_assert_eq!(b.start, since);
                    prop_assert!(b.count >= 1);
                    prop_assert!(b.start_of(b.count - 1) < now);
                    prop_assert!(b.start_of(b.count) >= now);
                    prop_assert_eq!(b.index(minute_of(since)), Some(0));
                }
                Err(e) => prop_assert_eq!(e.sqlstate().code(), "22023"),
            }
        }
    }

    #[test]
    fn bucket_rules() {
        let now = 100 * 60 * SEC + 30 * SEC;
        let since = 90 * 60 * SEC + 5 * SEC;
        let b = buckets(Some(since), (0, 0, 60 * SEC), now).unwrap();
        // 10 min 25 s: ceil = 11 buckets, from since itself.
        assert_eq!(
            b,
            Buckets {
                start: since,
                width: 60 * SEC,
                count: 11
            }
        );
        assert_eq!(b.index(89 * 60 * SEC), None);
        assert_eq!(
            b.index(90 * 60 * SEC),
            Some(0),
            "the minute holding since counts in the first bucket"
        );
        assert_eq!(
            b.index(99 * 60 * SEC),
            Some(9),
            "[99:05, 100:05) holds the end of minute 99"
        );
        assert_eq!(
            b.index(100 * 60 * SEC),
            Some(10),
            "the minute under way counts in the last bucket"
        );
        assert_eq!(b.index(102 * 60 * SEC), None);
        let count =
            |since: i64, width: i64| buckets(Some(since), (0, 0, width), now).unwrap().count;
        assert_eq!(
            count(now - 10_000 * 60 * SEC, 60 * SEC),
            10_000,
            "exactly the maximum"
        );
        assert_eq!(
            count(now - 24 * 3600 * SEC, 3600 * SEC),
            24,
            "a day by hour"
        );
        assert_eq!(count(now, 60 * SEC), 0, "since = now");
        assert_eq!(count(now + 61 * SEC, 60 * SEC), 0, "future since");
        assert_eq!(count(i64::MAX, 60 * SEC), 0, "+infinity");
        assert_eq!(buckets(Some(0), (0, 1, 0), now).unwrap().count, 1);
        let huge = buckets(Some(0), (0, 100_000_000, 0), now).unwrap();
        assert_eq!(
            (huge.count, huge.start_of(0)),
            (1, 0),
            "a bucket wider than the period"
        );
        for (since, bucket) in [
            (None, (0, 0, 60 * SEC)),
            (Some(0), (0, 0, 30 * SEC)),
            (Some(0), (0, 0, 90 * SEC)),
            (Some(0), (0, 0, 0)),
            (Some(0), (0, 0, -60 * SEC)),
            (Some(-20_000 * 60 * SEC), (0, 0, 60 * SEC)),
            (Some(now - 10_001 * 60 * SEC), (0, 0, 60 * SEC)),
        ] {
            let e = buckets(since, bucket, now).unwrap_err();
            assert_eq!(e.sqlstate().code(), "22023", "{since:?} {bucket:?}");
        }
    }
}
