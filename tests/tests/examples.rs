//! The worked examples in sql/ run as written, in order, on a fresh database.

use pg_tokens_tests::{run, Cluster};

#[test]
fn the_sql_examples_run() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(files.len() >= 3);
    let mut outputs = String::new();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "sql"))
    {
        let mut psql = cluster.client_tool("psql");
        psql.args([
            "-X",
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &db.name,
            "-f",
        ])
        .arg(file);
        outputs.push_str(&String::from_utf8_lossy(&run(psql).stdout));
    }
    // The verify example shows valid, malformed and, after the revoke, revoked.
    for status in ["valid", "malformed", "revoked"] {
        assert!(
            outputs.contains(status),
            "{status} missing from:\n{outputs}"
        );
    }
    // The gateway example: scope-checked verify with meta, a suspension,
    // and a leak found and revoked.
    for shown in ["| gold", "forbidden", "disabled", "active", "revoked"] {
        assert!(outputs.contains(shown), "{shown} missing from:\n{outputs}");
    }
    // The usage-caps example: three calls, then usage_exceeded; after the
    // upgrade one of 1,000 credits is spent.
    assert!(outputs.contains("usage_exceeded"), "{outputs}");
    assert!(
        outputs.contains("example: trial | active |       999 |          1000 | 1 day"),
        "{outputs}"
    );
    // The authorization example: the owner's row is visible with a token and
    // nothing without one; the app's audit event went via the token.
    assert!(outputs.contains("\"via\": \"token\""), "{outputs}");
    assert!(outputs.contains("Runbook | tenant:acme | t"), "{outputs}");
    // The events example: the listener hears the revoke's event, the
    // outbox shows it, and a policy refuses a token that never expires.
    assert!(
        outputs.contains("Asynchronous notification \"pg_tokens_events\""),
        "{outputs}"
    );
    assert!(outputs.contains("token.revoked"), "{outputs}");
    assert!(outputs.contains("token.reused"), "{outputs}");
    assert!(
        outputs.contains("max_lifetime        | 90 days"),
        "{outputs}"
    );
    // The PostgREST example: the token's owner's orders only, none without.
    assert!(outputs.contains(" tenant:acme |    42"), "{outputs}");
    assert!(!outputs.contains("tenant:globex |"), "{outputs}");
    let (tokens, audit) = db.counts();
    assert!(
        tokens >= 3 && audit >= 5,
        "{tokens} tokens, {audit} audit rows"
    );
}
