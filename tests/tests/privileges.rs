//! SPEC §3 for the calls built so far: each of the four roles, a plain login
//! role (PUBLIC), the owner-only rule, the actor rule, SET ROLE, and
//! search_path hijacking. A refused call is 42501 and writes nothing.

use pg_tokens_tests::sql::{mint, try_mint, try_revoke, try_rotate, verify};
use pg_tokens_tests::{message, sqlstate, Cluster, Db};
use postgres::Client;

fn refused<T: std::fmt::Debug>(
    db: &Db,
    what: &str,
    call: impl FnOnce() -> Result<T, postgres::Error>,
) {
    let before = db.counts();
    let r = call();
    assert_eq!(
        sqlstate(&r),
        "42501",
        "{what} should be refused with 42501, got {r:?}"
    );
    assert_eq!(db.counts(), before, "{what} wrote something");
}

fn select(c: &mut Client, sql: &str) -> Result<Vec<postgres::Row>, postgres::Error> {
    c.query(sql, &[])
}

#[test]
fn the_calls_each_role_may_make() {
    let db = Cluster::shared().database();
    let (_, mut writer) = db.client(&["tokens_writer"]);
    let (_, mut revoker) = db.client(&["tokens_revoker"]);
    let (_, mut reader) = db.client(&["tokens_reader"]);
    let (_, mut plain) = db.client(&[]);

    // Minting: tokens_writer only (self-service has its own test).
    let m = try_mint(&mut writer, "'svc', owner => 'group:ops'", &[]).unwrap();
    for (who, c) in [
        ("reader", &mut reader),
        ("revoker", &mut revoker),
        ("plain", &mut plain),
    ] {
        refused(&db, &format!("mint by {who}"), || try_mint(c, "'x'", &[]));
        refused(&db, &format!("define_scope by {who}"), || {
            c.execute("SELECT tokens.define_scope('a', 'b')", &[])
        });
        refused(&db, &format!("rotate by {who}"), || {
            try_rotate(c, m.id, "0", Some("group:ops"))
        });
    }
    // Revoking: tokens_revoker (tokens_writer has no grant for it).
    for (who, c) in [
        ("reader", &mut reader),
        ("writer", &mut writer),
        ("plain", &mut plain),
    ] {
        refused(&db, &format!("revoke by {who}"), || {
            try_revoke(c, m.id, Some("group:ops"))
        });
    }
    // Verify is everyone's.
    for c in [&mut writer, &mut revoker, &mut reader, &mut plain] {
        assert!(verify(c, Some(&m.token)).valid);
    }
    // Reading: tokens_reader sees everything; nobody else sees the views;
    // nobody at all reaches the tables.
    assert_eq!(
        select(&mut reader, "SELECT * FROM tokens.tokens")
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        select(&mut reader, "SELECT * FROM tokens.audit_log")
            .unwrap()
            .len(),
        1
    );
    for (who, c) in [
        ("writer", &mut writer),
        ("revoker", &mut revoker),
        ("plain", &mut plain),
    ] {
        refused(&db, &format!("tokens.tokens by {who}"), || {
            select(c, "SELECT * FROM tokens.tokens")
        });
        refused(&db, &format!("tokens.audit_log by {who}"), || {
            select(c, "SELECT * FROM tokens.audit_log")
        });
    }
    for c in [&mut writer, &mut revoker, &mut reader, &mut plain] {
        for table in [
            "token_store",
            "token_last_use",
            "audit_store",
            "audit_lock",
            "scope_catalog",
        ] {
            refused(&db, &format!("SELECT from {table}"), || {
                select(c, &format!("SELECT * FROM tokens.{table}"))
            });
            refused(&db, &format!("DELETE from {table}"), || {
                c.execute(&format!("DELETE FROM tokens.{table}"), &[])
            });
        }
        refused(&db, "UPDATE via tokens.audit_log", || {
            c.execute("UPDATE tokens.audit_log SET actor = 'x'", &[])
        });
    }
    refused(&db, "INSERT into token_store", || {
        writer.execute(
            "INSERT INTO tokens.token_store (id, hash, prefix, name, kind, owner, created_at) \
             VALUES (gen_random_uuid(), sha256('x'), 'tbm_xxxxxxxx', 'n', 'service', 'o', now())",
            &[],
        )
    });

    // The revoker revokes for the owner; the writer rotates for the owner.
    let rotated = try_rotate(&mut writer, m.id, "1 hour", Some("group:ops")).unwrap();
    assert!(try_revoke(&mut revoker, rotated.id, Some("group:ops")).unwrap());
}

