//! `tokens.usage`: a token's successful and refused verifications per
//! bucket, from what the background flush has written (per minute).

use pg_tokens_core::usage::{self, minute_of};
use pg_tokens_core::Error;
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::Uuid;

use super::now;
use super::revoke::required_id;
use crate::error::{OrRaise, Result};
use crate::privilege::{AsOwner, Caller, READER};
use crate::store::{self, timestamp};

#[pg_extern(sql = false)]
fn usage(
    id: Option<Uuid>,
    since: Option<TimestampWithTimeZone>,
    bucket: Option<Interval>,
) -> TableIterator<
    'static,
    (
        name!(bucket_start, TimestampWithTimeZone),
        name!(count, i64),
        name!(denied, i64),
    ),
> {
    let caller = Caller::current();
    let id = required_id(id).or_raise();
    let rows = series(&caller, id, since, bucket).or_raise();
    TableIterator::new(rows)
}

fn series(
    caller: &Caller,
    id: Uuid,
    since: Option<TimestampWithTimeZone>,
    bucket: Option<Interval>,
) -> Result<Vec<(TimestampWithTimeZone, i64, i64)>> {
    let since = since.ok_or_else(|| {
        Error::invalid(
            "since",
            "since must not be NULL: pass the start of the period",
        )
    })?;
    let bucket = bucket.ok_or_else(|| {
        Error::invalid(
            "bucket",
            "bucket must not be NULL: pass an interval such as '1 hour'",
        )
    })?;
    let since = if since.is_neg_infinity() {
        None
    } else if since.is_infinity() {
        Some(i64::MAX)
    } else {
        Some(pg_sys::TimestampTz::from(since))
    };
    let now = now();
    let buckets = usage::buckets(
        since,
        (bucket.months(), bucket.days(), bucket.micros()),
        now,
    )?;
    let mut series: Vec<(i64, i64, i64)> = (0..buckets.count)
        .map(|i| (buckets.start_of(i), 0, 0))
        .collect();
    {
        let _owner = AsOwner::enter()?;
        Spi::connect_mut(|client| {
            let owner =
                store::owner_of(client, id)?.ok_or_else(|| Error::UnknownToken(id.to_string()))?;
            if !(caller.acts_as(READER) || owner == caller.name) {
                return Err(Error::not_allowed(format!(
                    "role {} may not read the usage of token {id}: that needs tokens_reader, \
                     or tokens_self_service on one's own token",
                    caller.name
                )));
            }
            if buckets.count == 0 {
                return Ok(());
            }
            // From the minute holding since to the one under way.
            let from = minute_of(buckets.start);
            for (minute, count, denied) in
                store::usage_minutes(client, id, from, now.saturating_add(1))?
            {
                if let Some(i) = buckets.index(minute_of(minute)) {
                    series[i].1 += count;
                    series[i].2 += denied;
                }
            }
            Ok(())
        })?;
    }
    series
        .into_iter()
        .map(|(start, count, denied)| Ok((timestamp(start)?, count, denied)))
        .collect()
}
