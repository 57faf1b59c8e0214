//! Every statement the console runs, all through the SQL API of SPEC §2
//! (functions and the views `tokens.tokens`, `tokens.audit_log`,
//! `tokens.events`, `tokens.scopes`), never the tables behind them. Columns are named, so
//! columns added by later versions change nothing here.

use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::{Client, Row};
use uuid::Uuid;

use super::error::DbError;
use super::model::{
    AuditEvent, Badges, Credits, Leak, Minted, RateLimit, Refill, RevokeTarget, ScopeEntry, Secret,
    Session, Token, TokenEvent, UsageBucket, UsageWindow,
};

mod audit;
mod events;
mod writes;

pub use audit::*;
pub use events::*;
pub use writes::*;

type Result<T> = std::result::Result<T, DbError>;

fn run<T>(
    client: &mut Client,
    f: impl FnOnce(&mut Client) -> std::result::Result<T, postgres::Error>,
) -> Result<T> {
    f(client).map_err(|e| {
        let closed = client.is_closed();
        DbError::from_pg(e, closed)
    })
}

/// The view's columns; the intervals and the CIDRs in forms the client
/// reads without extra type support.
const TOKEN_COLUMNS: &str =
    "id, prefix, name, kind, owner, scopes, expires_at, last_used_at, created_at, revoked_at, status,
     disabled_at, uses_24h, rate_limit_requests,
     extract(epoch FROM rate_limit_per)::float8 AS rate_limit_per_seconds,
     allowed_ips::text[] AS allowed_ips,
     remaining, refill_amount,
     extract(epoch FROM refill_every)::float8 AS refill_every_seconds";
const MINTED_COLUMNS: &str = "token, id, prefix, name, kind, owner, scopes, expires_at, created_at";
const AUDIT_COLUMNS: &str = "id, at, actor, db_role, action, target, meta";

fn token_row(row: &Row) -> Token {
    Token {
        id: row.get("id"),
        prefix: row.get("prefix"),
        name: row.get("name"),
        kind: row.get("kind"),
        owner: row.get("owner"),
        scopes: row.get("scopes"),
        expires_at: row.get("expires_at"),
        last_used_at: row.get("last_used_at"),
        created_at: row.get("created_at"),
        revoked_at: row.get("revoked_at"),
        status: row.get("status"),
        disabled_at: row.get("disabled_at"),
        uses_24h: row.get("uses_24h"),
        rate_limit: match (
            row.get::<_, Option<i32>>("rate_limit_requests"),
            row.get::<_, Option<f64>>("rate_limit_per_seconds"),
        ) {
            (Some(requests), Some(per_seconds)) => Some(RateLimit {
                requests,
                per_seconds,
            }),
            _ => None,
        },
        allowed_ips: row.get("allowed_ips"),
        credits: row
            .get::<_, Option<i64>>("remaining")
            .map(|remaining| Credits {
                remaining,
                refill: match (
                    row.get::<_, Option<i64>>("refill_amount"),
                    row.get::<_, Option<f64>>("refill_every_seconds"),
                ) {
                    (Some(amount), Some(every_seconds)) => Some(Refill {
                        amount,
                        every_seconds,
                    }),
                    _ => None,
                },
            }),
        badges: Badges::default(),
    }
}

fn minted(row: &Row) -> Minted {
    Minted {
        token: Secret::new(row.get("token")),
        id: row.get("id"),
        prefix: row.get("prefix"),
        name: row.get("name"),
        kind: row.get("kind"),
        owner: row.get("owner"),
        scopes: row.get("scopes"),
        expires_at: row.get("expires_at"),
        created_at: row.get("created_at"),
    }
}

fn audit_event(row: &Row) -> AuditEvent {
    AuditEvent {
        id: row.get("id"),
        at: row.get("at"),
        actor: row.get("actor"),
        db_role: row.get("db_role"),
        action: row.get("action"),
        target: row.get("target"),
        meta: row.get("meta"),
    }
}

