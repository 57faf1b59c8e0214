//! Where to connect: `--dsn`, else `DATABASE_URL`, else libpq's `PG*`
//! variables; a password missing from all of them is looked up in
//! `.pgpass` as libpq does. The `postgres` crate reads neither the
//! variables nor the file, so this module does.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use postgres::config::Host;
use postgres::{Client, Config, NoTls};

use crate::db::error::DbError;

/// Where the connection settings came from, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Flag,
    DatabaseUrl,
    Environment,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Flag => "--dsn",
            Source::DatabaseUrl => "DATABASE_URL",
            Source::Environment => {
                "the PG* environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...)"
            }
        }
    }
}

/// A resolved connection: settings ready to connect with, and a
/// description without the password.
#[derive(Clone)]
pub struct Target {
    pub config: Config,
    pub source: Source,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Target {
    /// `user@host:port/db`, never the password.
    pub fn describe(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "?".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!(
            "{}@{}:{}/{}",
            self.config.get_user().unwrap_or("?"),
            host,
            port,
            self.config.get_dbname().unwrap_or("?")
        )
    }

    pub fn connect(&self) -> Result<Client, DbError> {
        self.config.connect(NoTls).map_err(|e| {
            match e.as_db_error() {
                Some(db) => DbError::Server {
                    sqlstate: db.code().code().to_owned(),
                    message: db.message().to_owned(),
                    hint: db.hint().map(str::to_owned),
                },
                None => {
                    // "error connecting to server" alone hides the cause: add its source.
                    let cause = std::error::Error::source(&e)
                        .map(|s| format!(": {s}"))
                        .unwrap_or_default();
                    DbError::NotConnected(format!("{e}{cause}"))
                }
            }
        })
    }
}

/// Looks variables up; the real environment in the program, a map in tests.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for std::collections::HashMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|s| s.to_string())
    }
}

/// Resolves the settings; an unparsable DSN is an error naming its source.
pub fn resolve(dsn: Option<&str>, env: &dyn Env) -> Result<Target, String> {
    let (mut config, source) = match dsn
        .map(str::to_owned)
        .map(|d| (d, Source::Flag))
        .or_else(|| env.var("DATABASE_URL").map(|d| (d, Source::DatabaseUrl)))
    {
        Some((text, source)) => {
            let config = Config::from_str(&text).map_err(|e| {
                format!(
                    "cannot parse the connection string from {}: {e}",
                    source.describe()
                )
            })?;
            (config, source)
        }
        None => (Config::new(), Source::Environment),
    };
    // libpq's rule: a setting missing from the connection string comes from
    // its environment variable, then from the built-in default.
    if config.get_hosts().is_empty() {
        let hosts = env
            .var("PGHOST")
            .or_else(|| env.var("PGHOSTADDR"))
            .unwrap_or_else(|| {
                if Path::new("/var/run/postgresql").is_dir() {
                    "/var/run/postgresql".into()
                } else {
                    "localhost".into()
                }
            });
        for h in hosts.split(',') {
            if h.starts_with('/') {
                config.host_path(h);
            } else {
                config.host(h);
            }
        }
    }
    if config.get_ports().is_empty() {
        let port = match env.var("PGPORT") {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("PGPORT is not a port number: {}", crate::text::clean(&p)))?,
            None => 5432,
        };
        config.port(port);
    }
    if config.get_user().is_none() {
        let user = env
            .var("PGUSER")
            .or_else(|| env.var("USER"))
            .or_else(|| env.var("LOGNAME"))
            .unwrap_or_else(|| "postgres".into());
        config.user(&user);
    }
    if config.get_dbname().is_none() {
        let db = env
            .var("PGDATABASE")
            .or_else(|| config.get_user().map(str::to_owned))
            .unwrap_or_default();
        config.dbname(&db);
    }
    if config.get_application_name().is_none() {
        config.application_name(
            &env.var("PGAPPNAME")
                .unwrap_or_else(|| "tokens-console".into()),
        );
    }
    if config.get_connect_timeout().is_none() {
        let secs = env
            .var("PGCONNECT_TIMEOUT")
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(10);
        config.connect_timeout(Duration::from_secs(secs.max(2)));
    }
    if config.get_options().is_none() {
        if let Some(o) = env.var("PGOPTIONS") {
            config.options(&o);
        }
    }
    if config.get_password().is_none() {
        if let Some(p) = env.var("PGPASSWORD") {
            config.password(p);
        } else if let Some(p) = pgpass_password(&config, env) {
            config.password(p);
        }
    }
    Ok(Target { config, source })
}

