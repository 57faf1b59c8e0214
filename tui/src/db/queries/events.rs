//! The events outbox (`tokens.events`), read a page at a time, and its
//! acknowledgement.

use super::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventQuery {
    /// Only events with id below this (older page).
    pub before: Option<i64>,
    /// Only events with id above this (newer page, or follow mode).
    pub after: Option<i64>,
    pub limit: i64,
}

/// Events newest first, keyset-paged by id, each with its token's prefix
/// (none once the token is gone, or for a role that cannot see it).
pub fn events_page(client: &mut Client, q: &EventQuery) -> Result<Vec<TokenEvent>> {
    let order = keyset_order(q.before, q.after);
    let sql = format!(
        "SELECT e.id, e.at, e.kind, e.token_id, t.prefix, e.owner, e.detail
           FROM tokens.events e
           LEFT JOIN tokens.tokens t ON t.id OPERATOR(pg_catalog.=) e.token_id
          WHERE ($1::bigint IS NULL OR e.id OPERATOR(pg_catalog.<) $1)
            AND ($2::bigint IS NULL OR e.id OPERATOR(pg_catalog.>) $2)
          ORDER BY e.id {order} LIMIT $3"
    );
    // Typed parameters: one round trip (follow mode polls every second).
    use postgres::types::Type;
    let rows = run(client, |c| {
        c.query_typed(
            &sql,
            &[
                (&q.before, Type::INT8),
                (&q.after, Type::INT8),
                (&q.limit, Type::INT8),
            ],
        )
    })?;
    let events = rows
        .iter()
        .map(|row| TokenEvent {
            id: row.get("id"),
            at: row.get("at"),
            kind: row.get("kind"),
            token_id: row.get("token_id"),
            prefix: row.get("prefix"),
            owner: row.get("owner"),
            detail: row.get("detail"),
        })
        .collect();
    Ok(newest_first(order, events))
}

/// `tokens.ack_events(upto)`: the number of events deleted.
pub fn ack_events(client: &mut Client, upto: i64) -> Result<i64> {
    let row = run(client, |c| {
        c.query_one("SELECT tokens.ack_events($1)", &[&upto])
    })?;
    Ok(row.get(0))
}
