//! `tokens.verify_audit_chain()` and checkpoints (SPEC §2, §5 audit, §6;
//! issue 14): the first position whose event does not follow, NULL when
//! intact; an edit or a deletion made behind the append-only guard is
//! reported, also after dump and restore; a rewrite that recomputes every
//! later hash passes the chain alone but not a checkpoint kept outside.

use pg_tokens_tests::sql::{mint, sealed_chain, try_revoke};
use pg_tokens_tests::{eventually, message, sqlstate, Cluster};
use postgres::Client;

const APP: &[&str] = &["tokens_writer", "tokens_revoker", "tokens_reader"];

fn broken(c: &mut Client) -> Option<i64> {
    c.query_one("SELECT tokens.verify_audit_chain()", &[])
        .unwrap()
        .get(0)
}

fn broken_at(c: &mut Client, checkpoint: &(i64, Vec<u8>)) -> Option<i64> {
    c.query_one(
        "SELECT tokens.verify_audit_chain($1, $2)",
        &[&checkpoint.0, &checkpoint.1],
    )
    .unwrap()
    .get(0)
}

fn checkpoint(c: &mut Client) -> (i64, Vec<u8>) {
    let r = c
        .query_one("SELECT id, hash FROM tokens.audit_checkpoint()", &[])
        .unwrap();
    (r.get(0), r.get(1))
}

/// Ten events, sealed: (mint, revoke) three times, three mints, one audit.
fn ten_events(app: &mut Client, admin: &mut Client) {
    for i in 0..6 {
        let m = mint(app, &format!("t{i}"));
        if i % 2 == 0 {
            assert!(try_revoke(app, m.id, None).unwrap());
        }
    }
    app.execute(
        "SELECT tokens.audit('invoice.paid', 'invoice:1', '{\"amount\": 12.50}')",
        &[],
    )
    .unwrap();
    assert_eq!(sealed_chain(admin), (10, true));
}

/// Runs `sql` as a superuser with every user trigger of the audit tables off.
fn behind_the_guard(admin: &mut Client, sql: &str) {
    admin
        .batch_execute(&format!(
            "ALTER TABLE tokens.audit_store DISABLE TRIGGER USER;
             ALTER TABLE tokens.audit_chain DISABLE TRIGGER USER;
             {sql};
             ALTER TABLE tokens.audit_store ENABLE TRIGGER USER;
             ALTER TABLE tokens.audit_chain ENABLE TRIGGER USER;"
        ))
        .unwrap();
}

fn event_at(admin: &mut Client, position: i64) -> i64 {
    admin
        .query_one(
            "SELECT event_id FROM tokens.audit_chain WHERE position = $1",
            &[&position],
        )
        .unwrap()
        .get(0)
}

#[test]
fn an_edit_or_a_deletion_behind_the_guard_is_reported() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let (_, mut app) = db.client(APP);
    let mut admin = db.admin();
    ten_events(&mut app, &mut admin);
    assert_eq!(broken(&mut app), None, "intact");

    // Only tokens_reader may check it.
    let (_, mut writer) = db.client(&["tokens_writer"]);
    assert_eq!(
        sqlstate(&writer.query_one("SELECT tokens.verify_audit_chain()", &[])),
        "42501"
    );

    // A superuser edits the event at position 4 with the triggers disabled.
    let fourth = event_at(&mut admin, 4);
    let actor: String = admin
        .query_one(
            "SELECT actor FROM tokens.audit_store WHERE id = $1",
            &[&fourth],
        )
        .unwrap()
        .get(0);
    behind_the_guard(
        &mut admin,
        &format!("UPDATE tokens.audit_store SET actor = 'someone else' WHERE id = {fourth}"),
    );
    assert_eq!(broken(&mut app), Some(4));

    // Dumped and restored, the break is still reported (positions and
    // hashes are restored as they were, never recomputed).
    let restored = db.dump_and_restore();
    let mut copy = cluster.connect("postgres", &restored);
    assert_eq!(broken(&mut copy), Some(4), "reported after the restore too");
    drop(copy);
    admin
        .batch_execute(&format!("DROP DATABASE {restored}"))
        .unwrap();

    // Put the row back: intact again. Then delete the event at position 7:
    // its position no longer has an event.
    let seventh = event_at(&mut admin, 7);
    behind_the_guard(
        &mut admin,
        &format!(
            "UPDATE tokens.audit_store SET actor = '{actor}' WHERE id = {fourth};
             DELETE FROM tokens.audit_store WHERE id = {seventh}"
        ),
    );
    assert_eq!(broken(&mut app), Some(7));
    // A position removed with its event breaks the gapless sequence.
    behind_the_guard(
        &mut admin,
        "DELETE FROM tokens.audit_chain WHERE position = 7",
    );
    assert_eq!(broken(&mut app), Some(8));
}

