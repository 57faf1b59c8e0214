use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use tokens_console::cli::{self, Cli};
use tokens_console::conn::{self, ProcessEnv};
use tokens_console::db::queries;
use tokens_console::text::clean;

fn main() -> ExitCode {
    let args = Cli::parse();
    let target = match conn::resolve(args.dsn.as_deref(), &ProcessEnv) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tokens-console: {e}");
            return ExitCode::from(2);
        }
    };
    let json = matches!(&args.command, Some(c) if wants_json(c));
    let mut client = match target.connect() {
        Ok(c) => c,
        Err(e) => {
            let where_ = format!("{} (from {})", target.describe(), target.source.describe());
            if json {
                eprintln!(
                    "{}",
                    serde_json::json!({ "error": { "sqlstate": e.sqlstate(), "message": format!("cannot connect to {where_}: {e}") } })
                );
            } else {
                eprintln!(
                    "tokens-console: cannot connect to {}: {}",
                    clean(&where_),
                    clean(&e.to_string())
                );
                eprintln!("Give a connection string with --dsn or DATABASE_URL, or set PGHOST, PGPORT, PGUSER, PGDATABASE (passwords: PGPASSWORD or ~/.pgpass).");
            }
            return ExitCode::from(2);
        }
    };
    let session = match queries::session(&mut client) {
        Ok(s) => s,
        Err(e) => return ExitCode::from(cli::report(&e, json) as u8),
    };
    match args.command {
        Some(command) => match cli::run(&mut client, command) {
            Ok(()) => ExitCode::SUCCESS,
            Err((e, json)) => ExitCode::from(cli::report(&e, json) as u8),
        },
        None => {
            if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
                eprintln!("tokens-console: the console needs a terminal; for scripts use a subcommand (list, show, mint, revoke, rotate, audit, usage, leaks — see --help)");
                return ExitCode::from(2);
            }
            match tokens_console::run::interactive(target, client, session) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tokens-console: terminal error: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn wants_json(c: &cli::Command) -> bool {
    use cli::Command::*;
    match c {
        List(a) => a.json,
        Show { json, .. }
        | Revoke { json, .. }
        | Rotate { json, .. }
        | Usage { json, .. }
        | Leaks { json, .. }
        | Disable { json, .. }
        | Enable { json, .. }
        | SetMeta { json, .. }
        | SetRemaining { json, .. } => *json,
        Mint(a) => a.json,
        Audit(a) => a.json,
    }
}
