//! Everything shown on screen passes through here: control characters (and
//! bidirectional overrides) are escaped so a token name cannot move the
//! cursor, change colours or reorder what an administrator reads (SPEC §7).

use chrono::{DateTime, Utc};

use crate::db::model::{Credits, RateLimit};

/// `s` with every control character written as a visible escape (`\x1b`,
/// `\n`, `\u{202e}`).
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_invisible_format(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Bidirectional controls and zero-width characters: not `is_control`, but
/// they change what a reader sees.
fn is_invisible_format(c: char) -> bool {
    matches!(c as u32,
        0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x2069 | 0xFEFF)
}

/// An optional list of scopes as shown in tables: NULL is full access.
pub fn scopes(scopes: &Option<Vec<String>>) -> String {
    match scopes {
        None => "(all)".to_owned(),
        Some(v) if v.is_empty() => "(none)".to_owned(),
        Some(v) => clean(&v.join(",")),
    }
}

/// A rate limit as "100 / 1 min", or "none".
pub fn rate_limit(limit: &Option<RateLimit>) -> String {
    match limit {
        None => "none".to_owned(),
        Some(l) => format!("{} / {}", l.requests, span(l.per_seconds)),
    }
}

/// A window length in the largest unit that divides it: "1 day", "2 h",
/// "1 min", "30 s", "1.5 s".
pub fn span(seconds: f64) -> String {
    let whole = seconds.round();
    if (seconds - whole).abs() > 1e-6 || whole < 1.0 {
        return format!("{} s", (seconds * 1000.0).round() / 1000.0);
    }
    let s = whole as i64;
    if s % 86_400 == 0 {
        let d = s / 86_400;
        format!("{d} day{}", if d == 1 { "" } else { "s" })
    } else if s % 3600 == 0 {
        format!("{} h", s / 3600)
    } else if s % 60 == 0 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// A window in seconds as the forms show it: "1 minute", "2 hours".
pub fn per_text(seconds: f64) -> String {
    let whole = seconds.round();
    if (seconds - whole).abs() > 1e-6 {
        return format!("{seconds} seconds");
    }
    let s = whole as i64;
    let (n, unit) = if s > 0 && s % 86_400 == 0 {
        (s / 86_400, "day")
    } else if s > 0 && s % 3600 == 0 {
        (s / 3600, "hour")
    } else if s > 0 && s % 60 == 0 {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A usage cap: "42 left", "42 left, refill 100 every 1 hour", or
/// "none (no cap)".
pub fn credits(credits: &Option<Credits>) -> String {
    match credits {
        None => "none (no cap)".to_owned(),
        Some(Credits {
            remaining,
            refill: None,
        }) => format!("{remaining} left"),
        Some(Credits {
            remaining,
            refill: Some(r),
        }) => format!(
            "{remaining} left, refill {} every {}",
            r.amount,
            per_text(r.every_seconds)
        ),
    }
}

/// An IP allowlist: "anywhere" when there is none.
pub fn allowlist(allowed: &Option<Vec<String>>) -> String {
    match allowed {
        None => "anywhere".to_owned(),
        Some(v) => clean(&v.join(", ")),
    }
}

/// A moment relative to `now`: "in 29d", "3h ago", "just now".
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    let (future, n) = if secs >= 0 {
        (true, secs)
    } else {
        (false, -secs)
    };
    let span = if n < 60 {
        return if future {
            "in <1m".into()
        } else {
            "just now".into()
        };
    } else if n < 3600 {
        format!("{}m", n / 60)
    } else if n < 86_400 {
        format!("{}h", n / 3600)
    } else if n < 86_400 * 365 {
        format!("{}d", n / 86_400)
    } else {
        format!("{}y", n / (86_400 * 365))
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// A moment as a fixed-width UTC timestamp.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Truncates `s` to `width` characters, marking the cut with an ellipsis.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Splits `s` into lines of at most `width` characters at spaces.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in s.split(' ') {
        let cur = lines.last().map(|l| l.chars().count()).unwrap_or(0);
        if cur > 0 && cur + 1 + word.chars().count() > width {
            lines.push(String::new());
        }
        if let Some(l) = lines.last_mut() {
            if !l.is_empty() {
                l.push(' ');
            }
            l.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(clean("a\x1b[31mred\x07"), "a\\x1b[31mred\\x07");
        assert_eq!(clean("line\nbreak\ttab\r"), "line\\nbreak\\ttab\\r");
        assert_eq!(clean("\u{9b}2J"), "\\x9b2J");
        assert_eq!(clean("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(clean("plain name é ✓"), "plain name é ✓");
    }

    #[test]
    fn relative_times() {
        let now = DateTime::parse_from_rfc3339("2025-01-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(relative(now + chrono::Duration::days(30), now), "in 30d");
        assert_eq!(relative(now - chrono::Duration::hours(3), now), "3h ago");
        assert_eq!(
            relative(now - chrono::Duration::seconds(5), now),
            "just now"
        );
        assert_eq!(relative(now + chrono::Duration::days(800), now), "in 2y");
    }

    #[test]
    fn limits_read_in_the_largest_unit() {
        let l = |requests, per_seconds| {
            Some(RateLimit {
                requests,
                per_seconds,
            })
        };
        assert_eq!(rate_limit(&None), "none");
        assert_eq!(rate_limit(&l(100, 60.0)), "100 / 1 min");
        assert_eq!(rate_limit(&l(5, 1.0)), "5 / 1 s");
        assert_eq!(rate_limit(&l(1000, 86_400.0)), "1000 / 1 day");
        assert_eq!(rate_limit(&l(7, 7200.0)), "7 / 2 h");
        assert_eq!(rate_limit(&l(3, 90.0)), "3 / 90 s");
        assert_eq!(span(1.5), "1.5 s");
        assert_eq!(allowlist(&None), "anywhere");
        assert_eq!(
            allowlist(&Some(vec!["10.0.0.0/8".into(), "::1/128".into()])),
            "10.0.0.0/8, ::1/128"
        );
    }

    #[test]
    fn credits_say_what_is_left_and_how_it_refills() {
        use crate::db::model::Refill;
        assert_eq!(credits(&None), "none (no cap)");
        let cap = |remaining, refill| Some(Credits { remaining, refill });
        assert_eq!(credits(&cap(42, None)), "42 left");
        assert_eq!(credits(&cap(0, None)), "0 left");
        assert_eq!(
            credits(&cap(
                42,
                Some(Refill {
                    amount: 100,
                    every_seconds: 3600.0
                })
            )),
            "42 left, refill 100 every 1 hour"
        );
        assert_eq!(
            credits(&cap(
                7,
                Some(Refill {
                    amount: 0,
                    every_seconds: 30.0 * 86_400.0
                })
            )),
            "7 left, refill 0 every 30 days"
        );
        assert_eq!(per_text(90.0), "90 seconds");
        assert_eq!(per_text(1.5), "1.5 seconds");
    }

    #[test]
    fn fit_marks_the_cut() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
    }
}
