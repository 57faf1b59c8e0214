//! The scriptable subcommands. Output is text for people or `--json` for
//! programs; a failure prints the server's SQLSTATE and message to stderr
//! and exits non-zero. The plaintext goes only to stdout of mint/rotate.

use std::io::{self, Write};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use postgres::Client;
use serde_json::json;

use crate::db::error::DbError;
use crate::db::model::{Minted, Secret, Token, UsageWindow};
use crate::db::queries::{
    self, AuditFilter, AuditQuery, Direction, MintRequest, PageQuery, SortColumn, TokenFilter,
};
pub use crate::parse::expiry as parse_expiry;
use crate::text::{clean, scopes, stamp};

mod audit;
mod leaks;
mod tokens;

use audit::*;
use leaks::*;
use tokens::*;

#[derive(Parser, Debug)]
#[command(
    name = "tokens-console",
    version,
    about = "pg_tokens console: administer API tokens in PostgreSQL"
)]
pub struct Cli {
    /// Connection string (URL or key=value). Else DATABASE_URL, else the
    /// libpq PG* variables and ~/.pgpass.
    #[arg(long, global = true)]
    pub dsn: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List tokens (newest first), paged on the server.
    List(ListArgs),
    /// Every field of one token and its audit history.
    Show {
        /// Token id, or its 12-character prefix.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Mint a token: the plaintext is printed to stdout, once.
    Mint(MintArgs),
    /// Revoke a token (owner-only).
    Revoke {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        /// Act for this owner (members of tokens_revoker/tokens_writer).
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Rotate a token: the new plaintext is printed to stdout, once.
    Rotate {
        id: String,
        /// How long the old token keeps working: an interval (0, "1 hour", "7 days").
        #[arg(long, default_value = "0")]
        grace: String,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Disable a token: verify answers `disabled` until it is enabled
    /// (tokens_writer, or your own personal token).
    Disable {
        /// Token id, or its 12-character prefix.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Enable a disabled token again.
    Enable {
        /// Token id, or its 12-character prefix.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a token's meta (a JSON object, returned by verify) from a file,
    /// or stdin with `-`; an empty file clears it.
    SetMeta {
        /// Token id, or its 12-character prefix.
        id: String,
        #[arg(long = "json-file", value_name = "FILE|-")]
        json_file: std::path::PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Cap a token's uses: each successful verification spends one credit,
    /// and at zero verify answers `usage_exceeded` (tokens_writer, or your
    /// own personal token). `none` removes the cap.
    SetRemaining {
        /// Token id, or its 12-character prefix.
        id: String,
        /// Credits from now (0 or more), or `none` to remove the cap.
        #[arg(value_name = "REMAINING|none", allow_negative_numbers = true)]
        remaining: String,
        /// The credits each later period starts with (with --refill-every).
        #[arg(
            long,
            value_name = "N",
            requires = "refill_every",
            allow_negative_numbers = true
        )]
        refill_amount: Option<i64>,
        /// How long a period lasts: 30s, 1h, 1d, or an interval the server
        /// parses ("1 hour", "30 days"); from 1 second to 3650 days.
        #[arg(long, value_name = "INTERVAL", requires = "refill_amount")]
        refill_every: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Audit events, newest first.
    Audit(AuditArgs),
    /// Leak triage: every token in a text (stdin, or --file), looked up by
    /// hash; prints prefix, status, owner, name and id, never the text.
    Leaks {
        /// Read the text from this file instead of stdin.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// A token's successful and refused verifications per bucket, oldest first.
    Usage {
        /// Token id, or its 12-character prefix.
        id: String,
        /// 24h (24 buckets of an hour) or 60m (60 buckets of a minute).
        #[arg(long, default_value = "24h", value_parser = ["24h", "60m"])]
        window: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// active, revoked, expired or disabled.
    #[arg(long)]
    pub status: Option<String>,
    /// service or personal.
    #[arg(long)]
    pub kind: Option<String>,
    /// Substring of name, owner or prefix, or a whole id.
    #[arg(long)]
    pub search: Option<String>,
    /// created, name, owner, kind, status, expires, last_used, prefix.
    #[arg(long, default_value = "created")]
    pub sort: String,
    /// Ascending (default: descending for created, ascending otherwise... see README).
    #[arg(long)]
    pub asc: bool,
    #[arg(long)]
    pub desc: bool,
    /// At most this many rows (default 100); --all pages through every token.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[arg(long)]
    pub all: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct MintArgs {
    #[arg(long)]
    pub name: String,
    #[arg(long, default_value = "service")]
    pub kind: String,
    /// Default: the connected role.
    #[arg(long)]
    pub owner: Option<String>,
    /// Repeat for each scope; none = full access; --no-scopes = the empty set.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    #[arg(long, conflicts_with = "scopes")]
    pub no_scopes: bool,
    /// never, 7d, 30d, 90d, 12h, or a time the server parses (2026-06-30).
    #[arg(long, default_value = "never")]
    pub expires: String,
    /// A JSON object verify returns with the token, e.g. '{"plan": "pro"}'.
    #[arg(long)]
    pub meta: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub check: Option<AuditCheck>,
    #[arg(long)]
    pub action: Option<String>,
    /// Substring of the actor.
    #[arg(long)]
    pub actor: Option<String>,
    /// 2h, 7d, 30m, or a time (2025-01-31 12:00).
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    /// Keep printing new events as they happen (JSON lines with --json).
    #[arg(long)]
    pub follow: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum AuditCheck {
    /// Checks the audit log against every checkpoint this console keeps for
    /// the database (and keeps the current one): exit 0 when they hold, 1
    /// when the log was rewritten or rows were removed (for cron).
    Verify {
        #[arg(long)]
        json: bool,
    },
}

/// What a subcommand failed with: printed by `report`.
pub fn report(e: &DbError, json: bool) -> i32 {
    let (code, exit) = match e {
        DbError::Server { sqlstate, .. } => (Some(sqlstate.clone()), 1),
        DbError::Mismatch(_) => (None, 1),
        _ => (None, 2),
    };
    if json {
        let message = match e {
            DbError::Server { message, .. } => message.clone(),
            other => other.to_string(),
        };
        eprintln!(
            "{}",
            json!({ "error": { "sqlstate": code, "message": message } })
        );
    } else {
        eprintln!("tokens-console: {}", clean(&e.to_string()));
        if let DbError::Server { hint: Some(h), .. } = e {
            eprintln!("hint: {}", clean(h));
        }
    }
    exit
}

fn out(line: impl AsRef<str>) -> Result<(), DbError> {
    let mut o = io::stdout().lock();
    writeln!(o, "{}", line.as_ref())
        .map_err(|e| DbError::Client(format!("cannot write to stdout: {e}")))
}

fn token_json(t: &Token) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or(serde_json::Value::Null)
}

fn token_line(t: &Token) -> String {
    format!(
        "{:<12}  {:<24}  {:<8}  {:<18}  {:<20}  {:<8}  {:<16}  {}",
        clean(&t.prefix),
        crate::text::fit(&clean(&t.name), 24),
        clean(&t.kind),
        crate::text::fit(&clean(&t.owner), 18),
        crate::text::fit(&scopes(&t.scopes), 20),
        clean(&t.status),
        t.expires_at
            .map(|e| e.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "never".into()),
        t.id
    )
}

fn minted_out(m: &Minted, json: bool) -> Result<(), DbError> {
    if json {
        out(serde_json::to_string(m).map_err(|e| DbError::Client(e.to_string()))?)
    } else {
        // stdout: the plaintext alone, for `TOKEN=$(tokens-console mint ...)`.
        out(m.token.expose())?;
        eprintln!(
            "minted {} \"{}\" owner {} ({}), id {} — store it now: it cannot be shown again",
            clean(&m.prefix),
            clean(&m.name),
            clean(&m.owner),
            clean(&m.kind),
            m.id
        );
        Ok(())
    }
}

pub fn run(client: &mut Client, command: Command) -> Result<(), (DbError, bool)> {
    match command {
        Command::List(a) => {
            let json = a.json;
            list(client, a).map_err(|e| (e, json))
        }
        Command::Show { id, json } => show(client, &id, json).map_err(|e| (e, json)),
        Command::Mint(a) => {
            let json = a.json;
            let req = MintRequest {
                name: a.name,
                kind: a.kind,
                owner: a.owner,
                scopes: if a.no_scopes {
                    Some(vec![])
                } else if a.scopes.is_empty() {
                    None
                } else {
                    Some(a.scopes)
                },
                expiry: parse_expiry(&a.expires),
                meta: match a.meta.as_deref().map(crate::parse::meta_json).transpose() {
                    Ok(m) => m.flatten(),
                    Err(why) => return Err((DbError::Client(why), json)),
                },
            };
            queries::mint(client, &req)
                .and_then(|m| minted_out(&m, json))
                .map_err(|e| (e, json))
        }
        Command::Revoke {
            id,
            reason,
            actor,
            json,
        } => (|| {
            let id = queries::resolve_token(client, &id)?;
            let done = queries::revoke(client, id, actor.as_deref(), reason.as_deref())?;
            if json {
                out(json!({ "id": id, "revoked": done }).to_string())
            } else if done {
                out(format!("revoked {id}"))
            } else {
                out(format!("{id} was already revoked: nothing changed"))
            }
        })()
        .map_err(|e| (e, json)),
        Command::Rotate {
            id,
            grace,
            actor,
            json,
        } => (|| {
            let id = queries::resolve_token(client, &id)?;
            let m = queries::rotate(client, id, &grace, actor.as_deref())?;
            minted_out(&m, json)
        })()
        .map_err(|e| (e, json)),
        Command::Disable { id, json } => {
            set_disabled(client, &id, true, json).map_err(|e| (e, json))
        }
        Command::Enable { id, json } => {
            set_disabled(client, &id, false, json).map_err(|e| (e, json))
        }
        Command::SetMeta {
            id,
            json_file,
            json,
        } => set_meta(client, &id, &json_file, json).map_err(|e| (e, json)),
        Command::SetRemaining {
            id,
            remaining,
            refill_amount,
            refill_every,
            json,
        } => set_remaining(
            client,
            &id,
            &remaining,
            refill_amount,
            refill_every.as_deref(),
            json,
        )
        .map_err(|e| (e, json)),
        Command::Audit(AuditArgs {
            check: Some(AuditCheck::Verify { json }),
            ..
        }) => audit_verify(client, json).map_err(|e| (e, json)),
        Command::Audit(a) => {
            let json = a.json;
            audit(client, a).map_err(|e| (e, json))
        }
        Command::Leaks { file, json } => {
            leaks(client, file.as_deref(), json).map_err(|e| (e, json))
        }
        Command::Usage { id, window, json } => {
            let window = if window == "60m" {
                UsageWindow::Hour
            } else {
                UsageWindow::Day
            };
            usage(client, &id, window, json).map_err(|e| (e, json))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::queries::Expiry;

    #[test]
    fn expiry_forms() {
        assert_eq!(parse_expiry("never"), Expiry::Never);
        assert_eq!(parse_expiry("30d"), Expiry::In("30 days".into()));
        assert_eq!(parse_expiry("12h"), Expiry::In("12 hours".into()));
        assert_eq!(parse_expiry("2026-06-30"), Expiry::At("2026-06-30".into()));
    }

    #[test]
    fn cli_parses_subcommands() {
        let c = Cli::try_parse_from([
            "tokens-console",
            "--dsn",
            "x",
            "mint",
            "--name",
            "n",
            "--scope",
            "a",
            "--scope",
            "b",
            "--json",
        ])
        .unwrap();
        assert_eq!(c.dsn.as_deref(), Some("x"));
        match c.command {
            Some(Command::Mint(m)) => {
                assert_eq!(m.scopes, ["a", "b"]);
                assert!(m.json);
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(
            Cli::try_parse_from(["tokens-console", "revoke"]).is_err(),
            "revoke needs an id"
        );
        match Cli::try_parse_from(["tokens-console", "leaks", "--file", "app.log", "--json"])
            .map(|c| c.command)
        {
            Ok(Some(Command::Leaks { file, json })) => {
                assert_eq!(file.as_deref(), Some(std::path::Path::new("app.log")));
                assert!(json);
            }
            other => panic!("parsed as {other:?}"),
        }
        match Cli::try_parse_from(["tokens-console", "disable", "tbm_3KVNsn-z", "--json"])
            .map(|c| c.command)
        {
            Ok(Some(Command::Disable { id, json })) => {
                assert_eq!(id, "tbm_3KVNsn-z");
                assert!(json);
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(matches!(
            Cli::try_parse_from(["tokens-console", "enable", "x"]).map(|c| c.command),
            Ok(Some(Command::Enable { json: false, .. }))
        ));
        match Cli::try_parse_from(["tokens-console", "set-meta", "x", "--json-file", "-"])
            .map(|c| c.command)
        {
            Ok(Some(Command::SetMeta { json_file, .. })) => {
                assert_eq!(json_file, std::path::PathBuf::from("-"))
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(
            Cli::try_parse_from(["tokens-console", "set-meta", "x"]).is_err(),
            "set-meta needs --json-file"
        );
        match Cli::try_parse_from([
            "tokens-console",
            "set-remaining",
            "tbm_3KVNsn-z",
            "1000",
            "--refill-amount",
            "100",
            "--refill-every",
            "1 hour",
            "--json",
        ])
        .map(|c| c.command)
        {
            Ok(Some(Command::SetRemaining {
                id,
                remaining,
                refill_amount,
                refill_every,
                json,
            })) => {
                assert_eq!((id.as_str(), remaining.as_str()), ("tbm_3KVNsn-z", "1000"));
                assert_eq!(refill_amount, Some(100));
                assert_eq!(refill_every.as_deref(), Some("1 hour"));
                assert!(json);
            }
            other => panic!("parsed as {other:?}"),
        }
        match Cli::try_parse_from(["tokens-console", "set-remaining", "x", "none"])
            .map(|c| c.command)
        {
            Ok(Some(Command::SetRemaining {
                remaining,
                refill_amount: None,
                refill_every: None,
                ..
            })) => assert_eq!(remaining, "none"),
            other => panic!("parsed as {other:?}"),
        }
        assert!(
            matches!(
                Cli::try_parse_from(["tokens-console", "set-remaining", "x", "-5"]).map(|c| c.command),
                Ok(Some(Command::SetRemaining { remaining, .. })) if remaining == "-5"
            ),
            "a negative number is the server's to refuse, not an unknown flag"
        );
        for half in [["--refill-amount", "100"], ["--refill-every", "1h"]] {
            assert!(
                Cli::try_parse_from([
                    "tokens-console",
                    "set-remaining",
                    "x",
                    "5",
                    half[0],
                    half[1]
                ])
                .is_err(),
                "a refill needs both {half:?}"
            );
        }
        assert!(
            Cli::try_parse_from(["tokens-console", "set-remaining", "x"]).is_err(),
            "set-remaining needs the remaining credits (or none)"
        );
        assert!(
            Cli::try_parse_from(["tokens-console", "leaks", "tbm_x"]).is_err(),
            "the text is never an argument (it would show in ps and shell history)"
        );
    }
}
