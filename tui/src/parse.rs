//! The pure parsers the console's forms and the CLI share: shorthand
//! durations, typed lists, meta, credits, token ids. No I/O, no state.

use uuid::Uuid;

use crate::db::queries::Expiry;

/// The one shorthand for a span of time: a whole number and a unit, `30s`,
/// `5m` or `5min`, `1h`, `7d`, `2w`, spelled out for the server ("1 hour",
/// "7 days", as the detail pane and the notices say it). None when `s` is
/// not one (the server may still read it: "1 minute").
pub fn span(s: &str) -> Option<String> {
    let s = s.trim();
    for (short, long) in [
        ("s", "seconds"),
        ("min", "minutes"),
        ("m", "minutes"),
        ("h", "hours"),
        ("d", "days"),
        ("w", "weeks"),
    ] {
        if let Some(n) = s.strip_suffix(short) {
            if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) {
                let long = if n == "1" {
                    long.trim_end_matches('s')
                } else {
                    long
                };
                return Some(format!("{n} {long}"));
            }
        }
    }
    None
}

/// A window as typed: `30s`, `5m`, `1h`, `1d` are spelled out for the
/// server; anything else is passed on for it to parse (`1 minute`).
pub fn per_interval(s: &str) -> String {
    let s = s.trim();
    span(s).unwrap_or_else(|| s.to_owned())
}

/// `7d`, `12h`, `30m`, `2w` → a span; `never` (or nothing) → none;
/// anything else is a time for the server to parse.
pub fn expiry(s: &str) -> Expiry {
    let s = s.trim();
    if s.eq_ignore_ascii_case("never") || s.is_empty() {
        return Expiry::Never;
    }
    if let Some(span) = span(s) {
        return Expiry::In(span);
    }
    Expiry::At(s.to_owned())
}

/// Items typed separated by commas or spaces; None when there are none.
pub fn typed_list(text: &str) -> Option<Vec<String>> {
    let list: Vec<String> = text
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (!list.is_empty()).then_some(list)
}

/// Meta as typed: None when empty (no meta, or clear it), the text itself
/// when it parses as a JSON object, else what is wrong with it. The size
/// limit (4096 bytes of the server's jsonb text) is the server's to check.
pub fn meta_json(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!("not valid JSON: {e} (a JSON object like {{\"plan\": \"pro\"}}; empty = no meta)")
    })?;
    let kind = match &value {
        serde_json::Value::Object(_) => return Ok(Some(text.to_owned())),
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
    };
    Err(format!(
        "meta must be a JSON object like {{\"plan\": \"pro\"}}, not {kind} (empty = no meta)"
    ))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreditField {
    Remaining,
    RefillAmount,
    RefillEvery,
}

impl CreditField {
    pub const ALL: [CreditField; 3] = [
        CreditField::Remaining,
        CreditField::RefillAmount,
        CreditField::RefillEvery,
    ];
}

/// A credit cap as typed: no remaining removes the cap; a refill is an
/// amount and an interval together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credits {
    pub remaining: Option<i64>,
    pub refill_amount: Option<i64>,
    pub refill_every: Option<String>,
}

/// `tokens.set_remaining` as typed in the credits form (or given to the
/// `set-remaining` subcommand), or the field that is wrong and why.
/// Numbers are checked to be whole numbers; their range and the refill
/// interval are the server's to check.
pub fn credits(
    remaining: &str,
    refill_amount: &str,
    refill_every: &str,
) -> Result<Credits, (CreditField, String)> {
    let whole = |field, text: &str| {
        text.parse::<i64>().map_err(|_| {
            (
                field,
                if field == CreditField::Remaining {
                    "remaining must be a whole number of credits, 0 or more, e.g. 1000 (empty removes the cap)"
                } else {
                    "refill amount must be a whole number of credits, 0 or more, e.g. 100 (empty, with every empty too: no refill)"
                }
                .to_owned(),
            )
        })
    };
    let remaining = remaining.trim();
    if remaining.is_empty() {
        return Ok(Credits::default());
    }
    let remaining = whole(CreditField::Remaining, remaining)?;
    let every = per_interval(refill_every);
    let refill = match (refill_amount.trim(), every.as_str()) {
        ("", "") => None,
        ("", _) => {
            return Err((
                CreditField::RefillAmount,
                "refill amount is needed with refill every: the credits each period starts with (or empty both for no refill)".into(),
            ))
        }
        (_, "") => {
            return Err((
                CreditField::RefillEvery,
                "refill every is needed with a refill amount: from 1 second to 3650 days, e.g. 1 hour (or empty both for no refill)".into(),
            ))
        }
        (amount, _) => Some((
            whole(CreditField::RefillAmount, amount)?,
            every,
        )),
    };
    let (refill_amount, refill_every) = refill.unzip();
    Ok(Credits {
        remaining: Some(remaining),
        refill_amount,
        refill_every,
    })
}

/// A token id typed by a user, for messages.
pub fn parse_id(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shorthand_for_spans() {
        assert_eq!(span("30s").as_deref(), Some("30 seconds"));
        assert_eq!(span("5m").as_deref(), Some("5 minutes"));
        assert_eq!(span("5min").as_deref(), Some("5 minutes"));
        assert_eq!(span("1h").as_deref(), Some("1 hour"));
        assert_eq!(span("7d").as_deref(), Some("7 days"));
        assert_eq!(span("2w").as_deref(), Some("2 weeks"));
        assert_eq!(span("1 minute"), None);
        assert_eq!(span("h"), None);
        assert_eq!(per_interval(" 1 minute "), "1 minute");
        assert_eq!(expiry("2w"), Expiry::In("2 weeks".into()));
        assert_eq!(expiry("30s"), Expiry::In("30 seconds".into()));
    }
}
