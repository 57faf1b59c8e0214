//! End to end: the real binary in tmux against the test cluster, driven by
//! keystrokes and read from the screen as a user would.

use std::process::Command;
use std::time::{Duration, Instant};

use pg_tokens_tests::{unique, Cluster, Db};

/// The console in a tmux session of its own. Dropping it (also when a test
/// panics) kills the tmux server and then the console process itself, so a
/// console that survived its terminal is never left behind.
struct Tmux {
    socket: String,
    session: String,
    /// Set in the console's environment, to find its process.
    tag: String,
    pid: std::cell::Cell<Option<u32>>,
}

impl Tmux {
    fn start(db: &Db, role: &str) -> Tmux {
        Tmux::start_with(db, role, "")
    }

    /// `env` (`NAME=value ...`) is set in the console's environment.
    fn start_with(db: &Db, role: &str, env: &str) -> Tmux {
        let socket = unique("tc");
        let session = "console".to_owned();
        let tag = format!("TOKENS_CONSOLE_E2E={socket}");
        let dsn = format!(
            "host={} port={} user={} dbname={}",
            db.cluster.socket_dir.display(),
            db.cluster.port,
            role,
            db.name
        );
        let bin = env!("CARGO_BIN_EXE_tokens-console");
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                "150",
                "-y",
                "40",
            ])
            .arg(format!(
                "env {tag} {env} {bin} --dsn '{dsn}'; echo CONSOLE-EXITED $?; sleep 60"
            ))
            .env("TERM", "xterm-256color")
            .status()
            .expect("run tmux");
        let tmux = Tmux {
            socket,
            session,
            tag,
            pid: std::cell::Cell::new(None),
        };
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    /// The console's process id, found by the tag in its environment.
    fn find_pid(&self) -> Option<u32> {
        if let Some(p) = self.pid.get() {
            return Some(p);
        }
        let found = std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            (comm.trim() == "tokens-console"
                && environ.split(|b| *b == 0).any(|v| v == self.tag.as_bytes()))
            .then_some(pid)
        });
        self.pid.set(found);
        found
    }

    fn pid(&self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(p) = self.find_pid() {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "no tokens-console process with {}",
                self.tag
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill_session(&self) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "kill-session", "-t", &self.session])
            .status()
            .expect("tmux kill-session");
        assert!(status.success(), "tmux kill-session failed");
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-t",
                &self.session,
            ])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let status = Command::new("tmux")
                .args(["-L", &self.socket, "send-keys", "-t", &self.session, k])
                .status()
                .expect("tmux send-keys");
            assert!(status.success());
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Pastes `s` as the terminal would: bracketed (`-p`) when the
    /// console asked for it.
    fn paste(&self, s: &str) {
        for args in [
            vec!["set-buffer", "-b", "e2e", "--", s],
            vec!["paste-buffer", "-p", "-d", "-b", "e2e", "-t", &self.session],
        ] {
            let status = Command::new("tmux")
                .args(["-L", &self.socket])
                .args(&args)
                .status()
                .expect("tmux paste");
            assert!(status.success(), "tmux {args:?}");
        }
        std::thread::sleep(Duration::from_millis(60));
    }

    fn text(&self, s: &str) {
        let status = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "send-keys",
                "-l",
                "-t",
                &self.session,
                // Text that starts with '-' is not an option.
                "--",
                s,
            ])
            .status()
            .expect("tmux send-keys -l");
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(60));
    }

    /// Waits until the screen satisfies `pred`; fails with the screen.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let pid = self.find_pid();
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
        if let Some(pid) = pid {
            // It should be gone with its terminal; if not, make sure.
            let deadline = Instant::now() + Duration::from_secs(3);
            while running(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if running(pid) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

/// The process exists and has not exited (a zombie has).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// CPU time (user + system) the process has used so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .expect("the console's /proc/<pid>/stat");
    let (_, rest) = stat.rsplit_once(')').expect("a stat line");
    // fields after the command: state is field 3, utime 14, stime 15
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime");
    let out = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf CLK_TCK");
    let hz: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(100);
    Duration::from_millis(ticks * 1000 / hz)
}

/// Transactions committed in the database so far (every statement the
/// console sends is one, the idle check's empty query included). Read over
/// a connection to another database so reading adds nothing; backends
/// report these at most about once a second.
/// The backends of `role`'s sessions in `db` (the console's).
fn backends_of(db: &Db, role: &str) -> Vec<i32> {
    db.cluster
        .connect("postgres", "postgres")
        .query(
            "SELECT pid FROM pg_catalog.pg_stat_activity WHERE usename = $1 AND datname = $2",
            &[&role, &db.name],
        )
        .expect("pg_stat_activity")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// CPU time and statements of the console over `window` while nobody
/// touches it. Statements are counted in the server log (the test cluster
/// logs every one), by the backend pids of the console's sessions: exact,
/// unlike the database's commit counter, which backends report late and
/// which other sessions and the usage flush add to.
fn idle_cost(db: &Db, role: &str, pid: u32, window: Duration) -> (Duration, i64) {
    let log = db.cluster.log_file();
    let from = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let cpu0 = cpu_time(pid);
    std::thread::sleep(window);
    let cpu = cpu_time(pid).saturating_sub(cpu0);
    let backends: Vec<String> = backends_of(db, role)
        .iter()
        .map(|p| format!("[{p}] "))
        .collect();
    let text = std::fs::read(&log).unwrap_or_default();
    let window_text =
        String::from_utf8_lossy(&text[(from as usize).min(text.len())..]).into_owned();
    let statements = window_text
        .lines()
        .filter(|l| backends.iter().any(|b| l.contains(b.as_str())))
        .filter(|l| l.contains("LOG:  statement: ") || l.contains("LOG:  execute "))
        .count() as i64;
    (cpu, statements)
}

fn plaintext_on(screen: &str) -> Option<String> {
    screen
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .find_map(|w| (w.starts_with("tbm_") && w.len() == 36).then(|| w.to_owned()))
}

fn verify(db: &Db, token: &str) -> (bool, String) {
    let row = db
        .admin()
        .query_one("SELECT valid, status FROM tokens.verify($1)", &[&token])
        .expect("verify");
    (row.get(0), row.get(1))
}

/// Runs a subcommand as `role` with `stdin`: (success, stdout, stderr).
fn console(db: &Db, role: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    let (code, out, err) = console_env(db, role, args, stdin, &[]);
    (code == Some(0), out, err)
}

/// The same with `env` set: (exit code, stdout, stderr).
fn console_env(
    db: &Db,
    role: &str,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    use std::io::Write;
    let dsn = format!(
        "host={} port={} user={} dbname={}",
        db.cluster.socket_dir.display(),
        db.cluster.port,
        role,
        db.name
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokens-console"))
        .args(["--dsn", &dsn])
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tokens-console");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn create_through_the_form_then_revoke_in_the_console() {
    let db = Cluster::shared().database();
    let role = db.login_role(&["tokens_reader", "tokens_writer", "tokens_revoker"]);
    let tmux = Tmux::start(&db, &role);
    tmux.wait_for("the empty list", |s| s.contains("No tokens yet"));

    tmux.keys(&["n"]);
    tmux.wait_for("the create form", |s| s.contains("New token"));
    tmux.text("e2e deploy bot");
    tmux.keys(&["Tab", "Tab", "Tab"]); // kind, owner (empty: me), scopes
    tmux.text("deploy, read");
    tmux.keys(&["Enter"]);
    let card = tmux.wait_for("the once-only card", |s| {
        s.contains("cannot be shown again")
    });
    let token = plaintext_on(&card).unwrap_or_else(|| panic!("no plaintext on the card:\n{card}"));
    assert_eq!(verify(&db, &token), (true, "valid".to_owned()));
    let row = db
        .admin()
        .query_one(
            "SELECT name, owner, scopes FROM tokens.tokens WHERE prefix = $1",
            &[&&token[..12]],
        )
        .expect("the minted row");
    assert_eq!(row.get::<_, String>(0), "e2e deploy bot");
    assert_eq!(row.get::<_, String>(1), role);
    assert_eq!(
        row.get::<_, Option<Vec<String>>>(2),
        Some(vec!["deploy".to_owned(), "read".to_owned()])
    );

    tmux.keys(&["Enter"]);
    let list = tmux.wait_for("the list with the token", |s| {
        s.contains(&token[..12]) && !s.contains("cannot be shown again")
    });
    assert!(
        !list.contains(&token),
        "the plaintext must be gone once the card is closed:\n{list}"
    );

    tmux.keys(&["x"]);
    tmux.wait_for("the revoke confirmation", |s| s.contains("Revoke token?"));
    tmux.text("e2e test");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the revoked status", |s| {
        s.contains("revoked") && !s.contains("Revoke token?")
    });
    assert_eq!(verify(&db, &token), (false, "revoked".to_owned()));
    let reason: serde_json::Value = db
        .admin()
        .query_one(
            "SELECT meta FROM tokens.audit_log WHERE action = 'token.revoke' AND target = 'token:' || (SELECT id FROM tokens.tokens WHERE prefix = $1)",
            &[&&token[..12]],
        )
        .expect("the revoke's audit row")
        .get(0);
    assert_eq!(reason["reason"], "e2e test");

    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", |s| s.contains("CONSOLE-EXITED 0"));
}

#[test]
fn owner_only_refusal_is_shown_plainly() {
    let db = Cluster::shared().database();
    db.admin()
        .batch_execute("SELECT tokens.mint('someone elses', owner => 'group:other')")
        .expect("mint a token for another owner");
    // revoke granted, but neither revoker nor writer: no "act for owner"
    let role = db.login_role(&["tokens_reader", "tokens_self_service"]);
    let tmux = Tmux::start(&db, &role);
    tmux.wait_for("the token", |s| s.contains("someone elses"));
    tmux.keys(&["x"]);
    let dialog = tmux.wait_for("the confirmation", |s| s.contains("Revoke token?"));
    assert!(dialog.contains("the server will refuse"), "{dialog}");
    assert!(
        !dialog.contains("act for owner"),
        "act for owner is only for tokens_revoker/tokens_writer:\n{dialog}"
    );
    tmux.keys(&["Enter"]);
    let refused = tmux.wait_for("the refusal", |s| s.contains("Refused by the server"));
    assert!(refused.contains("42501"), "{refused}");
    tmux.keys(&["Escape", "q"]);
}

#[test]
fn lost_connection_shows_a_banner_and_recovers() {
    let db = Cluster::shared().database();
    let role = db.login_role(&["tokens_reader", "tokens_writer"]);
    db.admin()
        .batch_execute("SELECT tokens.mint('before the outage')")
        .expect("mint");
    let tmux = Tmux::start(&db, &role);
    tmux.wait_for("the list", |s| s.contains("before the outage"));

    // Keep it down until we have seen the banner: no login, backend killed.
    let mut admin = db.admin();
    admin
        .batch_execute(&format!("ALTER ROLE {role} NOLOGIN"))
        .expect("nologin");
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1 AND datname = $2",
            &[&role, &db.name],
        )
        .expect("terminate")
        .get(0);
    assert_eq!(killed, 1, "the console's backend");
    // the banner, with the rows still on screen (read once the redraw is whole)
    tmux.wait_for("the banner over the rows", |s| {
        s.contains("CONNECTION LOST") && s.contains("before the outage")
    });
    tmux.wait_for("a reconnect attempt", |s| s.contains("attempt 2"));
    // the UI still answers keys while the server is gone
    tmux.keys(&["?"]);
    tmux.wait_for("the help overlay", |s| s.contains("Help"));
    tmux.keys(&["Escape"]);

    admin
        .batch_execute(&format!("ALTER ROLE {role} LOGIN"))
        .expect("login");
    admin
        .batch_execute("SELECT tokens.mint('during the outage')")
        .expect("mint");
    // views are reloaded on reconnect: the token minted meanwhile appears
    tmux.wait_for("the recovery", |s| {
        !s.contains("CONNECTION LOST")
            && s.contains("reconnected")
            && s.contains("during the outage")
    });
    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", |s| s.contains("CONSOLE-EXITED 0"));
}

