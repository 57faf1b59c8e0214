//! The audit subcommand and audit verify.

use super::*;

/// `audit verify`: the kept checkpoints, checked; exit 1 on a mismatch.
pub(super) fn audit_verify(client: &mut Client, json: bool) -> Result<(), DbError> {
    use crate::checkpoints::{check, Verdict};
    let verdict = check(client)?;
    match &verdict {
        Verdict::Holds { checked, head } => {
            if json {
                out(json!({ "tampered": false, "checked": checked, "head": head }).to_string())?;
            } else {
                out(format!(
                    "audit log intact: {checked} kept checkpoint(s) hold; head {}",
                    head.map_or("none (nothing sealed yet)".to_owned(), |h| h.to_string())
                ))?;
            }
            Ok(())
        }
        Verdict::Tampered { first, checkpoint } => {
            if json {
                out(json!({
                    "tampered": true,
                    "first_broken_position": first,
                    "checkpoint": checkpoint.as_ref().map(|c| json!({ "id": c.id, "hash": c.hash, "at": c.at })),
                })
                .to_string())?;
            } else {
                out(verdict.alarm().unwrap_or_default())?;
            }
            Err(DbError::Mismatch(String::from(
                "the audit log does not match a checkpoint kept outside the database",
            )))
        }
    }
}

pub(super) fn audit(client: &mut Client, a: AuditArgs) -> Result<(), DbError> {
    let filter = AuditFilter {
        action: a.action.unwrap_or_default(),
        actor: a.actor.unwrap_or_default(),
        since: a.since.unwrap_or_default(),
        until: a.until.unwrap_or_default(),
    };
    let line = |e: &crate::db::model::AuditEvent| {
        format!(
            "{:>6}  {}  {:<14}  {:<18}  {:<18}  {:<44}  {}",
            e.id,
            stamp(e.at),
            clean(&e.action),
            clean(&e.actor),
            clean(&e.db_role),
            e.target.as_deref().map(clean).unwrap_or_default(),
            e.meta
                .as_ref()
                .map(|m| clean(&m.to_string()))
                .unwrap_or_default()
        )
    };
    let events = queries::audit_page(
        client,
        &AuditQuery {
            filter: filter.clone(),
            before: None,
            after: None,
            limit: a.limit.clamp(1, 10_000),
        },
    )?;
    if a.json && !a.follow {
        return out(serde_json::to_string(&events).map_err(|e| DbError::Client(e.to_string()))?);
    }
    let mut last = events.first().map(|e| e.id).unwrap_or(0);
    // Oldest first, so a follower reads in order.
    for e in events.iter().rev() {
        out(if a.json {
            serde_json::to_string(e).unwrap_or_default()
        } else {
            line(e)
        })?;
    }
    if !a.follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let new = queries::audit_page(
            client,
            &AuditQuery {
                filter: filter.clone(),
                before: None,
                after: Some(last),
                limit: 1000,
            },
        )?;
        for e in new.iter().rev() {
            out(if a.json {
                serde_json::to_string(e).unwrap_or_default()
            } else {
                line(e)
            })?;
            last = last.max(e.id);
        }
    }
}
