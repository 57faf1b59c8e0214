//! Every statement the console runs, all through the SQL API of SPEC §2
//! (functions and the views `tokens.tokens`, `tokens.audit_log`,
//! `tokens.scopes`), never the tables behind them. Columns are named, so
//! columns added by later versions change nothing here.

use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::{Client, Row};
use uuid::Uuid;

use super::error::DbError;
use super::model::{
    AuditEvent, Credits, Leak, Minted, RateLimit, Refill, RevokeTarget, ScopeEntry, Secret,
    Session, Token, UsageBucket, UsageWindow,
};

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
                    COALESCE((SELECT pg_catalog.pg_has_role(current_user, oid, 'USAGE') FROM pg_catalog.pg_roles WHERE rolname = 'tokens_self_service'), false) AS self_service",
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
}

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
    let sql = format!(
        "WITH page AS MATERIALIZED (
             SELECT id FROM tokens.tokens WHERE {wh} ORDER BY {key} {dir}, id {dir} LIMIT ${})
         SELECT {TOKEN_COLUMNS}, {key} AS sort_key FROM tokens.tokens
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
            let t = token_row(r);
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
fn time_bound(s: &str) -> (Option<String>, Option<String>) {
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
    // With `after`, read upwards from it (oldest first) so follow mode never
    // skips events, and return newest first like every other page.
    let order = if q.after.is_some() && q.before.is_none() {
        "ASC"
    } else {
        "DESC"
    };
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
    let mut events: Vec<AuditEvent> = rows.iter().map(audit_event).collect();
    if order == "ASC" {
        events.reverse();
    }
    Ok(events)
}

pub fn scopes(client: &mut Client) -> Result<Vec<ScopeEntry>> {
    let rows = run(client, |c| {
        c.query(
            "SELECT scope, description FROM tokens.scopes ORDER BY scope",
            &[],
        )
    })?;
    Ok(rows
        .iter()
        .map(|r| ScopeEntry {
            scope: r.get("scope"),
            description: r.get("description"),
        })
        .collect())
}

/// Expiry of a new token: never, a span from now, or a time the server parses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expiry {
    Never,
    In(String),
    At(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MintRequest {
    pub name: String,
    pub kind: String,
    /// None: the calling role.
    pub owner: Option<String>,
    /// None: full access.
    pub scopes: Option<Vec<String>>,
    pub expiry: Expiry,
    /// A JSON object as text (the server casts it); None: no meta.
    pub meta: Option<String>,
}

pub fn mint(client: &mut Client, m: &MintRequest) -> Result<Minted> {
    let (at, within) = match &m.expiry {
        Expiry::Never => (None, None),
        Expiry::In(i) => (None, Some(i.clone())),
        Expiry::At(t) => (Some(t.clone()), None),
    };
    let sql = format!(
        "SELECT {MINTED_COLUMNS} FROM tokens.mint(name => $1, scopes => $2,
                expires_at => COALESCE($3::text::timestamptz, now() + $4::text::interval),
                kind => $5, owner => $6, meta => $7::text::jsonb)"
    );
    let row = run(client, |c| {
        c.query_one(
            &sql,
            &[&m.name, &m.scopes, &at, &within, &m.kind, &m.owner, &m.meta],
        )
    })?;
    Ok(minted(&row))
}

pub fn revoke(
    client: &mut Client,
    id: Uuid,
    actor: Option<&str>,
    reason: Option<&str>,
) -> Result<bool> {
    let row = run(client, |c| {
        c.query_one(
            "SELECT tokens.revoke(id => $1, actor => $2, reason => $3)",
            &[&id, &actor, &reason],
        )
    })?;
    Ok(row.get(0))
}

/// Every token in `text`, by hash (`tokens.find_leaked`). The text goes
/// only as a bind parameter: it is never part of a statement.
pub fn find_leaked(client: &mut Client, text: &Secret) -> Result<Vec<Leak>> {
    let rows = run(client, |c| {
        c.query(
            "SELECT prefix, token_id, status, owner, name FROM tokens.find_leaked($1)",
            &[&text.expose()],
        )
    })?;
    Ok(rows
        .iter()
        .map(|r| Leak {
            prefix: r.get("prefix"),
            token_id: r.get("token_id"),
            status: r.get("status"),
            owner: r.get("owner"),
            name: r.get("name"),
        })
        .collect())
}

