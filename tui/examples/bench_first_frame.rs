//! Time to the first frame with data and resident memory of the console,
//! over 1,000 and 100,000 tokens measured in the same run (the smaller one
//! is the peer). Not a test: it prints figures.
//!
//!   cargo run --release -p tokens-console --example bench_first_frame
//!
//! Uses the test cluster ($PG_TOKENS_TEST_DIR, $PG_TOKENS_TEST_PORT).

use std::time::{Duration, Instant};

use pg_tokens_tests::{Cluster, Db};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokens_console::action::Action;
use tokens_console::conn::{self, ProcessEnv};
use tokens_console::db::queries;
use tokens_console::run::Console;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn seed(db: &Db, n: i64) {
    let started = Instant::now();
    // In batches of 2,000, one transaction each: mint appends to the audit chain.
    let mut admin = db.admin();
    let mut done = 0i64;
    while done < n {
        let upto = (done + 2_000).min(n);
        admin
            .execute(
                "SELECT count(tokens.mint('bench ' || g, ARRAY['read'], now() + interval '30 days', 'service', 'group:g' || (g % 50)))
                   FROM generate_series($1::bigint, $2::bigint) g",
                &[&(done + 1), &upto],
            )
            .expect("seed tokens");
        done = upto;
    }
    eprintln!(
        "seeded {n} tokens in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

fn measure(db: &Db) -> (Duration, u64, u64) {
    let dsn = format!(
        "host={} port={} user=postgres dbname={}",
        db.cluster.socket_dir.display(),
        db.cluster.port,
        db.name
    );
    let started = Instant::now();
    let target = conn::resolve(Some(&dsn), &ProcessEnv).expect("dsn");
    let mut client = target.connect().expect("connect");
    let session = queries::session(&mut client).expect("session");
    let terminal = Terminal::new(TestBackend::new(160, 50)).expect("terminal");
    let mut console = Console::start(terminal, target, client, session, Box::new(|_| {}));
    while !console.app.tokens.loaded {
        console.wait_reply(Duration::from_secs(10));
    }
    console.draw().expect("draw");
    let first_frame = started.elapsed();
    let rss_first = rss_kib();
    // Page through 50 pages (5,000 rows): memory must stay flat.
    for _ in 0..50 {
        console.update(Action::NextPage);
        while console.app.tokens.loading {
            console.wait_reply(Duration::from_secs(10));
        }
        console.draw().expect("draw");
    }
    (first_frame, rss_first, rss_kib())
}

fn main() {
    let cluster = Cluster::shared();
    let small = cluster.database();
    seed(&small, 1_000);
    let big = cluster.database();
    seed(&big, 100_000);
    // warm both once (catalog caches, page cache), then measure
    let _ = measure(&small);
    let _ = measure(&big);
    let (f1, r1, p1) = measure(&small);
    let (f2, r2, p2) = measure(&big);
    println!("tokens      first frame   RSS at first frame   RSS after 50 pages");
    println!(
        "1,000       {:>8.1} ms   {:>12} KiB   {:>12} KiB",
        f1.as_secs_f64() * 1e3,
        r1,
        p1
    );
    println!(
        "100,000     {:>8.1} ms   {:>12} KiB   {:>12} KiB",
        f2.as_secs_f64() * 1e3,
        r2,
        p2
    );
    println!(
        "ratio 100k/1k: first frame {:.2}x, RSS {:.2}x",
        f2.as_secs_f64() / f1.as_secs_f64(),
        r2 as f64 / r1.max(1) as f64
    );
}