#[test]
fn owner_only_holds_for_every_role() {
    let db = Cluster::shared().database();
    let (writer_name, mut writer) = db.client(&["tokens_writer", "tokens_revoker"]);
    let m = try_mint(&mut writer, "'svc', owner => 'group:ops'", &[]).unwrap();
    // actor defaults to the calling role, which is not the owner.
    refused(&db, "revoke as non-owner", || {
        try_revoke(&mut writer, m.id, None)
    });
    refused(&db, "rotate as non-owner", || {
        try_rotate(&mut writer, m.id, "0", None)
    });
    refused(&db, "revoke for the wrong actor", || {
        try_revoke(&mut writer, m.id, Some("group:other"))
    });
    let r = try_revoke(&mut writer, m.id, None);
    assert!(message(&r).contains("owner"), "{}", message(&r));
    assert!(!message(&r).contains(&m.token));
    // Even a superuser acts for the owner explicitly.
    let mut admin = db.admin();
    refused(&db, "superuser revoke as non-owner", || {
        try_revoke(&mut admin, m.id, None)
    });
    assert!(try_revoke(&mut admin, m.id, Some("group:ops")).unwrap());
    // The audit row names the owner acted for and the real calling role.
    let row = admin
        .query_one(
            "SELECT actor, db_role FROM tokens.audit_log WHERE action = 'token.revoke'",
            &[],
        )
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1)),
        ("group:ops".into(), "postgres".into())
    );
    let _ = writer_name;
}

#[test]
fn unknown_ids_are_p0002() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(&["tokens_writer", "tokens_revoker"]);
    let id = uuid::Uuid::now_v7();
    let before = db.counts();
    assert_eq!(sqlstate(&try_revoke(&mut app, id, None)), "P0002");
    assert_eq!(sqlstate(&try_rotate(&mut app, id, "0", None)), "P0002");
    assert_eq!(db.counts(), before);
}