fn pgpass_file(env: &dyn Env) -> Option<PathBuf> {
    env.var("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|h| Path::new(&h).join(".pgpass")))
}

/// The password for the first host from the password file, if one matches.
fn pgpass_password(config: &Config, env: &dyn Env) -> Option<String> {
    let path = pgpass_file(env)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&path).ok()?;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                path.display()
            );
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    // A Unix-socket connection matches the host name "localhost" (libpq).
    let host = match config.get_hosts().first()? {
        Host::Tcp(h) => h.clone(),
        Host::Unix(_) => "localhost".to_owned(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config.get_dbname()?;
    let user = config.get_user()?;
    pgpass_lookup(&text, &host, &port, db, user)
}

/// The first line of a `.pgpass` text matching the four fields (`*` matches
/// anything; `\:` and `\\` are escapes).
pub fn pgpass_lookup(text: &str, host: &str, port: &str, db: &str, user: &str) -> Option<String> {
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() < 5 {
            continue;
        }
        let wanted = [host, port, db, user];
        if fields.iter().zip(wanted).all(|(f, w)| f == "*" || f == w) {
            return Some(fields[4..].join(":"));
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    if let Some(f) = fields.last_mut() {
                        f.push(n);
                    }
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn dsn_flag_wins_over_database_url() {
        let env = HashMap::from([("DATABASE_URL", "postgresql://u2@h2/db2"), ("PGUSER", "u3")]);
        let t = resolve(Some("postgresql://u1@h1:6000/db1"), &env).unwrap();
        assert_eq!(t.source, Source::Flag);
        assert_eq!(t.describe(), "u1@h1:6000/db1");
    }

    #[test]
    fn database_url_then_pg_variables() {
        let env = HashMap::from([("DATABASE_URL", "postgresql://h2/db2"), ("PGUSER", "u3")]);
        let t = resolve(None, &env).unwrap();
        assert_eq!(t.source, Source::DatabaseUrl);
        // a user missing from the URL comes from PGUSER, as in libpq
        assert_eq!(t.describe(), "u3@h2:5432/db2");

        let env = HashMap::from([
            ("PGHOST", "/tmp/sock"),
            ("PGPORT", "5433"),
            ("PGUSER", "alice"),
            ("PGDATABASE", "app"),
        ]);
        let t = resolve(None, &env).unwrap();
        assert_eq!(t.source, Source::Environment);
        assert_eq!(t.describe(), "alice@/tmp/sock:5433/app");
        assert_eq!(t.config.get_application_name(), Some("tokens-console"));
    }

    #[test]
    fn database_defaults_to_user_and_password_from_env() {
        let env = HashMap::from([
            ("PGHOST", "db.example"),
            ("PGUSER", "bob"),
            ("PGPASSWORD", "pw"),
        ]);
        let t = resolve(None, &env).unwrap();
        assert_eq!(t.describe(), "bob@db.example:5432/bob");
        assert_eq!(t.config.get_password(), Some(&b"pw"[..]));
        assert!(
            !format!("{t:?}").contains("pw"),
            "Debug must not show the password"
        );
    }

    #[test]
    fn bad_inputs_are_messages() {
        let env = HashMap::from([("PGPORT", "nope")]);
        assert!(resolve(None, &env).unwrap_err().contains("PGPORT"));
        let env: HashMap<&str, &str> = HashMap::new();
        assert!(resolve(Some("host=x port=notaport"), &env)
            .unwrap_err()
            .contains("--dsn"));
    }

    #[test]
    fn pgpass_matching_rules() {
        let text = "# comment\nother:5432:*:*:nope\nlocalhost:5433:app:alice:s3cr\\:et\n*:*:*:alice:fallback\n";
        assert_eq!(
            pgpass_lookup(text, "localhost", "5433", "app", "alice").as_deref(),
            Some("s3cr:et")
        );
        assert_eq!(
            pgpass_lookup(text, "db", "5432", "x", "alice").as_deref(),
            Some("fallback")
        );
        assert_eq!(pgpass_lookup(text, "db", "5432", "x", "bob"), None);
    }

    #[test]
    fn pgpass_file_is_read_when_private() {
        let dir =
            std::env::temp_dir().join(format!("tokens-console-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pgpass");
        std::fs::write(&file, "localhost:5433:app:alice:from-file\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let path = file.display().to_string();
        let env = HashMap::from([
            ("PGHOST", "/tmp/sock"),
            ("PGPORT", "5433"),
            ("PGUSER", "alice"),
            ("PGDATABASE", "app"),
            ("PGPASSFILE", path.as_str()),
        ]);
        let t = resolve(None, &env).unwrap();
        assert_eq!(t.config.get_password(), Some(&b"from-file"[..]));
        // world-readable: ignored, as libpq does
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let t = resolve(None, &env).unwrap();
        assert_eq!(t.config.get_password(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
