//! Issue 7: the API under concurrent load, and across a `kill -9` of the
//! postmaster (SPEC §2 revoke/rotate/rate limits, §7 "every change takes
//! effect for each transaction that starts after it commits", shared state).
//!
//! Eight clients, each its own role and connection, mix mint, verify,
//! authenticate, revoke, rotate with a grace period and verifications of a
//! rate-limited token. The key invariant is checked on every verification:
//! a client records a token as revoked (or rotated, with the time its grace
//! ends) only after the COMMIT of that change returned, and reads that
//! record before it sends a verification; a verification that started after
//! the record may not say `valid` (for a rotation: not at or after the end
//! of the grace, judged by the verification's own `now()`, which is what
//! verify judges by). Every error is checked against the short list of
//! errors the mix can legitimately produce ([`expected`]); anything else,
//! a deadlock (40P01) included, fails the test with its context.
//!
//! `STRESS_SECONDS` shortens or lengthens the load for a local run; CI runs
//! the default of [`LOAD_SECONDS`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pg_tokens_tests::{eventually, Cluster, Db};
use postgres::{Client, Statement};
use uuid::Uuid;

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];
const CLIENTS: usize = 8;
/// The concurrency test's load, in seconds (`STRESS_SECONDS` overrides).
const LOAD_SECONDS: u64 = 60;
/// How long the crash test's load runs before the postmaster is killed.
const CRASH_AFTER: Duration = Duration::from_secs(10);
/// Every token of the load belongs to this group; the clients (members of
/// tokens_writer and tokens_revoker) revoke and rotate them as its actor.
const OWNER: &str = "group:stress";
const REASON: &str = "stress";
/// Grace periods of the rotations: ended at once, during the load, or not
/// before the test ends.
const GRACES: [&str; 4] = ["0", "1 second", "3 seconds", "1 hour"];
/// Verifications of the rate-limited token may succeed this many times in
/// one window of an hour (far longer than the test: one window, counted
/// exactly, no clock involved).
const LIMIT: i64 = 200;
const CRASH_LIMIT: i64 = 50;
/// How many of the newest tokens count as "hot": most revokes, rotations
/// and verifications pick one of them, so clients race on the same tokens.
const HOT: usize = 16;

fn load_duration() -> Duration {
    let seconds = std::env::var("STRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(LOAD_SECONDS);
    Duration::from_secs(seconds)
}

/// xorshift64*: enough to mix operations, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
    }
}

fn seed(i: usize) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    nanos ^ ((i as u64 + 1) << 40)
}

#[derive(Clone, Debug)]
struct Tok {
    id: Uuid,
    token: String,
}

/// What a verification or authentication answered, and the start of its
/// transaction (`now()`, the time verify judges a token at).
struct Answer {
    now: DateTime<Utc>,
    valid: bool,
    status: String,
    token_id: Option<Uuid>,
}

/// What the clients know, from changes whose COMMIT returned, about a
/// token that no longer works or will stop working.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Dead {
    /// A revoke committed (returning true, or false: it was revoked already).
    revoked: bool,
    /// A rotation committed: the old token works until then (its revoked_at
    /// as the rotating transaction itself read it).
    works_until: Option<DateTime<Utc>>,
}

impl Dead {
    /// Whether a verification judged at `now` may still say valid.
    fn admits(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.works_until.is_none_or(|u| now < u)
    }
}

struct Rotation {
    old: Uuid,
    new: Uuid,
    role: String,
    works_until: DateTime<Utc>,
}

/// Operations whose COMMIT returned to the client.
#[derive(Default)]
struct Committed {
    /// (token id, calling role).
    mints: Vec<(Uuid, String)>,
    rotations: Vec<Rotation>,
    /// (token id, calling role, what revoke returned).
    revokes: Vec<(Uuid, String, bool)>,
}

