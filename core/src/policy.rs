//! Per-database policies (`tokens.set_policy`): their names and the values
//! each accepts.

use crate::usage::interval_micros;
use crate::Error;

const MICROS_PER_MINUTE: i128 = 60_000_000;
const MICROS_PER_HOUR: i128 = 60 * MICROS_PER_MINUTE;
/// As PostgreSQL counts an interval's years: 12 months of 30 days.
const MICROS_PER_100_YEARS: i128 = 1_200 * 30 * 24 * MICROS_PER_HOUR;

/// A known policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// mint and rotate refuse an expiry later than now + this, or none.
    MaxLifetime,
    /// mint refuses a token that never expires.
    RequireExpiry,
    /// the worker revokes tokens unused for this long.
    RevokeUnusedAfter,
    /// a rotated token presented after its grace disables its successor.
    RevokeOnReuse,
}

/// What a policy's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An interval within (min, max) microseconds, months as 30 days.
    Interval {
        min: i128,
        max: i128,
        range: &'static str,
    },
    Boolean,
}

pub const NAMES: &str = "max_lifetime, require_expiry, revoke_unused_after, revoke_on_reuse";

impl Policy {
    pub fn parse(name: Option<&str>) -> Result<Policy, Error> {
        match name {
            Some("max_lifetime") => Ok(Policy::MaxLifetime),
            Some("require_expiry") => Ok(Policy::RequireExpiry),
            Some("revoke_unused_after") => Ok(Policy::RevokeUnusedAfter),
            Some("revoke_on_reuse") => Ok(Policy::RevokeOnReuse),
            Some(_) => Err(Error::invalid(
                "name",
                format!("unknown policy: the policies are {NAMES}"),
            )),
            None => Err(Error::invalid(
                "name",
                format!("name must not be NULL: pass one of {NAMES}"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Policy::MaxLifetime => "max_lifetime",
            Policy::RequireExpiry => "require_expiry",
            Policy::RevokeUnusedAfter => "revoke_unused_after",
            Policy::RevokeOnReuse => "revoke_on_reuse",
        }
    }

    pub fn shape(self) -> Shape {
        match self {
            Policy::MaxLifetime => Shape::Interval {
                min: MICROS_PER_MINUTE,
                max: MICROS_PER_100_YEARS,
                range: "an interval from '1 minute' to '100 years'",
            },
            Policy::RevokeUnusedAfter => Shape::Interval {
                min: MICROS_PER_HOUR,
                max: MICROS_PER_100_YEARS,
                range: "an interval from '1 hour' to '100 years'",
            },
            Policy::RequireExpiry | Policy::RevokeOnReuse => Shape::Boolean,
        }
    }

    /// An interval value (as PostgreSQL parsed it) within the policy's range.
    pub fn check_interval(self, months: i32, days: i32, micros: i64) -> Result<(), Error> {
        let Shape::Interval { min, max, range } = self.shape() else {
            return Err(self.wrong_value());
        };
        if (min..=max).contains(&interval_micros(months, days, micros)) {
            Ok(())
        } else {
            Err(Error::invalid(
                "value",
                format!("policy {} takes {range} (or NULL for none)", self.name()),
            ))
        }
    }

    /// A boolean value as PostgreSQL spells them; its canonical text.
    pub fn boolean(self, value: &str) -> Result<&'static str, Error> {
        if self.shape() != Shape::Boolean {
            return Err(self.wrong_value());
        }
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "on" | "yes" | "y" | "1" => Ok("true"),
            "false" | "f" | "off" | "no" | "n" | "0" => Ok("false"),
            _ => Err(self.wrong_value()),
        }
    }

    /// The error for a value of the wrong kind.
    pub fn wrong_value(self) -> Error {
        let takes = match self.shape() {
            Shape::Interval { range, .. } => range,
            Shape::Boolean => "true or false",
        };
        Error::invalid(
            "value",
            format!(
                "policy {} takes {takes} (or NULL for its default)",
                self.name()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_known() {
        for name in NAMES.split(", ") {
            assert_eq!(Policy::parse(Some(name)).unwrap().name(), name);
        }
        let e = Policy::parse(Some("max_age")).unwrap_err();
        assert_eq!(e.argument(), Some("name"));
        assert!(e.to_string().contains(NAMES), "{e}");
        assert_eq!(Policy::parse(None).unwrap_err().argument(), Some("name"));
    }

    #[test]
    fn intervals_are_bounded() {
        let p = Policy::MaxLifetime;
        assert!(p.check_interval(0, 90, 0).is_ok());
        assert!(p.check_interval(0, 0, 59_999_999).is_err());
        assert!(p.check_interval(0, 0, 60_000_000).is_ok());
        assert!(p.check_interval(1200, 0, 0).is_ok());
        assert!(p.check_interval(1201, 0, 0).is_err());
        assert!(p.check_interval(0, 36_001, 0).is_err());
        assert!(p.check_interval(0, -1, 0).is_err());
        assert!(Policy::RevokeUnusedAfter
            .check_interval(0, 0, 3_599_999_999)
            .is_err());
        assert!(Policy::RevokeUnusedAfter
            .check_interval(0, 0, 3_600_000_000)
            .is_ok());
        assert!(Policy::RequireExpiry.check_interval(0, 1, 0).is_err());
    }

    #[test]
    fn booleans_take_postgresql_spellings_only_where_a_boolean_is_due() {
        assert_eq!(Policy::RequireExpiry.boolean("on"), Ok("true"));
        assert_eq!(Policy::RevokeOnReuse.boolean(" FALSE "), Ok("false"));
        assert!(Policy::RevokeOnReuse.boolean("maybe").is_err());
        assert!(Policy::MaxLifetime.boolean("true").is_err());
    }
}
