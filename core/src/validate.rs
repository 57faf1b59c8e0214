//! The rules for every argument of the SQL API (SPEC §1, §2). Each returns the
//! value to store or an error naming the rule; none echoes a caller's value
//! back, so a token pasted into the wrong argument never reaches a message.

use crate::error::{Error, Result};

pub const NAME_MAX: usize = 80;
pub const OWNER_MAX: usize = 80;
pub const SCOPES_MAX: usize = 16;
pub const SCOPE_MAX: usize = 40;
pub const REASON_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 200;

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// The longest rotation grace period: 30 days.
pub const GRACE_MAX_MICROS: i64 = 30 * MICROS_PER_DAY;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Long-lived, owned by a group or a system (`group:platform`).
    Service,
    /// Owned by the user who minted it.
    Personal,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::Personal => "personal",
        }
    }
}

pub fn kind(value: Option<&str>) -> Result<Kind> {
    match value {
        Some("service") => Ok(Kind::Service),
        Some("personal") => Ok(Kind::Personal),
        _ => Err(Error::invalid(
            "kind",
            "kind must be 'service' or 'personal'",
        )),
    }
}

/// A free-form label: 1 to `max` characters, no control characters.
fn label(what: &'static str, value: Option<&str>, max: usize) -> Result<String> {
    let Some(value) = value else {
        return Err(Error::invalid(
            what,
            format!(
                "{what} must not be NULL: give 1 to {max} characters without control characters"
            ),
        ));
    };
    let count = value.chars().count();
    if count == 0 || count > max {
        return Err(Error::invalid(
            what,
            format!(
                "{what} must be 1 to {max} characters without control characters (got {count})"
            ),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(what, format!(
            "{what} must not contain control characters (tabs, newlines, escapes); 1 to {max} printable characters are allowed"
        )));
    }
    Ok(value.to_owned())
}

pub fn name(value: Option<&str>) -> Result<String> {
    label("name", value, NAME_MAX)
}

/// The longest display prefix of an imported key (as long as a minted
/// token's).
pub const DISPLAY_PREFIX_MAX: usize = 12;

/// An imported key's display prefix: 1 to 12 characters, no control
/// characters. It is shown in listings, so it must never be the whole key.
pub fn display_prefix(value: Option<&str>) -> Result<String> {
    label("prefix", value, DISPLAY_PREFIX_MAX)
}

pub fn owner(value: &str) -> Result<String> {
    label("owner", Some(value), OWNER_MAX)
}

pub fn actor(value: &str) -> Result<String> {
    label("actor", Some(value), OWNER_MAX)
}

pub fn reason(value: Option<&str>) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(r) if r.chars().count() <= REASON_MAX => Ok(Some(r.to_owned())),
        Some(r) => Err(Error::invalid(
            "reason",
            format!(
                "reason must be at most {REASON_MAX} characters (got {})",
                r.chars().count()
            ),
        )),
    }
}

pub fn description(value: Option<&str>) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(d) => label("description", Some(d), DESCRIPTION_MAX).map(Some),
    }
}

/// One scope: 1 to 40 characters matching `^[a-z][a-z0-9.:_-]*$`.
pub fn scope(value: &str) -> Result<()> {
    let bytes = value.as_bytes();
    let shape_ok = !bytes.is_empty()
        && bytes.len() <= SCOPE_MAX
        && bytes[0].is_ascii_lowercase()
        && bytes[1..].iter().all(|&b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b':' | b'_' | b'-')
        });
    if shape_ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "scope",
            format!(
                "a scope must be 1 to {SCOPE_MAX} characters matching ^[a-z][a-z0-9.:_-]*$ \
             (a lower-case letter, then lower-case letters, digits, '.', ':', '_' or '-')"
            ),
        ))
    }
}