#[derive(Default)]
struct Counts {
    mint: AtomicU64,
    verify: AtomicU64,
    verify_valid: AtomicU64,
    authenticate: AtomicU64,
    authenticate_valid: AtomicU64,
    revoke: AtomicU64,
    revoke_already: AtomicU64,
    rotate: AtomicU64,
    rotate_refused: AtomicU64,
    limited_valid: AtomicU64,
    limited_refused: AtomicU64,
    /// Verifications and authentications the invariant constrained: sent
    /// after a committed revoke, or after the end of a committed grace.
    after_end: AtomicU64,
    unexpected: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shared state of one load.
struct Load {
    crash: bool,
    /// Every token whose mint or rotation committed (plaintext known).
    pool: Mutex<Vec<Tok>>,
    /// The registry: tokens revoked or rotated by a committed change.
    dead: Mutex<HashMap<Uuid, Dead>>,
    /// Tokens a revoke or a rotation was sent for (before sending it).
    touched: Mutex<HashSet<Uuid>>,
    limited: Tok,
    limit: i64,
    setup_role: String,
    committed: Mutex<Committed>,
    counts: Counts,
    failures: Mutex<Vec<String>>,
    stop: AtomicBool,
    /// Set just before the postmaster is killed (crash test).
    killed: AtomicBool,
    /// Clients that ended on a lost connection.
    lost: AtomicU64,
}

impl Load {
    /// Roles, a first set of tokens and the rate-limited token.
    fn prepare(db: &Db<'_>, limit: i64, crash: bool) -> Load {
        let (setup_role, mut setup) = db.client(APP);
        let mut pool = Vec::new();
        let mut mints = Vec::new();
        for i in 0..2 * HOT {
            let row = setup
                .query_one(
                    "SELECT id, token FROM tokens.mint($1, owner => $2)",
                    &[&format!("stress seed {i}"), &OWNER],
                )
                .expect("mint the first tokens");
            let t = Tok {
                id: row.get(0),
                token: row.get(1),
            };
            mints.push((t.id, setup_role.clone()));
            pool.push(t);
        }
        let row = setup
            .query_one(
                "SELECT id, token FROM tokens.mint('stress rate-limited', owner => $1)",
                &[&OWNER],
            )
            .expect("mint the rate-limited token");
        let limited = Tok {
            id: row.get(0),
            token: row.get(1),
        };
        mints.push((limited.id, setup_role.clone()));
        setup
            .execute(
                "SELECT tokens.set_rate_limit($1, $2, '1 hour')",
                &[&limited.id, &(limit as i32)],
            )
            .expect("set the rate limit");
        Load {
            crash,
            pool: Mutex::new(pool),
            dead: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashSet::new()),
            limited,
            limit,
            setup_role,
            committed: Mutex::new(Committed {
                mints,
                ..Committed::default()
            }),
            counts: Counts::default(),
            failures: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            lost: AtomicU64::new(0),
        }
    }

    fn fail(&self, what: String) {
        eprintln!("FAILURE: {what}");
        lock(&self.failures).push(what);
    }

    /// A token of the pool: one of the newest `HOT` when `hot`.
    fn pick(&self, rng: &mut Rng, hot: bool) -> Tok {
        let pool = lock(&self.pool);
        let n = pool.len();
        let i = if hot {
            n - 1 - rng.below(n.min(HOT))
        } else {
            rng.below(n)
        };
        pool[i].clone()
    }

    fn registry(&self, id: Uuid) -> Option<Dead> {
        lock(&self.dead).get(&id).copied()
    }

    fn touched(&self, id: Uuid) -> bool {
        lock(&self.touched).contains(&id)
    }

