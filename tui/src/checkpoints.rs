//! Audit checkpoints the console has seen, kept outside the database: each
//! time it connects with `tokens_reader`, the console checks the log
//! against every checkpoint it keeps for that database, then keeps the
//! current one. A database whose log no longer hashes to a checkpoint was
//! rewritten (a superuser recomputing every later hash, or rows removed):
//! the console shows a red banner and `tokens-console audit verify` exits 1.
//!
//! The file is `$XDG_DATA_HOME/pg_tokens/checkpoints.json` (by default
//! `~/.local/share/pg_tokens/checkpoints.json`), keyed by the cluster's
//! system identifier and the database name.

use std::collections::BTreeMap;
use std::path::PathBuf;

use postgres::Client;
use serde::{Deserialize, Serialize};

use crate::db::error::DbError;

/// Checkpoints kept per database: the latest ones.
const KEPT: usize = 20;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub id: i64,
    /// Hex of the 32-byte hash.
    pub hash: String,
    pub at: String,
}

/// What the check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every kept checkpoint still holds (how many were checked), and the
    /// chain follows; the current head was kept.
    Holds { checked: usize, head: Option<i64> },
    /// The log no longer matches: the first broken position and the
    /// checkpoint it was found against (None: the chain alone is broken).
    Tampered {
        first: i64,
        checkpoint: Option<Checkpoint>,
    },
}

impl Verdict {
    /// The banner's text.
    pub fn alarm(&self) -> Option<String> {
        match self {
            Verdict::Holds { .. } => None,
            Verdict::Tampered {
                first,
                checkpoint: Some(c),
            } => Some(format!(
                "AUDIT LOG TAMPERED: no longer matches checkpoint id {} of {} (first broken position {first})",
                c.id, c.at
            )),
            Verdict::Tampered {
                first,
                checkpoint: None,
            } => Some(format!(
                "AUDIT LOG TAMPERED: the chain is broken at position {first}"
            )),
        }
    }
}

/// Where the checkpoints are kept.
pub fn path() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("share"))
        })?;
    Some(data.join("pg_tokens").join("checkpoints.json"))
}

type Kept = BTreeMap<String, Vec<Checkpoint>>;

fn load(path: &PathBuf) -> Kept {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn save(path: &PathBuf, kept: &Kept) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(kept).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, path)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn db_error(e: postgres::Error, client: &Client) -> DbError {
    DbError::from_pg(e, client.is_closed())
}

/// The key of the connected database: the cluster's system identifier
/// (the same through every host name and port) and the database's name.
fn key(client: &mut Client) -> Result<String, DbError> {
    let row = client
        .query_one(
            "SELECT coalesce((SELECT system_identifier::text FROM pg_catalog.pg_control_system()), \
                             pg_catalog.inet_server_addr()::text || ':' || pg_catalog.inet_server_port()::text, 'local') \
                    || '/' || current_database()",
            &[],
        )
        .map_err(|e| db_error(e, client))?;
    Ok(row.get(0))
}

/// Checks the connected database's log against the kept checkpoints and
/// keeps its current head. Needs tokens_reader.
pub fn check(client: &mut Client) -> Result<Verdict, DbError> {
    let Some(path) = path() else {
        return Err(DbError::Client(
            "neither XDG_DATA_HOME nor HOME is set: nowhere to keep audit checkpoints".into(),
        ));
    };
    let key = key(client)?;
    let mut kept = load(&path);
    let mine = kept.entry(key).or_default();
    let broken: Option<i64> = client
        .query_one("SELECT tokens.verify_audit_chain()", &[])
        .map_err(|e| db_error(e, client))?
        .get(0);
    if let Some(first) = broken {
        return Ok(Verdict::Tampered {
            first,
            checkpoint: None,
        });
    }
    for c in mine.iter().rev() {
        let Some(hash) = unhex(&c.hash) else { continue };
        let first: Option<i64> = client
            .query_one("SELECT tokens.verify_audit_chain($1, $2)", &[&c.id, &hash])
            .map_err(|e| db_error(e, client))?
            .get(0);
        if let Some(first) = first {
            return Ok(Verdict::Tampered {
                first,
                checkpoint: Some(c.clone()),
            });
        }
    }
    let checked = mine.len();
    let head = client
        .query_opt(
            "SELECT id, hash, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' FROM tokens.audit_checkpoint()",
            &[],
        )
        .map_err(|e| db_error(e, client))?
        .map(|r| Checkpoint {
            id: r.get(0),
            hash: hex(&r.get::<_, Vec<u8>>(1)),
            at: r.get(2),
        });
    let head_id = head.as_ref().map(|c| c.id);
    if let Some(head) = head {
        if mine.last().is_none_or(|last| last.id < head.id) {
            mine.push(head);
            let excess = mine.len().saturating_sub(KEPT);
            mine.drain(..excess);
            save(&path, &kept).map_err(|e| {
                DbError::Client(format!(
                    "could not keep the audit checkpoint in {}: {e}",
                    path.display()
                ))
            })?;
        }
    }
    Ok(Verdict::Holds {
        checked,
        head: head_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn the_alarm_names_the_checkpoint() {
        let c = Checkpoint {
            id: 7,
            hash: "00".repeat(32),
            at: "2026-01-01 00:00:00 UTC".into(),
        };
        let v = Verdict::Tampered {
            first: 7,
            checkpoint: Some(c),
        };
        assert!(v.alarm().unwrap().contains("checkpoint id 7"));
        assert_eq!(
            Verdict::Holds {
                checked: 1,
                head: Some(7)
            }
            .alarm(),
            None
        );
    }
}