/// The connected role, its grants, and whether the extension is there.
pub fn session(client: &mut Client) -> Result<Session> {
    let row = run(client, |c| {
        c.query_one(
            "SELECT current_user::text AS role, current_database()::text AS database,
                    (SELECT extversion::text FROM pg_catalog.pg_extension WHERE extname = 'pg_tokens') AS version,
                    COALESCE((SELECT pg_catalog.pg_has_role(current_user, oid, 'USAGE') FROM pg_catalog.pg_roles WHERE rolname = 'tokens_reader'), false) AS reader,
                    COALESCE((SELECT pg_catalog.pg_has_role(current_user, oid, 'USAGE') FROM pg_catalog.pg_roles WHERE rolname = 'tokens_writer'), false) AS writer,
                    COALESCE((SELECT pg_catalog.pg_has_role(current_user, oid, 'USAGE') FROM pg_catalog.pg_roles WHERE rolname = 'tokens_revoker'), false) AS revoker,
                    COALESCE((SELECT pg_catalog.pg_has_role(current_user, oid, 'USAGE') FROM pg_catalog.pg_roles WHERE rolname = 'tokens_self_service'), false) AS self_service,
                    (SELECT version FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid() AND ssl) AS tls",
            &[],
        )
    })?;
    let database: String = row.get("database");
    let version: Option<String> = row.get("version");
    let Some(extension_version) = version else {
        return Err(DbError::Client(format!(
            "the pg_tokens extension is not installed in database \"{}\": run CREATE EXTENSION pg_tokens; there (or connect to the database that has it)",
            crate::text::clean(&database)
        )));
    };
    Ok(Session {
        role: row.get("role"),
        database,
        extension_version,
        reader: row.get("reader"),
        writer: row.get("writer"),
        revoker: row.get("revoker"),
        self_service: row.get("self_service"),
        tls: row.get("tls"),
    })
}

/// Columns the token list can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum SortColumn {
    Created,
    Name,
    Owner,
    Kind,
    Status,
    Expires,
    LastUsed,
    Prefix,
}

impl SortColumn {
    pub const ALL: [SortColumn; 8] = [
        SortColumn::Created,
        SortColumn::Name,
        SortColumn::Owner,
        SortColumn::Kind,
        SortColumn::Status,
        SortColumn::Expires,
        SortColumn::LastUsed,
        SortColumn::Prefix,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortColumn::Created => "created",
            SortColumn::Name => "name",
            SortColumn::Owner => "owner",
            SortColumn::Kind => "kind",
            SortColumn::Status => "status",
            SortColumn::Expires => "expiry",
            SortColumn::LastUsed => "last used",
            SortColumn::Prefix => "prefix",
        }
    }

    pub fn parse(s: &str) -> Option<SortColumn> {
        let s = s.replace(['_', '-'], " ");
        SortColumn::ALL
            .into_iter()
            .find(|c| c.label() == s || (s == "expires" && *c == SortColumn::Expires))
    }

    pub fn next(self) -> SortColumn {
        let i = SortColumn::ALL.iter().position(|c| *c == self).unwrap_or(0);
        SortColumn::ALL[(i + 1) % SortColumn::ALL.len()]
    }

    /// The sort key: never NULL (a never-expiring token sorts after every
    /// expiry, a never-used one before every use), so a (key, id) row
    /// comparison pages through every row exactly once.
    fn key_sql(self) -> &'static str {
        match self {
            // The column itself (never NULL): the order of the index
            // token_store (created_at, id).
            SortColumn::Created => "created_at",
            SortColumn::Expires => "COALESCE((extract(epoch FROM expires_at) * 1000000)::bigint, 9223372036854775807)",
            SortColumn::LastUsed => "COALESCE((extract(epoch FROM last_used_at) * 1000000)::bigint, -9223372036854775808)",
            SortColumn::Name => "name",
            SortColumn::Owner => "owner",
            SortColumn::Kind => "kind",
            SortColumn::Status => "status",
            SortColumn::Prefix => "prefix",
        }
    }

    fn is_time(self) -> bool {
        matches!(
            self,
            SortColumn::Created | SortColumn::Expires | SortColumn::LastUsed
        )
    }
}