/// Revokes each target for its owner (`actor => owner`), one statement
/// each, so one refusal leaves the others done. After a lost connection the
/// rest are not tried.
pub fn revoke_for_owners(
    client: &mut Client,
    targets: Vec<RevokeTarget>,
    reason: &str,
) -> Vec<(RevokeTarget, Result<bool>)> {
    let mut lost: Option<DbError> = None;
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        let result = match &lost {
            Some(e) => Err(e.clone()),
            None => revoke(client, t.id, Some(&t.owner), Some(reason)),
        };
        if let Err(e) = &result {
            if e.is_connection_lost() && lost.is_none() {
                lost = Some(e.clone());
            }
        }
        out.push((t, result));
    }
    out
}

/// `grace` is an interval the server parses (`0`, `1 hour`, `7 days`).
pub fn rotate(client: &mut Client, id: Uuid, grace: &str, actor: Option<&str>) -> Result<Minted> {
    let sql = format!("SELECT {MINTED_COLUMNS} FROM tokens.rotate(id => $1, grace => $2::text::interval, actor => $3)");
    let row = run(client, |c| c.query_one(&sql, &[&id, &grace, &actor]))?;
    Ok(minted(&row))
}

/// The token's uses over `window`, oldest bucket first, the current
/// (partial) one last: bucket starts on whole hours or minutes.
pub fn usage(client: &mut Client, id: Uuid, window: UsageWindow) -> Result<Vec<UsageBucket>> {
    let rows = run(client, |c| {
        c.query(
            "SELECT bucket_start, count, denied
               FROM tokens.usage(id => $1,
                    since => date_trunc($2, now()) - ($3::bigint - 1) * $4::text::interval,
                    bucket => $4::text::interval)
              ORDER BY bucket_start",
            &[&id, &window.unit(), &window.buckets(), &window.bucket()],
        )
    })?;
    Ok(rows
        .iter()
        .map(|r| UsageBucket {
            bucket_start: r.get("bucket_start"),
            count: r.get("count"),
            denied: r.get("denied"),
        })
        .collect())
}

/// `requests` None clears the limit (and `per` is then ignored). `per` is
/// an interval the server parses (`1 minute`, `30 seconds`).
pub fn set_rate_limit(
    client: &mut Client,
    id: Uuid,
    requests: Option<i32>,
    per: Option<&str>,
) -> Result<()> {
    let per = requests.and(per);
    run(client, |c| {
        c.execute(
            "SELECT tokens.set_rate_limit(id => $1, requests => $2, per => $3::text::interval)",
            &[&id, &requests, &per],
        )
    })?;
    Ok(())
}

/// `allowed` None clears the allowlist; entries are CIDRs the server parses.
pub fn set_allowed_ips(client: &mut Client, id: Uuid, allowed: Option<&[String]>) -> Result<()> {
    run(client, |c| {
        c.execute(
            "SELECT tokens.set_allowed_ips(id => $1, allowed => $2::text[]::cidr[])",
            &[&id, &allowed],
        )
    })?;
    Ok(())
}

/// `tokens.set_remaining`: `remaining` None removes the cap (the refill
/// is then None too). `refill_every` is an interval the server parses
/// (`1 hour`, `30 days`).
pub fn set_remaining(
    client: &mut Client,
    id: Uuid,
    remaining: Option<i64>,
    refill_amount: Option<i64>,
    refill_every: Option<&str>,
) -> Result<()> {
    run(client, |c| {
        c.execute(
            "SELECT tokens.set_remaining(id => $1, remaining => $2, refill_amount => $3,
                    refill_every => $4::text::interval)",
            &[&id, &remaining, &refill_amount, &refill_every],
        )
    })?;
    Ok(())
}

/// `tokens.disable` / `tokens.enable`: false when the token was already
/// in that state (nothing written).
pub fn set_disabled(client: &mut Client, id: Uuid, disabled: bool) -> Result<bool> {
    let sql = if disabled {
        "SELECT tokens.disable(id => $1)"
    } else {
        "SELECT tokens.enable(id => $1)"
    };
    let row = run(client, |c| c.query_one(sql, &[&id]))?;
    Ok(row.get(0))
}

/// `tokens.set_meta`: the JSON goes as text and is cast by the server, so
/// what the user typed is what the server checks; None clears.
pub fn set_meta(client: &mut Client, id: Uuid, meta: Option<&str>) -> Result<()> {
    run(client, |c| {
        c.execute(
            "SELECT tokens.set_meta(id => $1, meta => $2::text::jsonb)",
            &[&id, &meta],
        )
    })?;
    Ok(())
}

/// The server's clock, so relative times agree with `status`.
pub fn server_now(client: &mut Client) -> Result<DateTime<Utc>> {
    let row = run(client, |c| c.query_one("SELECT now()", &[]))?;
    Ok(row.get(0))
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
