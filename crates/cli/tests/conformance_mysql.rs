//! Conformance of the mysql kind on hostile data, against one real MariaDB: a
//! database with a non-default character set and collation, utf8mb4 text with emoji
//! and NULs, BLOBs with NUL and 0xFF bytes (all 256 values, one of several MB, empty,
//! NULL), AUTO_INCREMENT next values after deletes, a view, a procedure and a function
//! (one created under another database collation), a trigger, an event. Each source
//! layout (`url = …/DB` and `databases = [DB]`) is restored into a missing database
//! and over a modified one (`--force`), compared exactly (definitions, collations,
//! checksums, AUTO_INCREMENT), then `lifeboat verify`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use lifeboat_sources::mysql::query;
use lifeboat_sources::scratch::mariadb::ScratchMariaDb;
use support::{Workspace, PASSWORD};

const DB: &str = "conf";

fn sql(server: &ScratchMariaDb, text: &str) -> Vec<Vec<String>> {
    query(&server.root(), text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn seed(server: &ScratchMariaDb) {
    server.create_user("app", PASSWORD).unwrap();
    sql(
        server,
        "CREATE DATABASE conf CHARACTER SET utf8mb3 COLLATE utf8mb3_unicode_ci;
         USE conf;
         CREATE PROCEDURE p_old_collation() SELECT 'made under utf8mb3_unicode_ci';
         ALTER DATABASE conf CHARACTER SET latin1 COLLATE latin1_german1_ci;
         CREATE TABLE t_text (id INT PRIMARY KEY,
             s VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
             l VARCHAR(50), note TEXT CHARACTER SET utf8mb4);
         INSERT INTO t_text VALUES
             (1, 'emoji 🦀🎉 and 𝄞', 'Straße', 'quote '' backslash \\\\ tab \\t newline \\n'),
             (2, CONCAT('nul', CHAR(0), 'inside'), 'ÄÖÜ', NULL),
             (3, '),(', ';', '/* not a comment */ -- nor this'),
             (4, '', '', '');
         CREATE TABLE t_blob (id INT PRIMARY KEY, b LONGBLOB);
         INSERT INTO t_blob VALUES (1, X'00FF00FF'), (2, X''), (3, NULL),
             (4, REPEAT(X'00FF0D0A27225C', 400000));
         INSERT INTO t_blob SELECT 5, GROUP_CONCAT(CHAR(seq) ORDER BY seq SEPARATOR '') FROM seq_0_to_255;
         CREATE TABLE t_auto (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10)) AUTO_INCREMENT = 100;
         INSERT INTO t_auto (v) VALUES ('a'), ('b'), ('c'), ('d'), ('e');
         DELETE FROM t_auto WHERE id > 102;
         CREATE TABLE t_audit (n INT, at_id INT);
         CREATE TRIGGER trg_auto AFTER INSERT ON t_auto FOR EACH ROW INSERT INTO t_audit VALUES (1, NEW.id);
         CREATE VIEW v_count AS SELECT COUNT(*) AS n, MAX(id) AS top FROM t_auto;
         CREATE FUNCTION f_double(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
         DELIMITER //
         CREATE PROCEDURE p_add(IN v VARCHAR(10)) BEGIN INSERT INTO t_auto (v) VALUES (v); SELECT 'semi;colon'; END//
         DELIMITER ;
         CREATE EVENT ev_prune ON SCHEDULE EVERY 1 DAY DO DELETE FROM t_audit WHERE n < 0;
         CALL p_add('f');",
    );
}

/// Everything about database `db` that a restore must reproduce, with its own name
/// replaced by `DB` (definitions name it).
fn fingerprint(server: &ScratchMariaDb, db: &str) -> Vec<String> {
    let lit = format!("'{db}'");
    let queries = [
        format!("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {lit}"),
        format!("SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION, AUTO_INCREMENT, TABLE_ROWS IS NULL FROM information_schema.TABLES WHERE TABLE_SCHEMA = {lit} ORDER BY TABLE_NAME"),
        format!("SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, IS_NULLABLE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {lit} ORDER BY TABLE_NAME, ORDINAL_POSITION"),
        format!("SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, SECURITY_TYPE, DEFINER, CHARACTER_SET_CLIENT, COLLATION_CONNECTION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {lit} ORDER BY TABLE_NAME"),
        format!("SELECT ROUTINE_NAME, ROUTINE_TYPE, DTD_IDENTIFIER, ROUTINE_DEFINITION, IS_DETERMINISTIC, SQL_MODE, DEFINER, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {lit} ORDER BY ROUTINE_NAME"),
        format!("SELECT SPECIFIC_NAME, ORDINAL_POSITION, PARAMETER_MODE, PARAMETER_NAME, DTD_IDENTIFIER FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = {lit} ORDER BY SPECIFIC_NAME, ORDINAL_POSITION"),
        format!("SELECT TRIGGER_NAME, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_STATEMENT, ACTION_TIMING, SQL_MODE, DEFINER, DATABASE_COLLATION FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {lit} ORDER BY TRIGGER_NAME"),
        format!("SELECT EVENT_NAME, EVENT_DEFINITION, INTERVAL_VALUE, INTERVAL_FIELD, STATUS, ON_COMPLETION, DEFINER, DATABASE_COLLATION FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {lit} ORDER BY EVENT_NAME"),
        format!("CHECKSUM TABLE `{db}`.t_text, `{db}`.t_blob, `{db}`.t_auto, `{db}`.t_audit EXTENDED"),
        format!("SELECT id, HEX(s), HEX(l), HEX(note) FROM `{db}`.t_text ORDER BY id"),
        format!("SELECT id, MD5(b), LENGTH(b) FROM `{db}`.t_blob ORDER BY id"),
        format!("SELECT * FROM `{db}`.t_auto ORDER BY id"),
        format!("SELECT * FROM `{db}`.t_audit ORDER BY at_id"),
        format!("SELECT * FROM `{db}`.v_count"),
        format!("SELECT `{db}`.f_double(21)"),
    ];
    let mut out = Vec::new();
    for q in &queries {
        for row in sql(server, q) {
            let line = row.join("|").replace(&format!("`{db}`"), "`DB`");
            // CHECKSUM TABLE names the table with its database.
            out.push(line.replace(&format!("{db}."), "DB."));
        }
    }
    out
}

/// Changes a restored database so that a restore over it has something to undo.
fn modify(server: &ScratchMariaDb, db: &str) {
    sql(
        server,
        &format!(
            "USE `{db}`; INSERT INTO t_auto (v) VALUES ('late'); DELETE FROM t_blob WHERE id = 5;
             UPDATE t_text SET s = 'changed' WHERE id = 1; DROP VIEW v_count; DROP TRIGGER trg_auto;
             CREATE TABLE stray (x INT); DROP PROCEDURE p_add;"
        ),
    );
}

fn workspace(server: &ScratchMariaDb, url_tail: &str, databases: &str) -> Workspace {
    let mut ws = Workspace::new();
    ws.env.push(("APP_DB_PASSWORD".into(), PASSWORD.into()));
    ws.config(&format!(
        "[[app]]\nname = \"shop\"\n\n[[app.source]]\nname = \"db\"\nkind = \"mysql\"\nurl = \"mysql://app@127.0.0.1:{}{url_tail}\"\npassword_env = \"APP_DB_PASSWORD\"\n{databases}",
        server.port
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    ws
}

fn round_trip(server: &ScratchMariaDb, ws: &Workspace, copy: &str, want: &[String]) {
    let to = format!("mysql://app@127.0.0.1:{}/{copy}", server.port);
    ws.run(&["restore", "shop/db", "--to", &to]).assert_ok();
    assert_eq!(
        fingerprint(server, copy),
        want,
        "{copy}: into a missing database"
    );
    modify(server, copy);
    ws.run(&["restore", "shop/db", "--to", &to]).assert_code(1);
    ws.run(&["restore", "shop/db", "--to", &to, "--force"])
        .assert_ok();
    // Without --clean a restore loads the dump: a table the dump lacks stays.
    let mut got = fingerprint(server, copy);
    got.retain(|l| !l.starts_with("stray|"));
    assert_eq!(got, want, "{copy}: over a modified database");
    let verified = ws.run(&["verify", "shop/db"]).assert_ok();
    assert!(
        verified
            .stdout
            .contains("4 of 4 tables have the recorded row counts"),
        "{}",
        verified.stdout
    );
}

#[test]
fn mysql_conformance_round_trips_exactly() {
    let server = ScratchMariaDb::start().unwrap();
    seed(&server);
    let want = fingerprint(&server, DB);
    assert!(
        want.iter().any(|l| l == "latin1|latin1_german1_ci")
            && want
                .iter()
                .any(|l| l.starts_with("t_auto|BASE TABLE|InnoDB|latin1_german1_ci|106|")),
        "{want:#?}"
    );
    for object in [
        "p_add|PROCEDURE",
        "p_old_collation|PROCEDURE",
        "f_double|FUNCTION",
        "trg_auto|INSERT",
        "ev_prune|",
        "v_count|",
    ] {
        assert!(
            want.iter().any(|l| l.starts_with(object)),
            "{object} in {want:#?}"
        );
    }
    let dump =
        String::from_utf8(workspace(&server, "/conf", "").run_bytes(&["dump", "shop/db"])).unwrap();
    assert!(
        dump.contains("ALTER DATABASE `conf` CHARACTER SET"),
        "the dump switches the database collation around the old procedure"
    );

    let by_url = workspace(&server, "/conf", "");
    round_trip(&server, &by_url, "conf_url_copy", &want);
    let listed = workspace(&server, "", "databases = [\"conf\"]\n");
    round_trip(&server, &listed, "conf_list_copy", &want);
    assert_eq!(
        fingerprint(&server, DB),
        want,
        "the source was never written to"
    );
}
