//! A bound token never reaches the server log through a printed plan
//! (issue 19, finding 5): a custom plan folds bind parameters into
//! constants, and `debug_print_plan` (settable by any role for itself) or
//! `auto_explain` printed the plan of `tokens.verify($1)` with the token.
//! Each test has a control: the same setting prints a bound value of a
//! statement that calls nothing of the extension.

use pg_tokens_tests::sql::mint;
use pg_tokens_tests::{server_major, unique, Cluster};

/// How `debug_print_plan` prints a text constant's bytes (as signed chars).
fn as_node_dump(text: &str) -> String {
    text.bytes()
        .map(|b| format!("{} ", b as i8))
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// The log with the node dumps' wrapped lines (continued on a line that
/// starts with a tab, anywhere, even inside a number) joined back.
fn unwrapped(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    for line in log.lines() {
        if line.starts_with('\t') {
            out.push_str(line.trim_start());
        } else {
            out.push('\n');
            out.push_str(line);
        }
    }
    out
}

fn server_log(cluster: &Cluster) -> String {
    std::fs::read_to_string(cluster.log_file()).unwrap_or_default()
}

#[test]
fn debug_print_plan_prints_no_bound_token() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let (_, mut app) = db.client(&["tokens_writer"]);
    let m = mint(&mut app, "printed plans");
    app.batch_execute("SET debug_print_plan = on").unwrap();
    let control = unique("bound-control-value");
    for _ in 0..2 {
        let status: String = app
            .query_one("SELECT status FROM tokens.verify($1)", &[&m.token])
            .unwrap()
            .get(0);
        assert_eq!(status, "valid");
        let r: String = app
            .query_one("SELECT $1::text || ''", &[&control])
            .unwrap()
            .get(0);
        assert_eq!(r, control);
        // verify and authenticate inside other statements too.
        app.query_one(
            "SELECT (SELECT status FROM tokens.authenticate($1)) FROM (SELECT 1) s",
            &[&m.token],
        )
        .unwrap();
        app.query_one(
            "WITH v AS (SELECT * FROM tokens.verify($1)) SELECT valid FROM v",
            &[&m.token],
        )
        .unwrap();
    }
    let log = unwrapped(&server_log(cluster));
    assert!(
        log.contains(&as_node_dump(&control)),
        "the control's bound value is printed in its plan (else the test shows nothing)"
    );
    assert!(
        !log.contains(&as_node_dump(&m.token[12..])),
        "a bound token is in a printed plan"
    );
    // The statements still plan and answer as before once it is off.
    app.batch_execute("RESET debug_print_plan").unwrap();
    let status: String = app
        .query_one("SELECT status FROM tokens.verify($1)", &[&m.token])
        .unwrap()
        .get(0);
    assert_eq!(status, "valid");
}

#[test]
fn auto_explain_prints_no_bound_token() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let mut admin = db.admin();
    let m = mint(&mut admin, "explained plans");
    admin
        .batch_execute(
            "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; \
             SET auto_explain.log_verbose = on; SET auto_explain.log_nested_statements = on",
        )
        .unwrap();
    if server_major(&mut admin) >= 16 {
        // PG 16's auto_explain logs bind parameters itself unless told not
        // to, as the README says to.
        admin
            .batch_execute("SET auto_explain.log_parameter_max_length = 0")
            .unwrap();
    }
    let control = unique("explained-control-value");
    let status: String = admin
        .query_one(
            "SELECT status FROM tokens.verify($1) WHERE $1 IS NOT NULL",
            &[&m.token],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "valid");
    admin
        .query_one("SELECT $1::text || '' WHERE $1 IS NOT NULL", &[&control])
        .unwrap();
    admin
        .query_one("SELECT * FROM tokens.authenticate($1)", &[&m.token])
        .unwrap();
    let log = server_log(cluster);
    assert!(
        log.contains(&control),
        "the control's bound value is in its explained plan (else the test shows nothing)"
    );
    assert!(
        !log.contains(&m.token[12..]),
        "a bound token is in an explained plan"
    );
}
