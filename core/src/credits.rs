//! Usage-capped tokens (`tokens.set_remaining`): the rules of the call and
//! the arithmetic of credits, periods and leases.
//!
//! A cap's credits live in a *pool* row. Verifications never write it: they
//! spend credits leased from it in blocks, and a lease is made durable
//! (the pool's `leased` counter, written outside any transaction and
//! flushed) before its first credit is spent. A crash therefore loses at
//! most the unspent part of the leases out, and never grants a credit twice.
//!
//! Times are PostgreSQL microseconds.

use crate::error::{Error, Result};
use crate::usage::{interval_micros, MICROS_PER_DAY, MICROS_PER_SECOND};

/// The longest refill interval: ten years.
pub const MAX_REFILL_EVERY: i64 = 3650 * MICROS_PER_DAY;
/// Leases start at this many credits...
pub const MIN_LEASE: i64 = 4;
/// ...double while each is used up within a second, and never exceed this:
/// the most a crash can cost a capped token on one server.
pub const MAX_LEASE: i64 = 1024;

/// A validated cap: `remaining` credits until the first refill, then
/// `refill.amount` per `refill.every_micros`, periods counted from when it
/// was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    pub remaining: i64,
    pub refill: Option<Refill>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refill {
    pub amount: i64,
    pub every_micros: i64,
}

/// The arguments of `tokens.set_remaining(id, remaining, refill_amount,
/// refill_every)`. NULL remaining (with no refill) removes the cap.
pub fn cap(
    remaining: Option<i64>,
    refill_amount: Option<i64>,
    refill_every: Option<(i32, i32, i64)>,
) -> Result<Option<Cap>> {
    let Some(remaining) = remaining else {
        if refill_amount.is_some() || refill_every.is_some() {
            return Err(Error::invalid("remaining", 
                "a refill needs remaining credits: pass remaining, or NULL for all three to remove the cap",
            ));
        }
        return Ok(None);
    };
    if remaining < 0 {
        return Err(Error::invalid(
            "remaining",
            format!(
                "remaining must be zero or more (got {remaining}); pass NULL to remove the cap"
            ),
        ));
    }
    let refill =
        match (refill_amount, refill_every) {
            (None, None) => None,
            (Some(amount), Some((months, days, micros))) => {
                if amount < 0 {
                    return Err(Error::invalid(
                        "refill_amount",
                        format!("refill_amount must be zero or more (got {amount})"),
                    ));
                }
                let every = interval_micros(months, days, micros);
                if !(MICROS_PER_SECOND as i128..=MAX_REFILL_EVERY as i128).contains(&every) {
                    return Err(Error::invalid(
                        "refill_every",
                        "refill_every must be between '1 second' and '3650 days'",
                    ));
                }
                Some(Refill {
                    amount,
                    every_micros: every as i64,
                })
            }
            _ => return Err(Error::invalid(
                "refill_amount",
                "refill_amount and refill_every go together: pass both, or neither for no refill",
            )),
        };
    Ok(Some(Cap { remaining, refill }))
}

impl Cap {
    /// The period holding `now`: 0 until the first refill (and for ever
    /// without a refill), then one per `every` since `started_at`.
    pub fn period_at(&self, started_at: i64, now: i64) -> i64 {
        match self.refill {
            None => 0,
            Some(r) => now.saturating_sub(started_at).max(0) / r.every_micros,
        }
    }

    /// When `period` ends (exclusive); i64::MAX for a cap without refill.
    pub fn period_end(&self, started_at: i64, period: i64) -> i64 {
        match self.refill {
            None => i64::MAX,
            Some(r) => {
                let end = started_at as i128 + (period as i128 + 1) * r.every_micros as i128;
                end.clamp(i64::MIN as i128, i64::MAX as i128) as i64
            }
        }
    }

    /// The credits `period` starts with.
    pub fn credits_in(&self, period: i64) -> i64 {
        match (period, self.refill) {
            (0, _) | (_, None) => self.remaining,
            (_, Some(r)) => r.amount,
        }
    }
}

/// What a pool row keeps durable: the period its leases belong to and how
/// many credits of it have been leased.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ledger {
    pub period: i64,
    pub leased: i64,
}

/// Credits handed to verifications of one server: spendable in `period`
/// until `until` (exclusive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grant {
    pub period: i64,
    pub credits: i64,
    pub until: i64,
}

impl Ledger {
    /// The period at `now` and the credits of it not leased yet. A clock
    /// set back never reopens a period already reached.
    pub fn available(&self, cap: &Cap, started_at: i64, now: i64) -> (i64, i64) {
        let period = cap.period_at(started_at, now).max(self.period);
        let leased = if period == self.period {
            self.leased
        } else {
            0
        };
        (period, (cap.credits_in(period) - leased).max(0))
    }

    /// Leases up to `want` credits at `now`: the ledger to make durable
    /// before any of them is spent, and the grant.
    pub fn lease(&self, cap: &Cap, started_at: i64, now: i64, want: i64) -> (Ledger, Grant) {
        let (period, available) = self.available(cap, started_at, now);
        let credits = want.clamp(0, available);
        let leased = if period == self.period {
            self.leased
        } else {
            0
        };
        (
            Ledger {
                period,
                leased: leased + credits,
            },
            Grant {
                period,
                credits,
                until: cap.period_end(started_at, period),
            },
        )
    }
}