#[test]
fn self_service_mints_sees_and_manages_only_its_own_personal_tokens() {
    let db = Cluster::shared().database();
    let (me, mut alice) = db.client(&["tokens_self_service"]);
    let (bob_name, mut bob) = db.client(&["tokens_self_service"]);
    let (_, mut writer) = db.client(&["tokens_writer"]);

    let mine = try_mint(&mut alice, "'laptop', kind => 'personal'", &[]).unwrap();
    assert_eq!(
        (mine.kind.as_str(), mine.owner.as_str()),
        ("personal", me.as_str())
    );
    let mine2 = try_mint(&mut alice, "'cli', NULL, NULL, 'personal', $1", &[&me]).unwrap();
    let bobs = try_mint(&mut bob, "'bob', kind => 'personal'", &[]).unwrap();
    // A service token under alice's name, minted by a writer.
    let service = try_mint(&mut writer, "'svc', owner => $1", &[&me]).unwrap();

    refused(&db, "self-service mints a service token", || {
        try_mint(&mut alice, "'x'", &[])
    });
    refused(&db, "self-service mints for another owner", || {
        try_mint(
            &mut alice,
            "'x', kind => 'personal', owner => $1",
            &[&bob_name],
        )
    });
    refused(&db, "self-service defines a scope", || {
        alice.execute("SELECT tokens.define_scope('a', 'b')", &[])
    });

    // Sees its own tokens, of any kind, and nobody else's.
    let mut seen: Vec<uuid::Uuid> = alice
        .query("SELECT id FROM tokens.tokens", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    seen.sort();
    let mut expected = vec![mine.id, mine2.id, service.id];
    expected.sort();
    assert_eq!(seen, expected);
    refused(&db, "self-service reads the audit log", || {
        select(&mut alice, "SELECT * FROM tokens.audit_log")
    });

    // Manages only its own personal tokens.
    refused(&db, "self-service revokes its service token", || {
        try_revoke(&mut alice, service.id, None)
    });
    refused(&db, "self-service rotates its service token", || {
        try_rotate(&mut alice, service.id, "0", None)
    });
    refused(&db, "self-service revokes another's token", || {
        try_revoke(&mut alice, bobs.id, None)
    });
    refused(&db, "self-service revokes for another actor", || {
        try_revoke(&mut alice, bobs.id, Some(&bob_name))
    });
    refused(&db, "self-service rotates another's token", || {
        try_rotate(&mut alice, bobs.id, "0", Some(&bob_name))
    });
    let rotated = try_rotate(&mut alice, mine.id, "0", None).unwrap();
    assert_eq!(rotated.owner, me);
    assert!(try_revoke(&mut alice, rotated.id, None).unwrap());
    assert!(try_revoke(&mut bob, bobs.id, None).unwrap());
}

#[test]
fn a_second_grant_does_not_widen_self_service() {
    let db = Cluster::shared().database();
    let (bob_name, mut bob) = db.client(&["tokens_self_service"]);
    let bobs = try_mint(&mut bob, "'bob laptop', kind => 'personal'", &[]).unwrap();
    // tokens_revoker lets a role name another actor, and tokens_self_service
    // grants EXECUTE on rotate: together they must not rotate bob's token.
    let (_, mut revoker_ss) = db.client(&["tokens_revoker", "tokens_self_service"]);
    refused(
        &db,
        "revoker + self-service rotating another's personal token",
        || try_rotate(&mut revoker_ss, bobs.id, "30 days", Some(&bob_name)),
    );
    // tokens_writer lets a role name another actor, and tokens_self_service
    // grants EXECUTE on revoke: together they must not revoke bob's token.
    let (_, mut writer_ss) = db.client(&["tokens_writer", "tokens_self_service"]);
    refused(
        &db,
        "writer + self-service revoking another's personal token",
        || try_revoke(&mut writer_ss, bobs.id, Some(&bob_name)),
    );
    assert!(verify(&mut bob, Some(&bobs.token)).valid);
    // The roles that do manage every token still may, for the owner.
    let (_, mut revoker) = db.client(&["tokens_revoker"]);
    assert!(try_revoke(&mut revoker, bobs.id, Some(&bob_name)).unwrap());
}

#[test]
fn set_role_narrows_the_calling_role() {
    let db = Cluster::shared().database();
    let (app_name, _) = db.client(&["tokens_writer"]);
    let (plain_name, _) = db.client(&[]);
    let mut admin = db.admin();
    admin
        .batch_execute(&format!("SET ROLE {plain_name}"))
        .unwrap();
    refused(&db, "mint after SET ROLE to a plain role", || {
        try_mint(&mut admin, "'x'", &[])
    });
    admin
        .batch_execute(&format!("RESET ROLE; SET ROLE {app_name}"))
        .unwrap();
    let m = mint(&mut admin, "x");
    assert_eq!(
        m.owner, app_name,
        "owner defaults to current_user, not the session user"
    );
    admin.batch_execute("RESET ROLE").unwrap();
    let row = admin
        .query_one(
            "SELECT actor, db_role FROM tokens.audit_log WHERE target = 'token:' || $1::uuid",
            &[&m.id],
        )
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1)),
        (app_name.clone(), app_name)
    );
}

