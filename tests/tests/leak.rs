//! `tokens.find_leaked` (SPEC §2): every distinct well-formed token in a
//! pasted blob, by hash, with its status; never the plaintext; tokens_reader.

use pg_tokens_tests::sql::{mint, try_revoke};
use pg_tokens_tests::{sqlstate, Cluster};

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

#[test]
fn finds_each_leaked_token_with_its_status_and_never_returns_it() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let live = mint(&mut app, "live one");
    let gone = mint(&mut app, "revoked one");
    assert!(try_revoke(&mut app, gone.id, None).unwrap());
    // Well-formed, but not one of ours.
    let stranger = format!("tbm_{}", "Zz9-".repeat(8));
    let blob = format!(
        "2026-11-26 ERROR auth failed for {}\nGET /cb?token={}&x=1\n{{\"key\": \"{}\"}}\n\
         again {} and look-alikes: {}A x{} tbx_{} {}\n",
        live.token,
        gone.token,
        stranger,
        live.token,
        live.token,
        gone.token,
        &live.token[4..],
        &live.token[..35],
    );
    let before = db.counts();
    let rows = app
        .query(
            "SELECT prefix, token_id, status, owner, name FROM tokens.find_leaked($1)",
            &[&blob],
        )
        .unwrap();
    assert_eq!(db.counts(), before, "nothing written");
    let got: Vec<(
        String,
        Option<uuid::Uuid>,
        String,
        Option<String>,
        Option<String>,
    )> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                live.token[..12].to_string(),
                Some(live.id),
                "active".into(),
                Some(role.clone()),
                Some("live one".into())
            ),
            (
                gone.token[..12].to_string(),
                Some(gone.id),
                "revoked".into(),
                Some(role.clone()),
                Some("revoked one".into())
            ),
            (
                stranger[..12].to_string(),
                None,
                "unknown".into(),
                None,
                None
            ),
        ]
    );
    for row in &rows {
        for i in 0..5 {
            let v: Option<String> = row.try_get::<_, Option<String>>(i).ok().flatten();
            if let Some(v) = v {
                for t in [&live.token, &gone.token, &stranger] {
                    assert!(!v.contains(&t[12..]), "a row repeats a plaintext");
                }
            }
        }
    }
    let none: i64 = app
        .query_one("SELECT count(*) FROM tokens.find_leaked(NULL)", &[])
        .unwrap()
        .get(0);
    assert_eq!(none, 0);
}

#[test]
fn a_mebibyte_with_fifty_tokens_among_look_alikes_finds_exactly_fifty() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let tokens: Vec<String> = app
        .query(
            "SELECT (tokens.mint('leak ' || g)).token FROM generate_series(1, 50) g",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut blob = String::new();
    let mut i = 0;
    while blob.len() < 1 << 20 {
        let t = &tokens[(i / 4) % 50];
        match i % 4 {
            0 => blob.push_str(&format!("https://api.test/v1?access_token={t}&page=2\n")),
            1 => blob.push_str(&format!("{{\"authorization\": \"Bearer {t}\"}}\n")),
            2 => blob.push_str(&format!(
                "{}A x{} {} tbm_{} \n",
                t,
                t,
                &t[..35],
                "_".repeat(31)
            )),
            _ => blob.push_str("nothing here tbm_ tbm_tbm_ 0123456789 ........................\n"),
        }
        i += 1;
    }
    let rows = app
        .query(
            "SELECT token_id, status FROM tokens.find_leaked($1)",
            &[&blob],
        )
        .unwrap();
    assert_eq!(rows.len(), 50);
    assert!(rows
        .iter()
        .all(|r| r.get::<_, Option<uuid::Uuid>>(0).is_some() && r.get::<_, String>(1) == "active"));
}

#[test]
fn only_tokens_reader_triages_leaks() {
    let db = Cluster::shared().database();
    for grants in [
        &["tokens_writer"][..],
        &["tokens_revoker"],
        &["tokens_self_service"],
        &[],
    ] {
        let (_, mut c) = db.client(grants);
        let r = c.query("SELECT * FROM tokens.find_leaked('x')", &[]);
        assert_eq!(sqlstate(&r), "42501", "{grants:?}");
    }
    let (_, mut reader) = db.client(&["tokens_reader"]);
    assert!(reader
        .query("SELECT * FROM tokens.find_leaked('x')", &[])
        .is_ok());
}

/// A blob of `n` distinct well-formed tokens (none of ours), each twice.
fn many_strangers(n: usize) -> String {
    let tokens: Vec<String> = (0..n).map(|i| format!("tbm_{i:032}")).collect();
    format!("{}\n{}", tokens.join(" "), tokens.join(","))
}

/// De-duplication is linear (80k tokens took 8 s on 0.4.0, by a scan of
/// the rows found so far), and every one is still reported once.
#[test]
fn a_blob_of_many_tokens_gives_each_once() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let live = mint(&mut app, "among many");
    let blob = format!("{}\n{}", many_strangers(80_000), live.token);
    let row = app
        .query_one(
            "SELECT count(*), count(DISTINCT prefix || token_id::text), \
                    count(*) FILTER (WHERE status = 'unknown') \
               FROM tokens.find_leaked($1)",
            &[&blob],
        )
        .unwrap();
    let (rows, ours, unknown): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((rows, ours, unknown), (80_001, 1, 80_000));
}

/// A long triage can be cancelled: statement_timeout stops it in the
/// lookup loop (0.4.0 ran on, uncancellable).
#[test]
fn a_long_triage_obeys_statement_timeout() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    // About 14 MiB and 200k distinct tokens: far more than 100 ms of lookups.
    let blob = many_strangers(200_000);
    app.batch_execute("SET statement_timeout = '100ms'")
        .unwrap();
    let r = app.query("SELECT * FROM tokens.find_leaked($1)", &[&blob]);
    assert_eq!(sqlstate(&r), "57014", "{r:?}");
    app.batch_execute("RESET statement_timeout").unwrap();
    assert_eq!(
        app.query_one("SELECT 1", &[]).unwrap().get::<_, i32>(0),
        1,
        "the session goes on"
    );
}

/// At most 16 MiB of text (22023 beyond, saying the limit); exactly 16 MiB
/// is taken.
#[test]
fn a_blob_over_16_mib_is_refused() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let limit = 16 * 1024 * 1024;
    let over = "x".repeat(limit + 1);
    let r = app.query("SELECT * FROM tokens.find_leaked($1)", &[&over]);
    assert_eq!(sqlstate(&r), "22023");
    assert!(
        pg_tokens_tests::message(&r).contains("at most 16777216 bytes"),
        "{r:?}"
    );
    let at = "x".repeat(limit);
    let rows = app
        .query("SELECT * FROM tokens.find_leaked($1)", &[&at])
        .unwrap();
    assert!(rows.is_empty());
}
