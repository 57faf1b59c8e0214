//! IP allowlists (SPEC §2 set_allowed_ips, §7): verify refuses a token from
//! outside its networks as `ip_denied`; a Unix-socket connection passes only
//! when the list admits 127.0.0.1 or ::1.

use pg_tokens_tests::sql::{mint, try_mint, try_rotate, verify};
use pg_tokens_tests::{sqlstate, Cluster};

#[test]
fn tcp_and_unix_socket_clients_are_judged_by_the_list() {
    let cluster = Cluster::private("allowlist", "");
    let db = cluster.database();
    let (role, mut app) = db.client(&["tokens_writer", "tokens_reader"]);
    let m = mint(&mut app, "restricted");
    let mut tcp = cluster.connect_tcp(&role, &db.name);
    let from: String = tcp
        .query_one("SELECT host(inet_client_addr())", &[])
        .unwrap()
        .get(0);
    assert_eq!(from, "127.0.0.1");
    let set = |c: &mut postgres::Client, list: Option<&str>| {
        c.execute(
            "SELECT tokens.set_allowed_ips($1, $2::text::cidr[])",
            &[&m.id, &list],
        )
        .unwrap();
    };
    let status = |c: &mut postgres::Client| verify(c, Some(&m.token)).status;

    assert_eq!(
        (status(&mut tcp), status(&mut app)),
        ("valid".into(), "valid".into()),
        "no list: anywhere"
    );

    set(&mut app, Some("{10.0.0.0/8,192.168.0.0/16}"));
    let v = verify(&mut tcp, Some(&m.token));
    assert_eq!(
        (v.valid, v.status.as_str(), v.token_id, v.owner),
        (false, "ip_denied", Some(m.id), None)
    );
    assert_eq!(
        status(&mut app),
        "ip_denied",
        "a Unix socket is not in 10/8"
    );

    set(&mut app, Some("{10.0.0.0/8,127.0.0.0/8}"));
    assert_eq!(
        (status(&mut tcp), status(&mut app)),
        ("valid".into(), "valid".into())
    );

    set(&mut app, Some("{::1/128}"));
    assert_eq!(status(&mut tcp), "ip_denied", "127.0.0.1 is not ::1");
    assert_eq!(
        status(&mut app),
        "valid",
        "a Unix socket passes when ::1 is listed"
    );

    set(&mut app, Some("{127.0.0.1/32}"));
    assert_eq!(
        (status(&mut tcp), status(&mut app)),
        ("valid".into(), "valid".into())
    );

    // authenticate follows verify.
    let mut tx = tcp.transaction().unwrap();
    set(&mut app, Some("{10.1.0.0/16}"));
    let s: String = tx
        .query_one("SELECT status FROM tokens.authenticate($1)", &[&m.token])
        .unwrap()
        .get(0);
    assert_eq!(s, "ip_denied");
    let owner: Option<String> = tx
        .query_one("SELECT tokens.current_owner()", &[])
        .unwrap()
        .get(0);
    assert_eq!(owner, None);
    tx.commit().unwrap();

    // NULL clears the list.
    set(&mut app, None);
    assert_eq!(
        (status(&mut tcp), status(&mut app)),
        ("valid".into(), "valid".into())
    );
}

