//! The audit log, read a page at a time.

use super::*;

/// Which audit events to list. Times are given as the server parses them:
/// an absolute time (`2025-01-31 12:00`) or an interval back from now
/// (`2 hours`, `7d`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub action: String,
    pub actor: String,
    pub since: String,
    pub until: String,
}

/// `since`/`until` as (absolute, interval-ago) parameters: a short relative
/// form (`15m`, `2h`, `7d`) or one the server reads as an interval is ago.
pub(super) fn time_bound(s: &str) -> (Option<String>, Option<String>) {
    let s = s.trim();
    if s.is_empty() {
        return (None, None);
    }
    if let Some(span) = crate::parse::span(s) {
        return (None, Some(span));
    }
    if s.ends_with(" ago")
        || s.contains("hour")
        || s.contains("day")
        || s.contains("minute")
        || s.contains("week")
    {
        return (None, Some(s.trim_end_matches(" ago").to_owned()));
    }
    (Some(s.to_owned()), None)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    pub filter: AuditFilter,
    /// Only events with id below this (older page).
    pub before: Option<i64>,
    /// Only events with id above this (newer page, or follow mode).
    pub after: Option<i64>,
    pub limit: i64,
}

/// Audit events newest first, keyset-paged by id.
pub fn audit_page(client: &mut Client, q: &AuditQuery) -> Result<Vec<AuditEvent>> {
    let (since_abs, since_ago) = time_bound(&q.filter.since);
    let (until_abs, until_ago) = time_bound(&q.filter.until);
    let action = Some(q.filter.action.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let actor = Some(q.filter.actor.trim())
        .filter(|s| !s.is_empty())
        .map(like_pattern);
    let order = keyset_order(q.before, q.after);
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM tokens.audit_log
          WHERE ($1::text IS NULL OR action = $1)
            AND ($2::text IS NULL OR actor ILIKE $2)
            AND ($3::text IS NULL OR at >= $3::text::timestamptz)
            AND ($4::text IS NULL OR at >= now() - $4::text::interval)
            AND ($5::text IS NULL OR at <= $5::text::timestamptz)
            AND ($6::text IS NULL OR at <= now() - $6::text::interval)
            AND ($7::bigint IS NULL OR id < $7)
            AND ($8::bigint IS NULL OR id > $8)
          ORDER BY id {order} LIMIT $9"
    );
    // Typed parameters: parse, bind and execute in one round trip (follow
    // mode runs this every second; a prepare first would double it).
    use postgres::types::Type;
    let rows = run(client, |c| {
        c.query_typed(
            &sql,
            &[
                (&action, Type::TEXT),
                (&actor, Type::TEXT),
                (&since_abs, Type::TEXT),
                (&since_ago, Type::TEXT),
                (&until_abs, Type::TEXT),
                (&until_ago, Type::TEXT),
                (&q.before, Type::INT8),
                (&q.after, Type::INT8),
                (&q.limit, Type::INT8),
            ],
        )
    })?;
    Ok(newest_first(order, rows.iter().map(audit_event).collect()))
}

/// The order to read a keyset page in: with `after` alone, upwards from it
/// (oldest first) so that follow mode never skips a row; else newest first.
pub(super) fn keyset_order(before: Option<i64>, after: Option<i64>) -> &'static str {
    if after.is_some() && before.is_none() {
        "ASC"
    } else {
        "DESC"
    }
}

/// A page read in `order`, newest first like every page.
pub(super) fn newest_first<T>(order: &str, mut rows: Vec<T>) -> Vec<T> {
    if order == "ASC" {
        rows.reverse();
    }
    rows
}
