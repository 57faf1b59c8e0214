//! The one place that decides a token's status from its stored state.

/// Why a known token is refused, or `Active`. The order of the checks is the
/// order of SPEC §2: revoked first, then expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Revoked,
    Expired,
    /// Refused by the token's IP allowlist (decided by verify, not stored).
    IpDenied,
    /// Refused by the token's rate limit (decided by verify from shared
    /// memory, never stored).
    RateLimited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
            Status::IpDenied => "ip_denied",
            Status::RateLimited => "rate_limited",
        }
    }
}

/// The status at `now` (all times in PostgreSQL microseconds). A revoked_at
/// in the future is a rotation grace period: the token still works until then.
pub fn status(revoked_at: Option<i64>, expires_at: Option<i64>, now: i64) -> Status {
    if revoked_at.is_some_and(|r| r <= now) {
        Status::Revoked
    } else if expires_at.is_some_and(|e| e <= now) {
        Status::Expired
    } else {
        Status::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_boundaries() {
        assert_eq!(status(None, None, 10), Status::Active);
        assert_eq!(status(Some(10), None, 10), Status::Revoked);
        assert_eq!(status(Some(11), None, 10), Status::Active, "grace period");
        assert_eq!(status(None, Some(10), 10), Status::Expired);
        assert_eq!(status(None, Some(11), 10), Status::Active);
        assert_eq!(
            status(Some(5), Some(5), 10),
            Status::Revoked,
            "revoked wins over expired"
        );
        assert_eq!(status(Some(20), Some(5), 10), Status::Expired);
    }
}
