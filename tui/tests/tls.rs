//! The console's connections with TLS, against a cluster started with
//! `ssl = on` and a CA and server certificate made here with `openssl`: each
//! `sslmode`, libpq's fallbacks, and clear refusals.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use pg_tokens_tests::{eventually, run, unique, Cluster};
use tokens_console::conn::{resolve, Target};
use tokens_console::db::error::DbError;
use tokens_console::db::queries;

fn openssl(dir: &Path, args: &[&str]) {
    let mut c = Command::new("openssl");
    c.current_dir(dir).args(args);
    run(c);
}

/// A CA, a server certificate it signs for the name "localhost" only, and a
/// second CA that signed nothing; readable by the cluster's OS user.
fn make_certificates(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for (name, cn) in [("ca", "pg_tokens test CA"), ("other", "another CA")] {
        let (key, crt, subj) = (
            format!("{name}.key"),
            format!("{name}.crt"),
            format!("/CN={cn}"),
        );
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subj];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &crt]);
        openssl(dir, &args);
    }
    let mut args = vec!["req", "-new", "-subj", "/CN=localhost"];
    args.extend(ec);
    args.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &args);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ],
    );
    // A client certificate for the user "postgres" (for cert authentication).
    let mut args = vec!["req", "-new", "-subj", "/CN=postgres"];
    args.extend(ec);
    args.extend(["-keyout", "client.key", "-out", "client.csr"]);
    openssl(dir, &args);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "client.crt",
        ],
    );
    let mut chown = Command::new("chown");
    chown.args(["-R", "postgres:postgres"]).arg(dir);
    run(chown);
    let mut chmod = Command::new("chmod");
    chmod.arg("0600").arg(dir.join("server.key"));
    run(chmod);
}

struct Setup {
    cluster: Cluster,
    certs: PathBuf,
    db: String,
}

impl Setup {
    fn new() -> Setup {
        let certs = Cluster::shared().dir.join(unique("tls_certs"));
        make_certificates(&certs);
        let cluster = Cluster::private(
            "tls",
            &format!(
                "ssl = on\nssl_cert_file = '{0}/server.crt'\nssl_key_file = '{0}/server.key'\nssl_ca_file = '{0}/ca.crt'\n",
                certs.display()
            ),
        );
        // Not cluster.database(): its Db drops the database with it.
        let db = unique("db");
        cluster
            .connect("postgres", "postgres")
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        cluster
            .connect("postgres", &db)
            .batch_execute("CREATE EXTENSION pg_tokens")
            .unwrap();
        Setup { cluster, certs, db }
    }

    fn file(&self, name: &str) -> String {
        self.certs.join(name).display().to_string()
    }

    /// The settings from `dsn` and `vars`, with a HOME that has no
    /// ~/.postgresql/root.crt and no .pgpass.
    fn target(&self, dsn: Option<&str>, vars: &[(&str, &str)]) -> Target {
        let home = self.file("no-home");
        let mut env: HashMap<&str, &str> = HashMap::from([("HOME", home.as_str())]);
        env.extend(vars.iter().copied());
        resolve(dsn, &env).unwrap_or_else(|e| panic!("resolve {dsn:?}: {e}"))
    }

    fn dsn(&self, host: &str, extra: &str) -> String {
        format!(
            "host={host} port={} user=postgres dbname={} {extra}",
            self.cluster.port, self.db
        )
    }

    /// Connects; Ok(the TLS version the server reports, None when plain).
    fn connect(&self, host: &str, extra: &str) -> Result<Option<String>, DbError> {
        let dsn = self.dsn(host, extra);
        self.connect_target(&self.target(Some(&dsn), &[]))
    }

    fn connect_target(&self, target: &Target) -> Result<Option<String>, DbError> {
        let mut client = target.connect()?;
        // The header's marker comes from the session query.
        Ok(queries::session(&mut client).expect("session").tls)
    }

    fn hba(&self, lines: &str) {
        std::fs::write(
            self.cluster.data.join("pg_hba.conf"),
            format!("local all all trust\n{lines}\n"),
        )
        .unwrap();
        self.cluster
            .connect("postgres", "postgres")
            .batch_execute("SELECT pg_reload_conf()")
            .unwrap();
    }
}

fn encrypted(r: Result<Option<String>, DbError>) -> String {
    match r {
        Ok(Some(v)) => v,
        other => panic!("expected a TLS connection, got {other:?}"),
    }
}

