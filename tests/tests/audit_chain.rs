//! `tokens.verify_audit_chain()` (SPEC §2, §5 audit, §6): the first row
//! whose hash does not follow, NULL when intact; an edit or a deletion made
//! behind the append-only guard is reported, also after dump and restore.

use pg_tokens_tests::sql::{mint, try_revoke};
use pg_tokens_tests::{sqlstate, Cluster};

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

fn broken(c: &mut postgres::Client) -> Option<i64> {
    c.query_one("SELECT tokens.verify_audit_chain()", &[])
        .unwrap()
        .get(0)
}

#[test]
fn an_edit_or_a_deletion_behind_the_guard_is_reported() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let (_, mut app) = db.client(APP);
    for i in 0..6 {
        let m = mint(&mut app, &format!("t{i}"));
        if i % 2 == 0 {
            assert!(try_revoke(&mut app, m.id, None).unwrap());
        }
    }
    app.execute(
        "SELECT tokens.audit('invoice.paid', 'invoice:1', '{\"amount\": 12.50}')",
        &[],
    )
    .unwrap();
    assert_eq!(broken(&mut app), None, "intact");
    let rows: i64 = db
        .admin()
        .query_one("SELECT count(*) FROM tokens.audit_store", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 10);

    // Only tokens_reader may check it.
    let (_, mut writer) = db.client(&["tokens_writer"]);
    assert_eq!(
        sqlstate(&writer.query_one("SELECT tokens.verify_audit_chain()", &[])),
        "42501"
    );

    // A superuser edits row 4 with the append-only triggers disabled.
    let mut admin = db.admin();
    admin
        .batch_execute(
            "ALTER TABLE tokens.audit_store DISABLE TRIGGER USER;
             UPDATE tokens.audit_store SET actor = 'someone else' WHERE id = 4;
             ALTER TABLE tokens.audit_store ENABLE TRIGGER USER;",
        )
        .unwrap();
    assert_eq!(broken(&mut app), Some(4));

    // Dumped and restored, the break is still reported (ids and hashes are
    // restored as they were, never recomputed).
    let restored = db.dump_and_restore();
    let mut copy = cluster.connect("postgres", &restored);
    assert_eq!(broken(&mut copy), Some(4), "reported after the restore too");
    drop(copy);
    admin
        .batch_execute(&format!("DROP DATABASE {restored}"))
        .unwrap();

    // Put the row back: intact again. Then delete row 7: the row after it
    // no longer follows.
    admin
        .batch_execute(&format!(
            "ALTER TABLE tokens.audit_store DISABLE TRIGGER USER;
             UPDATE tokens.audit_store SET actor = '{}' WHERE id = 4;
             DELETE FROM tokens.audit_store WHERE id = 7;
             ALTER TABLE tokens.audit_store ENABLE TRIGGER USER;",
            db.admin()
                .query_one("SELECT actor FROM tokens.audit_store WHERE id = 3", &[])
                .unwrap()
                .get::<_, String>(0)
        ))
        .unwrap();
    assert_eq!(broken(&mut app), Some(8));
    // Even a forger who recomputes the edited row's own hash is caught at
    // the next row.
    admin
        .batch_execute(
            "ALTER TABLE tokens.audit_store DISABLE TRIGGER USER;
             INSERT INTO tokens.audit_store SELECT 7, at, actor, db_role, action, target, meta, hash
               FROM tokens.audit_store WHERE id = 6;
             UPDATE tokens.audit_store SET hash = tokens.audit_row_hash(
                 (SELECT hash FROM tokens.audit_store WHERE id = 6), id, at, actor, db_role, action, target, meta::text)
              WHERE id = 7;
             ALTER TABLE tokens.audit_store ENABLE TRIGGER USER;",
        )
        .unwrap();
    assert_eq!(
        broken(&mut app),
        Some(8),
        "row 7 forged with a fresh hash: row 8 does not follow"
    );
}
