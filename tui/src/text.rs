//! Everything shown on screen passes through here: control characters (and
//! bidirectional overrides) are escaped so a token name cannot move the
//! cursor, change colours or reorder what an administrator reads (SPEC §7).

use chrono::{DateTime, Utc};

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
    fn fit_marks_the_cut() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
    }
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