/// The position of one row in a sort order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKey {
    Micros(i64),
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub key: SortKey,
    pub id: Uuid,
}

/// Which tokens to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Substring of name, owner or prefix, or a whole id.
    pub search: String,
    /// Live tokens worth a look (`HYGIENE_SQL`).
    pub hygiene: bool,
}

/// The hygiene filter: live (active or disabled) tokens that never expire,
/// or have full access (NULL scopes), or were not used for 90 days (never
/// used and created more than 90 days ago counts).
pub const HYGIENE_SQL: &str = "(status IN ('active', 'disabled')
      AND (expires_at IS NULL OR scopes IS NULL
           OR coalesce(last_used_at, created_at) < now() - interval '90 days'))";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Rows after the cursor (or the first page).
    Forward,
    /// Rows before the cursor (or the last page).
    Backward,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageQuery {
    pub filter: TokenFilter,
    pub sort: SortColumn,
    pub descending: bool,
    pub cursor: Option<Cursor>,
    pub direction: Direction,
    /// Include the cursor's own row (a refresh of the page it starts).
    pub inclusive: bool,
    pub limit: i64,
    /// The role reads `tokens.events` (tokens_reader): the badges may use
    /// the server's events (see `badge_sql`).
    pub events: bool,
}

/// Rate-limited often: at least this many `token.rate_limited` events in
/// the last 24 hours (the server writes at most one per token per window).
pub const RATE_LIMITED_OFTEN: i64 = 3;

/// The badge columns of the page's rows (`t` is `tokens.tokens`), read in
/// the list's one statement:
/// - expiring: live (active or disabled) and expiring within 24 hours;
/// - credits low: live, capped, and credits left under 10% of the period's
///   credits: the `period_credits` of the token's newest
///   `token.credits_low` event (the server's own judgement, with the cap
///   the view does not show), else the refill amount;
/// - rate-limited often: `RATE_LIMITED_OFTEN` or more `token.rate_limited`
///   events in the last 24 hours.
///
/// Without `events` (a role that cannot read `tokens.events`) the credits
/// go by the refill amount alone and no row is rate-limited often.
fn badge_sql(events: bool) -> (String, String) {
    let live = "t.status IN ('active', 'disabled')";
    let expiring = format!(
        "({live} AND t.expires_at > now() AND t.expires_at <= now() + interval '24 hours') IS TRUE AS badge_expiring"
    );
    if !events {
        return (
            String::new(),
            format!(
                "{expiring},
                 ({live} AND t.remaining * 10 < t.refill_amount) IS TRUE AS badge_credits_low,
                 false AS badge_rate_limited"
            ),
        );
    }
    (
        format!(
            ", low AS MATERIALIZED (
                 SELECT DISTINCT ON (token_id) token_id,
                        (detail ->> 'period_credits')::bigint AS period_credits
                   FROM tokens.events
                  WHERE kind = 'token.credits_low' AND token_id = ANY (ARRAY(SELECT id FROM page))
                  ORDER BY token_id, id DESC),
               limited AS MATERIALIZED (
                 SELECT token_id FROM tokens.events
                  WHERE kind = 'token.rate_limited' AND at >= now() - interval '24 hours'
                    AND token_id = ANY (ARRAY(SELECT id FROM page))
                  GROUP BY token_id HAVING count(*) >= {RATE_LIMITED_OFTEN})"
        ),
        format!(
            "{expiring},
             ({live} AND t.remaining * 10 < COALESCE(
                 (SELECT period_credits FROM low WHERE low.token_id = t.id), t.refill_amount))
               IS TRUE AS badge_credits_low,
             (t.id IN (SELECT token_id FROM limited)) IS TRUE AS badge_rate_limited"
        ),
    )
}

/// One page of tokens in display order, with the cursors of its ends.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenPage {
    pub rows: Vec<Token>,
    pub first: Option<Cursor>,
    pub last: Option<Cursor>,
    pub has_prev: bool,
    pub has_next: bool,
}

