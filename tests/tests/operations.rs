//! Operations a database team expects (SPEC §6) and the storage rule of
//! SPEC §1: no plaintext at rest, and pg_dump/pg_restore keeps everything.

use std::path::Path;

use pg_tokens_tests::sql::{mint, try_mint, try_revoke, try_rotate, verify};
use pg_tokens_tests::Cluster;

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("read the data directory")
        .flatten()
    {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => files_under(&path, out),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

#[test]
fn no_plaintext_reaches_the_data_directory_the_wal_or_the_log() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let (_, mut app) = db.client(&["tokens_writer", "tokens_revoker"]);
    let mut plaintexts = Vec::new();
    for i in 0..20 {
        let m = try_mint(&mut app, "$1, ARRAY['docs:read']", &[&format!("t{i}")]).unwrap();
        assert!(verify(&mut app, Some(&m.token)).valid);
        if i % 3 == 0 {
            assert!(try_revoke(&mut app, m.id, None).unwrap());
            assert_eq!(verify(&mut app, Some(&m.token)).status, "revoked");
        } else if i % 5 == 1 {
            let r = try_rotate(&mut app, m.id, "1 hour", None).unwrap();
            assert!(verify(&mut app, Some(&r.token)).valid);
            plaintexts.push(r.token);
        }
        plaintexts.push(m.token);
    }
    // Failed calls too: a refused mint and a verify of an unknown token.
    let unknown = format!("tbm_{}", "Zq9".repeat(10) + "xy");
    assert_eq!(verify(&mut app, Some(&unknown)).status, "unknown");
    plaintexts.push(unknown);
    // Leak triage, scope-checked verify, meta and a rate limit: none of them
    // stores or logs the tokens they are given.
    let (_, mut reader) = db.client(&["tokens_reader"]);
    let blob = format!("log: {} and {}", plaintexts[0], plaintexts[1]);
    assert_eq!(
        reader
            .query("SELECT * FROM tokens.find_leaked($1)", &[&blob])
            .unwrap()
            .len(),
        2
    );
    let scoped: String = app
        .query_one(
            "SELECT (tokens.verify($1, ARRAY['docs:write'])).status",
            &[&plaintexts[2]],
        )
        .unwrap()
        .get(0);
    assert!(
        ["forbidden", "revoked"].contains(&scoped.as_str()),
        "{scoped}"
    );
    let last = try_mint(&mut app, "'with meta', meta => '{\"plan\": \"pro\"}'", &[]).unwrap();
    app.execute(
        "SELECT tokens.set_rate_limit($1, 5, '1 minute')",
        &[&last.id],
    )
    .unwrap();
    assert!(verify(&mut app, Some(&last.token)).valid);
    plaintexts.push(last.token);
    // Let the background flush write its usage rows before the scan.
    std::thread::sleep(std::time::Duration::from_millis(2500));

    let mut admin = db.admin();
    admin
        .batch_execute("CHECKPOINT; SELECT pg_switch_wal(); CHECKPOINT;")
        .unwrap();

    let mut files = Vec::new();
    files_under(&cluster.data, &mut files);
    files.push(cluster.log_file());
    assert!(
        files.iter().any(|f| f.to_string_lossy().contains("pg_wal")),
        "the WAL is scanned"
    );
    let mut scanned = 0usize;
    for file in &files {
        let Ok(bytes) = std::fs::read(file) else {
            continue;
        };
        scanned += bytes.len();
        for p in &plaintexts {
            // The secret part alone: a prefix is not a secret.
            assert!(
                !contains(&bytes, p[12..].as_bytes()),
                "a plaintext token is in {}",
                file.display()
            );
        }
    }
    assert!(scanned > 10_000_000, "scanned only {scanned} bytes");

    // And the scan would have found one: the stored hash is there.
    let hash: Vec<u8> = admin
        .query_one("SELECT hash FROM tokens.token_store LIMIT 1", &[])
        .unwrap()
        .get(0);
    let found = files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .any(|b| contains(&b, &hash));
    assert!(found, "the scan sees table data (the hash) on disk");
}