    /// Judges a verification (or authentication) of pool token `tok` that
    /// was sent after the registry said `before`.
    fn judge(&self, what: &str, tok: &Tok, before: Option<Dead>, answer: &Answer) {
        let Answer {
            now,
            valid,
            ref status,
            token_id,
        } = *answer;
        match status.as_str() {
            "valid" => {
                if !valid || token_id != Some(tok.id) {
                    self.fail(format!(
                        "{what} of {}: status valid but valid = {valid}, token_id = {token_id:?}",
                        tok.id
                    ));
                }
                if let Some(dead) = before.filter(|d| !d.admits(now)) {
                    bump(&self.counts.after_end);
                    self.fail(format!(
                        "INVARIANT: {what} of {} said valid in a transaction that started at {now} \
                         after this was committed: {dead:?}",
                        tok.id
                    ));
                }
            }
            "revoked" => {
                if before.is_some_and(|d| !d.admits(now)) {
                    bump(&self.counts.after_end);
                }
                if valid || token_id != Some(tok.id) {
                    self.fail(format!(
                        "{what} of {}: status revoked but valid = {valid}, token_id = {token_id:?}",
                        tok.id
                    ));
                }
                if !self.touched(tok.id) {
                    self.fail(format!(
                        "{what} of {} said revoked, but no revoke or rotation of it was ever sent",
                        tok.id
                    ));
                }
            }
            other => self.fail(format!(
                "{what} of {} (never expiring, never disabled, no limit): status {other}",
                tok.id
            )),
        }
    }
}

/// The errors the mix may produce, with their SQLSTATE: a rotation of a
/// token that another client revoked, or rotated (it is then in its grace
/// period), after this client picked it — 22023 as SPEC §2 says for both.
/// (A revoke of a revoked token is not an error: it returns false.)
fn expected(op: Op, e: &postgres::Error) -> bool {
    let m = message_of(e);
    op == Op::Rotate
        && code_of(e) == "22023"
        && (m.contains("is revoked and cannot be rotated")
            || m.contains("was already rotated and is in its grace period"))
}

