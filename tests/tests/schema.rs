//! The extension's schema is its own (issue 19, finding 1): CREATE
//! EXTENSION and the upgrade refuse a schema `tokens` that another role owns
//! or that holds foreign objects, and at run time nothing of the extension
//! runs through a schema named `tokens` that is not the one it was
//! installed in. On 0.4.0 the schema's owner could rename it, create a
//! look-alike with a trigger, and have the trigger run as a superuser.

use pg_tokens_tests::{eventually, message, sqlstate, Cluster, Db};
use postgres::Client;

/// A role that may create schemas in `db` (as any application owner may).
fn mallory(db: &Db) -> String {
    let role = db.login_role(&[]);
    db.admin()
        .batch_execute(&format!("GRANT CREATE ON DATABASE {} TO {role}", db.name))
        .unwrap();
    role
}

fn installed(c: &mut Client) -> bool {
    c.query_one(
        "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_tokens')",
        &[],
    )
    .unwrap()
    .get(0)
}

fn superuser(c: &mut Client, role: &str) -> bool {
    c.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = $1", &[&role])
        .unwrap()
        .get(0)
}

#[test]
fn install_refuses_a_schema_another_role_owns() {
    let db = Cluster::shared().database_with("SELECT 1");
    let role = mallory(&db);
    db.connect(&role)
        .batch_execute("CREATE SCHEMA tokens")
        .unwrap();
    let mut admin = db.admin();
    let refused = admin.batch_execute("CREATE EXTENSION pg_tokens");
    assert_eq!(sqlstate(&refused), "42501", "{}", message(&refused));
    assert!(
        message(&refused).contains(&format!("schema tokens is owned by role {role}")),
        "{}",
        message(&refused)
    );
    assert!(!installed(&mut admin));
    // Taken over by the installing role, it is accepted.
    admin
        .batch_execute("ALTER SCHEMA tokens OWNER TO postgres; CREATE EXTENSION pg_tokens")
        .unwrap();
    assert!(installed(&mut admin));
}

#[test]
fn install_refuses_a_schema_holding_foreign_objects() {
    let db = Cluster::shared().database_with(
        "CREATE SCHEMA tokens; \
         CREATE FUNCTION tokens.audit_row_hash(text) RETURNS bytea LANGUAGE sql AS 'SELECT NULL::bytea'",
    );
    let mut admin = db.admin();
    let refused = admin.batch_execute("CREATE EXTENSION pg_tokens");
    assert_eq!(sqlstate(&refused), "42501", "{}", message(&refused));
    assert!(
        message(&refused).contains("function audit_row_hash(text)"),
        "names the object: {}",
        message(&refused)
    );
    assert!(!installed(&mut admin));
    // An empty schema of the installing role's own is fine (pg_restore
    // creates the schema before the extension).
    admin
        .batch_execute("DROP FUNCTION tokens.audit_row_hash(text); CREATE EXTENSION pg_tokens")
        .unwrap();
    assert!(installed(&mut admin));
}

#[test]
fn an_upgrade_refuses_an_adopted_schema_until_it_is_taken_over() {
    let db = Cluster::shared().database_with("SELECT 1");
    let role = mallory(&db);
    db.connect(&role)
        .batch_execute("CREATE SCHEMA tokens")
        .unwrap();
    let mut admin = db.admin();
    // 0.4.0 adopted such a schema.
    admin
        .batch_execute("CREATE EXTENSION pg_tokens VERSION '0.4.0'")
        .unwrap();
    let refused = admin.batch_execute("ALTER EXTENSION pg_tokens UPDATE");
    assert_eq!(sqlstate(&refused), "42501", "{}", message(&refused));
    assert!(
        message(&refused).contains("not by postgres"),
        "{}",
        message(&refused)
    );
    admin
        .batch_execute("ALTER SCHEMA tokens OWNER TO postgres; ALTER EXTENSION pg_tokens UPDATE")
        .unwrap();
}