#[test]
fn dump_and_restore_keep_tokens_statuses_and_the_audit_log_row_for_row() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let (_, mut app) = db.client(&["tokens_writer", "tokens_revoker", "tokens_reader"]);
    app.execute("SELECT tokens.define_scope('docs:read', 'Read')", &[])
        .unwrap();
    let live = try_mint(
        &mut app,
        "'live', ARRAY['docs:read'], now() + interval '30 days'",
        &[],
    )
    .unwrap();
    let gone = mint(&mut app, "gone");
    assert!(try_revoke(&mut app, gone.id, None).unwrap());
    let old = mint(&mut app, "old");
    let successor = try_rotate(&mut app, old.id, "1 day", None).unwrap();
    app.execute(
        "SELECT tokens.set_rate_limit($1, 1000, '1 minute')",
        &[&live.id],
    )
    .unwrap();
    assert!(verify(&mut app, Some(&live.token)).valid);
    // Let the background flush write the use first: the dump is to hold it.
    pg_tokens_tests::eventually("the use is flushed", || {
        app.query_one(
            "SELECT uses_24h = 1 AND last_used_at IS NOT NULL FROM tokens.tokens WHERE id = $1",
            &[&live.id],
        )
        .unwrap()
        .get(0)
    });

    // Sealed first (as the worker does within a second), so that the source
    // does not change under the comparison.
    pg_tokens_tests::sql::sealed_chain(&mut db.admin());
    let checkpoint = db
        .admin()
        .query_one("SELECT id, hash FROM tokens.audit_checkpoint()", &[])
        .map(|r| (r.get::<_, i64>(0), r.get::<_, Vec<u8>>(1)))
        .unwrap();
    let restored = db.dump_and_restore();

    let mut before = db.admin();
    let mut after = cluster.connect("postgres", &restored);
    let snapshot = |c: &mut postgres::Client, sql: &str| -> Vec<String> {
        c.query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect()
    };
    for sql in [
        "SELECT t::text FROM tokens.token_store t ORDER BY id",
        "SELECT t::text FROM tokens.token_last_use t ORDER BY token_id",
        "SELECT u::text FROM tokens.usage_counts u ORDER BY token_id, bucket",
        "SELECT a::text FROM tokens.audit_store a ORDER BY id",
        "SELECT c::text FROM tokens.audit_chain c ORDER BY position",
        "SELECT l::text FROM tokens.audit_lock l",
        "SELECT s.scope || s.description FROM tokens.scope_catalog s ORDER BY scope",
    ] {
        let a = snapshot(&mut before, sql);
        assert!(!a.is_empty(), "{sql}");
        assert_eq!(a, snapshot(&mut after, sql), "{sql}");
    }
    for (token, status) in [
        (&live.token, "valid"),
        (&gone.token, "revoked"),
        (&old.token, "valid"),
        (&successor.token, "valid"),
    ] {
        assert_eq!(verify(&mut after, Some(token)).status, status);
    }
    assert_eq!(
        verify(&mut after, Some(&live.token)).scopes,
        Some(vec!["docs:read".to_string()])
    );

    // A checkpoint taken before the dump holds for the copy.
    let broken: Option<i64> = after
        .query_one(
            "SELECT tokens.verify_audit_chain($1, $2)",
            &[&checkpoint.0, &checkpoint.1],
        )
        .unwrap()
        .get(0);
    assert_eq!(broken, None, "the restored log hashes to the checkpoint");
    // The restored log goes on from where it was: the next row links to the
    // last restored one.
    let m = mint(&mut after, "after restore");
    // (The mint's event took the next id of the restored sequence: a
    // restarted one would have collided with a restored row.)
    let (_, ok) = pg_tokens_tests::sql::sealed_chain(&mut after);
    assert!(ok, "the chain links across the restore");
    assert!(verify(&mut after, Some(&m.token)).valid);
    drop(after);
    let mut admin = cluster.connect("postgres", "postgres");
    admin
        .batch_execute(&format!("DROP DATABASE {restored} WITH (FORCE)"))
        .unwrap();
}