fn plain(r: Result<Option<String>, DbError>) {
    match r {
        Ok(None) => {}
        other => panic!("expected a plain connection, got {other:?}"),
    }
}

fn refused(r: Result<Option<String>, DbError>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected a refusal, connected with {v:?}"),
    }
}

#[test]
fn sslmodes_against_a_tls_server() {
    let s = Setup::new();
    let ca = format!("sslrootcert={}", s.file("ca.crt"));
    let other = format!("sslrootcert={}", s.file("other.crt"));

    // disable: plain; allow: plain first; prefer (the default): TLS.
    plain(s.connect("127.0.0.1", "sslmode=disable"));
    plain(s.connect("127.0.0.1", "sslmode=allow"));
    assert!(encrypted(s.connect("127.0.0.1", "")).starts_with("TLS"));
    encrypted(s.connect("127.0.0.1", "sslmode=prefer"));

    // require checks nothing without a root certificate (the certificate
    // names "localhost", not 127.0.0.1, and no CA is given)...
    encrypted(s.connect("127.0.0.1", "sslmode=require"));
    // ...but with one it is verify-ca, as in libpq.
    encrypted(s.connect("127.0.0.1", &format!("sslmode=require {ca}")));
    let e = refused(s.connect("127.0.0.1", &format!("sslmode=require {other}")));
    assert!(e.contains("not signed by the root certificate"), "{e}");

    // verify-ca: the chain, not the name.
    encrypted(s.connect("127.0.0.1", &format!("sslmode=verify-ca {ca}")));
    let e = refused(s.connect("127.0.0.1", &format!("sslmode=verify-ca {other}")));
    assert!(
        e.contains("sslmode=verify-ca") && e.contains("not signed"),
        "{e}"
    );

    // verify-full: the name too.
    encrypted(s.connect("localhost", &format!("sslmode=verify-full {ca}")));
    let e = refused(s.connect("127.0.0.1", &format!("sslmode=verify-full {ca}")));
    assert!(
        e.contains("does not name the host \"127.0.0.1\""),
        "a wrong host name must be refused clearly: {e}"
    );

    // No root certificate: say what is missing and where it was looked for.
    for mode in ["verify-ca", "verify-full"] {
        let e = refused(s.connect("localhost", &format!("sslmode={mode}")));
        let looked = format!("{}/.postgresql/root.crt", s.file("no-home"));
        assert!(
            e.contains(&format!("sslmode={mode} needs the root certificate"))
                && e.contains(&looked)
                && e.contains("does not exist"),
            "{e}"
        );
    }

    // The same settings from a URL, from PG* variables, and from a service.
    let url = format!(
        "postgresql://postgres@localhost/{}?sslmode=verify-full&sslrootcert={}",
        s.db,
        s.file("ca.crt")
    );
    let port = s.cluster.port.to_string();
    // The URL has no port: PGPORT gives it (libpq's rule).
    encrypted(s.connect_target(&s.target(Some(&url), &[("PGPORT", &port)])));
    let root = s.file("ca.crt");
    let vars = [
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGUSER", "postgres"),
        ("PGDATABASE", s.db.as_str()),
        ("PGSSLMODE", "verify-full"),
        ("PGSSLROOTCERT", root.as_str()),
    ];
    let e = refused(s.connect_target(&s.target(None, &vars)));
    assert!(e.contains("does not name the host"), "{e}");
    let mut vars = vars;
    vars[4] = ("PGSSLMODE", "verify-ca");
    encrypted(s.connect_target(&s.target(None, &vars)));
    let services = s.file("pg_service.conf");
    std::fs::write(
        &services,
        format!(
            "[tokens]\nhost=localhost\nport={port}\nuser=postgres\ndbname={}\nsslmode=verify-full\nsslrootcert={root}\n",
            s.db
        ),
    )
    .unwrap();
    let t = s.target(Some("service=tokens"), &[("PGSERVICEFILE", &services)]);
    encrypted(s.connect_target(&t));
    // the connection string wins over the service
    let t = s.target(
        Some("service=tokens sslmode=disable"),
        &[("PGSERVICEFILE", &services)],
    );
    plain(s.connect_target(&t));

    // ~/.postgresql/root.crt is the default root certificate: with it
    // verify-full needs no sslrootcert, and require verifies the chain.
    let home = s.certs.join("home");
    std::fs::create_dir_all(home.join(".postgresql")).unwrap();
    let home_root = home.join(".postgresql/root.crt");
    std::fs::copy(s.certs.join("ca.crt"), &home_root).unwrap();
    let home_s = home.display().to_string();
    let vars = [("HOME", home_s.as_str())];
    let dsn = s.dsn("localhost", "sslmode=verify-full");
    encrypted(s.connect_target(&s.target(Some(&dsn), &vars)));
    std::fs::copy(s.certs.join("other.crt"), &home_root).unwrap();
    let dsn = s.dsn("localhost", "sslmode=require");
    let e = refused(s.connect_target(&s.target(Some(&dsn), &vars)));
    assert!(e.contains("not signed by the root certificate"), "{e}");
    // prefer verifies too when the file exists, and falls back to plain
    // when that fails, as libpq does
    let dsn = s.dsn("localhost", "sslmode=prefer");
    plain(s.connect_target(&s.target(Some(&dsn), &vars)));
    std::fs::remove_file(&home_root).unwrap();

    // A client certificate, for cert authentication.
    s.hba("hostssl all all 127.0.0.1/32 cert");
    eventually("the cert-only pg_hba is in force", || {
        s.connect("127.0.0.1", "sslmode=require").is_err()
    });
    let e = refused(s.connect("127.0.0.1", "sslmode=require"));
    assert!(e.contains("certificate"), "{e}");
    let client = format!(
        "sslmode=require sslcert={} sslkey={}",
        s.file("client.crt"),
        s.file("client.key")
    );
    encrypted(s.connect("127.0.0.1", &client));
    // ...from ~/.postgresql/postgresql.crt and .key as well
    std::fs::copy(
        s.certs.join("client.crt"),
        home.join(".postgresql/postgresql.crt"),
    )
    .unwrap();
    let key = home.join(".postgresql/postgresql.key");
    std::fs::copy(s.certs.join("client.key"), &key).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dsn = s.dsn("127.0.0.1", "sslmode=require");
    encrypted(s.connect_target(&s.target(Some(&dsn), &vars)));
    // a key others may read is refused, as libpq does
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = refused(s.connect_target(&s.target(Some(&dsn), &vars)));
    assert!(e.contains("has group or world access"), "{e}");

    // hostssl only: disable fails clearly, allow moves on to TLS.
    s.hba("hostssl all all 127.0.0.1/32 trust");
    eventually("the hostssl-only pg_hba is in force", || {
        s.connect("127.0.0.1", "sslmode=disable").is_err()
    });
    let e = refused(s.connect("127.0.0.1", "sslmode=disable"));
    assert!(
        e.contains("no pg_hba.conf entry")
            && e.contains("no encryption")
            && e.contains("sslmode=disable does not use TLS"),
        "{e}"
    );
    encrypted(s.connect("127.0.0.1", "sslmode=allow"));
    encrypted(s.connect("127.0.0.1", "sslmode=prefer"));

    // hostnossl only: prefer falls back to plain, require fails.
    s.hba("hostnossl all all 127.0.0.1/32 trust");
    eventually("the hostnossl-only pg_hba is in force", || {
        s.connect("127.0.0.1", "sslmode=require").is_err()
    });
    plain(s.connect("127.0.0.1", "sslmode=prefer"));
    plain(s.connect("127.0.0.1", "sslmode=allow"));
    let e = refused(s.connect("127.0.0.1", "sslmode=require"));
    assert!(
        e.contains("no pg_hba.conf entry") && e.contains("sslmode=require insists on TLS"),
        "{e}"
    );
}

#[test]
fn require_fails_against_a_server_without_tls() {
    let cluster = Cluster::private("notls", "ssl = off\n");
    let dsn = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=require",
        cluster.port
    );
    let env = HashMap::from([("HOME", "/nonexistent")]);
    let e = resolve(Some(&dsn), &env)
        .unwrap()
        .connect()
        .err()
        .expect("a refusal");
    assert!(e.to_string().contains("does not accept TLS"), "{e}");
    let dsn = dsn.replace("require", "prefer");
    let mut client = resolve(Some(&dsn), &env).unwrap().connect().unwrap();
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!ssl, "prefer falls back to plain");
}