#[test]
fn settings_are_validated_audited_shown_and_kept_by_rotation() {
    let db = Cluster::shared().database();
    let (role, mut app) = db.client(&["tokens_writer", "tokens_reader"]);
    let m = mint(&mut app, "x");
    app.execute(
        "SELECT tokens.set_allowed_ips($1, '{10.0.0.0/8, 127.0.0.1/32}')",
        &[&m.id],
    )
    .unwrap();
    let shown: Vec<String> = app
        .query_one(
            "SELECT allowed_ips::text[] FROM tokens.tokens WHERE id = $1",
            &[&m.id],
        )
        .unwrap()
        .get(0);
    assert_eq!(shown, ["10.0.0.0/8", "127.0.0.1/32"]);
    let audit = pg_tokens_tests::sql::audit_of(&mut app, m.id);
    let last = audit.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str()),
        ("token.allowed_ips", role.as_str())
    );
    assert_eq!(
        last.3,
        Some(serde_json::json!({"allowed_ips": ["10.0.0.0/8", "127.0.0.1/32"]}))
    );

    // Rotation carries the list over.
    let new = try_rotate(&mut app, m.id, "0", None).unwrap();
    let carried: Vec<String> = app
        .query_one(
            "SELECT allowed_ips::text[] FROM tokens.tokens WHERE id = $1",
            &[&new.id],
        )
        .unwrap()
        .get(0);
    assert_eq!(carried, shown);

    // Bad input: 22023 (or PostgreSQL's own cidr error), P0002, and nothing written.
    let many = format!(
        "{{{}}}",
        (0..65)
            .map(|i| format!("10.{i}.0.0/16"))
            .collect::<Vec<_>>()
            .join(",")
    );
    for (what, sql, state) in [
        (
            "empty list",
            format!("SELECT tokens.set_allowed_ips('{}', '{{}}')", new.id),
            "22023",
        ),
        (
            "65 networks",
            format!("SELECT tokens.set_allowed_ips('{}', '{many}')", new.id),
            "22023",
        ),
        (
            "a NULL network",
            format!(
                "SELECT tokens.set_allowed_ips('{}', ARRAY['10.0.0.0/8', NULL]::cidr[])",
                new.id
            ),
            "22023",
        ),
        (
            "two dimensions",
            format!(
                "SELECT tokens.set_allowed_ips('{}', '{{{{10.0.0.0/8}},{{10.1.0.0/16}}}}')",
                new.id
            ),
            "22023",
        ),
        (
            "host bits set",
            format!(
                "SELECT tokens.set_allowed_ips('{}', '{{10.0.0.1/8}}')",
                new.id
            ),
            "22P02",
        ),
        (
            "not an address",
            format!("SELECT tokens.set_allowed_ips('{}', '{{nowhere}}')", new.id),
            "22P02",
        ),
        (
            "unknown id",
            format!(
                "SELECT tokens.set_allowed_ips('{}', '{{10.0.0.0/8}}')",
                uuid::Uuid::now_v7()
            ),
            "P0002",
        ),
        (
            "NULL id",
            "SELECT tokens.set_allowed_ips(NULL, '{10.0.0.0/8}')".to_string(),
            "22023",
        ),
    ] {
        let before = db.counts();
        let r = app.batch_execute(&sql);
        assert_eq!(sqlstate(&r), state, "{what}: {r:?}");
        assert_eq!(db.counts(), before, "{what}");
    }
}

#[test]
fn who_may_set_an_allowlist() {
    let db = Cluster::shared().database();
    let (_, mut writer) = db.client(&["tokens_writer"]);
    let (me, mut alice) = db.client(&["tokens_self_service"]);
    let (_, mut reader) = db.client(&["tokens_reader", "tokens_revoker"]);
    let personal = try_mint(&mut alice, "'laptop', kind => 'personal'", &[]).unwrap();
    let service_of_alice = try_mint(&mut writer, "'svc', owner => $1", &[&me]).unwrap();
    let set = |c: &mut postgres::Client, id: uuid::Uuid| {
        c.execute("SELECT tokens.set_allowed_ips($1, '{10.0.0.0/8}')", &[&id])
    };
    set(&mut alice, personal.id).unwrap();
    set(&mut writer, service_of_alice.id).unwrap();
    for (who, c, id) in [
        (
            "self-service on its service token",
            &mut alice,
            service_of_alice.id,
        ),
        ("a reader/revoker", &mut reader, personal.id),
    ] {
        let before = db.counts();
        assert_eq!(sqlstate(&set(c, id)), "42501", "{who}");
        assert_eq!(db.counts(), before, "{who}");
    }
    let (_, mut bob) = db.client(&["tokens_self_service"]);
    assert_eq!(
        sqlstate(&set(&mut bob, personal.id)),
        "42501",
        "another user's personal token"
    );
}
