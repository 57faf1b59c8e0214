//! A refusal from the real server reaches the console with the argument it
//! is about (pg_tokens names it in the DETAIL), which the forms go by.

use pg_tokens_tests::Cluster;
use tokens_console::app::credit_field_of_error;
use tokens_console::db::error::DbError;
use tokens_console::parse::CreditField;

fn refusal(sql: &str) -> DbError {
    let db = Cluster::shared().database();
    let mut admin = db.admin();
    let e = admin.batch_execute(sql).expect_err("a refusal");
    DbError::from_pg(e, false)
}

#[test]
fn the_server_names_the_argument_a_refusal_is_about() {
    for (sql, argument) in [
        ("SELECT tokens.mint('n', kind => 'robot')", "kind"),
        ("SELECT tokens.mint('n', ARRAY['Bad Scope'])", "scopes"),
        (
            "SELECT tokens.mint('n', expires_at => now() - interval '1 day')",
            "expires_at",
        ),
        ("SELECT tokens.mint('n', meta => '[1]')", "meta"),
        ("SELECT tokens.mint(E'a\\tb')", "name"),
    ] {
        let e = refusal(sql);
        assert_eq!(e.sqlstate(), Some("22023"), "{sql}: {e}");
        assert_eq!(e.argument(), Some(argument), "{sql}: {e}");
    }
}

#[test]
fn a_real_credits_refusal_points_at_its_field() {
    let id = "(SELECT id FROM tokens.mint('capped'))";
    for (call, field) in [
        (
            format!("SELECT tokens.set_remaining({id}, -1)"),
            CreditField::Remaining,
        ),
        (
            format!("SELECT tokens.set_remaining({id}, 5, -1, interval '1 day')"),
            CreditField::RefillAmount,
        ),
        (
            format!("SELECT tokens.set_remaining({id}, 5, 1, interval '0 seconds')"),
            CreditField::RefillEvery,
        ),
    ] {
        let e = refusal(&call);
        assert_eq!(credit_field_of_error(&e), Some(field), "{call}: {e}");
    }
}