/// The attack of the finding, on a database whose schema its attacker has
/// come to own (given by mistake; the upgrade refuses an adopted one):
/// rename the schema, create a look-alike whose tables carry a trigger and
/// whose functions make the attacker a superuser, and get the extension (a
/// superuser's calls, the attacker's, the flush worker as the bootstrap
/// superuser) to run them through the name.
#[test]
fn nothing_runs_through_a_renamed_and_replaced_schema() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let role = mallory(&db);
    let mut admin = db.admin();
    let token: String = admin
        .query_one(
            "SELECT token FROM tokens.mint('mallory', NULL, NULL, 'service', $1)",
            &[&role],
        )
        .unwrap()
        .get(0);
    admin
        .batch_execute(&format!(
            "ALTER SCHEMA tokens OWNER TO {role}; GRANT tokens_writer TO {role}"
        ))
        .unwrap();
    let mut m = db.connect(&role);
    let escalate = format!(
        "CREATE FUNCTION tokens.escalate() RETURNS trigger LANGUAGE plpgsql AS \
           $f$ BEGIN ALTER ROLE {role} SUPERUSER; RETURN NULL; END $f$; \
         CREATE FUNCTION tokens.mint_meta_text(text, text[], timestamptz, text, text, text) \
           RETURNS tokens_real.minted LANGUAGE plpgsql AS \
           $f$ BEGIN ALTER ROLE {role} SUPERUSER; RETURN NULL; END $f$; \
         CREATE FUNCTION tokens.audit_row_hash(bytea, bigint, timestamptz, text, text, text, text, text) \
           RETURNS bytea LANGUAGE plpgsql AS \
           $f$ BEGIN ALTER ROLE {role} SUPERUSER; RETURN NULL; END $f$; \
         GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tokens TO PUBLIC;"
    );
    let mut lookalike = String::from(
        "ALTER SCHEMA tokens RENAME TO tokens_real; CREATE SCHEMA tokens; GRANT USAGE ON SCHEMA tokens TO PUBLIC;",
    );
    lookalike.push_str(&escalate);
    for table in [
        "usage_counts (token_id uuid, bucket timestamptz, count bigint, denied bigint, PRIMARY KEY (token_id, bucket))",
        "token_last_use (token_id uuid PRIMARY KEY, last_used_at timestamptz)",
        "audit_store (id bigint, at timestamptz, actor text, db_role text, action text, target text, meta jsonb, hash bytea)",
        "audit_lock (only_row bool PRIMARY KEY, appends bigint)",
    ] {
        let name = table.split(' ').next().unwrap();
        lookalike.push_str(&format!(
            "CREATE TABLE tokens.{table}; GRANT ALL ON tokens.{name} TO PUBLIC; \
             CREATE TRIGGER escalate BEFORE INSERT OR UPDATE ON tokens.{name} \
               FOR EACH ROW EXECUTE FUNCTION tokens.escalate();"
        ));
    }
    m.batch_execute(&lookalike).unwrap();

    // A superuser's calls bind the real functions and tables (0.5.0's
    // SQL-standard bodies): mint is refused, the chain check reads the real
    // log.
    let refused = admin.batch_execute("SELECT tokens_real.mint('by the superuser')");
    assert_eq!(sqlstate(&refused), "42501", "{}", message(&refused));
    let broken: Option<i64> = admin
        .query_one("SELECT tokens_real.verify_audit_chain()", &[])
        .unwrap()
        .get(0);
    assert_eq!(broken, None);
    assert!(
        !superuser(&mut admin, &role),
        "a look-alike function ran as the superuser"
    );
    // A call of the API by the attacker (a member of tokens_writer; PUBLIC
    // functions alike) is refused before it runs a statement.
    for call in [
        format!("SELECT tokens_real.verify('{token}')"),
        "SELECT tokens_real.mint('another')".to_owned(),
        "SELECT tokens_real.audit('doc.create', 'doc:1')".to_owned(),
    ] {
        let refused = m.batch_execute(&call);
        assert_eq!(sqlstate(&refused), "42501", "{call}: {}", message(&refused));
        assert!(
            message(&refused).contains("is not the one pg_tokens was installed in")
                || message(&refused).contains("is not owned by the owner of extension pg_tokens"),
            "{call}: {}",
            message(&refused)
        );
    }
    // Owned by the attacker, the schema is refused even under its own name.
    m.batch_execute(
        "ALTER SCHEMA tokens RENAME TO tokens_lookalike; ALTER SCHEMA tokens_real RENAME TO tokens",
    )
    .unwrap();
    let refused = m.query_one("SELECT status FROM tokens.verify($1)", &[&token]);
    assert_eq!(sqlstate(&refused), "42501", "{}", message(&refused));

    // The flush worker, as the bootstrap superuser, refuses to write into
    // the look-alike the usage of a verification made while the schema was
    // sound. (Armed again if a flush took the usage before the swap.)
    let oid: u32 = admin
        .query_one(
            "SELECT oid FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .unwrap()
        .get(0);
    let warning =
        format!("usage of database {oid} not flushed: schema tokens is not the extension's own");
    let flushed_before_the_swap = |admin: &mut Client| -> bool {
        admin
            .query_one("SELECT count(*) > 0 FROM tokens_real.usage_counts", &[])
            .unwrap()
            .get(0)
    };
    let mut refused_by_the_worker = false;
    for _ in 0..5 {
        let mut tx = admin.transaction().unwrap();
        tx.batch_execute("ALTER SCHEMA tokens OWNER TO postgres")
            .unwrap();
        let status: String = tx
            .query_one("SELECT status FROM tokens.verify($1)", &[&token])
            .unwrap()
            .get(0);
        assert_eq!(status, "valid");
        tx.batch_execute(&format!(
            "ALTER SCHEMA tokens OWNER TO {role}; \
             ALTER SCHEMA tokens RENAME TO tokens_real; ALTER SCHEMA tokens_lookalike RENAME TO tokens"
        ))
        .unwrap();
        tx.commit().unwrap();
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(15) {
            if std::fs::read_to_string(cluster.log_file())
                .unwrap_or_default()
                .contains(&warning)
            {
                refused_by_the_worker = true;
                break;
            }
            if flushed_before_the_swap(&mut admin) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if refused_by_the_worker {
            break;
        }
        admin
            .batch_execute(
                "ALTER SCHEMA tokens RENAME TO tokens_lookalike; ALTER SCHEMA tokens_real RENAME TO tokens; \
                 DELETE FROM tokens.usage_counts",
            )
            .unwrap();
    }
    assert!(
        refused_by_the_worker,
        "the worker never met the look-alike: {warning}"
    );
    assert!(
        !superuser(&mut admin, &role),
        "the trigger ran: {role} became a superuser"
    );
    let rows: i64 = admin
        .query_one(
            "SELECT (SELECT count(*) FROM tokens.usage_counts) + (SELECT count(*) FROM tokens.token_last_use) \
                  + (SELECT count(*) FROM tokens.audit_store) + (SELECT count(*) FROM tokens.audit_lock)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "nothing was written into the look-alike");
    // Put back and taken over, the worker writes the pending usage into
    // the real tables.
    admin
        .batch_execute(
            "ALTER SCHEMA tokens RENAME TO tokens_lookalike; ALTER SCHEMA tokens_real RENAME TO tokens; \
             ALTER SCHEMA tokens OWNER TO postgres",
        )
        .unwrap();
    eventually("the usage of the verification to be flushed", || {
        admin
            .query_one("SELECT count(*) > 0 FROM tokens.usage_counts", &[])
            .unwrap()
            .get::<_, bool>(0)
    });
}