#[test]
fn an_idle_console_sleeps_on_the_list_and_in_follow_mode() {
    let db = Cluster::shared().database();
    db.admin()
        .batch_execute("SELECT tokens.mint('idle ' || g) FROM generate_series(1, 3) g")
        .expect("mint");
    let role = db.login_role(&["tokens_reader", "tokens_writer"]);
    let tmux = Tmux::start(&db, &role);
    tmux.wait_for("the list", |s| s.contains("idle 3"));
    let pid = tmux.pid();
    // Let the first frame's statements reach the statistics.
    std::thread::sleep(Duration::from_secs(3));
    let (cpu, statements) = idle_cost(&db, &role, pid, Duration::from_secs(5));
    assert!(
        cpu < Duration::from_millis(500),
        "idle on the list for 5 s, the console used {cpu:?} of CPU"
    );
    assert!(
        statements <= 10,
        "idle on the list for 5 s, the console ran {statements} statements"
    );

    tmux.keys(&["2"]);
    tmux.wait_for("the audit log", |s| s.contains("token.create"));
    tmux.keys(&["f"]);
    tmux.wait_for("follow mode", |s| s.contains("follow: new audit events"));
    std::thread::sleep(Duration::from_secs(3));
    let (cpu, statements) = idle_cost(&db, &role, pid, Duration::from_secs(5));
    assert!(
        cpu < Duration::from_millis(500),
        "following the audit log for 5 s, the console used {cpu:?} of CPU"
    );
    assert!(
        statements <= 10,
        "following the audit log for 5 s, the console ran {statements} statements"
    );
    // and follow mode still works: a new event shows up
    db.admin()
        .batch_execute("SELECT tokens.mint('new')")
        .expect("mint");
    tmux.wait_for("the new event", |s| s.contains("\"name\":\"new\""));

    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", |s| s.contains("CONSOLE-EXITED 0"));
}