/// Scopes: NULL (full access) or at most 16 distinct valid scopes. An empty
/// array is a token with no scope at all.
pub fn scopes(value: Option<&[Option<String>]>) -> Result<Option<Vec<String>>> {
    let Some(items) = value else { return Ok(None) };
    if items.len() > SCOPES_MAX {
        return Err(Error::invalid(
            "scopes",
            format!(
                "scopes may hold at most {SCOPES_MAX} entries (got {}); pass NULL for full access",
                items.len()
            ),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let position = i + 1;
        let Some(s) = item else {
            return Err(Error::invalid("scopes", format!(
                "scope {position} is NULL: every scope must be a string; pass NULL for the whole array to grant full access"
            )));
        };
        scope(s)
            .map_err(|e| Error::invalid("scopes", format!("scope {position} is not valid: {e}")))?;
        if out.contains(s) {
            return Err(Error::invalid(
                "scopes",
                format!("scope {position} repeats an earlier one: scopes must be distinct"),
            ));
        }
        out.push(s.clone());
    }
    Ok(Some(out))
}

pub const ACTION_MAX: usize = 80;
pub const TARGET_MAX: usize = 200;
/// The largest `meta` object, as `octet_length(meta::text)`.
pub const META_MAX_BYTES: usize = 4096;

/// A token's `meta`, given as jsonb's own text (`meta::text`, so its length
/// is `octet_length(meta::text)`): NULL, or a JSON object of at most 4096
/// bytes.
pub fn token_meta(text: Option<&str>) -> Result<Option<&str>> {
    let Some(text) = text else { return Ok(None) };
    let trimmed = text.trim();
    let kind = match trimmed.as_bytes().first() {
        Some(b'{') => None,
        Some(b'[') => Some("an array"),
        Some(b'"') => Some("a string"),
        _ if trimmed == "true" || trimmed == "false" => Some("a boolean"),
        _ if trimmed == "null" => Some("null"),
        Some(b'-' | b'0'..=b'9') => Some("a number"),
        _ => Some("text that is not JSON"),
    };
    if let Some(kind) = kind {
        return Err(Error::invalid("meta", format!(
            "meta must be a JSON object (got {kind}): pass e.g. '{{\"plan\": \"pro\"}}', or NULL for none"
        )));
    }
    if text.len() > META_MAX_BYTES {
        return Err(Error::invalid(
            "meta",
            format!(
                "meta must be at most {META_MAX_BYTES} bytes as octet_length(meta::text) (got {})",
                text.len()
            ),
        ));
    }
    Ok(Some(text))
}

/// An application's audit action: 1 to 80 characters matching
/// `^[a-z][a-z0-9._:-]*$`, outside the extension's reserved `token.` space.
pub fn audit_action(value: Option<&str>) -> Result<String> {
    let Some(action) = value else {
        return Err(Error::invalid(
            "action",
            "action must not be NULL: give 1 to 80 characters matching ^[a-z][a-z0-9._:-]*$",
        ));
    };
    let b = action.as_bytes();
    let shape_ok = !b.is_empty()
        && b.len() <= ACTION_MAX
        && b[0].is_ascii_lowercase()
        && b[1..].iter().all(|&c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b':' | b'-')
        });
    if !shape_ok {
        return Err(Error::invalid("action", format!(
            "action must be 1 to {ACTION_MAX} characters matching ^[a-z][a-z0-9._:-]*$ (e.g. 'invoice.paid')"
        )));
    }
    if action.starts_with("token.") {
        return Err(Error::invalid("action", 
            "actions starting with 'token.' are reserved to pg_tokens: name your event after your application (e.g. 'invoice.paid')",
        ));
    }
    Ok(action.to_owned())
}

/// An audit target: NULL or at most 200 characters without control characters.
pub fn audit_target(value: Option<&str>) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(t) if t.chars().count() > TARGET_MAX => Err(Error::invalid(
            "target",
            format!(
                "target must be at most {TARGET_MAX} characters (got {})",
                t.chars().count()
            ),
        )),
        Some(t) if t.chars().any(char::is_control) => Err(Error::invalid(
            "target",
            "target must not contain control characters (tabs, newlines, escapes)",
        )),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// A timestamp argument as PostgreSQL hands it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    NegInfinity,
    /// Microseconds since 2000-01-01 UTC, PostgreSQL's epoch.
    At(i64),
    Infinity,
}

