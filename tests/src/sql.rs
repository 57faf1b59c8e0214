//! The SQL API as an application calls it, with typed results.

use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Minted {
    pub token: String,
    pub id: Uuid,
    pub prefix: String,
    pub name: String,
    pub kind: String,
    pub owner: String,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Row> for Minted {
    fn from(r: Row) -> Self {
        Minted {
            token: r.get("token"),
            id: r.get("id"),
            prefix: r.get("prefix"),
            name: r.get("name"),
            kind: r.get("kind"),
            owner: r.get("owner"),
            scopes: r.get("scopes"),
            expires_at: r.get("expires_at"),
            created_at: r.get("created_at"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    pub valid: bool,
    pub status: String,
    pub token_id: Option<Uuid>,
    pub kind: Option<String>,
    pub owner: Option<String>,
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The token's meta (a database not yet at 0.3.0 has no such attribute).
    pub meta: Option<serde_json::Value>,
}

impl From<Row> for Verification {
    fn from(r: Row) -> Self {
        Verification {
            valid: r.get("valid"),
            status: r.get("status"),
            token_id: r.get("token_id"),
            kind: r.get("kind"),
            owner: r.get("owner"),
            name: r.get("name"),
            scopes: r.get("scopes"),
            expires_at: r.get("expires_at"),
            meta: r.try_get("meta").ok().flatten(),
        }
    }
}

/// `SELECT * FROM tokens.mint(<args>)`, e.g. `mint(c, "$1, kind => 'personal'", &[&"x"])`.
pub fn try_mint(
    c: &mut impl GenericClient,
    args: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Minted, postgres::Error> {
    c.query_one(&format!("SELECT * FROM tokens.mint({args})"), params)
        .map(Minted::from)
}

pub fn mint(c: &mut impl GenericClient, name: &str) -> Minted {
    try_mint(c, "$1", &[&name]).expect("mint")
}

pub fn verify(c: &mut impl GenericClient, token: Option<&str>) -> Verification {
    c.query_one("SELECT * FROM tokens.verify($1)", &[&token])
        .map(Verification::from)
        .expect("verify never raises")
}

/// `tokens.verify(token, required_scopes)`; `required` is SQL text for
/// the text[] argument (e.g. `'{docs:read}'`, `NULL`, `ARRAY[NULL]`).
pub fn verify_requiring(c: &mut Client, token: &str, required: &str) -> Verification {
    c.query_one(
        &format!("SELECT * FROM tokens.verify($1, {required}::text[])"),
        &[&token],
    )
    .map(Verification::from)
    .expect("verify never raises")
}

pub fn try_revoke(c: &mut Client, id: Uuid, actor: Option<&str>) -> Result<bool, postgres::Error> {
    c.query_one("SELECT tokens.revoke($1, actor => $2)", &[&id, &actor])
        .map(|r| r.get(0))
}

pub fn try_rotate(
    c: &mut Client,
    id: Uuid,
    grace: &str,
    actor: Option<&str>,
) -> Result<Minted, postgres::Error> {
    c.query_one(
        "SELECT * FROM tokens.rotate($1, $2::text::interval, $3)",
        &[&id, &grace, &actor],
    )
    .map(Minted::from)
}

/// The audit rows about one token, oldest first: (action, actor, db_role, meta).
pub fn audit_of(
    c: &mut Client,
    id: Uuid,
) -> Vec<(String, String, String, Option<serde_json::Value>)> {
    c.query(
        "SELECT action, actor, db_role, meta FROM tokens.audit_log WHERE target = 'token:' || $1::uuid ORDER BY id",
        &[&id],
    )
    .expect("read the audit log")
    .into_iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

/// Seals what has committed (what the worker does within a second), then
/// checks the chain from the tables as an outside verifier would:
/// (positions, whether every event has exactly one position, the
/// positions are gapless and every hash follows from the previous one).
pub fn sealed_chain(admin: &mut Client) -> (i64, bool) {
    admin
        .query_one("SELECT tokens.seal_audit()", &[])
        .expect("seal");
    let row = admin
        .query_one(
            "SELECT count(*), \
                    coalesce(bool_and(c.position = c.n AND s.id IS NOT NULL AND c.hash = tokens.audit_row_hash( \
                        c.prev, s.id, s.at, s.actor, s.db_role, s.action, s.target, s.meta::text)), true) \
                    AND count(*) = (SELECT count(*) FROM tokens.audit_store) \
                    AND count(DISTINCT c.event_id) = count(*) \
                    AND NOT EXISTS (SELECT FROM tokens.audit_unsealed) \
               FROM (SELECT *, lag(hash) OVER (ORDER BY position) AS prev, \
                            row_number() OVER (ORDER BY position) AS n FROM tokens.audit_chain) c \
               LEFT JOIN tokens.audit_store s ON s.id = c.event_id",
            &[],
        )
        .expect("check the chain");
    (row.get(0), row.get(1))
}