/// The forgery of the issue: edit an old event and recompute every later
/// hash with the extension's own function, triggers off.
#[test]
fn a_rewrite_of_every_later_hash_passes_the_chain_but_not_a_checkpoint() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    let mut admin = db.admin();
    ten_events(&mut app, &mut admin);
    let before = checkpoint(&mut app);
    assert_eq!(before.0, 10);
    assert_eq!(
        broken_at(&mut app, &before),
        None,
        "an untouched log passes"
    );

    let third = event_at(&mut admin, 3);
    behind_the_guard(
        &mut admin,
        &format!(
            "UPDATE tokens.audit_store SET actor = 'forger' WHERE id = {third};
             DO $$
             DECLARE r record; prev bytea;
             BEGIN
               SELECT hash INTO prev FROM tokens.audit_chain WHERE position = 2;
               FOR r IN SELECT c.position, s.* FROM tokens.audit_chain c JOIN tokens.audit_store s ON s.id = c.event_id
                         WHERE c.position >= 3 ORDER BY c.position LOOP
                 prev := tokens.audit_row_hash(prev, r.id, r.at, r.actor, r.db_role, r.action, r.target, r.meta::text);
                 UPDATE tokens.audit_chain SET hash = prev WHERE position = r.position;
               END LOOP;
             END $$"
        ),
    );
    assert_eq!(broken(&mut app), None, "the rewrite passes the chain alone");
    assert_eq!(
        broken_at(&mut app, &before),
        Some(10),
        "the log no longer hashes to the checkpoint kept outside"
    );

    // Deleting the newest sealed rows passes the chain alone, and is
    // reported against a later checkpoint.
    let db2 = Cluster::shared().database();
    let (_, mut app2) = db2.client(APP);
    let mut admin2 = db2.admin();
    ten_events(&mut app2, &mut admin2);
    let later = checkpoint(&mut app2);
    let (nine, ten) = (event_at(&mut admin2, 9), event_at(&mut admin2, 10));
    behind_the_guard(
        &mut admin2,
        &format!(
            "DELETE FROM tokens.audit_chain WHERE position >= 9;
             DELETE FROM tokens.audit_store WHERE id IN ({nine}, {ten})"
        ),
    );
    assert_eq!(broken(&mut app2), None);
    assert_eq!(broken_at(&mut app2, &later), Some(10));
    // And a checkpoint taken before an append still holds after it.
    let (_, mut app3) = db2.client(APP);
    let now = checkpoint(&mut app3);
    mint(&mut app3, "after the checkpoint");
    assert_eq!(sealed_chain(&mut admin2).1, true);
    assert_eq!(broken_at(&mut app3, &now), None);
}

#[test]
fn a_checkpoint_is_refused_unless_well_formed() {
    let db = Cluster::shared().database();
    let (_, mut app) = db.client(APP);
    for (id, hash) in [
        (Some(0i64), Some(vec![0u8; 32])),
        (Some(1), Some(vec![0u8; 31])),
        (None, Some(vec![0u8; 32])),
        (Some(1), None),
    ] {
        let r = app.query_one("SELECT tokens.verify_audit_chain($1, $2)", &[&id, &hash]);
        assert_eq!(sqlstate(&r), "22023", "{id:?}: {}", message(&r));
        assert!(message(&r).contains("32-byte hash"), "{}", message(&r));
    }
    // A checkpoint of a position that does not exist is reported as such.
    assert_eq!(broken_at(&mut app, &(5, vec![0u8; 32])), Some(5));
}

/// The worker seals within about a second and writes the checkpoint to
/// the server log (the test cluster: pg_tokens.audit_checkpoint_interval
/// default, the first one at once).
#[test]
fn the_worker_seals_and_logs_a_checkpoint() {
    let cluster = Cluster::shared();
    let db = cluster.database();
    let (_, mut app) = db.client(APP);
    let id: i64 = app
        .query_one("SELECT tokens.audit('doc.create', 'doc:1')", &[])
        .unwrap()
        .get(0);
    let sealed = |c: &mut Client| -> Option<(i64, Vec<u8>)> {
        c.query_opt(
            "SELECT position, hash FROM tokens.audit_log WHERE id = $1 AND sealed",
            &[&id],
        )
        .unwrap()
        .map(|r| (r.get(0), r.get(1)))
    };
    eventually("the worker seals the event", || sealed(&mut app).is_some());
    let (position, hash) = sealed(&mut app).unwrap();
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    let line = format!(
        "pg_tokens: audit checkpoint db={} id={position} hash={hex}",
        db.name
    );
    eventually("the checkpoint line in the server log", || {
        std::fs::read_to_string(cluster.log_file())
            .unwrap_or_default()
            .contains(&line)
    });
}

/// A hot standby answers the chain check and the checkpoint (it cannot
/// seal: the primary's worker does, and the standby replays it).
#[test]
fn a_hot_standby_answers_the_chain_check_and_the_checkpoint() {
    let primary = Cluster::private("audit_primary", "");
    let db = primary.database();
    let standby = Cluster::replica_of(&primary, "audit_standby");
    let (role, mut app) = db.client(APP);
    let mut admin = db.admin();
    ten_events(&mut app, &mut admin);
    let at_primary = checkpoint(&mut app);
    standby.wait_for_replay(&primary);
    let mut replica = standby.connect(&role, &db.name);
    assert_eq!(checkpoint(&mut replica), at_primary);
    assert_eq!(broken(&mut replica), None);
    assert_eq!(broken_at(&mut replica, &at_primary), None);
    // Sealed on the primary by its worker, then replayed.
    app.execute("SELECT tokens.audit('doc.create', 'doc:2')", &[])
        .unwrap();
    eventually("the primary's worker seals, the standby replays", || {
        standby.wait_for_replay(&primary);
        checkpoint(&mut replica).0 == at_primary.0 + 1
    });
    assert_eq!(broken_at(&mut replica, &at_primary), None);
}