#[test]
fn search_path_hijacking_changes_nothing() {
    let db = Cluster::shared().database();
    let (name, mut app) = db.client(&["tokens_writer", "tokens_revoker"]);
    db.admin()
        .batch_execute(&format!("CREATE SCHEMA evil AUTHORIZATION {name}"))
        .unwrap();
    // Objects named like the ones the extension's queries use, in a schema
    // placed before pg_catalog: if any ran, the call would fail.
    app.batch_execute(
        "CREATE FUNCTION evil.hijacked(bytea, bytea) RETURNS boolean LANGUAGE plpgsql AS \
           $$BEGIN RAISE EXCEPTION 'hijacked'; END$$; \
         CREATE OPERATOR evil.= (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = evil.hijacked); \
         CREATE FUNCTION evil.hijacked_uuid(uuid, uuid) RETURNS boolean LANGUAGE plpgsql AS \
           $$BEGIN RAISE EXCEPTION 'hijacked'; END$$; \
         CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.hijacked_uuid); \
         CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS \
           $$BEGIN RAISE EXCEPTION 'hijacked'; END$$; \
         CREATE FUNCTION evil.unnest(text[]) RETURNS SETOF text LANGUAGE plpgsql AS \
           $$BEGIN RAISE EXCEPTION 'hijacked'; END$$; \
         CREATE TABLE evil.token_store (id int); \
         CREATE FUNCTION evil.octet_length(text) RETURNS int LANGUAGE plpgsql AS \
           $$BEGIN RAISE EXCEPTION 'hijacked'; END$$; \
         CREATE FUNCTION evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE plpgsql AS \
           $$BEGIN RAISE EXCEPTION 'hijacked'; END$$; \
         SET search_path = evil, pg_catalog, public",
    )
    .unwrap();
    app.execute("SELECT tokens.define_scope('docs:read', 'read')", &[])
        .unwrap();
    let m = try_mint(&mut app, "'x', ARRAY['docs:read']", &[]).unwrap();
    assert!(verify(&mut app, Some(&m.token)).valid);
    let r = try_rotate(&mut app, m.id, "1 minute", None).unwrap();
    assert!(try_revoke(&mut app, r.id, None).unwrap());
    app.query_one("SELECT tokens.audit('hijack.test', 'x', '{\"k\": 1}')", &[])
        .unwrap();
    app.execute(
        "SELECT tokens.set_allowed_ips($1, '{10.0.0.0/8}')",
        &[&m.id],
    )
    .unwrap();
    let search_path: String = app.query_one("SHOW search_path", &[]).unwrap().get(0);
    assert_eq!(
        search_path, "evil, pg_catalog, public",
        "the caller's search_path is restored"
    );
    let user: String = app
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(user, name, "the caller's identity is restored");
}

#[test]
fn identity_is_restored_after_a_failed_call_caught_by_a_savepoint() {
    let db = Cluster::shared().database();
    let (name, mut app) = db.client(&["tokens_writer", "tokens_revoker"]);
    app.batch_execute("SET search_path = public").unwrap();
    let identity = |tx: &mut postgres::Transaction| -> (String, String) {
        let row = tx
            .query_one(
                "SELECT current_user::text, current_setting('search_path')",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    let mut tx = app.transaction().unwrap();
    // These fail after the switch to the extension's owner: the unknown id
    // is found out by a query run as the owner with the pinned search_path.
    let mut sp = tx.savepoint("s").unwrap();
    let r = sp.query_one("SELECT tokens.revoke($1)", &[&uuid::Uuid::now_v7()]);
    assert_eq!(sqlstate(&r), "P0002");
    sp.rollback().unwrap();
    assert_eq!(identity(&mut tx), (name.clone(), "public".to_string()));
    tx.batch_execute(
        "DO $$ BEGIN PERFORM tokens.rotate(gen_random_uuid());          EXCEPTION WHEN no_data_found THEN NULL; END $$",
    )
    .unwrap();
    assert_eq!(identity(&mut tx), (name, "public".to_string()));
    // And the session still works as the caller.
    assert_eq!(mint_in(&mut tx), 1);
    tx.commit().unwrap();
}

fn mint_in(tx: &mut postgres::Transaction) -> i64 {
    tx.query_one("SELECT count(*) FROM tokens.mint('after the error')", &[])
        .unwrap()
        .get(0)
}

#[test]
fn table_access_runs_as_the_extension_owner_whoever_owns_the_schema() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(&["tokens_writer", "tokens_revoker"]);
    let (other, _) = db.client(&[]);
    db.admin()
        .batch_execute(&format!("ALTER SCHEMA tokens OWNER TO {other}"))
        .unwrap();
    let m = mint(&mut app, "after the schema changed hands");
    assert!(verify(&mut app, Some(&m.token)).valid);
    assert!(try_revoke(&mut app, m.id, None).unwrap());
}
