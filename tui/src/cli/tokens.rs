//! The token subcommands: list, show, usage, disable/enable, set-meta, set-remaining.

use super::*;

pub(super) fn set_disabled(
    client: &mut Client,
    given: &str,
    disable: bool,
    json: bool,
) -> Result<(), DbError> {
    let id = queries::resolve_token(client, given)?;
    let done = queries::set_disabled(client, id, disable)?;
    let (verb, state) = if disable {
        ("disabled", "disabled")
    } else {
        ("enabled", "enabled")
    };
    if json {
        out(json!({ "id": id, verb: done }).to_string())
    } else if done {
        out(format!("{verb} {id}"))
    } else {
        out(format!("{id} was already {state}: nothing changed"))
    }
}

/// The meta as the file holds it, checked to be a JSON object before it is
/// sent (as text: the server casts it); empty clears.
pub(super) fn set_meta(
    client: &mut Client,
    given: &str,
    file: &std::path::Path,
    json: bool,
) -> Result<(), DbError> {
    use std::io::Read;
    let mut text = String::new();
    let read = if file == std::path::Path::new("-") {
        io::stdin().lock().read_to_string(&mut text)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| {
        DbError::Client(format!(
            "cannot read {}: {e}",
            clean(&file.display().to_string())
        ))
    })?;
    let id = queries::resolve_token(client, given)?;
    queries::token(client, id)?
        .ok_or_else(|| DbError::Client(format!("no token with id {id} is visible to this role")))?;
    let meta = crate::parse::meta_json(&text).map_err(DbError::Client)?;
    queries::set_meta(client, id, meta.as_deref())?;
    let cleared = meta.is_none();
    if json {
        out(json!({ "id": id, "meta_cleared": cleared }).to_string())
    } else if cleared {
        out(format!("meta of {id} cleared"))
    } else {
        out(format!("meta of {id} set"))
    }
}

/// The cap as given, checked like the console's credits form before it
/// is sent; then the token's credits as the server now reports them.
pub(super) fn set_remaining(
    client: &mut Client,
    given: &str,
    remaining: &str,
    refill_amount: Option<i64>,
    refill_every: Option<&str>,
    json: bool,
) -> Result<(), DbError> {
    let remove = remaining.trim().eq_ignore_ascii_case("none");
    if remove && (refill_amount.is_some() || refill_every.is_some()) {
        return Err(DbError::Client(
            "none removes the cap: --refill-amount and --refill-every go with a number of credits"
                .into(),
        ));
    }
    if !remove && remaining.trim().is_empty() {
        return Err(DbError::Client(
            "give the remaining credits (0 or more), or none to remove the cap".into(),
        ));
    }
    let id = queries::resolve_token(client, given)?;
    let crate::parse::Credits {
        remaining,
        refill_amount,
        refill_every,
    } = crate::parse::credits(
        if remove { "" } else { remaining },
        &refill_amount.map(|n| n.to_string()).unwrap_or_default(),
        refill_every.unwrap_or_default(),
    )
    .map_err(|(_, why)| DbError::Client(why))?;
    queries::set_remaining(
        client,
        id,
        remaining,
        refill_amount,
        refill_every.as_deref(),
    )?;
    // The cap as the server now reports it, when this role can see the
    // token (tokens_writer without tokens_reader sees only its own).
    let now = queries::token(client, id).ok().flatten().map(|t| t.credits);
    if json {
        let mut v = json!({
            "id": id,
            "remaining": remaining,
            "refill_amount": refill_amount,
            "refill_every": refill_every,
        });
        if let Some(credits) = &now {
            v["credits"] = json!(credits);
        }
        return out(v.to_string());
    }
    match (remaining, now) {
        (None, _) => out(format!("credit cap of {id} removed")),
        (Some(_), Some(credits)) => out(format!(
            "credits of {id} set: {}",
            crate::text::credits(&credits)
        )),
        (Some(n), None) => out(format!(
            "credits of {id} set: {n}{}",
            match (refill_amount, refill_every) {
                (Some(a), Some(e)) => format!(", refill {a} every {}", clean(&e)),
                _ => String::new(),
            }
        )),
    }
}