fn like_pattern(s: &str) -> String {
    let mut p = String::from("%");
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn filter_sql(f: &TokenFilter, params: &mut Vec<Box<dyn ToSql + Sync>>) -> String {
    let mut clauses = Vec::new();
    if let Some(s) = &f.status {
        params.push(Box::new(s.clone()));
        clauses.push(format!("status = ${}", params.len()));
    }
    if let Some(k) = &f.kind {
        params.push(Box::new(k.clone()));
        clauses.push(format!("kind = ${}", params.len()));
    }
    if f.hygiene {
        clauses.push(HYGIENE_SQL.to_owned());
    }
    let search = f.search.trim();
    if !search.is_empty() {
        if let Ok(id) = Uuid::parse_str(search) {
            params.push(Box::new(id));
            clauses.push(format!("id = ${}", params.len()));
        } else {
            params.push(Box::new(like_pattern(search)));
            let n = params.len();
            clauses.push(format!(
                "(name ILIKE ${n} OR owner ILIKE ${n} OR prefix ILIKE ${n})"
            ));
        }
    }
    if clauses.is_empty() {
        "true".to_owned()
    } else {
        clauses.join(" AND ")
    }
}

/// One page by keyset pagination: the server reads only `limit + 1` rows
/// past the cursor in the sort order, whatever the number of tokens.
pub fn token_page(client: &mut Client, q: &PageQuery) -> Result<TokenPage> {
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    let mut wh = filter_sql(&q.filter, &mut params);
    let key = q.sort.key_sql();
    // Backward reads the sort order reversed, then flips the rows.
    let ascending = q.descending == (q.direction == Direction::Backward);
    let (op, dir) = match (ascending, q.inclusive) {
        (true, false) => (">", "ASC"),
        (true, true) => (">=", "ASC"),
        (false, false) => ("<", "DESC"),
        (false, true) => ("<=", "DESC"),
    };
    if let Some(c) = &q.cursor {
        match &c.key {
            SortKey::Micros(v) if q.sort == SortColumn::Created => {
                let at = DateTime::<Utc>::from_timestamp_micros(*v).ok_or_else(|| {
                    DbError::Client(format!("a creation time out of range: {v} µs"))
                })?;
                params.push(Box::new(at));
            }
            SortKey::Micros(v) => params.push(Box::new(*v)),
            SortKey::Text(v) => params.push(Box::new(v.clone())),
        }
        params.push(Box::new(c.id));
        let n = params.len();
        wh = format!("{wh} AND ({key}, id) {op} (${}, ${n})", n - 1);
    }
    params.push(Box::new(q.limit + 1));
    // The page's ids first, reading only the sort key and the id (the
    // last-use join and the status are left out when the order does not
    // need them), then its rows by id: `tokens.tokens` is a security-barrier
    // view, so the ORDER BY ... LIMIT outside it cannot reach into it, and
    // every visible row is read once to find the page; the whole rows are
    // built for the page only. One statement, one snapshot.
    let (badge_ctes, badge_columns) = badge_sql(q.events);
    let sql = format!(
        "WITH page AS MATERIALIZED (
             SELECT id FROM tokens.tokens WHERE {wh} ORDER BY {key} {dir}, id {dir} LIMIT ${}){badge_ctes}
         SELECT {TOKEN_COLUMNS}, {key} AS sort_key, {badge_columns} FROM tokens.tokens t
          WHERE id = ANY (ARRAY(SELECT id FROM page))
          ORDER BY {key} {dir}, id {dir}",
        params.len()
    );
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
    let rows = run(client, |c| c.query(&sql, &refs))?;
    let more = rows.len() as i64 > q.limit;
    let mut page: Vec<(Token, Cursor)> = rows
        .iter()
        .take(q.limit as usize)
        .map(|r| {
            let mut t = token_row(r);
            t.badges = Badges {
                expiring: r.get("badge_expiring"),
                credits_low: r.get("badge_credits_low"),
                rate_limited: r.get("badge_rate_limited"),
            };
            let key = match q.sort {
                SortColumn::Created => {
                    SortKey::Micros(r.get::<_, DateTime<Utc>>("sort_key").timestamp_micros())
                }
                s if s.is_time() => SortKey::Micros(r.get("sort_key")),
                _ => SortKey::Text(r.get("sort_key")),
            };
            let cursor = Cursor { key, id: t.id };
            (t, cursor)
        })
        .collect();
    let (has_prev, has_next) = match q.direction {
        Direction::Forward => (q.cursor.is_some(), more),
        Direction::Backward => {
            page.reverse();
            (more, q.cursor.is_some())
        }
    };
    Ok(TokenPage {
        first: page.first().map(|(_, c)| c.clone()),
        last: page.last().map(|(_, c)| c.clone()),
        rows: page.into_iter().map(|(t, _)| t).collect(),
        has_prev,
        has_next,
    })
}

