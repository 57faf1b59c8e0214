//! Database-side authorization (SPEC §2 principal, issue "authenticate"):
//! the principal cannot be forged, ends with the transaction, follows
//! savepoints, drives RLS policies and triggers, and works on a hot standby.

use pg_tokens_tests::sql::{mint, try_mint, try_revoke, verify, Minted};
use pg_tokens_tests::{message, server_major, sqlstate, Cluster, Db};
use postgres::{Client, GenericClient};

const APP: &[&str] = &["tokens_writer", "tokens_revoker"];

fn owner(c: &mut impl GenericClient) -> Option<String> {
    c.query_one("SELECT tokens.current_owner()", &[])
        .unwrap()
        .get(0)
}

fn principal(
    c: &mut impl GenericClient,
) -> (
    Option<uuid::Uuid>,
    Option<String>,
    Option<Vec<String>>,
    bool,
) {
    let r = c
        .query_one(
            "SELECT tokens.current_token_id(), tokens.current_owner(), tokens.current_scopes(), tokens.has_scope('docs:read')",
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

fn authenticate(c: &mut impl GenericClient, token: &str) -> String {
    c.query_one("SELECT status FROM tokens.authenticate($1)", &[&token])
        .unwrap()
        .get(0)
}

fn scoped(c: &mut Client, name: &str, scopes: &[&str], owner: &str) -> Minted {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    try_mint(c, "$1, $2, NULL, 'service', $3", &[&name, &scopes, &owner]).unwrap()
}

#[test]
fn nothing_but_authenticate_creates_a_principal() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let m = scoped(&mut app, "x", &["docs:read"], "tenant:a");
    let (_, mut mallory) = db.client(&[]);
    // Load the library in this session: from then on its prefix is reserved.
    verify(&mut mallory, Some("tbm_x"));
    for forge in [
        "SET pg_tokens.owner = 'tenant:a'",
        "SET tokens.owner = 'tenant:a'",
        "SET pg_tokens.principal = 'tenant:a'",
        "SELECT set_config('pg_tokens.current_owner', 'tenant:a', false)",
        "SELECT set_config('tokens.current_owner', 'tenant:a', false)",
        "SELECT set_config('tokens.token_id', '00000000-0000-0000-0000-000000000000', true)",
        "SELECT set_config('tokens.scopes', '{docs:read}', true)",
        "SELECT set_config('app.current_owner', 'tenant:a', true)",
        "RESET ALL",
    ] {
        // Names under the extension's prefix are refused outright; the rest
        // are accepted and change nothing.
        {
            let mut tx = mallory.transaction().unwrap();
            let r = tx.batch_execute(forge);
            assert_eq!(r.is_err(), forge.contains("pg_tokens."), "{forge}: {r:?}");
            if r.is_ok() {
                assert_eq!(principal(&mut tx), (None, None, None, false), "{forge}");
                tx.commit().unwrap();
            }
        }
        assert_eq!(
            principal(&mut mallory),
            (None, None, None, false),
            "{forge}"
        );
    }
    // SET ROLE to the token's minter gives no principal either.
    let mut admin = db.admin();
    admin.batch_execute(&format!("SET ROLE {role}")).unwrap();
    assert_eq!(principal(&mut admin), (None, None, None, false));
    let _ = m;
}

#[test]
fn the_principal_lives_exactly_as_long_as_the_transaction() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let m = scoped(&mut app, "x", &["docs:read", "docs:write"], "tenant:a");

    // Visible in its transaction, gone after COMMIT.
    let mut tx = app.transaction().unwrap();
    assert_eq!(authenticate(&mut tx, &m.token), "valid");
    assert_eq!(
        principal(&mut tx),
        (
            Some(m.id),
            Some("tenant:a".into()),
            Some(vec!["docs:read".into(), "docs:write".into()]),
            true
        )
    );
    // RESET ALL and SET ROLE do not change it.
    tx.batch_execute("RESET ALL").unwrap();
    assert_eq!(owner(&mut tx).as_deref(), Some("tenant:a"));
    tx.commit().unwrap();
    assert_eq!(principal(&mut app), (None, None, None, false));

    // Gone after ROLLBACK.
    let mut tx = app.transaction().unwrap();
    authenticate(&mut tx, &m.token);
    tx.rollback().unwrap();
    assert_eq!(owner(&mut app), None);

    // Gone after an error aborts the transaction.
    app.batch_execute("BEGIN").unwrap();
    authenticate(&mut app, &m.token);
    assert!(app.batch_execute("SELECT 1/0").is_err());
    app.batch_execute("ROLLBACK").unwrap();
    assert_eq!(owner(&mut app), None);

    // An invalid token clears it.
    let mut tx = app.transaction().unwrap();
    authenticate(&mut tx, &m.token);
    assert_eq!(authenticate(&mut tx, "tbm_nope"), "malformed");
    assert_eq!(principal(&mut tx), (None, None, None, false));
    tx.commit().unwrap();

    // Outside a transaction block each statement is its own transaction.
    authenticate(&mut app, &m.token);
    assert_eq!(owner(&mut app), None);
}

