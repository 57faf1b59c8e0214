//! The one place that decides a token's status from its stored state.

/// Why a known token is refused, or `Active`. The order of the checks is the
/// order of SPEC §2: revoked first, then expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Revoked,
    Expired,
    /// Suspended by `tokens.disable` until `tokens.enable`.
    Disabled,
    /// Refused by the token's IP allowlist (decided by verify, not stored).
    IpDenied,
    /// Lacks a scope the caller of `verify(token, required_scopes)` requires.
    Forbidden,
    /// Refused by the token's rate limit (decided by verify from shared
    /// memory, never stored).
    RateLimited,
    /// A usage-capped token with no credit left in its period (decided by
    /// verify, after every other check).
    UsageExceeded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
            Status::Disabled => "disabled",
            Status::IpDenied => "ip_denied",
            Status::Forbidden => "forbidden",
            Status::RateLimited => "rate_limited",
            Status::UsageExceeded => "usage_exceeded",
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

/// The status of a token that may be disabled: revoked, expired, disabled,
/// the first that applies (SPEC §2).
pub fn status_of(
    revoked_at: Option<i64>,
    expires_at: Option<i64>,
    disabled: bool,
    now: i64,
) -> Status {
    match status(revoked_at, expires_at, now) {
        Status::Active if disabled => Status::Disabled,
        other => other,
    }
}

/// Whether a token with `scopes` (None: full access) grants every scope in
/// `required` (None or empty: nothing required). A NULL element is a
/// requirement nothing grants (SPEC §7).
pub fn grants(scopes: Option<&[String]>, required: Option<&[Option<String>]>) -> bool {
    required
        .unwrap_or_default()
        .iter()
        .all(|want| match (want, scopes) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(want), Some(granted)) => granted.iter().any(|g| g == want),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_comes_after_revoked_and_expired() {
        assert_eq!(status_of(None, None, true, 10), Status::Disabled);
        assert_eq!(status_of(None, None, false, 10), Status::Active);
        assert_eq!(status_of(Some(5), None, true, 10), Status::Revoked);
        assert_eq!(status_of(None, Some(5), true, 10), Status::Expired);
        assert_eq!(
            status_of(Some(20), None, true, 10),
            Status::Disabled,
            "in its grace period"
        );
    }

    #[test]
    fn required_scopes() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let r = |v: &[Option<&str>]| v.iter().map(|x| x.map(str::to_owned)).collect::<Vec<_>>();
        let read = s(&["docs:read", "docs:list"]);
        assert!(grants(Some(&read), None), "NULL requires nothing");
        assert!(
            grants(Some(&read), Some(&[])),
            "an empty list requires nothing"
        );
        assert!(grants(Some(&[]), Some(&[])));
        assert!(grants(Some(&read), Some(&r(&[Some("docs:read")]))));
        assert!(grants(
            Some(&read),
            Some(&r(&[Some("docs:list"), Some("docs:read")]))
        ));
        assert!(!grants(
            Some(&read),
            Some(&r(&[Some("docs:read"), Some("docs:write")]))
        ));
        assert!(
            !grants(Some(&[]), Some(&r(&[Some("docs:read")]))),
            "no scope grants nothing"
        );
        assert!(
            grants(None, Some(&r(&[Some("anything"), Some("else")]))),
            "NULL scopes grant all"
        );
        assert!(
            !grants(None, Some(&r(&[None]))),
            "a NULL element is forbidden"
        );
        assert!(!grants(Some(&read), Some(&r(&[Some("docs:read"), None]))));
    }

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
