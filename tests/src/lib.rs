//! Test harness: a project-local PostgreSQL 15 cluster of the tests' own, a
//! fresh database with the installed extension per test, and login roles
//! that connect as an application would, over a real client connection.
//!
//! The cluster lives outside the source tree (PostgreSQL refuses to run as
//! root, and a clone under /root is not readable by `postgres`), in
//! `$PG_TOKENS_TEST_DIR` or `/tmp/pg_tokens_tests`, on its own port and
//! socket directory. It is started on first use and left running for the
//! next test binary; `scripts/test.sh` stops it at the end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

pub use postgres::{Client, NoTls};

pub mod sql;

/// PostgreSQL's binaries.
pub fn pg_bin() -> PathBuf {
    std::env::var_os("PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

/// The major version of the server `c` is connected to (15, 18, ...).
pub fn server_major(c: &mut Client) -> u32 {
    let num: String = c
        .query_one("SELECT current_setting('server_version_num')", &[])
        .expect("server_version_num")
        .get(0);
    num.parse::<u32>().expect("a number") / 10_000
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command run as the cluster's OS user: `postgres` when we are root.
pub fn as_cluster_user(program: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub fn run(mut command: Command) -> Output {
    let shown = format!("{command:?}");
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub struct Cluster {
    pub dir: PathBuf,
    pub data: PathBuf,
    pub socket_dir: PathBuf,
    pub port: u16,
    /// Private clusters are stopped when dropped; the shared one runs on.
    private: bool,
}

/// Settings of the test cluster. `log_statement = all` and a verbose log
/// level let the at-rest test look for plaintext in the server log too;
/// bind parameters are kept out of the log as the README recommends. The
/// usage flush runs every second (default 5 s) so that the usage tests see
/// several flushes, and any double count, quickly.
const SETTINGS: &str = "
listen_addresses = ''
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
log_statement = 'all'
log_min_messages = 'debug1'
log_min_error_statement = 'debug1'
log_parameter_max_length = 0
log_parameter_max_length_on_error = 0
logging_collector = off
shared_preload_libraries = 'pg_tokens'
pg_tokens.flush_interval = 1000
";

impl Cluster {
    /// The cluster shared by every test of this process, started if needed.
    pub fn shared() -> &'static Cluster {
        static CLUSTER: OnceLock<Cluster> = OnceLock::new();
        CLUSTER.get_or_init(|| {
            let dir = std::env::var_os("PG_TOKENS_TEST_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/tmp/pg_tokens_tests"));
            let port = std::env::var("PG_TOKENS_TEST_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(55_432);
            let cluster = Cluster {
                data: dir.join("data"),
                socket_dir: dir.join("sock"),
                dir,
                port,
                private: false,
            };
            cluster.ensure_running(SETTINGS);
            cluster
        })
    }

    /// A cluster of one test's own (for replicas, crashes, preload
    /// settings), with `settings` appended to postgresql.conf. It listens on
    /// 127.0.0.1 too, on a free port, and is stopped when dropped.
    pub fn private(name: &str, settings: &str) -> Cluster {
        let cluster = Cluster::private_layout(name);
        cluster.ensure_running(&format!(
            "{SETTINGS}\nlisten_addresses = '127.0.0.1'\n{settings}\n"
        ));
        cluster
    }

    fn private_layout(name: &str) -> Cluster {
        let base = Cluster::shared().dir.join("private").join(unique(name));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        Cluster {
            data: base.join("data"),
            socket_dir: base.join("sock"),
            dir: base,
            port,
            private: true,
        }
    }

    /// A streaming hot standby of `primary`, made with pg_basebackup.
    pub fn replica_of(primary: &Cluster, name: &str) -> Cluster {
        let replica = Cluster::private_layout(name);
        replica.make_dirs();
        let mut backup = as_cluster_user(&pg_bin().join("pg_basebackup"));
        backup
            .arg("-h")
            .arg(&primary.socket_dir)
            .args([
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-X",
                "stream",
                "-c",
                "fast",
                "-R",
                "-D",
            ])
            .arg(&replica.data);
        run(backup);
        replica.start();
        replica
    }

    /// Waits until this standby has replayed everything `primary` has written.
    pub fn wait_for_replay(&self, primary: &Cluster) {
        let lsn: String = primary
            .connect("postgres", "postgres")
            .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
            .expect("primary LSN")
            .get(0);
        let mut standby = self.connect("postgres", "postgres");
        for _ in 0..600 {
            let done: bool = standby
                .query_one(
                    "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                    &[&lsn],
                )
                .expect("standby LSN")
                .get(0);
            if done {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the standby did not replay {lsn} within 30 s");
    }

    pub fn stop(&self) {
        self.stop_with("fast");
    }

    /// `pg_ctl stop -m <mode>` (smart, fast or immediate), waiting for it.
    pub fn stop_with(&self, mode: &str) {
        let mut stop = as_cluster_user(&pg_bin().join("pg_ctl"));
        stop.args(["stop", "-m", mode, "-w", "-D"]).arg(&self.data);
        let _ = stop.output();
    }

    /// `kill -9` of the postmaster and, at once, of every process it
    /// started, as a power cut would leave the server: no shutdown
    /// checkpoint, no exit hooks, no backend left to finish its work (a
    /// backend busy with a client does not look for its postmaster until it
    /// waits). `restart_after_crash` then starts it again (crash recovery).
    pub fn kill_postmaster(&self) {
        let pid_file = std::fs::read_to_string(self.data.join("postmaster.pid"))
            .expect("postmaster.pid of a running cluster");
        let pid = pid_file
            .lines()
            .next()
            .expect("the postmaster's pid")
            .trim()
            .to_owned();
        let children: Vec<String> = std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter_map(|e| {
                let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
                // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
                let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
                (ppid == pid).then(|| e.file_name().to_string_lossy().into_owned())
            })
            .collect();
        let mut kill = Command::new("kill");
        kill.arg("-9").arg(&pid).args(&children);
        let _ = kill.output();
    }

    /// Start a cluster whose postmaster was killed: retried until the killed
    /// postmaster's children have exited (at most 60 s).
    pub fn restart_after_crash(&self) {
        for _ in 0..120 {
            if self
                .pg_ctl_start()
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        panic!(
            "the cluster in {} did not restart after the crash",
            self.data.display()
        );
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    fn ensure_running(&self, settings: &str) {
        if !self.data.join("PG_VERSION").exists() {
            self.init(settings);
        }
        self.start();
    }

    pub fn start(&self) {
        let status = as_cluster_user(&pg_bin().join("pg_ctl"))
            .arg("status")
            .arg("-D")
            .arg(&self.data)
            .output()
            .expect("pg_ctl status");
        if !status.status.success() {
            run(self.pg_ctl_start());
        }
    }

    /// `pg_ctl start` of this cluster, on its port and socket directory.
    fn pg_ctl_start(&self) -> Command {
        let mut start = as_cluster_user(&pg_bin().join("pg_ctl"));
        start
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(self.log_file())
            .arg("-o")
            .arg(format!("-p {} -k {}", self.port, self.socket_dir.display()));
        start
    }

    fn make_dirs(&self) {
        std::fs::create_dir_all(&self.socket_dir).expect("create the test cluster's directory");
        if running_as_root() {
            let mut chown = Command::new("chown");
            chown.args(["-R", "postgres:postgres"]).arg(&self.dir);
            run(chown);
        }
    }

    fn init(&self, settings: &str) {
        self.make_dirs();
        let mut initdb = as_cluster_user(&pg_bin().join("initdb"));
        initdb
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "-D",
            ])
            .arg(&self.data);
        run(initdb);
        let conf = self.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text.push_str(settings);
        std::fs::write(&conf, text).expect("write postgresql.conf");
    }

    pub fn connect(&self, user: &str, dbname: &str) -> Client {
        self.try_connect(user, dbname)
            .unwrap_or_else(|e| panic!("connect as {user} to {dbname}: {e:?}"))
    }

    /// A TCP connection from 127.0.0.1 (private clusters listen there).
    pub fn connect_tcp(&self, user: &str, dbname: &str) -> Client {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(user)
            .dbname(dbname)
            .connect(NoTls)
            .unwrap_or_else(|e| panic!("connect over TCP as {user} to {dbname}: {e:?}"))
    }

    pub fn try_connect(&self, user: &str, dbname: &str) -> Result<Client, postgres::Error> {
        postgres::Config::new()
            .host_path(&self.socket_dir)
            .port(self.port)
            .user(user)
            .dbname(dbname)
            .application_name("pg_tokens_tests")
            .connect(NoTls)
    }

    /// A new database with the extension installed, for one test.
    pub fn database(&self) -> Db<'_> {
        self.database_with("CREATE EXTENSION pg_tokens")
    }

    /// A new database, set up by `setup` (run as superuser).
    pub fn database_with(&self, setup: &str) -> Db<'_> {
        let name = unique("db");
        let mut admin = self.connect("postgres", "postgres");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");
        let db = Db {
            cluster: self,
            name,
        };
        db.admin()
            .batch_execute(setup)
            .unwrap_or_else(|e| panic!("{setup}: {e}"));
        db
    }

    /// `pg_ctl`-style command against this cluster (psql, pg_dump, ...).
    pub fn client_tool(&self, tool: &str) -> Command {
        let mut c = Command::new(pg_bin().join(tool));
        c.arg("-h")
            .arg(&self.socket_dir)
            .arg("-p")
            .arg(self.port.to_string());
        c
    }
}

/// A name unique across this test process and concurrent ones.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos % 100_000
    )
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.private {
            self.stop();
            if !std::thread::panicking() {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }
    }
}

/// One test's database.
pub struct Db<'c> {
    pub cluster: &'c Cluster,
    pub name: String,
}

impl Db<'_> {
    /// A superuser connection, for setup and for looking behind the API.
    pub fn admin(&self) -> Client {
        self.cluster.connect("postgres", &self.name)
    }

    pub fn connect(&self, role: &str) -> Client {
        self.cluster.connect(role, &self.name)
    }

    /// A new LOGIN role (not a superuser) that is a member of `grants`.
    pub fn login_role(&self, grants: &[&str]) -> String {
        let role = unique("app");
        let mut sql = format!("CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;");
        for g in grants {
            sql.push_str(&format!("GRANT {g} TO {role};"));
        }
        self.admin()
            .batch_execute(&sql)
            .expect("create a login role");
        role
    }

    /// A login role with `grants`, connected.
    pub fn client(&self, grants: &[&str]) -> (String, Client) {
        let role = self.login_role(grants);
        let client = self.connect(&role);
        (role, client)
    }

    /// `pg_dump -Fc` of this database restored with `pg_restore` into a new
    /// database of the same cluster; returns the new database's name.
    pub fn dump_and_restore(&self) -> String {
        let dump = std::env::temp_dir().join(format!("{}.dump", unique("pg_tokens")));
        let mut pg_dump = self.cluster.client_tool("pg_dump");
        pg_dump
            .args(["-U", "postgres", "-Fc", "-f"])
            .arg(&dump)
            .arg(&self.name);
        run(pg_dump);
        let restored = unique("restored");
        self.cluster
            .connect("postgres", "postgres")
            .batch_execute(&format!("CREATE DATABASE {restored}"))
            .expect("create the restore target");
        let mut pg_restore = self.cluster.client_tool("pg_restore");
        pg_restore
            .args(["-U", "postgres", "--exit-on-error", "-d", &restored])
            .arg(&dump);
        run(pg_restore);
        let _ = std::fs::remove_file(&dump);
        restored
    }

    /// Rows in the token table and the audit log: what "nothing written" is
    /// measured by.
    pub fn counts(&self) -> (i64, i64) {
        let row = self
            .admin()
            .query_one(
                "SELECT (SELECT count(*) FROM tokens.token_store), (SELECT count(*) FROM tokens.audit_store)",
                &[],
            )
            .expect("count rows");
        (row.get(0), row.get(1))
    }
}

impl Drop for Db<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return; // keep the database of a failed test for inspection
        }
        if let Ok(mut admin) = self.cluster.try_connect("postgres", "postgres") {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Polls `check` until it holds, for at most 15 s (usage and last use are
/// written by the background flush, promised within 10 s).
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(15) {
        if check() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{what}: not so after 15 s");
}

/// The SQLSTATE of a failed call, or "" when it succeeded or failed without
/// one.
pub fn sqlstate<T>(result: &Result<T, postgres::Error>) -> String {
    match result {
        Ok(_) => String::new(),
        Err(e) => e.code().map(|c| c.code().to_owned()).unwrap_or_default(),
    }
}

/// The server's message of a failed call.
pub fn message<T>(result: &Result<T, postgres::Error>) -> String {
    match result {
        Ok(_) => String::new(),
        Err(e) => e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_else(|| e.to_string()),
    }
}

/// The server's DETAIL of a failed call (empty when it gave none).
pub fn detail<T>(result: &Result<T, postgres::Error>) -> String {
    match result {
        Ok(_) => String::new(),
        Err(e) => e
            .as_db_error()
            .and_then(|d| d.detail())
            .unwrap_or_default()
            .to_owned(),
    }
}
