//! Where to connect: `--dsn`, else `DATABASE_URL`, else libpq's `PG*`
//! variables, each setting the connection string leaves out coming from a
//! `service=` section of `pg_service.conf`, then its `PG*` variable, then
//! libpq's default; a password missing from all of them is looked up in
//! `.pgpass`. The `postgres` crate does none of this, nor libpq's TLS
//! modes, so this module does (params.rs, service.rs, tls.rs).

pub mod params;
pub mod service;
pub mod tls;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use postgres::config::Host;
use postgres::{Client, Config};

use crate::db::error::DbError;
use params::Params;
pub use tls::{SslMode, Tls};

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
    pub tls: Tls,
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
        tls::connect(&self.config, &self.tls).map_err(|e| match e {
            tls::ConnectError::Setup(m) => DbError::NotConnected(m),
            tls::ConnectError::Explained(e, why) => {
                DbError::NotConnected(format!("{why}: {}", tls::cause_chain(&e)))
            }
            tls::ConnectError::Postgres(e) => match e.as_db_error() {
                Some(db) => DbError::Server {
                    sqlstate: db.code().code().to_owned(),
                    message: self.explain_refusal(db.code().code(), db.message()),
                    hint: db.hint().map(str::to_owned),
                    argument: None,
                },
                // "error connecting to server" alone hides the cause: add its sources.
                None => DbError::NotConnected(tls::cause_chain(&e)),
            },
        })
    }
}

impl Target {
    /// pg_hba's refusal names the encryption it saw; say what the mode did.
    fn explain_refusal(&self, sqlstate: &str, message: &str) -> String {
        let mode = self.tls.mode;
        if sqlstate != "28000" || !message.starts_with("no pg_hba.conf entry") {
            return message.to_owned();
        }
        if message.ends_with("no encryption") && mode == SslMode::Disable {
            format!("{message} (sslmode=disable does not use TLS, and the server may take this connection only with it: try sslmode=require or stronger)")
        } else if message.ends_with("SSL encryption")
            && !matches!(mode, SslMode::Allow | SslMode::Prefer)
        {
            format!(
                "{message} (sslmode={} insists on TLS, and the server may take this connection only without it)",
                mode.name()
            )
        } else {
            message.to_owned()
        }
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

/// libpq's connection keywords and the variables that stand in for them.
const VARIABLES: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("passfile", "PGPASSFILE"),
    ("dbname", "PGDATABASE"),
    ("options", "PGOPTIONS"),
    ("application_name", "PGAPPNAME"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
];

/// Keywords this module handles; the rest go to the `postgres` crate.
const OURS: &[&str] = &[
    "service",
    "passfile",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
];

/// Resolves the settings; an unparsable DSN is an error naming its source.
pub fn resolve(dsn: Option<&str>, env: &dyn Env) -> Result<Target, String> {
    let (mut params, source) = match dsn
        .map(str::to_owned)
        .map(|d| (d, Source::Flag))
        .or_else(|| env.var("DATABASE_URL").map(|d| (d, Source::DatabaseUrl)))
    {
        Some((text, source)) => {
            let params = params::parse(&text).map_err(|e| {
                format!(
                    "cannot parse the connection string from {}: {e}",
                    source.describe()
                )
            })?;
            (params, source)
        }
        None => (Params::new(), Source::Environment),
    };
    let given = |p: &Params, k: &str| p.get(k).is_some_and(|v| !v.is_empty());
    // libpq's order for a setting the connection string leaves out: the
    // service file, then the variable, then the default.
    if let Some(name) = params
        .get("service")
        .cloned()
        .or_else(|| env.var("PGSERVICE"))
    {
        for (k, v) in service::lookup(&name, env)? {
            if !given(&params, &k) {
                params.insert(k, v);
            }
        }
    }
    for (key, var) in VARIABLES {
        if !given(&params, key) {
            if let Some(v) = env.var(var) {
                params.insert((*key).to_owned(), v);
            }
        }
    }
    params.retain(|_, v| !v.is_empty());
    if let Some(port) = params.get("port") {
        for p in port.split(',') {
            if p.parse::<u16>().is_err() {
                let from = if env.var("PGPORT").as_deref() == Some(port.as_str()) {
                    "PGPORT".to_owned()
                } else {
                    format!("the port from {}", source.describe())
                };
                return Err(format!(
                    "{from} is not a port number: {}",
                    crate::text::clean(p)
                ));
            }
        }
    }
    if !params.contains_key("host") && !params.contains_key("hostaddr") {
        let host = if Path::new("/var/run/postgresql").is_dir() {
            "/var/run/postgresql"
        } else {
            "localhost"
        };
        params.insert("host".into(), host.into());
    }
    if !params.contains_key("user") {
        let user = env
            .var("USER")
            .or_else(|| env.var("LOGNAME"))
            .unwrap_or_else(|| "postgres".into());
        params.insert("user".into(), user);
    }
    if !params.contains_key("dbname") {
        params.insert("dbname".into(), params["user"].clone());
    }
    params
        .entry("application_name".into())
        .or_insert_with(|| "tokens-console".into());
    let mode = match params.get("sslmode") {
        Some(m) => SslMode::parse(m)?,
        None => SslMode::default(),
    };
    let home = env.var("HOME").map(PathBuf::from);
    let tls = Tls::new(
        mode,
        params.get("sslrootcert").cloned(),
        params.get("sslcert").cloned(),
        params.get("sslkey").cloned(),
        home.as_deref(),
    );
    let passfile = params
        .get("passfile")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".pgpass")));
    let rest: Params = params
        .into_iter()
        .filter(|(k, _)| !OURS.contains(&k.as_str()))
        .collect();
    let mut config = Config::from_str(&params::to_keywords(&rest)).map_err(|e| {
        format!(
            "cannot use the connection settings from {}: {e}",
            source.describe()
        )
    })?;
    if config.get_ports().is_empty() {
        config.port(5432);
    }
    let timeout = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(Duration::from_secs(10));
    config.connect_timeout(timeout.max(Duration::from_secs(2)));
    if config.get_password().is_none() {
        if let Some(p) = passfile.and_then(|f| pgpass_password(&config, &f)) {
            config.password(p);
        }
    }
    Ok(Target {
        config,
        tls,
        source,
    })
}

