//! Upgrades (SPEC §6): a database created at every earlier release, with
//! tokens and audit rows, is upgraded by ALTER EXTENSION UPDATE; its tokens
//! still verify, its audit log is intact, and its catalog equals a fresh
//! install's (functions, relations, columns, constraints, indexes, views,
//! triggers, types, grants, extension membership and dumped tables).

use pg_tokens_tests::sql::{mint, verify};
use pg_tokens_tests::Cluster;
use postgres::Client;

/// Every released version before the current one.
const EARLIER: &[&str] = &["0.1.0"];

const CATALOG: &[(&str, &str)] = &[
    ("functions", "SELECT format('%s -> %s vol=%s par=%s secdef=%s strict=%s config=%s acl=%s src=%s',
                    p.oid::regprocedure, pg_get_function_result(p.oid), p.provolatile, p.proparallel,
                    p.prosecdef, p.proisstrict, p.proconfig, p.proacl, p.prosrc)
                  FROM pg_proc p WHERE p.pronamespace = 'tokens'::regnamespace"),
    ("relations", "SELECT format('%s kind=%s acl=%s options=%s rls=%s', c.relname, c.relkind, c.relacl, c.reloptions, c.relrowsecurity)
                  FROM pg_class c WHERE c.relnamespace = 'tokens'::regnamespace"),
    ("columns", "SELECT format('%s.%s %s notnull=%s default=%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                    a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
                  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE c.relnamespace = 'tokens'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped"),
    ("constraints", "SELECT format('%s %s', conname, pg_get_constraintdef(oid)) FROM pg_constraint
                  WHERE connamespace = 'tokens'::regnamespace"),
    ("indexes", "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                  WHERE c.relnamespace = 'tokens'::regnamespace"),
    ("views", "SELECT format('%s: %s', c.relname, pg_get_viewdef(c.oid)) FROM pg_class c
                  WHERE c.relnamespace = 'tokens'::regnamespace AND c.relkind = 'v'"),
    ("triggers", "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                  WHERE c.relnamespace = 'tokens'::regnamespace AND NOT t.tgisinternal"),
    ("types", "SELECT format('%s %s', t.typname, t.typtype) FROM pg_type t WHERE t.typnamespace = 'tokens'::regnamespace"),
    ("schema", "SELECT format('%s acl=%s', nspname, nspacl) FROM pg_namespace WHERE nspname = 'tokens'"),
    ("members", "SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
                  WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
                    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_tokens')"),
    ("dumped tables", "SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'pg_tokens'"),
    ("roles", "SELECT format('%s login=%s', rolname, rolcanlogin) FROM pg_roles WHERE rolname LIKE 'tokens\\_%'"),
];

fn catalog(c: &mut Client) -> Vec<(String, Vec<String>)> {
    CATALOG
        .iter()
        .map(|(what, sql)| {
            let mut rows: Vec<String> = c.query(*sql, &[]).unwrap().iter().map(|r| r.get(0)).collect();
            rows.sort();
            (what.to_string(), rows)
        })
        .collect()
}

/// A released install script never changes: databases created from it
/// exist. (SHA-256 of extension/sql/pg_tokens--<version>.sql.)
const RELEASED: &[(&str, &str)] = &[("0.1.0", RELEASED_0_1_0)];
const RELEASED_0_1_0: &str = "4616de99fab13b69f74b60fb3573e4db2743a62efc4da9d5d2f933b733bfaa89";

#[test]
fn released_install_scripts_are_frozen() {
    use sha2::{Digest, Sha256};
    for (version, expected) in RELEASED {
        let path = format!("{}/../extension/sql/pg_tokens--{version}.sql", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read(&path).unwrap();
        let hex: String = Sha256::digest(&text).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(&hex, expected, "{path} changed after its release: ship the change as an upgrade script");
    }
}

#[test]
fn every_earlier_release_upgrades_to_the_fresh_schema_keeping_tokens_and_audit() {
    let cluster = Cluster::shared();
    let fresh = cluster.database();
    let expected = catalog(&mut fresh.admin());
    let version: String = fresh
        .admin()
        .query_one("SELECT extversion FROM pg_extension WHERE extname = 'pg_tokens'", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, env!("CARGO_PKG_VERSION"));

    for old in EARLIER {
        let db = cluster.database_with(&format!("CREATE EXTENSION pg_tokens VERSION '{old}'"));
        let (_, mut app) = db.client(&["tokens_writer", "tokens_revoker", "tokens_reader"]);
        let keep = mint(&mut app, "minted before the upgrade");
        let gone = mint(&mut app, "revoked before the upgrade");
        assert!(app.query_one("SELECT tokens.revoke($1)", &[&gone.id]).unwrap().get::<_, bool>(0));
        let audit_before: Vec<String> = app
            .query("SELECT a::text FROM tokens.audit_log a ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();

        db.admin().batch_execute("ALTER EXTENSION pg_tokens UPDATE").unwrap();

        let mut admin = db.admin();
        let now: String = admin
            .query_one("SELECT extversion FROM pg_extension WHERE extname = 'pg_tokens'", &[])
            .unwrap()
            .get(0);
        assert_eq!(now, version, "from {old}");
        let got = catalog(&mut admin);
        for ((what, want), (_, have)) in expected.iter().zip(&got) {
            assert_eq!(have, want, "{what} after upgrading from {old}");
        }
        assert!(verify(&mut app, Some(&keep.token)).valid, "from {old}");
        assert_eq!(verify(&mut app, Some(&gone.token)).status, "revoked");
        let audit_after: Vec<String> = app
            .query("SELECT a::text FROM tokens.audit_log a ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(audit_after, audit_before, "the audit log is kept row for row");
        // And the upgraded database works like a fresh one.
        let after = mint(&mut app, "minted after the upgrade");
        let mut tx = app.transaction().unwrap();
        let owner: Option<String> = tx
            .query_one("SELECT (tokens.authenticate($1)).owner", &[&after.token])
            .unwrap()
            .get(0);
        assert_eq!(owner, tx.query_one("SELECT tokens.current_owner()", &[]).unwrap().get(0));
        tx.commit().unwrap();
    }
}