pub(super) fn usage(
    client: &mut Client,
    given: &str,
    window: UsageWindow,
    json: bool,
) -> Result<(), DbError> {
    let id = queries::resolve_token(client, given)?;
    let buckets = queries::usage(client, id, window)?;
    if json {
        return out(serde_json::to_string(
            &json!({ "id": id, "bucket": window.bucket(), "buckets": buckets }),
        )
        .map_err(|e| DbError::Client(e.to_string()))?);
    }
    out(format!(
        "{:<19}  {:>10}  {:>10}",
        "BUCKET START (UTC)", "VERIFIED", "DENIED"
    ))?;
    for b in &buckets {
        out(format!(
            "{}  {:>10}  {:>10}",
            stamp(b.bucket_start),
            b.count,
            b.denied
        ))?;
    }
    let ok: i64 = buckets.iter().map(|b| b.count).sum();
    let no: i64 = buckets.iter().map(|b| b.denied).sum();
    out(format!("{:<19}  {ok:>10}  {no:>10}", "total"))
}

pub(super) fn list(client: &mut Client, a: ListArgs) -> Result<(), DbError> {
    let sort = SortColumn::parse(&a.sort).ok_or_else(|| {
        DbError::Client(format!(
            "unknown sort column \"{}\": use created, name, owner, kind, status, expires, last_used or prefix",
            clean(&a.sort)
        ))
    })?;
    let descending = if a.asc {
        false
    } else {
        a.desc || matches!(sort, SortColumn::Created | SortColumn::LastUsed)
    };
    let mut query = PageQuery {
        filter: TokenFilter {
            status: a.status,
            kind: a.kind,
            search: a.search.unwrap_or_default(),
            hygiene: false,
        },
        sort,
        descending,
        cursor: None,
        direction: Direction::Forward,
        inclusive: false,
        limit: if a.all {
            1000
        } else {
            a.limit.clamp(1, 10_000)
        },
        // The listing prints no badges.
        events: false,
    };
    if a.json {
        out("[")?;
    } else {
        out(format!(
            "{:<12}  {:<24}  {:<8}  {:<18}  {:<20}  {:<8}  {:<16}  {}",
            "PREFIX", "NAME", "KIND", "OWNER", "SCOPES", "STATUS", "EXPIRES", "ID"
        ))?;
    }
    let mut first = true;
    loop {
        let page = queries::token_page(client, &query)?;
        for t in &page.rows {
            if a.json {
                let sep = if first { "" } else { "," };
                out(format!("{sep}{}", token_json(t)))?;
            } else {
                out(token_line(t))?;
            }
            first = false;
        }
        if !a.all || !page.has_next {
            break;
        }
        query.cursor = page.last;
    }
    if a.json {
        out("]")?;
    }
    Ok(())
}

pub(super) fn show(client: &mut Client, given: &str, json: bool) -> Result<(), DbError> {
    let id = queries::resolve_token(client, given)?;
    let token = queries::token(client, id)?
        .ok_or_else(|| DbError::Client(format!("no token with id {id} is visible to this role")))?;
    // The history needs tokens_reader: a self-service role sees the token without it.
    let history = queries::token_history(client, id, 200);
    if json {
        let mut v = token_json(&token);
        match &history {
            Ok(h) => v["history"] = serde_json::to_value(h).unwrap_or_default(),
            Err(e) => v["history_error"] = json!(e.to_string()),
        }
        return out(v.to_string());
    }
    let when = |t: Option<chrono::DateTime<chrono::Utc>>, none: &str| {
        t.map(|t| format!("{} UTC", stamp(t)))
            .unwrap_or_else(|| none.to_owned())
    };
    for (k, v) in [
        ("id", token.id.to_string()),
        ("prefix", clean(&token.prefix)),
        ("name", clean(&token.name)),
        ("kind", clean(&token.kind)),
        ("owner", clean(&token.owner)),
        ("scopes", scopes(&token.scopes)),
        ("status", clean(&token.status)),
        ("expires", when(token.expires_at, "never")),
        ("last used", when(token.last_used_at, "never")),
        ("created", when(Some(token.created_at), "")),
        ("revoked at", when(token.revoked_at, "-")),
        ("disabled at", when(token.disabled_at, "-")),
        ("uses 24 h", token.uses_24h.to_string()),
        ("rate limit", crate::text::rate_limit(&token.rate_limit)),
        ("credits", crate::text::credits(&token.credits)),
        ("allowlist", crate::text::allowlist(&token.allowed_ips)),
    ] {
        out(format!("{k:<11} {v}"))?;
    }
    out("")?;
    match history {
        Ok(h) => {
            out("history:")?;
            for e in h {
                out(format!(
                    "  {}  {:<14} actor {} (db_role {}) {}",
                    stamp(e.at),
                    clean(&e.action),
                    clean(&e.actor),
                    clean(&e.db_role),
                    e.meta.map(|m| clean(&m.to_string())).unwrap_or_default()
                ))?;
            }
        }
        Err(e) => out(format!("history: {}", clean(&e.to_string())))?,
    }
    Ok(())
}
