//! Minting, revoking, rotating, the leak check and the per-token settings.

use super::*;

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

/// Revokes each `(id, actor)`, one statement each, so one refusal leaves
/// the others done. After a lost connection the rest are not tried.
pub fn revoke_many(
    client: &mut Client,
    targets: Vec<(Uuid, Option<String>)>,
) -> Vec<(Uuid, Result<bool>)> {
    let mut lost: Option<DbError> = None;
    let mut out = Vec::with_capacity(targets.len());
    for (id, actor) in targets {
        let result = match &lost {
            Some(e) => Err(e.clone()),
            None => revoke(client, id, actor.as_deref(), None),
        };
        if let Err(e) = &result {
            if e.is_connection_lost() && lost.is_none() {
                lost = Some(e.clone());
            }
        }
        out.push((id, result));
    }
    out
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