/// The password for the first host from the password file, if one matches.
fn pgpass_password(config: &Config, path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).ok()?;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                path.display()
            );
            return None;
        }
    }
    let text = std::fs::read_to_string(path).ok()?;
    // A Unix-socket connection matches the host name "localhost" (libpq).
    // Only a hostaddr: its address is the host name to match (libpq).
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(_)) => "localhost".to_owned(),
        None => config.get_hostaddrs().first()?.to_string(),
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

    #[test]
    fn settings_the_dsn_leaves_out_come_from_the_variables() {
        let env = HashMap::from([("PGPORT", "6000"), ("PGUSER", "u"), ("PGHOST", "ph")]);
        let t = resolve(Some("host=h dbname=d"), &env).unwrap();
        assert_eq!(t.describe(), "u@h:6000/d");
        let t = resolve(Some("postgresql://h/d"), &env).unwrap();
        assert_eq!(t.describe(), "u@h:6000/d");
        let t = resolve(Some("dbname=d port=7000"), &env).unwrap();
        assert_eq!(t.describe(), "u@ph:7000/d");
        let env = HashMap::from([("PGCONNECT_TIMEOUT", "30")]);
        let t = resolve(Some("host=h"), &env).unwrap();
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&Duration::from_secs(30))
        );
    }

    #[test]
    fn tls_settings_and_their_precedence() {
        let env = HashMap::from([
            ("HOME", "/home/al"),
            ("PGSSLMODE", "verify-ca"),
            ("PGSSLROOTCERT", "/env/ca.crt"),
        ]);
        let t = resolve(Some("host=h"), &env).unwrap();
        assert_eq!(t.tls.mode, SslMode::VerifyCa);
        assert_eq!(t.tls.rootcert.as_deref(), Some(Path::new("/env/ca.crt")));
        let t = resolve(
            Some("postgresql://h/d?sslmode=verify-full&sslrootcert=/url/ca.crt&sslcert=/c.crt&sslkey=/c.key"),
            &env,
        )
        .unwrap();
        assert_eq!(t.tls.mode, SslMode::VerifyFull);
        assert_eq!(t.tls.rootcert.as_deref(), Some(Path::new("/url/ca.crt")));
        assert_eq!(t.tls.cert.as_deref(), Some(Path::new("/c.crt")));
        assert_eq!(t.tls.key.as_deref(), Some(Path::new("/c.key")));
        // defaults: prefer, and the files under ~/.postgresql/
        let env = HashMap::from([("HOME", "/home/al")]);
        let t = resolve(Some("host=h"), &env).unwrap();
        assert_eq!(t.tls.mode, SslMode::Prefer);
        assert!(!t.tls.rootcert_given);
        assert_eq!(
            t.tls.rootcert.as_deref(),
            Some(Path::new("/home/al/.postgresql/root.crt"))
        );
        assert_eq!(
            t.tls.key.as_deref(),
            Some(Path::new("/home/al/.postgresql/postgresql.key"))
        );
        let env = HashMap::from([("PGSSLMODE", "on")]);
        assert!(resolve(Some("host=h"), &env)
            .unwrap_err()
            .contains("invalid sslmode value: \"on\""));
    }

    #[test]
    fn service_between_the_dsn_and_the_variables() {
        let dir =
            std::env::temp_dir().join(format!("tokens-console-service-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("services.conf");
        std::fs::write(
            &file,
            "[app]\nhost=svc.host\nport=6432\nsslmode=require\npassword=svc-pw\n",
        )
        .unwrap();
        let path = file.display().to_string();
        let env = HashMap::from([
            ("PGSERVICEFILE", path.as_str()),
            ("PGPORT", "7777"),
            ("PGUSER", "envuser"),
            ("PGSSLMODE", "disable"),
        ]);
        let t = resolve(Some("service=app dbname=d"), &env).unwrap();
        assert_eq!(t.describe(), "envuser@svc.host:6432/d");
        assert_eq!(t.tls.mode, SslMode::Require);
        assert_eq!(t.config.get_password(), Some(&b"svc-pw"[..]));
        assert!(!format!("{t:?}").contains("svc-pw"));
        let t = resolve(Some("service=app port=1 sslmode=verify-full"), &env).unwrap();
        assert_eq!(t.config.get_ports(), &[1]);
        assert_eq!(t.tls.mode, SslMode::VerifyFull);
        // PGSERVICE names it when the DSN does not
        let env = HashMap::from([("PGSERVICEFILE", path.as_str()), ("PGSERVICE", "app")]);
        assert_eq!(resolve(None, &env).unwrap().config.get_ports(), &[6432]);
        let e = resolve(Some("service=nope"), &env).unwrap_err();
        assert!(e.contains("service \"nope\" not found"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