#[test]
fn the_console_exits_when_its_terminal_goes_away() {
    let db = Cluster::shared().database();
    let role = db.login_role(&["tokens_reader", "tokens_writer"]);
    let tmux = Tmux::start(&db, &role);
    tmux.wait_for("the list", |s| s.contains("No tokens yet"));
    let pid = tmux.pid();
    // in follow mode, the busiest idle state
    tmux.keys(&["2", "f"]);
    tmux.wait_for("follow mode", |s| s.contains("follow: new audit events"));
    tmux.kill_session();
    let deadline = Instant::now() + Duration::from_secs(3);
    while running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !running(pid),
        "the console (pid {pid}) is still running 3 s after its tmux session was killed"
    );
    // and its backend is gone too
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let backends: i64 = db
            .cluster
            .connect("postgres", "postgres")
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE usename = $1",
                &[&role],
            )
            .expect("pg_stat_activity")
            .get(0);
        if backends == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the console's backend is still there 3 s after it exited"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn set_a_rate_limit_in_the_detail_pane_and_watch_usage() {
    let db = Cluster::shared().database();
    let token: String = db
        .admin()
        .query_one("SELECT token FROM tokens.mint('e2e limited bot')", &[])
        .expect("mint")
        .get(0);
    let role = db.login_role(&["tokens_reader", "tokens_writer"]);
    let tmux = Tmux::start(&db, &role);
    tmux.wait_for("the list", |s| s.contains("e2e limited bot"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the detail pane", |s| {
        s.contains("Usage & limits") && s.contains("rate limit none") && s.contains("anywhere")
    });

    tmux.keys(&["L"]);
    tmux.wait_for("the rate-limit form", |s| s.contains("Rate limit"));
    tmux.text("lots");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the form's own check", |s| s.contains("whole number"));
    tmux.keys(&["BSpace", "BSpace", "BSpace", "BSpace"]);
    tmux.text("0");
    tmux.keys(&["Enter"]);
    let refused = tmux.wait_for("the server's refusal in the form", |s| {
        s.contains("Refused by the server")
    });
    assert!(refused.contains("22023"), "{refused}");
    tmux.keys(&["BSpace"]);
    tmux.text("100");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the new limit on the detail pane", |s| {
        s.contains("100 / 1 min") && !s.contains("Refused by the server")
    });
    let row = db
        .admin()
        .query_one(
            "SELECT rate_limit_requests, rate_limit_per = interval '1 minute' FROM tokens.tokens WHERE prefix = $1",
            &[&&token[..12]],
        )
        .expect("the token's row");
    assert_eq!(row.get::<_, Option<i32>>(0), Some(100));
    assert_eq!(row.get::<_, Option<bool>>(1), Some(true));
    let audited: i64 = db
        .admin()
        .query_one(
            "SELECT count(*) FROM tokens.audit_log WHERE action = 'token.rate_limit' AND db_role = $1",
            &[&role],
        )
        .expect("the audit row")
        .get(0);
    assert_eq!(audited, 1, "one set_rate_limit call, audited");

    // three verifications reach the chart's totals (flushed within ~10 s)
    for _ in 0..3 {
        assert_eq!(verify(&db, &token), (true, "valid".to_owned()));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = tmux.screen();
        if s.contains("3 verified") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the usage never showed 3 verifications:\n{s}"
        );
        tmux.keys(&["r"]);
        std::thread::sleep(Duration::from_secs(1));
    }
    tmux.keys(&["u"]);
    tmux.wait_for("the hour by minute", |s| {
        s.contains("last 60 min, per minute") && s.contains("3 verified")
    });

    // the allowlist too, and cleared again
    tmux.keys(&["I"]);
    tmux.wait_for("the allowlist form", |s| s.contains("IP allowlist"));
    tmux.text("10.0.0.0/8, 127.0.0.1/32");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the allowlist on the pane", |s| {
        s.contains("10.0.0.0/8, 127.0.0.1/32") && !s.contains("IP allowlist ")
    });
    let allowed: Option<Vec<String>> = db
        .admin()
        .query_one(
            "SELECT allowed_ips::text[] FROM tokens.tokens WHERE prefix = $1",
            &[&&token[..12]],
        )
        .expect("the token's row")
        .get(0);
    assert_eq!(
        allowed,
        Some(vec!["10.0.0.0/8".to_owned(), "127.0.0.1/32".to_owned()])
    );

    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", |s| s.contains("CONSOLE-EXITED 0"));
}