#[test]
fn savepoints_follow_sql_semantics() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let a = scoped(&mut app, "a", &[], "tenant:a");
    let b = scoped(&mut app, "b", &[], "tenant:b");
    let mut tx = app.transaction().unwrap();
    authenticate(&mut tx, &a.token);
    tx.batch_execute("SAVEPOINT s1").unwrap();
    authenticate(&mut tx, &b.token);
    assert_eq!(owner(&mut tx).as_deref(), Some("tenant:b"));
    tx.batch_execute("ROLLBACK TO SAVEPOINT s1").unwrap();
    assert_eq!(
        owner(&mut tx).as_deref(),
        Some("tenant:a"),
        "rolled back: the earlier principal is back"
    );

    tx.batch_execute("SAVEPOINT s2").unwrap();
    authenticate(&mut tx, &b.token);
    tx.batch_execute("SAVEPOINT s3").unwrap();
    authenticate(&mut tx, "malformed");
    assert_eq!(owner(&mut tx), None);
    tx.batch_execute("RELEASE SAVEPOINT s3").unwrap();
    assert_eq!(owner(&mut tx), None, "released: the change stays");
    tx.batch_execute("ROLLBACK TO SAVEPOINT s2").unwrap();
    assert_eq!(
        owner(&mut tx).as_deref(),
        Some("tenant:a"),
        "s3 was released into s2, and s2 rolled back"
    );

    tx.batch_execute("SAVEPOINT s4").unwrap();
    authenticate(&mut tx, &b.token);
    tx.batch_execute("RELEASE SAVEPOINT s4").unwrap();
    assert_eq!(owner(&mut tx).as_deref(), Some("tenant:b"));
    // An exception block is a savepoint too.
    tx.batch_execute(&format!(
        "DO $$ BEGIN PERFORM tokens.authenticate('{}'); RAISE EXCEPTION 'boom'; \
         EXCEPTION WHEN OTHERS THEN NULL; END $$",
        a.token
    ))
    .unwrap();
    assert_eq!(owner(&mut tx).as_deref(), Some("tenant:b"));
    tx.commit().unwrap();
    assert_eq!(owner(&mut app), None);
}