/// An error saying the server went away (the crash test only accepts them
/// once the postmaster was killed).
fn connection_lost(e: &postgres::Error) -> bool {
    let code = code_of(e);
    e.is_closed()
        || code.starts_with("08")
        || ["57P01", "57P02", "57P03"].contains(&code.as_str())
        || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

fn code_of(e: &postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

fn message_of(e: &postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| e.to_string())
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Mint,
    Verify,
    Authenticate,
    Revoke,
    Rotate,
    LimitedVerify,
}

/// The mix, in percent.
fn choose(rng: &mut Rng) -> Op {
    match rng.below(100) {
        0..14 => Op::Mint,
        14..44 => Op::Verify,
        44..60 => Op::Authenticate,
        60..70 => Op::Revoke,
        70..82 => Op::Rotate,
        _ => Op::LimitedVerify,
    }
}

struct Statements {
    mint: Statement,
    verify: Statement,
    authenticate: Statement,
    principal: Statement,
    revoke: Statement,
    rotate: Statement,
    revoked_at: Statement,
}

fn prepare(c: &mut Client) -> Result<Statements, postgres::Error> {
    Ok(Statements {
        mint: c.prepare("SELECT id, token FROM tokens.mint($1, owner => $2)")?,
        verify: c
            .prepare("SELECT now(), v.valid, v.status, v.token_id FROM tokens.verify($1) v")?,
        authenticate: c.prepare(
            "SELECT now(), a.valid, a.status, a.token_id FROM tokens.authenticate($1) a",
        )?,
        principal: c.prepare("SELECT tokens.current_token_id()")?,
        revoke: c.prepare("SELECT tokens.revoke($1, actor => $2, reason => $3)")?,
        rotate: c.prepare("SELECT id, token FROM tokens.rotate($1, $2::text::interval, $3)")?,
        revoked_at: c.prepare("SELECT revoked_at FROM tokens.tokens WHERE id = $1")?,
    })
}

/// One client: its own role and connection, until the load stops or (crash
/// test) its connection is lost.
fn client(load: &Load, cluster: &Cluster, dbname: &str, role: &str, seed: u64) {
    let connected = cluster.try_connect(role, dbname).and_then(|mut c| {
        c.batch_execute("SET statement_timeout = '30s'")?;
        let s = prepare(&mut c)?;
        Ok((c, s))
    });
    let (mut c, s) = match connected {
        Ok(cs) => cs,
        Err(e) => return load.fail(format!("client {role} cannot start: {e:?}")),
    };
    let mut rng = Rng::new(seed);
    let mut n = 0u64;
    while !load.stop.load(Ordering::Relaxed) {
        n += 1;
        let op = choose(&mut rng);
        let mut context = String::new();
        let result = match op {
            Op::Mint => mint(load, &mut c, &s, role, n),
            Op::Verify | Op::Authenticate => verify(load, &mut c, &s, op, &mut rng, &mut context),
            Op::Revoke => revoke(load, &mut c, &s, role, &mut rng, &mut context),
            Op::Rotate => rotate(load, &mut c, &s, role, &mut rng, &mut context),
            Op::LimitedVerify => limited(load, &mut c, &s),
        };
        let Err(e) = result else { continue };
        if expected(op, &e) {
            bump(&load.counts.rotate_refused);
            continue;
        }
        if load.crash && load.killed.load(Ordering::SeqCst) && connection_lost(&e) {
            load.lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
        bump(&load.counts.unexpected);
        load.fail(format!(
            "client {role}, operation {n} ({op:?} {context}): unexpected error {} {}: {e:?}",
            code_of(&e),
            message_of(&e)
        ));
        if e.is_closed() || get(&load.counts.unexpected) > 50 {
            return;
        }
    }
}

fn mint(
    load: &Load,
    c: &mut Client,
    s: &Statements,
    role: &str,
    n: u64,
) -> Result<(), postgres::Error> {
    let row = c.query_one(&s.mint, &[&format!("stress {role} {n}"), &OWNER])?;
    let tok = Tok {
        id: row.get(0),
        token: row.get(1),
    };
    lock(&load.committed).mints.push((tok.id, role.to_owned()));
    lock(&load.pool).push(tok);
    bump(&load.counts.mint);
    Ok(())
}

fn verify(
    load: &Load,
    c: &mut Client,
    s: &Statements,
    op: Op,
    rng: &mut Rng,
    context: &mut String,
) -> Result<(), postgres::Error> {
    let hot = rng.below(10) < 7;
    let tok = load.pick(rng, hot);
    *context = format!("of {}", tok.id);
    // The registry as it is before the verifying transaction starts.
    let before = load.registry(tok.id);
    let (row, principal) = if op == Op::Authenticate {
        let mut tx = c.transaction()?;
        let row = tx.query_one(&s.authenticate, &[&tok.token])?;
        let principal: Option<Uuid> = tx.query_one(&s.principal, &[])?.get(0);
        tx.commit()?;
        (row, principal)
    } else {
        (c.query_one(&s.verify, &[&tok.token])?, None)
    };
    let answer = Answer {
        now: row.get(0),
        valid: row.get(1),
        status: row.get(2),
        token_id: row.get(3),
    };
    let (valid, status) = (answer.valid, &answer.status);
    let what = if op == Op::Authenticate {
        bump(&load.counts.authenticate);
        if valid {
            bump(&load.counts.authenticate_valid);
        }
        let want = valid.then_some(tok.id);
        if principal != want {
            load.fail(format!(
                "authenticate of {} ({status}): current_token_id() is {principal:?}, want {want:?}",
                tok.id
            ));
        }
        "authenticate"
    } else {
        bump(&load.counts.verify);
        if valid {
            bump(&load.counts.verify_valid);
        }
        "verify"
    };
    load.judge(what, &tok, before, &answer);
    Ok(())
}

fn revoke(
    load: &Load,
    c: &mut Client,
    s: &Statements,
    role: &str,
    rng: &mut Rng,
    context: &mut String,
) -> Result<(), postgres::Error> {
    let hot = rng.below(10) < 8;
    let tok = load.pick(rng, hot);
    *context = format!("of {}", tok.id);
    lock(&load.touched).insert(tok.id);
    let done: bool = c.query_one(&s.revoke, &[&tok.id, &OWNER, &REASON])?.get(0);
    // Committed (autocommit): from now on no new transaction may verify it.
    lock(&load.dead).entry(tok.id).or_default().revoked = true;
    lock(&load.committed)
        .revokes
        .push((tok.id, role.to_owned(), done));
    bump(if done {
        &load.counts.revoke
    } else {
        &load.counts.revoke_already
    });
    Ok(())
}

fn rotate(
    load: &Load,
    c: &mut Client,
    s: &Statements,
    role: &str,
    rng: &mut Rng,
    context: &mut String,
) -> Result<(), postgres::Error> {
    let hot = rng.below(10) < 8;
    let old = load.pick(rng, hot);
    let grace = GRACES[rng.below(GRACES.len())];
    *context = format!("of {} with grace {grace}", old.id);
    lock(&load.touched).insert(old.id);
    let mut tx = c.transaction()?;
    let row = tx.query_one(&s.rotate, &[&old.id, &grace, &OWNER])?;
    // The old token's end of grace, read under the rotation's own row lock.
    let until: Option<DateTime<Utc>> = tx.query_one(&s.revoked_at, &[&old.id])?.get(0);
    tx.commit()?;
    let new = Tok {
        id: row.get(0),
        token: row.get(1),
    };
    let Some(until) = until else {
        load.fail(format!("rotation of {} left its revoked_at NULL", old.id));
        return Ok(());
    };
    {
        let mut dead = lock(&load.dead);
        let d = dead.entry(old.id).or_default();
        d.works_until = Some(d.works_until.map_or(until, |w| w.min(until)));
    }
    lock(&load.committed).rotations.push(Rotation {
        old: old.id,
        new: new.id,
        role: role.to_owned(),
        works_until: until,
    });
    lock(&load.pool).push(new);
    bump(&load.counts.rotate);
    Ok(())
}

fn limited(load: &Load, c: &mut Client, s: &Statements) -> Result<(), postgres::Error> {
    let row = c.query_one(&s.verify, &[&load.limited.token])?;
    let status: String = row.get(2);
    match status.as_str() {
        "valid" => bump(&load.counts.limited_valid),
        "rate_limited" => bump(&load.counts.limited_refused),
        other => load.fail(format!(
            "verify of the rate-limited token {}: status {other}",
            load.limited.id
        )),
    }
    Ok(())
}

/// Starts the clients, each with a role of its own; `during` runs on this
/// thread meanwhile and ends the load by returning.
fn run_load(load: &Load, db: &Db<'_>, during: impl FnOnce()) {
    let roles: Vec<String> = (0..CLIENTS).map(|_| db.login_role(APP)).collect();
    std::thread::scope(|scope| {
        for (i, role) in roles.iter().enumerate() {
            let seed = seed(i);
            scope.spawn(move || client(load, db.cluster, &db.name, role, seed));
        }
        during();
        load.stop.store(true, Ordering::SeqCst);
    });
}

fn assert_no_failures(load: &Load) {
    let failures = lock(&load.failures);
    assert!(
        failures.is_empty(),
        "{} failures (first 30 below):\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn summary(load: &Load, seconds: f64) -> String {
    let c = &load.counts;
    format!(
        "{} mints, {} verifies ({} valid), {} authenticates ({} valid), {} revokes (+{} of a revoked token), \
         {} rotations (+{} refused: 22023), {} rate-limited verifies ({} admitted, limit {}) in {seconds:.0} s, \
         {} unexpected errors; {} verifications judged after a committed revoke or end of grace",
        get(&c.mint),
        get(&c.verify),
        get(&c.verify_valid),
        get(&c.authenticate),
        get(&c.authenticate_valid),
        get(&c.revoke),
        get(&c.revoke_already),
        get(&c.rotate),
        get(&c.rotate_refused),
        get(&c.limited_valid) + get(&c.limited_refused),
        get(&c.limited_valid),
        load.limit,
        get(&c.unexpected),
        get(&c.after_end),
    )
}

/// Verifies every token of the pool after the load, in one statement, and
/// checks each status against what was committed; returns how many.
fn sweep(load: &Load, c: &mut Client) -> usize {
    let pool = lock(&load.pool).clone();
    let ids: Vec<Uuid> = pool.iter().map(|t| t.id).collect();
    let tokens: Vec<&str> = pool.iter().map(|t| t.token.as_str()).collect();
    let rows = c
        .query(
            "SELECT now(), t.id, v.status, v.token_id \
               FROM unnest($1::uuid[], $2::text[]) AS t(id, token), tokens.verify(t.token) v",
            &[&ids, &tokens],
        )
        .expect("verify the pool");
    // Each verify judges by the clock at its call, somewhere between the
    // statement's start (now()) and this moment after it.
    let end: DateTime<Utc> = c
        .query_one("SELECT clock_timestamp()", &[])
        .expect("the clock")
        .get(0);
    assert_eq!(rows.len(), pool.len());
    for row in &rows {
        let now: DateTime<Utc> = row.get(0);
        let id: Uuid = row.get(1);
        let status: String = row.get(2);
        let token_id: Option<Uuid> = row.get(3);
        let dead = load.registry(id);
        let touched = load.touched(id);
        let allowed: &[&str] = match dead {
            Some(d) if !d.admits(now) => &["revoked"],
            // Its grace ended while the statement ran.
            Some(d) if !d.admits(end) => &["valid", "revoked"],
            // Nothing committed ends it, and (crash test) nothing in flight
            // at the kill could have.
            _ if !load.crash || !touched => &["valid"],
            // A revoke or rotation of it was in flight at the kill.
            _ => &["valid", "revoked"],
        };
        if !allowed.contains(&status.as_str()) || token_id != Some(id) {
            load.fail(format!(
                "after the load, token {id} is {status} (token_id {token_id:?}) at {now}; \
                 want one of {allowed:?}: committed {dead:?}, a revoke or rotation sent: {touched}"
            ));
        }
    }
    rows.len()
}

type AuditRow = (String, String, Option<serde_json::Value>);

/// Checks that every committed change has its audit row, with the right
/// actor, calling role and meta, and that no token has two rows of one
/// action. Without a crash the totals are exact too. Returns the number of
/// rows checked.
fn check_audit(load: &Load, c: &mut Client) -> usize {
    let mut rows: HashMap<(String, String), Vec<AuditRow>> = HashMap::new();
    for r in c
        .query(
            "SELECT action, target, actor, db_role, meta FROM tokens.audit_log WHERE action LIKE 'token.%'",
            &[],
        )
        .expect("read the audit log")
    {
        rows.entry((r.get(0), r.get(1)))
            .or_default()
            .push((r.get(2), r.get(3), r.get(4)));
    }
    for ((action, target), found) in &rows {
        if found.len() > 1 {
            load.fail(format!(
                "{} {action} rows for {target} (a token is created, rotated and revoked at most once): {found:?}",
                found.len()
            ));
        }
    }
    let mut checked = 0;
    let mut one = |action: &str,
                   id: Uuid,
                   actor: &str,
                   role: &str,
                   meta: &dyn Fn(&serde_json::Value) -> bool| {
        let target = format!("token:{id}");
        match rows
            .get(&(action.to_owned(), target.clone()))
            .map(Vec::as_slice)
        {
            Some([(a, r, m)]) => {
                let meta_ok = m.as_ref().is_some_and(meta);
                if a != actor || r != role || !meta_ok {
                    load.fail(format!(
                        "{action} of {target}: actor {a}, db_role {r}, meta {m:?}; want actor {actor}, db_role {role} \
                         and the meta of that change"
                    ));
                }
                checked += 1;
            }
            other => load.fail(format!(
                "the committed {action} of {target} has no single audit row: {other:?}"
            )),
        }
    };
    let committed = lock(&load.committed);
    for (id, role) in &committed.mints {
        one("token.create", *id, role, role, &|m| m["owner"] == OWNER);
    }
    for r in &committed.rotations {
        let until = r.works_until;
        one("token.rotate", r.old, OWNER, &r.role, &|m| {
            m["new_token_id"] == r.new.to_string()
                && m["old_token_works_until"]
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .is_some_and(|t| t == until)
        });
        one("token.create", r.new, OWNER, &r.role, &|m| {
            m["rotated_from"] == r.old.to_string() && m["owner"] == OWNER
        });
    }
    let mut revoked = 0;
    for (id, role, done) in &committed.revokes {
        if *done {
            revoked += 1;
            one("token.revoke", *id, OWNER, role, &|m| m["reason"] == REASON);
        }
    }
    let setup = load.setup_role.clone();
    one("token.rate_limit", load.limited.id, &setup, &setup, &|m| {
        m["requests"] == load.limit
    });
    let total = |action: &str| rows.keys().filter(|(a, _)| a == action).count();
    let want = [
        (
            "token.create",
            committed.mints.len() + committed.rotations.len(),
        ),
        ("token.rotate", committed.rotations.len()),
        ("token.revoke", revoked),
        ("token.rate_limit", 1),
    ];
    for (action, want) in want {
        let have = total(action);
        // After a crash, a change in flight at the kill may have committed
        // without its client hearing of it: extra rows are allowed then.
        if have < want || (!load.crash && have != want) {
            load.fail(format!(
                "{have} {action} rows in the audit log for {want} committed changes"
            ));
        }
    }
    checked
}

fn chain_break(c: &mut Client) -> Option<i64> {
    c.query_one("SELECT tokens.verify_audit_chain()", &[])
        .expect("verify_audit_chain")
        .get(0)
}

/// (successful, refused) verifications of `id` flushed for the last hour.
fn usage(c: &mut Client, id: Uuid) -> (i64, i64) {
    let row = c
        .query_one(
            "SELECT coalesce(sum(count), 0)::int8, coalesce(sum(denied), 0)::int8 \
               FROM tokens.usage($1, now() - interval '1 hour', interval '1 hour')",
            &[&id],
        )
        .expect("read usage");
    (row.get(0), row.get(1))
}

#[test]
fn eight_clients_mix_every_call_and_no_revoked_token_verifies_afterwards() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let load = Load::prepare(&db, LIMIT, false);
    let duration = load_duration();
    let started = Instant::now();
    run_load(&load, &db, || {
        while started.elapsed() < duration && lock(&load.failures).len() < 30 {
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    let line = summary(&load, seconds);
    println!("concurrency: {line}");
    assert_no_failures(&load);

    // The rate-limited token: one window of an hour, so exactly the limit
    // succeeded (or every attempt, if there were fewer).
    let admitted = get(&load.counts.limited_valid) as i64;
    let refused = get(&load.counts.limited_refused) as i64;
    assert_eq!(
        admitted,
        (admitted + refused).min(LIMIT),
        "successes of the rate-limited token in one window ({} attempts): {line}",
        admitted + refused
    );
    assert!(
        admitted + refused > LIMIT,
        "the load did not reach the rate limit: {line}"
    );
    assert!(
        get(&load.counts.rotate) > 0 && get(&load.counts.revoke) > 0,
        "{line}"
    );

    let mut reader = db.connect(&load.setup_role);
    let swept = sweep(&load, &mut reader);
    let audited = check_audit(&load, &mut reader);
    assert_no_failures(&load);
    assert_eq!(chain_break(&mut reader), None, "the audit chain is intact");
    // Usage counts every verification of the limited token exactly once.
    let mut last = (0, 0);
    eventually("usage of the rate-limited token is flushed", || {
        last = usage(&mut reader, load.limited.id);
        last == (admitted, refused)
    });
    println!(
        "concurrency: after the load {swept} tokens verified as committed, {audited} audit rows checked, \
         audit chain intact, usage of the limited token {last:?}"
    );
}

#[test]
fn committed_changes_survive_a_kill_9_of_the_postmaster() {
    // The load mints and rotates thousands of tokens of one owner; after the
    // restart the sweep verifies them all at once, more than the default
    // share of one owner (pg_tokens.max_tracked_per_owner), which would leave
    // the rate-limited token and the new one below without an entry (refused,
    // or uncounted) until the next flush. This test is not about shares.
    let cluster = Cluster::private(
        "crash",
        "synchronous_commit = on\npg_tokens.max_tracked_per_owner = 0",
    );
    let db = cluster.database();
    let load = Load::prepare(&db, CRASH_LIMIT, true);
    let started = Instant::now();
    run_load(&load, &db, || {
        std::thread::sleep(CRASH_AFTER);
        load.killed.store(true, Ordering::SeqCst);
        cluster.kill_postmaster();
        // The clients stop on their lost connections; any still running
        // (a backend answers until it notices) stop here.
        std::thread::sleep(Duration::from_secs(2));
    });
    let seconds = started.elapsed().as_secs_f64();
    let line = summary(&load, seconds);
    println!(
        "crash: load before the kill: {line}; {} clients saw their connection lost",
        get(&load.lost)
    );
    assert_no_failures(&load);
    let admitted = get(&load.counts.limited_valid) as i64;
    assert!(
        admitted <= CRASH_LIMIT,
        "{admitted} successes of a token limited to {CRASH_LIMIT}"
    );
    assert!(
        get(&load.lost) > 0,
        "no client noticed the kill: was the load still running? {line}"
    );

    cluster.restart_after_crash();
    let mut reader = db.connect(&load.setup_role);
    assert_eq!(
        chain_break(&mut reader),
        None,
        "the audit chain is intact after crash recovery"
    );
    let before = usage(&mut reader, load.limited.id);
    let swept = sweep(&load, &mut reader);
    let audited = check_audit(&load, &mut reader);
    assert_no_failures(&load);

    // Shared memory starts clean: a crash may lose uses not yet flushed but
    // never counts one twice (each client had at most one call in flight).
    assert!(
        before.0 <= admitted + CLIENTS as i64,
        "usage of the limited token after the crash {before:?}, {admitted} admitted before it"
    );
    // Its window is new (windows start afresh after a restart): it admits
    // exactly its limit again.
    let statuses: Vec<String> = (0..CRASH_LIMIT + 10)
        .map(|_| {
            reader
                .query_one(
                    "SELECT status FROM tokens.verify($1)",
                    &[&load.limited.token],
                )
                .expect("verify")
                .get(0)
        })
        .collect();
    let valid = statuses.iter().take_while(|s| *s == "valid").count() as i64;
    assert!(
        valid == CRASH_LIMIT
            && statuses[valid as usize..]
                .iter()
                .all(|s| s == "rate_limited"),
        "the rate-limited token after the restart: {valid} valid, then {:?}",
        &statuses[valid as usize..]
    );
    // A new token verified K times is counted exactly K times.
    const K: i64 = 37;
    let row = reader
        .query_one(
            "SELECT id, token FROM tokens.mint('after the crash', owner => $1)",
            &[&OWNER],
        )
        .expect("mint after the crash");
    let (id, token): (Uuid, String) = (row.get(0), row.get(1));
    for _ in 0..K {
        let valid: bool = reader
            .query_one("SELECT valid FROM tokens.verify($1)", &[&token])
            .expect("verify")
            .get(0);
        assert!(valid, "a new token verifies after the crash");
    }
    let mut last = (0, 0);
    eventually("usage of the new token is flushed", || {
        last = usage(&mut reader, id);
        last == (K, 0)
    });
    eventually("usage of the limited token is flushed", || {
        last = usage(&mut reader, load.limited.id);
        last == (before.0 + CRASH_LIMIT, before.1 + 10)
    });
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        usage(&mut reader, id),
        (K, 0),
        "counted again by a later flush"
    );
    assert_eq!(chain_break(&mut reader), None);
    let committed = lock(&load.committed);
    println!(
        "crash: {} committed mints (+{} successors of committed rotations), {} revokes, {audited} audit rows \
         checked after kill -9 ({swept} tokens verified as committed)",
        committed.mints.len(),
        committed.rotations.len(),
        committed.revokes.iter().filter(|r| r.2).count(),
    );
}
