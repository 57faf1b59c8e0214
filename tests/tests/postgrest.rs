//! `tokens.postgrest_pre_request()` (issue 18), driven exactly as PostgREST
//! drives a request: in one transaction, `SET LOCAL ROLE` to the anonymous
//! role, the request's settings by `set_config(..., true)`, the pre-request
//! function, then the main query.

use pg_tokens_tests::sql::try_mint;
use pg_tokens_tests::{detail, message, sqlstate, unique, Cluster, Db};
use postgres::Client;

struct Api {
    anon: String,
    authenticator: Client,
}

/// PostgREST's roles and an RLS table of notes, readable by their owner's
/// tokens only.
fn api(db: &Db<'_>) -> Api {
    let anon = unique("web_anon");
    let authenticator = unique("authenticator");
    db.admin()
        .batch_execute(&format!(
            "CREATE ROLE {anon} NOLOGIN;
             CREATE ROLE {authenticator} LOGIN NOINHERIT;
             GRANT {anon} TO {authenticator};
             CREATE TABLE notes (owner text NOT NULL, body text NOT NULL);
             ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
             CREATE POLICY by_token ON notes USING (owner = tokens.current_owner());
             GRANT SELECT ON notes TO {anon};
             INSERT INTO notes VALUES ('team-a', 'a''s note'), ('team-b', 'b''s note');"
        ))
        .unwrap();
    Api {
        anon,
        authenticator: db.connect(&authenticator),
    }
}

/// One request: its headers (and JWT claims, if any), the pre-request,
/// then `SELECT body FROM notes`.
fn request(
    api: &mut Api,
    headers: serde_json::Value,
    claims: Option<&str>,
) -> Result<Vec<String>, postgres::Error> {
    let mut tx = api.authenticator.transaction()?;
    tx.batch_execute(&format!("SET LOCAL ROLE {}", api.anon))?;
    tx.execute(
        "SELECT set_config('request.headers', $1, true)",
        &[&headers.to_string()],
    )?;
    tx.execute(
        "SELECT set_config('request.method', 'GET', true), set_config('request.path', '/notes', true)",
        &[],
    )?;
    if let Some(claims) = claims {
        tx.execute(
            "SELECT set_config('request.jwt.claims', $1, true)",
            &[&claims],
        )?;
    }
    tx.execute("SELECT tokens.postgrest_pre_request()", &[])?;
    let rows = tx
        .query("SELECT body FROM notes ORDER BY body", &[])?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    tx.commit()?;
    Ok(rows)
}

/// The token with its last character changed (never to itself).
fn other_last_char(token: &str) -> String {
    let (head, last) = token.split_at(token.len() - 1);
    format!("{head}{}", if last == "x" { "y" } else { "x" })
}

#[test]
fn a_request_with_a_valid_token_sees_its_owners_rows_and_an_invalid_one_gets_a_401() {
    let db = Cluster::shared().database();
    let mut api = api(&db);
    let (_, mut writer) = db.client(&["tokens_writer", "tokens_revoker"]);
    let a = try_mint(&mut writer, "'api', owner => 'team-a'", &[]).unwrap();
    let gone = try_mint(&mut writer, "'gone', owner => 'team-b'", &[]).unwrap();
    writer
        .batch_execute(&format!(
            "SELECT tokens.revoke('{}', actor => 'team-b')",
            gone.id
        ))
        .unwrap();

    use serde_json::json;
    assert_eq!(
        request(&mut api, json!({"x-api-key": a.token}), None).unwrap(),
        ["a's note"]
    );
    assert_eq!(
        request(
            &mut api,
            json!({"authorization": format!("Bearer {}", a.token)}),
            None
        )
        .unwrap(),
        ["a's note"]
    );
    // No token: anonymous, nothing under RLS; a JWT bearer is PostgREST's.
    assert!(request(&mut api, json!({"accept": "*/*"}), None)
        .unwrap()
        .is_empty());
    assert!(request(
        &mut api,
        json!({"authorization": "Bearer eyJhbGciOi.x.y"}),
        None
    )
    .unwrap()
    .is_empty());
    // A forged request.jwt.claims changes nothing: the principal comes from
    // the token only.
    assert!(request(
        &mut api,
        json!({}),
        Some(r#"{"sub": "team-b", "role": "postgres", "owner": "team-b"}"#)
    )
    .unwrap()
    .is_empty());
    assert_eq!(
        request(
            &mut api,
            json!({"x-api-key": a.token}),
            Some(r#"{"sub": "team-b", "owner": "team-b"}"#)
        )
        .unwrap(),
        ["a's note"]
    );

    // Presented and invalid: PT401, which PostgREST answers with HTTP 401
    // and {"code": "PT401", "message": ...}; never the token itself.
    for (bad, status) in [
        (gone.token.clone(), "revoked"),
        ("tbm_not-a-token".to_owned(), "malformed"),
        (other_last_char(&a.token), "unknown"),
    ] {
        for headers in [
            json!({"x-api-key": bad}),
            json!({"authorization": format!("bearer {bad}")}),
        ] {
            let r = request(&mut api, headers.clone(), None);
            assert_eq!(sqlstate(&r), "PT401", "{headers}");
            assert_eq!(message(&r), "invalid API token");
            assert_eq!(detail(&r), format!("the token presented is {status}"));
            let err = format!("{:?}", r.unwrap_err());
            assert!(!err.contains(&bad), "the error repeats the token: {err}");
        }
    }
    // The connection is fine afterwards (the failed request rolled back).
    assert_eq!(
        request(&mut api, json!({"x-api-key": a.token}), None).unwrap(),
        ["a's note"]
    );
}