#[test]
fn scope_checks() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let narrow = scoped(&mut app, "n", &["docs:read"], "tenant:a");
    let none = scoped(&mut app, "e", &[], "tenant:a");
    let full = try_mint(&mut app, "'f', NULL, NULL, 'service', 'tenant:a'", &[]).unwrap();
    let mut tx = app.transaction().unwrap();
    let has = |tx: &mut postgres::Transaction, s: &str| -> bool {
        tx.query_one("SELECT tokens.has_scope($1)", &[&s])
            .unwrap()
            .get(0)
    };
    assert!(!has(&mut tx, "docs:read"), "no principal, no scope");
    let r = tx.query_one("SELECT tokens.require_scope('docs:read')", &[]);
    assert_eq!(sqlstate(&r), "42501");
    assert!(
        message(&r).contains("docs:read") && message(&r).contains("authenticate"),
        "{}",
        message(&r)
    );
    drop(tx);

    let mut tx = app.transaction().unwrap();
    authenticate(&mut tx, &narrow.token);
    assert!(has(&mut tx, "docs:read"));
    assert!(!has(&mut tx, "docs:write"));
    tx.execute("SELECT tokens.require_scope('docs:read')", &[])
        .unwrap();
    let r = tx.query_one("SELECT tokens.require_scope('docs:write')", &[]);
    assert_eq!(sqlstate(&r), "42501");
    assert!(message(&r).contains("docs:write"));
    drop(tx);

    let mut tx = app.transaction().unwrap();
    authenticate(&mut tx, &none.token);
    assert!(!has(&mut tx, "docs:read"), "an empty array grants nothing");
    let null_scope: bool = tx
        .query_one("SELECT tokens.has_scope(NULL)", &[])
        .unwrap()
        .get(0);
    assert!(!null_scope);
    authenticate(&mut tx, &full.token);
    assert!(
        has(&mut tx, "anything:at-all"),
        "NULL scopes grant everything"
    );
    let scopes: Option<Vec<String>> = tx
        .query_one("SELECT tokens.current_scopes()", &[])
        .unwrap()
        .get(0);
    assert_eq!(scopes, None);
    tx.commit().unwrap();
}

#[test]
fn require_scope_is_never_optimised_away() {
    let db = Cluster::shared().database();
    let (_, mut c) = db.client(&[]);
    let r = c.query(
        "SELECT id FROM (SELECT tokens.require_scope('admin') AS c, 1 AS id OFFSET 0) s",
        &[],
    );
    assert_eq!(sqlstate(&r), "42501", "{r:?}");
}

