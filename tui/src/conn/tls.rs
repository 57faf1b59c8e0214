//! TLS as libpq has it: `sslmode`, `sslrootcert`, `sslcert`, `sslkey`.
//!
//! The TLS library is OpenSSL, through `postgres-openssl` (maintained with
//! `postgres` itself, in the rust-postgres repository). It is chosen over
//! rustls because libpq's modes map onto it one to one: `verify-ca` checks
//! the chain but not the name (`set_verify_hostname(false)`), `require`
//! without a root certificate checks nothing (`SslVerifyMode::NONE`), both
//! of which rustls allows only through a hand-written certificate verifier;
//! and it reads the same PEM files, keys and system trust store as libpq,
//! which is itself built on OpenSSL.

use std::path::{Path, PathBuf};

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode, SslVersion};
use postgres::config::SslMode as WireMode;
use postgres::{Client, Config};
use postgres_openssl::MakeTlsConnector;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    Allow,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "invalid sslmode value: \"{}\" (disable, allow, prefer, require, verify-ca or verify-full)",
                    crate::text::clean(other)
                ))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// The TLS settings, with libpq's default files filled in.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Tls {
    pub mode: SslMode,
    /// `sslrootcert`, or `~/.postgresql/root.crt`; "system" for the system's
    /// trusted roots.
    pub rootcert: Option<PathBuf>,
    /// Whether `rootcert` was given rather than the default.
    pub rootcert_given: bool,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl Tls {
    /// `home` is `$HOME`, for the files under `~/.postgresql/`.
    pub fn new(
        mode: SslMode,
        rootcert: Option<String>,
        cert: Option<String>,
        key: Option<String>,
        home: Option<&Path>,
    ) -> Tls {
        let dflt = |name: &str| home.map(|h| h.join(".postgresql").join(name));
        Tls {
            mode,
            rootcert_given: rootcert.is_some(),
            rootcert: rootcert.map(PathBuf::from).or_else(|| dflt("root.crt")),
            cert: cert.map(PathBuf::from).or_else(|| dflt("postgresql.crt")),
            key: key.map(PathBuf::from).or_else(|| dflt("postgresql.key")),
        }
    }

    fn system_roots(&self) -> bool {
        self.rootcert_given && self.rootcert.as_deref() == Some(Path::new("system"))
    }

    /// libpq's rule: the chain is checked in verify-ca and verify-full, and
    /// in any other mode that uses TLS when the root certificate file
    /// exists (so `require` with a root certificate is `verify-ca`). The
    /// host name is checked in verify-full only.
    fn root_file(&self) -> Result<Option<&Path>, String> {
        if self.system_roots() {
            return Ok(None);
        }
        match self.rootcert.as_deref() {
            Some(p) if p.is_file() => Ok(Some(p)),
            _ if self.mode.verifies() => {
                let looked = match &self.rootcert {
                    Some(p) => format!("\"{}\"", crate::text::clean(&p.display().to_string())),
                    None => "~/.postgresql/root.crt (HOME is not set)".to_owned(),
                };
                Err(format!(
                    "sslmode={} needs the root certificate that signed the server's certificate, and there is none: {looked} does not exist. Give it with sslrootcert=FILE (or PGSSLROOTCERT), put it at ~/.postgresql/root.crt, use sslrootcert=system for the system's trusted roots, or use sslmode=require to encrypt without verifying",
                    self.mode.name()
                ))
            }
            _ => Ok(None),
        }
    }

    /// The connector for the `postgres` crate.
    pub fn connector(&self) -> Result<MakeTlsConnector, String> {
        if self.system_roots() && self.mode != SslMode::VerifyFull && self.mode != SslMode::Disable
        {
            return Err(format!(
                "weak sslmode \"{}\" may not be used with sslrootcert=system (use \"verify-full\")",
                self.mode.name()
            ));
        }
        let ssl = |e: openssl::error::ErrorStack| format!("cannot set up TLS: {e}");
        let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(ssl)?;
        // libpq's default ssl_min_protocol_version.
        b.set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(ssl)?;
        let root = self.root_file()?;
        let verify_chain = if self.system_roots() {
            b.set_default_verify_paths().map_err(ssl)?;
            true
        } else if let Some(file) = root {
            b.set_ca_file(file).map_err(|e| {
                format!(
                    "cannot read the root certificate file \"{}\": {e}",
                    crate::text::clean(&file.display().to_string())
                )
            })?;
            true
        } else {
            false
        };
        b.set_verify(if verify_chain {
            SslVerifyMode::PEER
        } else {
            SslVerifyMode::NONE
        });
        if let Some(cert) = self.cert.as_deref().filter(|c| c.is_file()) {
            let shown = |p: &Path| crate::text::clean(&p.display().to_string());
            b.set_certificate_chain_file(cert).map_err(|e| {
                format!("cannot read the certificate file \"{}\": {e}", shown(cert))
            })?;
            let Some(key) = self.key.as_deref().filter(|k| k.is_file()) else {
                return Err(format!(
                    "certificate \"{}\" is present, but not its private key file{}",
                    shown(cert),
                    self.key
                        .as_deref()
                        .map(|k| format!(" \"{}\"", shown(k)))
                        .unwrap_or_default()
                ));
            };
            check_key_permissions(key)?;
            b.set_private_key_file(key, SslFiletype::PEM)
                .map_err(|e| format!("cannot read the private key file \"{}\": {e}", shown(key)))?;
            b.check_private_key().map_err(|e| {
                format!(
                    "the private key \"{}\" does not match the certificate \"{}\": {e}",
                    shown(key),
                    shown(cert)
                )
            })?;
        }
        let mut connector = MakeTlsConnector::new(b.build());
        let verify_host = self.mode == SslMode::VerifyFull;
        connector.set_callback(move |cfg, _domain| {
            cfg.set_verify_hostname(verify_host);
            Ok(())
        });
        Ok(connector)
    }
}