pub fn token_count(client: &mut Client, f: &TokenFilter) -> Result<i64> {
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    let wh = filter_sql(f, &mut params);
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
    let row = run(client, |c| {
        c.query_one(
            &format!("SELECT count(*) FROM tokens.tokens WHERE {wh}"),
            &refs,
        )
    })?;
    Ok(row.get(0))
}

/// A token by id, or by unique prefix.
pub fn token(client: &mut Client, id: Uuid) -> Result<Option<Token>> {
    let rows = run(client, |c| {
        c.query(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens.tokens WHERE id = $1"),
            &[&id],
        )
    })?;
    Ok(rows.first().map(token_row))
}

/// Resolves what a user typed for a token: an id, or a display prefix.
pub fn resolve_token(client: &mut Client, given: &str) -> Result<Uuid> {
    if let Ok(id) = Uuid::parse_str(given) {
        return Ok(id);
    }
    let rows = run(client, |c| {
        c.query(
            "SELECT id FROM tokens.tokens WHERE prefix = $1 LIMIT 2",
            &[&given],
        )
    })?;
    match rows.as_slice() {
        [one] => Ok(one.get("id")),
        [] => Err(DbError::Client(format!(
            "no token with id or prefix \"{}\" (give a token id, or its 12-character prefix like tbm_3KVNsn-z)",
            crate::text::clean(given)
        ))),
        _ => Err(DbError::Client(format!("prefix \"{}\" matches more than one token: give the id", crate::text::clean(given)))),
    }
}

/// The token's own audit history, newest first.
pub fn token_history(client: &mut Client, id: Uuid, limit: i64) -> Result<Vec<AuditEvent>> {
    let target = format!("token:{id}");
    let rows = run(client, |c| {
        c.query(
            &format!("SELECT {AUDIT_COLUMNS} FROM tokens.audit_log WHERE target = $1 ORDER BY id DESC LIMIT $2"),
            &[&target, &limit],
        )
    })?;
    Ok(rows.iter().map(audit_event).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_escapes_wildcards() {
        assert_eq!(like_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }

    #[test]
    fn relative_and_absolute_bounds() {
        assert_eq!(time_bound("2h"), (None, Some("2 hours".into())));
        assert_eq!(time_bound("7d"), (None, Some("7 days".into())));
        assert_eq!(time_bound("3 days ago"), (None, Some("3 days".into())));
        assert_eq!(time_bound("2025-01-01"), (Some("2025-01-01".into()), None));
        assert_eq!(time_bound(" "), (None, None));
    }

    #[test]
    fn sort_columns_cycle_and_parse() {
        let mut c = SortColumn::Created;
        for _ in 0..SortColumn::ALL.len() {
            c = c.next();
        }
        assert_eq!(c, SortColumn::Created);
        assert_eq!(SortColumn::parse("last_used"), Some(SortColumn::LastUsed));
        assert_eq!(SortColumn::parse("expires"), Some(SortColumn::Expires));
        assert_eq!(SortColumn::parse("bogus"), None);
    }
}