#[test]
fn usage_the_role_may_not_read_is_said_plainly() {
    let db = Cluster::shared().database();
    // A database whose administrator withheld tokens.usage from readers:
    // the role sees the token, and the server refuses its usage (42501).
    db.admin()
        .batch_execute(
            "REVOKE EXECUTE ON FUNCTION tokens.usage(uuid, timestamptz, interval) FROM tokens_reader;
             SELECT tokens.mint('usage withheld');",
        )
        .expect("revoke usage, mint");
    let role = db.login_role(&["tokens_reader"]);
    let tmux = Tmux::start(&db, &role);
    tmux.wait_for("the list", |s| s.contains("usage withheld"));
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("the refusal in place of the chart", |s| {
        s.contains("usage: not visible to you")
    });
    assert!(!s.contains("42501"), "no error banner:\n{s}");
    assert!(
        !s.contains("L rate limit"),
        "a reader is not offered limits:\n{s}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", |s| s.contains("CONSOLE-EXITED 0"));
}

#[test]
fn paste_a_leak_and_revoke_every_live_token_for_its_owner() {
    let db = Cluster::shared().database();
    let mint = |name: &str, owner: &str| -> (String, String) {
        let row = db
            .admin()
            .query_one(
                "SELECT token, id::text FROM tokens.mint($1, owner => $2)",
                &[&name, &owner],
            )
            .expect("mint");
        (row.get(0), row.get(1))
    };
    let (a, a_id) = mint("leaked deploy bot", "group:alpha");
    let (b, b_id) = mint("leaked exporter", "group:beta");
    let (_, kept_id) = mint("not in the text", "group:alpha");
    // a disabled token is still a credential (it could be enabled again)
    db.admin()
        .execute("SELECT tokens.disable($1::text::uuid)", &[&b_id])
        .expect("disable b");
    // reader to check, revoker to revoke for the owners (not the owner of either)
    let role = db.login_role(&["tokens_reader", "tokens_revoker"]);
    let tmux = Tmux::start(&db, &role);
    tmux.wait_for("the list", |s| s.contains("leaked exporter"));

    tmux.keys(&["3"]);
    tmux.wait_for("the leak screen", |s| s.contains("Text to check"));
    let log = format!(
        "11:58:01 POST /deploy Authorization: Bearer {a}\n11:58:02\tretry with {b} from .env\nnot one: tbm_short\n"
    );
    tmux.paste(&log);
    // One bracketed paste, tab and all: as keys, the tab would have left
    // the text area and the rest would have been commands.
    let size = format!(
        "{} characters, 3 lines pasted (not shown)",
        log.chars().count()
    );
    let pasted = tmux.wait_for("the size of the paste", |s| s.contains(&size));
    assert_eq!(
        plaintext_on(&pasted),
        None,
        "the paste is not shown:\n{pasted}"
    );
    tmux.keys(&["C-s"]);
    let found = tmux.wait_for("both tokens, one active, one disabled", |s| {
        s.contains("Tokens found: 2 · 1 active · 1 disabled")
            && s.contains(&a[..12])
            && s.contains(&b[..12])
    });
    assert_eq!(plaintext_on(&found), None, "{found}");
    assert!(found.contains(&a_id) && found.contains(&b_id), "{found}");
    assert!(
        found.contains("group:alpha") && found.contains("group:beta"),
        "{found}"
    );

    tmux.keys(&["X"]);
    let dialog = tmux.wait_for("the confirmation", |s| {
        s.contains("Revoke every live leaked token?")
    });
    assert!(
        dialog.contains("2 live tokens (active or disabled)"),
        "{dialog}"
    );
    assert!(dialog.contains(&format!("db_role = {role}")), "{dialog}");
    tmux.keys(&["Enter"]);
    let done = tmux.wait_for("the summary and the new statuses", |s| {
        s.contains("revoked 2 · already revoked 0 · errors 0")
            && s.contains("Tokens found: 2 · 2 revoked")
    });
    assert_eq!(plaintext_on(&done), None, "{done}");
    assert_eq!(verify(&db, &a), (false, "revoked".to_owned()));
    assert_eq!(verify(&db, &b), (false, "revoked".to_owned()));

    let rows = db
        .admin()
        .query(
            "SELECT target, actor, db_role, meta->>'reason' FROM tokens.audit_log WHERE action = 'token.revoke' ORDER BY id",
            &[],
        )
        .expect("the revoke audit rows");
    let got: Vec<(String, String, String, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let leak = Some("leak".to_owned());
    assert_eq!(
        got,
        [
            (
                format!("token:{a_id}"),
                "group:alpha".to_owned(),
                role.clone(),
                leak.clone()
            ),
            (
                format!("token:{b_id}"),
                "group:beta".to_owned(),
                role.clone(),
                leak
            ),
        ],
        "two revokes, each for its owner, by this role, reason leak"
    );
    let kept: String = db
        .admin()
        .query_one(
            "SELECT status FROM tokens.tokens WHERE id = $1::text::uuid",
            &[&kept_id],
        )
        .expect("the token not in the text")
        .get(0);
    assert_eq!(kept, "active", "only the tokens in the text are revoked");

    // Leaving the screen wipes the text: nothing left to check again.
    tmux.keys(&["1", "3", "r"]);
    tmux.wait_for("the wiped text", |s| s.contains("paste it again"));
    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", |s| s.contains("CONSOLE-EXITED 0"));

    // The subcommand: the same text on stdin, the table on stdout, never the text.
    let dsn = format!(
        "host={} port={} user={} dbname={}",
        db.cluster.socket_dir.display(),
        db.cluster.port,
        role,
        db.name
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokens-console"))
        .args(["--dsn", &dsn, "leaks", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tokens-console leaks");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(log.as_bytes()).expect("write the text");
    }
    let out = child.wait_with_output().expect("leaks output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    for shown in [&stdout, &stderr] {
        assert!(
            !shown.contains(&a) && !shown.contains(&b),
            "the text is never echoed: {shown}"
        );
    }
    let rows: serde_json::Value = serde_json::from_str(&stdout).expect("JSON rows");
    let mut statuses: Vec<(String, String)> = rows
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| {
            (
                r["prefix"].as_str().unwrap_or("").to_owned(),
                r["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    statuses.sort();
    let mut expected = vec![
        (a[..12].to_owned(), "revoked".to_owned()),
        (b[..12].to_owned(), "revoked".to_owned()),
    ];
    expected.sort();
    assert_eq!(statuses, expected);
}

#[test]
fn disable_enable_and_set_meta_from_the_console() {
    let db = Cluster::shared().database();
    let token: String = db
        .admin()
        .query_one("SELECT token FROM tokens.mint('e2e pausable bot')", &[])
        .expect("mint")
        .get(0);
    let prefix = token[..12].to_owned();
    let status = || -> String {
        db.admin()
            .query_one(
                "SELECT status FROM tokens.tokens WHERE prefix = $1",
                &[&prefix],
            )
            .expect("the token's row")
            .get(0)
    };
    let audited = |action: &str, role: &str| -> i64 {
        db.admin()
            .query_one(
                "SELECT count(*) FROM tokens.audit_log WHERE action = $1 AND db_role = $2",
                &[&action, &role],
            )
            .expect("the audit rows")
            .get(0)
    };
    let role = db.login_role(&["tokens_reader", "tokens_writer"]);
    let tmux = Tmux::start(&db, &role);
    tmux.wait_for("the list", |s| s.contains("e2e pausable bot"));

    // disable from the list, after a confirmation that names the token
    tmux.keys(&["d"]);
    tmux.wait_for("the confirmation", |s| {
        s.contains("Disable token?")
            && s.contains(&format!("Disable {prefix} \"e2e pausable bot\""))
            && s.contains("verify will answer `disabled`")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("the notice and the list's status", |s| {
        s.contains(&format!("disabled {prefix}"))
            && s.lines()
                .any(|l| l.contains(&prefix) && l.contains("disabled"))
    });
    assert_eq!(status(), "disabled");
    assert_eq!(verify(&db, &token), (false, "disabled".to_owned()));
    assert_eq!(audited("token.disable", &role), 1);

    // the detail says since when; d there enables it again
    tmux.keys(&["Enter"]);
    tmux.wait_for("the detail pane", |s| {
        s.contains("disabled since") && s.contains("token.disable")
    });
    tmux.keys(&["d"]);
    tmux.wait_for("the enable confirmation", |s| s.contains("Enable token?"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("enabled", |s| {
        s.contains(&format!("enabled {prefix}")) && s.contains("token.enable")
    });
    assert_eq!(status(), "active");
    assert_eq!(verify(&db, &token), (true, "valid".to_owned()));
    assert_eq!(audited("token.enable", &role), 1);

    // meta: the form checks the JSON, then the server gets it
    tmux.keys(&["M"]);
    tmux.wait_for("the meta form", |s| s.contains(" Meta "));
    tmux.text("[1]");
    tmux.keys(&["C-s"]);
    tmux.wait_for("the form's own check", |s| s.contains("not an array"));
    tmux.keys(&["C-u"]);
    tmux.text("{\"plan\": \"pro\",");
    tmux.keys(&["Enter"]);
    tmux.text(" \"seats\": 5}");
    tmux.keys(&["C-s"]);
    tmux.wait_for("the meta on the detail pane", |s| {
        s.contains(&format!("meta of {prefix} set"))
            && s.contains(r#"{"plan":"pro","seats":5}"#)
            && s.contains("last set")
    });
    let meta: String = db
        .admin()
        .query_one("SELECT (tokens.verify($1)).meta::text", &[&token])
        .expect("verify")
        .get(0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&meta).expect("json"),
        serde_json::json!({"plan": "pro", "seats": 5})
    );
    assert_eq!(audited("token.meta", &role), 1);
    let screen = tmux.screen();
    assert!(plaintext_on(&screen).is_none(), "no plaintext on screen");

    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", |s| s.contains("CONSOLE-EXITED 0"));

    // the same through the subcommands
    let cli = |args: &[&str], stdin: &str| console(&db, &role, args, stdin);
    let (ok, out, err) = cli(&["disable", &prefix, "--json"], "");
    assert!(ok, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["disabled"], serde_json::json!(true), "{out}");
    assert_eq!(verify(&db, &token), (false, "disabled".to_owned()));
    let (ok, out, _) = cli(&["disable", &prefix], "");
    assert!(ok && out.contains("already disabled"), "{out}");
    let (ok, out, err) = cli(&["show", &prefix], "");
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("disabled at") && l.contains("UTC")),
        "{out}"
    );
    let (ok, out, err) = cli(&["enable", &prefix], "");
    assert!(ok && out.starts_with("enabled "), "{out}{err}");
    assert_eq!(verify(&db, &token), (true, "valid".to_owned()));
    let (ok, _, err) = cli(&["set-meta", &prefix, "--json-file", "-"], "[1, 2]");
    assert!(!ok && err.contains("not an array"), "{err}");
    let (ok, _, err) = cli(
        &["set-meta", &prefix, "--json-file", "-", "--json"],
        &format!("{{\"blob\": \"{}\"}}", "x".repeat(5000)),
    );
    assert!(
        !ok && err.contains("22023"),
        "the server's size check: {err}"
    );
    let (ok, out, err) = cli(&["set-meta", &prefix, "--json-file", "-"], "");
    assert!(ok && out.contains("cleared"), "{out}{err}");
    let cleared: Option<String> = db
        .admin()
        .query_one("SELECT (tokens.verify($1)).meta::text", &[&token])
        .expect("verify")
        .get(0);
    assert_eq!(cleared, None);

    // mint --meta: checked before it is sent, then returned by verify
    let (ok, _, err) = cli(&["mint", "--name", "with meta", "--meta", "[1]"], "");
    assert!(!ok && err.contains("not an array"), "{err}");
    let (ok, out, _) = cli(
        &[
            "mint",
            "--name",
            "with meta",
            "--meta",
            r#"{"plan": "team"}"#,
        ],
        "",
    );
    assert!(ok, "mint --meta failed");
    let minted = out.trim();
    let meta: String = db
        .admin()
        .query_one("SELECT (tokens.verify($1)).meta::text", &[&minted])
        .expect("verify")
        .get(0);
    assert_eq!(meta, r#"{"plan": "team"}"#);
}

#[test]
fn cap_a_token_with_credits_in_the_detail_pane_and_by_subcommand() {
    let db = Cluster::shared().database();
    let token: String = db
        .admin()
        .query_one("SELECT token FROM tokens.mint('e2e metered bot')", &[])
        .expect("mint")
        .get(0);
    let prefix = token[..12].to_owned();
    let role = db.login_role(&["tokens_reader", "tokens_writer"]);
    let audited = || -> i64 {
        db.admin()
            .query_one(
                "SELECT count(*) FROM tokens.audit_log WHERE action = 'token.remaining' AND db_role = $1",
                &[&role],
            )
            .expect("the audit rows")
            .get(0)
    };
    let tmux = Tmux::start(&db, &role);
    tmux.wait_for("the list", |s| s.contains("e2e metered bot"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the detail pane without a cap", |s| {
        s.contains("C credits") && s.contains("credits    none (no cap)")
    });

    // a negative number goes to the server, which refuses it in the form
    tmux.keys(&["C"]);
    tmux.wait_for("the credits form", |s| {
        s.contains(" Credits ") && s.contains("now: none (no cap)")
    });
    tmux.text("-1");
    tmux.keys(&["Enter"]);
    let refused = tmux.wait_for("the server's refusal in the form", |s| {
        s.contains("Refused by the server")
    });
    assert!(refused.contains("22023"), "{refused}");
    assert!(
        refused.contains("▶ credits  -1"),
        "the input is kept, the cursor on it:\n{refused}"
    );
    assert_eq!(audited(), 0, "a refused call writes nothing");
    // a refill amount without its interval is caught by the form
    tmux.keys(&["BSpace", "BSpace"]);
    tmux.text("3");
    tmux.keys(&["Tab"]);
    tmux.text("100");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the form's own check", |s| {
        s.contains("refill every is needed")
    });
    tmux.text("1h");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the cap on the detail pane", |s| {
        s.contains("credits    3 left, refill 100 every 1 hour")
            && s.contains(&format!(
                "credits of {prefix} set: 3 left, refill 100 every 1 hour"
            ))
            && s.contains(r#""refill_every_seconds":3600.0,"remaining":3"#)
    });
    let row = db
        .admin()
        .query_one(
            "SELECT remaining, refill_amount, refill_every = interval '1 hour' FROM tokens.tokens WHERE prefix = $1",
            &[&prefix],
        )
        .expect("the token's row");
    assert_eq!(row.get::<_, Option<i64>>(0), Some(3));
    assert_eq!(row.get::<_, Option<i64>>(1), Some(100));
    assert_eq!(row.get::<_, Option<bool>>(2), Some(true));
    assert_eq!(audited(), 1, "one set_remaining call, audited");

    // three credits, three successful verifications; then usage_exceeded
    for _ in 0..3 {
        assert_eq!(verify(&db, &token), (true, "valid".to_owned()));
    }
    assert_eq!(verify(&db, &token), (false, "usage_exceeded".to_owned()));
    tmux.keys(&["r"]);
    tmux.wait_for("no credit left", |s| {
        s.contains("credits    0 left, refill 100 every 1 hour")
    });

    // empty credits removes the cap: it verifies again
    tmux.keys(&["C"]);
    tmux.wait_for("the form, prefilled", |s| s.contains("▶ credits  0▏"));
    tmux.keys(&["BSpace", "Enter"]);
    tmux.wait_for("no cap on the pane", |s| {
        s.contains("credits    none (no cap)")
            && s.contains(&format!("credit cap of {prefix} removed"))
    });
    assert_eq!(verify(&db, &token), (true, "valid".to_owned()));
    assert_eq!(audited(), 2);
    assert!(
        plaintext_on(&tmux.screen()).is_none(),
        "no plaintext on screen"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", |s| s.contains("CONSOLE-EXITED 0"));

    // the same through the subcommand; show prints the credits line
    let cli = |args: &[&str]| console(&db, &role, args, "");
    let (ok, out, err) = cli(&[
        "set-remaining",
        &prefix,
        "2",
        "--refill-amount",
        "10",
        "--refill-every",
        "1d",
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.starts_with("credits of ") && out.contains("set: 2 left, refill 10 every 1 day"),
        "{out}"
    );
    let (ok, out, err) = cli(&["show", &prefix]);
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l == "credits     2 left, refill 10 every 1 day"),
        "{out}"
    );
    assert_eq!(verify(&db, &token), (true, "valid".to_owned()));
    assert_eq!(verify(&db, &token), (true, "valid".to_owned()));
    assert_eq!(verify(&db, &token), (false, "usage_exceeded".to_owned()));
    let (ok, _, err) = cli(&["set-remaining", &prefix, "-5", "--json"]);
    assert!(!ok, "the server refuses a negative cap");
    let e: serde_json::Value = serde_json::from_str(&err).expect("a JSON error");
    assert_eq!(e["error"]["sqlstate"], "22023", "{err}");
    let (ok, _, err) = cli(&["set-remaining", &prefix, "5", "--refill-amount", "10"]);
    assert!(
        !ok && err.contains("--refill-every"),
        "clap wants both: {err}"
    );
    let (ok, out, err) = cli(&["set-remaining", &prefix, "none", "--json"]);
    assert!(ok, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["remaining"], serde_json::Value::Null, "{out}");
    assert_eq!(v["credits"], serde_json::Value::Null, "{out}");
    assert_eq!(verify(&db, &token), (true, "valid".to_owned()));
    let (ok, out, err) = cli(&["set-remaining", &prefix, "7", "--json"]);
    assert!(ok, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["credits"]["remaining"], 7, "{out}");
    assert_eq!(v["credits"]["refill"], serde_json::Value::Null, "{out}");
    let (ok, out, _) = cli(&["show", &prefix, "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["credits"]["remaining"], 7, "{out}");
    let (_, out, _) = cli(&["show", &prefix]);
    assert!(out.lines().any(|l| l == "credits     7 left"), "{out}");
    assert_eq!(
        audited(),
        5,
        "the subcommand's three accepted calls are audited too"
    );
}

/// The forgery of issue 14 (an event edited, every later hash recomputed,
/// triggers off) passes the chain alone; the console, which kept a
/// checkpoint from before, shows a red banner and `audit verify` exits 1.
#[test]
fn a_rewritten_audit_log_shows_a_red_banner_and_audit_verify_exits_1() {
    let db = Cluster::shared().database();
    let role = db.login_role(&["tokens_reader", "tokens_writer"]);
    let mut admin = db.admin();
    for i in 0..5 {
        admin
            .query_one("SELECT * FROM tokens.mint($1)", &[&format!("t{i}")])
            .unwrap();
    }
    admin.query_one("SELECT tokens.seal_audit()", &[]).unwrap();
    let data = std::env::temp_dir().join(unique("console_data"));
    let xdg = data.to_string_lossy().into_owned();
    let env = [("XDG_DATA_HOME", xdg.as_str())];
    let (code, out, err) = console_env(&db, &role, &["audit", "verify"], "", &env);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("audit log intact: 0 kept checkpoint(s) hold; head 5"),
        "{out}"
    );
    let (code, out, _) = console_env(&db, &role, &["audit", "verify", "--json"], "", &env);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("\"tampered\":false") && out.contains("\"checked\":1"),
        "{out}"
    );
    assert!(data.join("pg_tokens").join("checkpoints.json").exists());

    admin
        .batch_execute(
            "ALTER TABLE tokens.audit_store DISABLE TRIGGER USER;
             ALTER TABLE tokens.audit_chain DISABLE TRIGGER USER;
             UPDATE tokens.audit_store SET actor = 'forger'
              WHERE id = (SELECT event_id FROM tokens.audit_chain WHERE position = 2);
             DO $$
             DECLARE r record; prev bytea;
             BEGIN
               SELECT hash INTO prev FROM tokens.audit_chain WHERE position = 1;
               FOR r IN SELECT c.position, s.* FROM tokens.audit_chain c JOIN tokens.audit_store s ON s.id = c.event_id
                         WHERE c.position >= 2 ORDER BY c.position LOOP
                 prev := tokens.audit_row_hash(prev, r.id, r.at, r.actor, r.db_role, r.action, r.target, r.meta::text);
                 UPDATE tokens.audit_chain SET hash = prev WHERE position = r.position;
               END LOOP;
             END $$;
             ALTER TABLE tokens.audit_store ENABLE TRIGGER USER;
             ALTER TABLE tokens.audit_chain ENABLE TRIGGER USER;",
        )
        .unwrap();
    let broken: Option<i64> = admin
        .query_one("SELECT tokens.verify_audit_chain()", &[])
        .unwrap()
        .get(0);
    assert_eq!(broken, None, "the rewrite passes the chain alone");

    let (code, out, err) = console_env(&db, &role, &["audit", "verify"], "", &env);
    assert_eq!(code, Some(1), "exit 1 on a mismatch: {out}{err}");
    assert!(
        out.contains("AUDIT LOG TAMPERED: no longer matches checkpoint id 5"),
        "{out}"
    );

    let tmux = Tmux::start_with(&db, &role, &format!("XDG_DATA_HOME={xdg}"));
    tmux.wait_for("the red banner", |s| s.contains("AUDIT LOG TAMPERED"));
    drop(tmux);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn the_events_view_follows_new_events_and_acknowledges_them() {
    let db = Cluster::shared().database();
    db.admin()
        .batch_execute(
            "SELECT tokens.revoke((tokens.mint('first gone')).id, reason => 'rotated away')",
        )
        .expect("seed an event");
    let role = db.login_role(&["tokens_reader", "tokens_writer"]);
    let tmux = Tmux::start(&db, &role);
    tmux.wait_for("the list", |s| s.contains("first gone"));
    tmux.keys(&["4"]);
    tmux.wait_for("the events", |s| {
        s.contains("token.revoked") && s.contains("reason rotated away")
    });
    tmux.keys(&["f"]);
    tmux.wait_for("follow mode", |s| s.contains("follow: new events"));
    // A revoke elsewhere shows up without a key.
    db.admin()
        .batch_execute(
            "SELECT tokens.revoke((tokens.mint('second gone')).id, reason => 'followed')",
        )
        .expect("a new event");
    tmux.wait_for("the new event", |s| s.contains("reason followed"));
    // a on the newest (the top row) asks, Enter acknowledges both.
    tmux.keys(&["a"]);
    tmux.wait_for("the ack dialog", |s| {
        s.contains("Acknowledge every event up to")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("the count", |s| s.contains("2 events acknowledged"));
    tmux.wait_for("an empty outbox", |s| s.contains("No events:"));
    let left: i64 = db
        .admin()
        .query_one("SELECT count(*) FROM tokens.events", &[])
        .expect("count")
        .get(0);
    assert_eq!(left, 0, "the console acknowledged every event it showed");

    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", |s| s.contains("CONSOLE-EXITED 0"));
}

#[test]
fn hygiene_filter_marks_and_bulk_revoke_and_an_expiry_badge() {
    let db = Cluster::shared().database();
    let role = db.login_role(&["tokens_reader", "tokens_writer", "tokens_revoker"]);
    db.admin()
        .batch_execute(&format!(
            "SELECT tokens.mint('tidy one', scopes => ARRAY['read'], expires_at => now() + interval '30 days', owner => '{role}');
             SELECT tokens.mint('expires soon', scopes => ARRAY['read'], expires_at => now() + interval '2 hours', owner => '{role}');
             SELECT tokens.mint('forever a', scopes => ARRAY['read'], owner => '{role}');
             SELECT tokens.mint('forever b', scopes => ARRAY['read'], owner => '{role}');"
        ))
        .expect("seed");
    let tmux = Tmux::start(&db, &role);
    let list = tmux.wait_for("the list", |s| {
        s.contains("forever b") && s.contains("tidy one")
    });
    // The badge column: E on the token that expires within 24 h only.
    let soon = list
        .lines()
        .find(|l| l.contains("expires soon"))
        .unwrap_or_else(|| panic!("no row for the expiring token:\n{list}"));
    assert!(soon.contains(" E "), "no E badge on {soon:?}:\n{list}");
    for name in ["tidy one", "forever a", "forever b"] {
        let line = list.lines().find(|l| l.contains(name)).expect(name);
        assert!(!line.contains(" E "), "an E badge on {line:?}");
    }
    // H: only the live tokens that never expire (or have full access, or sit unused).
    tmux.keys(&["H"]);
    tmux.wait_for("the hygiene filter", |s| {
        s.contains("hygiene") && s.contains("forever a") && !s.contains("tidy one")
    });
    // Space marks, X asks with the list of marked rows, Enter revokes them.
    tmux.keys(&["g", "Space", "j", "Space", "X"]);
    tmux.wait_for("the bulk confirmation", |s| {
        s.contains("Revoke 2 marked tokens?")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("the outcome", |s| {
        s.contains("Revoke 2 marked tokens: done")
    });
    let statuses: Vec<(String, String)> = db
        .admin()
        .query("SELECT name, status FROM tokens.tokens ORDER BY name", &[])
        .expect("statuses")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let want = |n: &str, s: &str| (n.to_owned(), s.to_owned());
    assert_eq!(
        statuses,
        vec![
            want("expires soon", "active"),
            want("forever a", "revoked"),
            want("forever b", "revoked"),
            want("tidy one", "active"),
        ]
    );
    tmux.keys(&["Enter"]);
    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", |s| s.contains("CONSOLE-EXITED 0"));
}