#[test]
fn application_audit_events() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(APP);
    let (plain_name, mut plain) = db.client(&[]);
    let m = scoped(&mut app, "x", &[], "tenant:a");

    // Without a token: the calling role acts.
    let id: i64 = plain
        .query_one(
            "SELECT tokens.audit('invoice.paid', 'invoice:42', '{\"amount\": 10}')",
            &[],
        )
        .unwrap()
        .get(0);
    // With a token: its owner acts, via the token.
    let mut tx = plain.transaction().unwrap();
    authenticate(&mut tx, &m.token);
    let id2: i64 = tx
        .query_one("SELECT tokens.audit('invoice.paid', 'invoice:43')", &[])
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    assert_eq!(id2, id + 1);

    let mut admin = db.admin();
    let rows = admin
        .query("SELECT actor, db_role, action, target, meta FROM tokens.audit_log WHERE id IN ($1, $2) ORDER BY id", &[&id, &id2])
        .unwrap();
    let get = |i: usize| -> (
        String,
        String,
        String,
        Option<String>,
        Option<serde_json::Value>,
    ) {
        let r = &rows[i];
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))
    };
    assert_eq!(
        get(0),
        (
            plain_name.clone(),
            plain_name.clone(),
            "invoice.paid".into(),
            Some("invoice:42".into()),
            Some(serde_json::json!({"amount": 10}))
        )
    );
    assert_eq!(
        get(1),
        (
            "tenant:a".into(),
            plain_name.clone(),
            "invoice.paid".into(),
            Some("invoice:43".into()),
            Some(serde_json::json!({"via": "token", "token_id": m.id.to_string()}))
        )
    );

    // meta is kept exactly as PostgreSQL reads it: every digit.
    let exact = "{\"amount\": 123456789012345678901, \"rate\": 19.999999999999999999}";
    let id3: i64 = plain
        .query_one("SELECT tokens.audit('a', NULL, $1::text::jsonb)", &[&exact])
        .unwrap()
        .get(0);
    let same: bool = admin
        .query_one(
            "SELECT meta = $2::text::jsonb FROM tokens.audit_log WHERE id = $1",
            &[&id3, &exact],
        )
        .unwrap()
        .get(0);
    assert!(same, "meta stored exactly");

    // Bad input: 22023 and nothing written.
    let big = format!("{{\"k\": \"{}\"}}", "x".repeat(4100));
    let at_limit = format!("{{\"k\": \"{}\"}}", "x".repeat(4096 - 10));
    plain
        .query_one(
            "SELECT tokens.audit('a', NULL, $1::text::jsonb)",
            &[&at_limit],
        )
        .unwrap();
    for (what, sql) in [
        (
            "reserved action",
            "SELECT tokens.audit('token.revoke', 'token:x')".to_string(),
        ),
        ("NULL action", "SELECT tokens.audit(NULL, 'x')".into()),
        (
            "upper-case action",
            "SELECT tokens.audit('Invoice', 'x')".into(),
        ),
        (
            "81-char action",
            format!("SELECT tokens.audit('{}', 'x')", "a".repeat(81)),
        ),
        (
            "201-char target",
            format!("SELECT tokens.audit('a', '{}')", "t".repeat(201)),
        ),
        (
            "meta an array",
            "SELECT tokens.audit('a', 'x', '[1, 2]')".into(),
        ),
        (
            "meta a string",
            "SELECT tokens.audit('a', 'x', '\"s\"')".into(),
        ),
        (
            "meta sets via",
            "SELECT tokens.audit('a', 'x', '{\"via\": \"forged\"}')".into(),
        ),
        (
            "meta sets token_id",
            "SELECT tokens.audit('a', 'x', '{\"token_id\": \"forged\"}')".into(),
        ),
        (
            "meta over 4096 bytes",
            format!("SELECT tokens.audit('a', 'x', '{big}')"),
        ),
    ] {
        let before = db.counts();
        let r = plain.batch_execute(&sql);
        assert_eq!(sqlstate(&r), "22023", "{what}: {r:?}");
        assert_eq!(db.counts(), before, "{what}");
    }
    let _ = role;
}

/// The example schema of sql/04_authorization.sql, on `rows` rows spread over
/// ten tenants.
fn docs_table(db: &Db, rows: i64) -> String {
    let app = db.login_role(APP);
    db.admin()
        .batch_execute(&format!(
            "CREATE TABLE docs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner text NOT NULL, \
                                title text NOT NULL, written_by_token uuid);
             INSERT INTO docs (owner, title) SELECT 'tenant:' || (g % 10), 'doc ' || g FROM generate_series(1, {rows}) g;
             CREATE INDEX ON docs (owner);
             ANALYZE docs;
             GRANT SELECT, INSERT, UPDATE, DELETE ON docs TO {app};
             ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
             CREATE POLICY docs_read ON docs FOR SELECT
               USING (owner = (SELECT tokens.current_owner()) AND (SELECT tokens.has_scope('docs:read')));
             CREATE POLICY docs_write ON docs FOR ALL
               USING (owner = (SELECT tokens.current_owner()) AND (SELECT tokens.has_scope('docs:write')))
               WITH CHECK (owner = (SELECT tokens.current_owner()) AND (SELECT tokens.has_scope('docs:write')));
             CREATE FUNCTION stamp_doc() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               PERFORM tokens.require_scope('docs:write');
               NEW.written_by_token := tokens.current_token_id();
               RETURN NEW;
             END $$;
             CREATE TRIGGER docs_stamp BEFORE INSERT OR UPDATE ON docs FOR EACH ROW EXECUTE FUNCTION stamp_doc();"
        ))
        .unwrap();
    app
}

fn visible(c: &mut Client, token: Option<&str>, settings: &str) -> i64 {
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(settings).unwrap();
    if let Some(t) = token {
        authenticate(&mut tx, t);
    }
    let n: i64 = tx
        .query_one("SELECT count(*) FROM docs", &[])
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    n
}