/// Expiry: NULL or `infinity` is never (stored as NULL); anything else must be
/// strictly after `now`.
pub fn expires_at(value: Option<Timestamp>, now: i64) -> Result<Option<i64>> {
    match value {
        None | Some(Timestamp::Infinity) => Ok(None),
        Some(Timestamp::At(t)) if t > now => Ok(Some(t)),
        Some(_) => Err(Error::invalid(
            "expires_at",
            "expires_at must be in the future (or NULL for a token that never expires)",
        )),
    }
}

/// Rotation grace: from 0 to 30 days. Months count as 30 days and days as 24
/// hours, the way PostgreSQL compares intervals.
pub fn grace(months: i32, days: i32, micros: i64) -> Result<i64> {
    let total = (months as i128 * 30 + days as i128) * MICROS_PER_DAY as i128 + micros as i128;
    if (0..=GRACE_MAX_MICROS as i128).contains(&total) {
        Ok(total as i64)
    } else {
        Err(Error::invalid(
            "grace",
            "grace must be between 0 and 30 days ('0' stops the old token at once)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn some(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|s| Some(s.to_string())).collect()
    }

    #[test]
    fn token_meta_is_an_object_of_at_most_4096_bytes() {
        assert_eq!(token_meta(None).unwrap(), None);
        assert_eq!(token_meta(Some("{}")).unwrap(), Some("{}"));
        let big = format!("{{\"k\": \"{}\"}}", "x".repeat(4096 - 9));
        assert_eq!(big.len(), 4096);
        assert!(token_meta(Some(&big)).is_ok());
        let over = format!("{{\"k\": \"{}\"}}", "x".repeat(4096 - 8));
        for bad in [
            "[1, 2]",
            "\"plan\"",
            "42",
            "-1",
            "true",
            "false",
            "null",
            over.as_str(),
        ] {
            let e = token_meta(Some(bad)).unwrap_err();
            assert_eq!(e.sqlstate().code(), "22023", "{bad}");
        }
        let e = token_meta(Some("not json")).unwrap_err().to_string();
        assert!(e.contains("not JSON"), "{e}");
        let e = token_meta(Some("nul")).unwrap_err().to_string();
        assert!(!e.contains("got null"), "{e}");
    }

    #[test]
    fn names() {
        assert_eq!(name(Some("ci deploy")).unwrap(), "ci deploy");
        assert_eq!(name(Some(&"é".repeat(80))).unwrap().chars().count(), 80);
        for bad in [
            None,
            Some(""),
            Some(&*"x".repeat(81)),
            Some("a\nb"),
            Some("a\tb"),
            Some("\u{1b}[31m"),
            Some("a\u{7f}"),
            Some("a\u{85}"),
        ] {
            let e = name(bad).unwrap_err();
            assert_eq!(e.sqlstate().code(), "22023");
            assert!(e.to_string().contains("80"), "{e}");
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(kind(Some("service")).unwrap(), Kind::Service);
        assert_eq!(kind(Some("personal")).unwrap(), Kind::Personal);
        for bad in [None, Some(""), Some("Service"), Some("group")] {
            assert!(kind(bad)
                .unwrap_err()
                .to_string()
                .contains("'service' or 'personal'"));
        }
    }

    #[test]
    fn scope_lists() {
        assert_eq!(scopes(None).unwrap(), None);
        assert_eq!(scopes(Some(&[])).unwrap(), Some(vec![]));
        let ok = some(&["docs:read", "a", "x.y_z-1:2"]);
        assert_eq!(scopes(Some(&ok)).unwrap().unwrap().len(), 3);
        let sixteen: Vec<String> = (0..16).map(|i| format!("s{i}")).collect();
        let sixteen: Vec<&str> = sixteen.iter().map(String::as_str).collect();
        assert!(scopes(Some(&some(&sixteen))).is_ok());

        let seventeen: Vec<String> = (0..17).map(|i| format!("s{i}")).collect();
        let seventeen: Vec<&str> = seventeen.iter().map(String::as_str).collect();
        let forty_one = "a".repeat(41);
        let bad: Vec<Vec<Option<String>>> = vec![
            some(&seventeen),
            some(&["a", "a"]),
            some(&[""]),
            vec![Some("a".into()), None],
            some(&[&forty_one]),
            some(&["Docs"]),
            some(&["1docs"]),
            some(&["docs read"]),
            some(&["docs/read"]),
            some(&["é"]),
            some(&[":a"]),
        ];
        for b in bad {
            let e = scopes(Some(&b)).unwrap_err();
            assert_eq!(e.sqlstate().code(), "22023", "{b:?}");
        }
        assert!(scopes(Some(&some(&[&"a".repeat(40)]))).is_ok());
    }

    #[test]
    fn expiry() {
        assert_eq!(expires_at(None, 100).unwrap(), None);
        assert_eq!(expires_at(Some(Timestamp::Infinity), 100).unwrap(), None);
        assert_eq!(
            expires_at(Some(Timestamp::At(101)), 100).unwrap(),
            Some(101)
        );
        for bad in [
            Timestamp::At(100),
            Timestamp::At(99),
            Timestamp::NegInfinity,
        ] {
            assert!(expires_at(Some(bad), 100).is_err());
        }
    }

    #[test]
    fn grace_bounds() {
        assert_eq!(grace(0, 0, 0).unwrap(), 0);
        assert_eq!(grace(0, 30, 0).unwrap(), GRACE_MAX_MICROS);
        assert_eq!(grace(1, 0, 0).unwrap(), GRACE_MAX_MICROS);
        assert!(grace(0, 30, 1).is_err());
        assert!(grace(0, 0, -1).is_err());
        assert!(grace(i32::MAX, i32::MAX, i64::MAX).is_err());
        assert!(grace(i32::MIN, 0, 0).is_err());
        assert_eq!(grace(0, 1, -MICROS_PER_DAY).unwrap(), 0);
    }

    #[test]
    fn audit_actions() {
        assert_eq!(audit_action(Some("invoice.paid")).unwrap(), "invoice.paid");
        assert!(audit_action(Some("a:b_c-d.9")).is_ok());
        assert!(audit_action(Some(&"a".repeat(80))).is_ok());
        for bad in [
            None,
            Some(""),
            Some("Invoice"),
            Some("9a"),
            Some("a b"),
            Some("token.create"),
            Some("token.anything"),
            Some(&*"a".repeat(81)),
        ] {
            assert_eq!(
                audit_action(bad).unwrap_err().sqlstate().code(),
                "22023",
                "{bad:?}"
            );
        }
        assert!(
            audit_action(Some("tokens.x")).is_ok(),
            "only 'token.' is reserved"
        );
        assert_eq!(audit_target(None).unwrap(), None);
        assert!(audit_target(Some(&"t".repeat(200))).is_ok());
        assert!(audit_target(Some(&"t".repeat(201))).is_err());
        assert!(
            audit_target(Some(r"a\nb")).is_ok(),
            "a backslash is not a control character"
        );
        assert!(audit_target(Some("a\nb")).is_err());
        assert!(audit_target(Some("a\u{7}b")).is_err());
    }

    #[test]
    fn reasons() {
        assert_eq!(reason(None).unwrap(), None);
        assert!(reason(Some(&"r".repeat(200))).is_ok());
        assert!(reason(Some(&"r".repeat(201))).is_err());
    }

    proptest! {
        #[test]
        fn scope_rule_matches_the_documented_regex(s in "\\PC{0,45}") {
            let re_ok = !s.is_empty() && s.len() <= 40
                && s.chars().next().unwrap().is_ascii_lowercase()
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".:_-".contains(c));
            prop_assert_eq!(scope(&s).is_ok(), re_ok);
        }

        #[test]
        fn valid_scopes_are_accepted(s in "[a-z][a-z0-9.:_-]{0,39}") {
            prop_assert!(scope(&s).is_ok());
        }

        #[test]
        fn labels_never_panic(s in any::<String>()) {
            let _ = name(Some(&s));
            let _ = owner(&s);
        }

        #[test]
        fn grace_never_panics(m in any::<i32>(), d in any::<i32>(), us in any::<i64>()) {
            if let Ok(g) = grace(m, d, us) {
                prop_assert!((0..=GRACE_MAX_MICROS).contains(&g));
            }
        }
    }
}
