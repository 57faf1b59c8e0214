//! PostgreSQL timestamps (microseconds since 2000-01-01 UTC) as text that no
//! session setting (TimeZone, DateStyle) changes.

use chrono::{DateTime, SecondsFormat};

/// Seconds from the Unix epoch to PostgreSQL's.
const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;

/// RFC 3339 in UTC with microseconds, e.g. `2026-11-26T05:46:38.000000Z`.
pub fn rfc3339(pg_micros: i64) -> String {
    let unix_micros = pg_micros.saturating_add(PG_EPOCH_UNIX_SECS * 1_000_000);
    match DateTime::from_timestamp_micros(unix_micros) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Micros, true),
        None if pg_micros > 0 => "infinity".to_owned(),
        None => "-infinity".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_later() {
        assert_eq!(rfc3339(0), "2000-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(-1), "1999-12-31T23:59:59.999999Z");
        assert_eq!(rfc3339(849_008_798_000_001), "2026-11-26T11:46:38.000001Z");
        assert_eq!(rfc3339(i64::MAX), "infinity");
        assert_eq!(rfc3339(i64::MIN), "-infinity");
    }
}