#[test]
fn rls_admits_exactly_the_owners_rows() {
    let db = Cluster::shared().database();
    let app = docs_table(&db, 100_000);
    let mut c = db.connect(&app);
    let tokens: Vec<Minted> = (0..4)
        .map(|i| scoped(&mut c, "t", &["docs:read"], &format!("tenant:{i}")))
        .collect();
    // PG 16 renamed force_parallel_mode.
    let force = if server_major(&mut c) >= 16 {
        "debug_parallel_query"
    } else {
        "force_parallel_mode"
    };
    let parallel = format!(
        "SET LOCAL {force} = on; SET LOCAL parallel_setup_cost = 0; \
         SET LOCAL parallel_tuple_cost = 0; SET LOCAL min_parallel_table_scan_size = 0"
    );
    let parallel = parallel.as_str();
    for t in &tokens {
        assert_eq!(visible(&mut c, Some(&t.token), ""), 10_000, "{}", t.owner);
        assert_eq!(
            visible(&mut c, Some(&t.token), parallel),
            10_000,
            "{} with parallel query",
            t.owner
        );
    }
    assert_eq!(visible(&mut c, None, ""), 0);
    assert_eq!(visible(&mut c, None, parallel), 0);
    // The owner's rows, not just the right number of them.
    let mut tx = c.transaction().unwrap();
    authenticate(&mut tx, &tokens[2].token);
    let owners: Vec<String> = tx
        .query("SELECT DISTINCT owner FROM docs", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(owners, ["tenant:2"]);
    tx.commit().unwrap();
    // A token without docs:read sees nothing.
    let unscoped = scoped(&mut c, "u", &[], "tenant:1");
    assert_eq!(visible(&mut c, Some(&unscoped.token), ""), 0);
    // A revoked token sees nothing in the next transaction.
    assert!(try_revoke(&mut c, tokens[0].id, Some("tenant:0")).unwrap());
    assert_eq!(visible(&mut c, Some(&tokens[0].token), ""), 0);
    // The per-row form gives the same answer.
    let mut tx = c.transaction().unwrap();
    authenticate(&mut tx, &tokens[1].token);
    let n: i64 = tx
        .query_one(
            "SELECT count(*) FROM docs WHERE owner = tokens.current_owner()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 10_000);
    tx.commit().unwrap();
}

#[test]
fn the_trigger_refuses_writes_without_the_scope_and_stamps_the_token() {
    let db = Cluster::shared().database();
    let app = docs_table(&db, 10);
    let mut c = db.connect(&app);
    let reader = scoped(&mut c, "r", &["docs:read"], "tenant:5");
    let writer = scoped(&mut c, "w", &["docs:read", "docs:write"], "tenant:5");
    let count = |db: &Db| -> i64 {
        db.admin()
            .query_one("SELECT count(*) FROM docs", &[])
            .unwrap()
            .get(0)
    };
    let before = count(&db);

    for token in [None, Some(&reader.token)] {
        let mut tx = c.transaction().unwrap();
        if let Some(t) = token {
            authenticate(&mut tx, t);
        }
        let r = tx.execute(
            "INSERT INTO docs (owner, title) VALUES ('tenant:5', 'x')",
            &[],
        );
        assert_eq!(sqlstate(&r), "42501", "{r:?}");
        assert!(message(&r).contains("docs:write"), "{}", message(&r));
    }
    assert_eq!(count(&db), before, "nothing written");

    let mut tx = c.transaction().unwrap();
    authenticate(&mut tx, &writer.token);
    let stamped: Option<uuid::Uuid> = tx
        .query_one(
            "INSERT INTO docs (owner, title) VALUES ('tenant:5', 'new') RETURNING written_by_token",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stamped, Some(writer.id));
    // Another tenant's rows cannot be written either.
    let r = tx.execute(
        "INSERT INTO docs (owner, title) VALUES ('tenant:6', 'x')",
        &[],
    );
    assert_eq!(sqlstate(&r), "42501");
    drop(tx);
    assert_eq!(count(&db), before, "the transaction was rolled back");
}

#[test]
fn verify_and_authenticate_on_a_hot_standby() {
    let primary = Cluster::private("primary", "");
    let db = primary.database();
    let standby = Cluster::replica_of(&primary, "standby");
    let (role, mut app) = db.client(APP);
    let m = scoped(&mut app, "replicated", &["docs:read"], "tenant:r");
    standby.wait_for_replay(&primary);

    let mut replica = standby.connect(&role, &db.name);
    let in_recovery: bool = replica
        .query_one("SELECT pg_is_in_recovery()", &[])
        .unwrap()
        .get(0);
    assert!(in_recovery);
    let v = verify(&mut replica, Some(&m.token));
    assert!(v.valid, "{v:?}");
    assert_eq!(v.owner.as_deref(), Some("tenant:r"));
    let mut tx = replica.transaction().unwrap();
    assert_eq!(authenticate(&mut tx, &m.token), "valid");
    assert_eq!(owner(&mut tx).as_deref(), Some("tenant:r"));
    tx.commit().unwrap();
    for bad in ["", "tbm_x", &format!("tbm_{}", "Q".repeat(32))] {
        assert!(!verify(&mut replica, Some(bad)).valid);
    }

    assert!(try_revoke(&mut app, m.id, Some("tenant:r")).unwrap());
    standby.wait_for_replay(&primary);
    assert_eq!(verify(&mut replica, Some(&m.token)).status, "revoked");
    let mut tx = replica.transaction().unwrap();
    assert_eq!(authenticate(&mut tx, &m.token), "revoked");
    assert_eq!(owner(&mut tx), None);
    tx.commit().unwrap();
    // A token minted meanwhile shows up once replayed.
    let later = mint(&mut app, "later");
    standby.wait_for_replay(&primary);
    assert!(verify(&mut replica, Some(&later.token)).valid);
    drop(replica);
    drop(db);
}

/// `current_scopes()` is NULL both without a principal and for a
/// full-access token, so a policy `current_scopes() IS NULL` admitted
/// unauthenticated sessions; `tokens.is_authenticated()` tells them apart,
/// follows the transaction and savepoints like the principal, and is what a
/// policy meaning "some token" tests.
#[test]
fn is_authenticated_tells_no_principal_from_a_full_access_token() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let full = mint(&mut app, "full access");
    let is_auth = |c: &mut Client| -> (bool, Option<Vec<String>>) {
        let r = c
            .query_one(
                "SELECT tokens.is_authenticated(), tokens.current_scopes()",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(is_auth(&mut app), (false, None), "no principal");
    let mut tx = app.transaction().unwrap();
    assert_eq!(authenticate(&mut tx, &full.token), "valid");
    let r = tx
        .query_one(
            "SELECT tokens.is_authenticated(), tokens.current_scopes() IS NULL",
            &[],
        )
        .unwrap();
    assert_eq!(
        (r.get::<_, bool>(0), r.get::<_, bool>(1)),
        (true, true),
        "full access"
    );
    tx.batch_execute("SAVEPOINT s").unwrap();
    assert_eq!(authenticate(&mut tx, "tbm_not-a-token"), "malformed");
    let cleared: bool = tx
        .query_one("SELECT tokens.is_authenticated()", &[])
        .unwrap()
        .get(0);
    assert!(!cleared, "an invalid token clears the principal");
    tx.batch_execute("ROLLBACK TO SAVEPOINT s").unwrap();
    let back: bool = tx
        .query_one("SELECT tokens.is_authenticated()", &[])
        .unwrap()
        .get(0);
    assert!(back, "the principal before the savepoint is back");
    tx.commit().unwrap();
    assert_eq!(
        is_auth(&mut app),
        (false, None),
        "it ends with the transaction"
    );
}