/// How many credits the next lease of a pool asks for: double the previous
/// one when that was used up within a second (a busy token), back to the
/// minimum after a quiet spell, so that a crash costs a quiet token little.
pub fn next_lease_size(previous: i64, previous_at: i64, now: i64) -> i64 {
    if previous <= 0 {
        return MIN_LEASE;
    }
    let since = now.saturating_sub(previous_at);
    if (0..MICROS_PER_SECOND).contains(&since) {
        (previous * 2).min(MAX_LEASE)
    } else if !(0..10 * MICROS_PER_SECOND).contains(&since) {
        MIN_LEASE
    } else {
        previous.clamp(MIN_LEASE, MAX_LEASE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOUR: i64 = 3600 * MICROS_PER_SECOND;

    fn state(r: Result<Option<Cap>>) -> Option<&'static str> {
        r.err().map(|e| e.sqlstate().code())
    }

    #[test]
    fn the_arguments_of_set_remaining() {
        let hour = Some((0, 0, HOUR));
        assert_eq!(cap(None, None, None).unwrap(), None);
        assert_eq!(
            cap(Some(0), None, None).unwrap(),
            Some(Cap {
                remaining: 0,
                refill: None
            })
        );
        assert_eq!(
            cap(Some(5), Some(10), hour).unwrap().unwrap().refill,
            Some(Refill {
                amount: 10,
                every_micros: HOUR
            })
        );
        for bad in [
            cap(Some(-1), None, None),
            cap(Some(1), Some(10), None),
            cap(Some(1), None, hour),
            cap(None, Some(10), hour),
            cap(None, None, hour),
            cap(Some(1), Some(-1), hour),
            cap(Some(1), Some(1), Some((0, 0, 999_999))),
            cap(Some(1), Some(1), Some((0, 0, -HOUR))),
            cap(Some(1), Some(1), Some((122, 0, 0))),
        ] {
            assert_eq!(state(bad), Some("22023"));
        }
        let message = cap(Some(-3), None, None).unwrap_err().to_string();
        assert!(message.contains("zero or more"), "{message}");
    }

    #[test]
    fn periods_start_when_the_cap_is_set_and_refill_to_the_amount() {
        let c = cap(Some(5), Some(2), Some((0, 0, HOUR))).unwrap().unwrap();
        let start = 1_000 * HOUR;
        assert_eq!(c.period_at(start, start), 0);
        assert_eq!(c.period_at(start, start + HOUR - 1), 0);
        assert_eq!(c.period_at(start, start + HOUR), 1);
        assert_eq!(c.period_at(start, start - HOUR), 0);
        assert_eq!(c.credits_in(0), 5);
        assert_eq!(c.credits_in(7), 2);
        assert_eq!(c.period_end(start, 0), start + HOUR);

        let l = Ledger::default();
        let (l, g) = l.lease(&c, start, start, 16);
        assert_eq!((g.credits, g.period, g.until), (5, 0, start + HOUR));
        let (l, g) = l.lease(&c, start, start + 10, 16);
        assert_eq!(g.credits, 0, "period 0 is used up");
        let (l, g) = l.lease(&c, start, start + HOUR, 1);
        assert_eq!((g.credits, g.period), (1, 1));
        let (_, g) = l.lease(&c, start, start + 2, 16);
        assert_eq!(
            (g.credits, g.period),
            (1, 1),
            "a clock set back stays in the period reached"
        );
        let never = cap(Some(3), None, None).unwrap().unwrap();
        assert_eq!(never.period_at(0, i64::MAX), 0);
        assert_eq!(never.period_end(0, 0), i64::MAX);
    }

    #[test]
    fn leases_grow_for_a_busy_token_and_shrink_for_a_quiet_one() {
        let s = MICROS_PER_SECOND;
        assert_eq!(next_lease_size(0, 0, 5), MIN_LEASE);
        assert_eq!(next_lease_size(16, 0, s / 2), 32);
        assert_eq!(next_lease_size(MAX_LEASE, 0, 1), MAX_LEASE);
        assert_eq!(next_lease_size(64, 0, 5 * s), 64);
        assert_eq!(next_lease_size(64, 0, 10 * s), MIN_LEASE);
        assert_eq!(next_lease_size(64, 10 * s, 0), MIN_LEASE);
    }

    proptest! {
        /// Whatever the clock does and however much is asked, a period never
        /// leases more than its credits, and periods never go back.
        #[test]
        fn a_period_never_leases_more_than_its_credits(
            remaining in 0i64..5_000,
            refill in proptest::option::of((0i64..5_000, 1i64..10)),
            steps in proptest::collection::vec((-3i64..30, 0i64..3_000), 1..200),
        ) {
            let c = cap(
                Some(remaining),
                refill.map(|r| r.0),
                refill.map(|r| (0, 0, r.1 * MICROS_PER_SECOND)),
            ).unwrap().unwrap();
            let start = 77 * HOUR;
            let mut now = start;
            let mut ledger = Ledger::default();
            let mut granted = std::collections::HashMap::<i64, i64>::new();
            for (dt, want) in steps {
                now += dt * MICROS_PER_SECOND / 2;
                let (next, grant) = ledger.lease(&c, start, now, want);
                prop_assert!(next.period >= ledger.period);
                prop_assert!(grant.credits >= 0 && grant.credits <= want);
                prop_assert!(grant.until > now || grant.credits == 0 || grant.period > c.period_at(start, now));
                *granted.entry(grant.period).or_default() += grant.credits;
                prop_assert!(granted[&grant.period] <= c.credits_in(grant.period));
                prop_assert_eq!(next.leased, granted[&next.period]);
                ledger = next;
            }
        }
    }
}