/// libpq refuses a key that others may read: u=rw (0600) or less, or
/// u=rw,g=r (0640) or less when root owns it.
fn check_key_permissions(key: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = std::fs::metadata(key).map_err(|e| format!("{}: {e}", key.display()))?;
        let mode = meta.permissions().mode();
        let ok = if meta.uid() == 0 {
            mode & 0o037 == 0
        } else {
            mode & 0o077 == 0
        };
        if !ok {
            return Err(format!(
                "private key file \"{}\" has group or world access; the file must have permissions u=rw (0600) or less if owned by the current user, or u=rw,g=r (0640) or less if owned by root",
                crate::text::clean(&key.display().to_string())
            ));
        }
    }
    Ok(())
}

/// Connects as libpq does for the mode: `allow` tries without TLS first and
/// with it when the server refuses; `prefer` the other way round;
/// `require` and the verify modes only with TLS. Returns the client and
/// the error text of a failed connection.
pub fn connect(config: &Config, tls: &Tls) -> Result<Client, ConnectError> {
    // TLS is not used over Unix-domain sockets (libpq ignores sslmode there).
    let socket_only = config
        .get_hosts()
        .iter()
        .all(|h| matches!(h, postgres::config::Host::Unix(_)));
    let mode = if socket_only {
        SslMode::Disable
    } else {
        tls.mode
    };
    let attempt = |wire: WireMode| -> Result<Client, ConnectError> {
        let mut c = config.clone();
        c.ssl_mode(wire);
        if wire == WireMode::Disable {
            return c.connect(postgres::NoTls).map_err(ConnectError::Postgres);
        }
        let connector = tls.connector().map_err(ConnectError::Setup)?;
        c.connect(connector).map_err(ConnectError::Postgres)
    };
    match mode {
        SslMode::Disable => attempt(WireMode::Disable),
        SslMode::Allow => match attempt(WireMode::Disable) {
            Err(first) if first.server_refused() => attempt(WireMode::Require),
            other => other,
        },
        SslMode::Prefer => match attempt(WireMode::Prefer) {
            Err(first) if first.server_refused() || first.tls_failed() => {
                attempt(WireMode::Disable)
            }
            other => other,
        },
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            attempt(WireMode::Require).map_err(|e| e.with_mode(mode, config))
        }
    }
}

#[derive(Debug)]
pub enum ConnectError {
    /// The TLS settings themselves (a missing root certificate, a key).
    Setup(String),
    Postgres(postgres::Error),
    /// A TLS failure, explained.
    Explained(postgres::Error, String),
}

impl ConnectError {
    /// The server answered and refused (pg_hba, authentication): libpq
    /// tries the other way in allow and prefer.
    fn server_refused(&self) -> bool {
        matches!(self, ConnectError::Postgres(e) if e.as_db_error().is_some())
    }

    fn tls_failed(&self) -> bool {
        matches!(self, ConnectError::Postgres(e) if e.to_string().contains("TLS"))
    }

    fn with_mode(self, mode: SslMode, config: &Config) -> ConnectError {
        let ConnectError::Postgres(e) = self else {
            return self;
        };
        let text = cause_chain(&e);
        let host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            _ => String::new(),
        };
        let why = if text.contains("hostname mismatch") || text.contains("IP address mismatch") {
            format!(
                "sslmode=verify-full: the server's certificate does not name the host \"{}\" (connect by a name the certificate lists, or use sslmode=verify-ca to check the chain only)",
                crate::text::clean(&host)
            )
        } else if text.contains("certificate verify failed") {
            format!(
                "sslmode={}: the server's certificate is not signed by the root certificate",
                mode.name()
            )
        } else if text.contains("server does not support TLS") {
            format!(
                "sslmode={}: the server does not accept TLS connections (ssl = off)",
                mode.name()
            )
        } else {
            return ConnectError::Postgres(e);
        };
        ConnectError::Explained(e, why)
    }
}

/// An error with its sources, for messages.
pub fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        for m in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            assert_eq!(SslMode::parse(m).unwrap().name(), m);
        }
        assert!(SslMode::parse("verify_full")
            .unwrap_err()
            .contains("invalid sslmode"));
        assert_eq!(SslMode::default(), SslMode::Prefer);
    }

    #[test]
    fn missing_root_certificate_is_explained() {
        let home = Path::new("/nonexistent-home");
        let t = Tls::new(SslMode::VerifyFull, None, None, None, Some(home));
        let e = t.connector().err().unwrap();
        assert!(
            e.contains("sslmode=verify-full")
                && e.contains("/nonexistent-home/.postgresql/root.crt"),
            "{e}"
        );
        let t = Tls::new(
            SslMode::VerifyCa,
            Some("/nope/ca.pem".into()),
            None,
            None,
            None,
        );
        let e = t.connector().err().unwrap();
        assert!(e.contains("\"/nope/ca.pem\" does not exist"), "{e}");
        // require without the file: no verification, no error
        let t = Tls::new(
            SslMode::Require,
            Some("/nope/ca.pem".into()),
            None,
            None,
            Some(home),
        );
        assert!(t.connector().is_ok());
        let t = Tls::new(SslMode::Require, Some("system".into()), None, None, None);
        assert!(t.connector().err().unwrap().contains("weak sslmode"));
    }
}
