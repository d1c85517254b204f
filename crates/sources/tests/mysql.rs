//! The `mysql` kind against real MariaDB servers started by the tests themselves:
//! round trips (one database into another name, a list, all databases), row counts
//! taken from the stream, clear errors for wrong credentials and unreachable
//! servers, a dump killed mid-stream, and credentials kept out of argv.

#![allow(clippy::unwrap_used)]

use lifeboat_core::{Secret, TableCount};
use lifeboat_sources::mysql::{
    prepare_target, query, start_backup, start_restore, table_counts, Databases, LoadPlan,
    MysqlTarget, TargetState,
};
use lifeboat_sources::scratch::free_port;
use lifeboat_sources::scratch::mariadb::ScratchMariaDb;
use lifeboat_sources::{Dump, DumpFacts, SourceError};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

/// A fresh server; a missing binary fails the test with the package to install.
fn server() -> ScratchMariaDb {
    ScratchMariaDb::start().unwrap_or_else(|e| panic!("cannot start a scratch MariaDB: {e}"))
}

fn sql(target: &MysqlTarget, text: &str) -> Vec<Vec<String>> {
    query(target, text).unwrap_or_else(|e| panic!("{e}\nSQL: {text}"))
}

fn one(target: &MysqlTarget, text: &str) -> String {
    sql(target, text).remove(0).remove(0)
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

fn ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// A database with awkward data and every kind of object a dump must carry.
fn fixture(server: &ScratchMariaDb, db: &str) {
    let create = format!("CREATE DATABASE {} CHARACTER SET utf8mb4", ident(db));
    sql(&server.root(), &create);
    sql(
        &server.target(db),
        r#"
CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(200) NOT NULL, body TEXT, data BLOB,
  price DECIMAL(10,2), note VARCHAR(50)) ENGINE=InnoDB;
CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(100));
CREATE TABLE empty_one (id INT PRIMARY KEY);
CREATE TABLE `odd ``name (x)` (id INT PRIMARY KEY, `v),(` VARCHAR(20));
CREATE TABLE `ünïcødé` (id INT PRIMARY KEY, s VARCHAR(20));
CREATE TRIGGER items_audit AFTER INSERT ON items FOR EACH ROW
  INSERT INTO audit(msg) VALUES (CONCAT('new ', NEW.id));
INSERT INTO items VALUES
  (1, 'it''s a \\ ),( test', 'line one\nline two\r\n\ttab \' and \" quotes', 0x00FF27285C0A, 12.50, NULL),
  (2, 'ünïcødé 🎉 "double"', NULL, NULL, NULL, ''),
  (3, 'semi; colon -- not a comment /* nor this */ # nor', '''quoted''', X'', -1.00, 'NULL');
INSERT INTO items SELECT seq, CONCAT('item ', seq, ' it''s (', seq, '),('), REPEAT('body\n', seq % 5),
  UNHEX(MD5(seq)), seq / 4, IF(seq % 3 = 0, NULL, 'n') FROM seq_10_to_2500;
INSERT INTO `odd ``name (x)` VALUES (1, '),('), (2, NULL);
INSERT INTO `ünïcødé` VALUES (1, '🎉');
DELIMITER //
CREATE PROCEDURE add_item(IN p_id INT)
BEGIN
  -- a comment with ' a quote
  INSERT INTO items(id, name) VALUES (p_id, 'from procedure; ok');
END//
CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2//
DELIMITER ;
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DO INSERT INTO audit(msg) VALUES ('nightly');
CREATE VIEW cheap_items AS SELECT id, name FROM items WHERE price < 10;
"#,
    );
}

/// Per table: row count and an MD5 over every value in primary-key order.
fn checksums(server: &MysqlTarget, db: &str) -> BTreeMap<String, (String, String)> {
    let server = MysqlTarget {
        dbname: None,
        ..server.clone()
    };
    let tables = sql(
        &server,
        &format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_TYPE = 'BASE TABLE'",
            lit(db)
        ),
    );
    let mut out = BTreeMap::new();
    for row in tables {
        let table = &row[0];
        let columns: Vec<String> = sql(
            &server,
            &format!(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} \
                 ORDER BY ORDINAL_POSITION",
                lit(db),
                lit(table)
            ),
        )
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
        let values: Vec<String> = columns
            .iter()
            .map(|c| format!("IFNULL(HEX(CONCAT({})), '-')", ident(c)))
            .collect();
        let text = format!(
            "SET SESSION group_concat_max_len = 1073741824;\n\
             SELECT COUNT(*), IFNULL(MD5(GROUP_CONCAT(CONCAT_WS('|', {}) ORDER BY {} SEPARATOR ';')), '-') FROM {}.{};",
            values.join(", "),
            ident(&columns[0]),
            ident(db),
            ident(table)
        );
        let row = sql(&server, &text).remove(0);
        out.insert(table.clone(), (row[0].clone(), row[1].clone()));
    }
    out
}

/// How many routines, triggers, events and views `db` has.
fn objects(server: &MysqlTarget, db: &str) -> Vec<String> {
    let server = MysqlTarget {
        dbname: None,
        ..server.clone()
    };
    let d = lit(db);
    sql(
        &server,
        &format!(
            "SELECT (SELECT GROUP_CONCAT(ROUTINE_NAME ORDER BY 1) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {d}), \
             (SELECT GROUP_CONCAT(TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {d}), \
             (SELECT GROUP_CONCAT(EVENT_NAME) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {d}), \
             (SELECT GROUP_CONCAT(TABLE_NAME) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {d})"
        ),
    )
    .remove(0)
}

/// Reads the whole stream, then checks the dump.
fn consume(mut dump: Dump) -> (Vec<u8>, Result<DumpFacts, SourceError>) {
    let mut bytes = Vec::new();
    dump.stream
        .read_to_end(&mut bytes)
        .expect("reading the dump stream");
    (bytes, (dump.finish)())
}

/// A whole backup: the dump's file name, its bytes and its facts.
fn backup(target: &MysqlTarget, databases: &Databases) -> (String, Vec<u8>, DumpFacts) {
    let dump = start_backup(target, databases).unwrap_or_else(|e| panic!("start_backup: {e}"));
    let name = dump.name.clone();
    let (bytes, facts) = consume(dump);
    (
        name,
        bytes,
        facts.unwrap_or_else(|e| panic!("finishing the dump: {e}")),
    )
}

fn restore(target: &MysqlTarget, bytes: &[u8]) {
    let state = prepare_target(target).unwrap_or_else(|e| panic!("prepare_target: {e}"));
    let mut restore = start_restore(target, state, &LoadPlan::default())
        .unwrap_or_else(|e| panic!("start_restore: {e}"));
    let mut input = restore.input().unwrap();
    input.write_all(bytes).unwrap();
    drop(input);
    restore.finish().unwrap_or_else(|e| panic!("restore: {e}"));
}

/// Counts keyed by table name without its database.
fn by_table(counts: &[TableCount], db: &str) -> BTreeMap<String, u64> {
    let prefix = format!("{db}.");
    counts
        .iter()
        .filter_map(|c| {
            c.table
                .strip_prefix(&prefix)
                .map(|t| (t.to_string(), c.rows))
        })
        .collect()
}

#[test]
fn one_database_round_trips_into_another_name() {
    let server = server();
    fixture(&server, "shop");
    let source = server.target("shop");
    let (name, bytes, facts) = backup(&source, &Databases::FromUrl);
    assert_eq!(name, "shop.sql");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains("CREATE DATABASE") && !text.contains("\nUSE "),
        "a single-database dump names no database"
    );

    // Counts from the stream are the real counts, empty tables included, sorted.
    let real = table_counts(&source, &["shop".into()]).unwrap();
    assert_eq!(facts.tables, real);
    assert_eq!(by_table(&facts.tables, "shop")["empty_one"], 0);
    assert_eq!(by_table(&facts.tables, "shop")["items"], 2494);
    assert!(facts.tables.windows(2).all(|w| w[0].table < w[1].table));
    assert!(by_table(&facts.tables, "shop").contains_key("odd `name (x)"));
    assert!(
        !by_table(&facts.tables, "shop").contains_key("cheap_items"),
        "views hold no rows of their own"
    );
    assert_eq!(facts.tool_versions.len(), 2);
    assert!(
        facts.tool_versions[0].contains("mariadb-dump"),
        "{:?}",
        facts.tool_versions
    );
    assert!(
        facts.tool_versions[1].contains("MariaDB"),
        "{:?}",
        facts.tool_versions
    );

    // What the comparisons below compare.
    let sums = checksums(&source, "shop");
    assert_eq!(
        sums.keys().cloned().collect::<Vec<_>>(),
        ["audit", "empty_one", "items", "odd `name (x)", "ünïcødé"]
    );
    assert_eq!(sums["items"].0, "2494");
    assert_eq!(sums["empty_one"], ("0".to_string(), "-".to_string()));
    assert_eq!(
        objects(&source, "shop"),
        ["add_item,twice", "items_audit", "nightly", "cheap_items"]
    );

    // Into a database that does not exist yet: created, then equal to the source.
    let copy = server.target("copy");
    assert_eq!(prepare_target(&copy).unwrap(), TargetState::Missing);
    restore(&copy, &bytes);
    assert_eq!(prepare_target(&copy).unwrap(), TargetState::HoldsData);
    assert_eq!(checksums(&copy, "copy"), checksums(&source, "shop"));
    assert_eq!(objects(&copy, "copy"), objects(&source, "shop"));
    assert_eq!(
        by_table(&table_counts(&copy, &["copy".into()]).unwrap(), "copy"),
        by_table(&facts.tables, "shop")
    );

    // The restored objects work, in the new database.
    sql(
        &copy,
        "INSERT INTO items(id, name) VALUES (100000, 'x'); CALL add_item(100001);",
    );
    assert_eq!(
        one(
            &copy,
            "SELECT COUNT(*) FROM audit WHERE msg IN ('new 100000', 'new 100001')"
        ),
        "2"
    );
    assert_eq!(one(&copy, "SELECT twice(21)"), "42");
    assert_eq!(
        one(&source, "SELECT COUNT(*) FROM items"),
        "2494",
        "the source is untouched"
    );

    // Over a database that holds data: the dump replaces its tables.
    restore(&copy, &bytes);
    assert_eq!(checksums(&copy, "copy"), checksums(&source, "shop"));

    // Into an existing empty database.
    sql(&server.root(), "CREATE DATABASE vacant");
    let vacant = server.target("vacant");
    assert_eq!(prepare_target(&vacant).unwrap(), TargetState::Empty);
    restore(&vacant, &bytes);
    assert_eq!(checksums(&vacant, "vacant"), checksums(&source, "shop"));
}

#[test]
fn a_list_and_all_databases_round_trip_to_other_servers() {
    let source = server();
    fixture(&source, "alpha");
    fixture(&source, "beta two");
    sql(
        &source.target("beta two"),
        "DELETE FROM items WHERE id > 100; DROP TABLE empty_one;",
    );
    let dbs: Vec<String> = vec!["alpha".into(), "beta two".into()];
    let real = table_counts(&source.root(), &dbs).unwrap();

    let (name, bytes, facts) = backup(&source.root(), &Databases::List(dbs.clone()));
    assert_eq!(name, "databases.sql");
    assert_eq!(facts.tables, real);
    assert_eq!(by_table(&facts.tables, "beta two")["items"], 94);
    let other = server();
    assert_eq!(prepare_target(&other.root()).unwrap(), TargetState::Empty);
    restore(&other.root(), &bytes);
    assert_eq!(
        prepare_target(&other.root()).unwrap(),
        TargetState::HoldsData
    );
    for db in &dbs {
        assert_eq!(
            checksums(&other.root(), db),
            checksums(&source.root(), db),
            "{db}"
        );
        assert_eq!(
            objects(&other.root(), db),
            objects(&source.root(), db),
            "{db}"
        );
    }

    let (name, bytes, facts) = backup(&source.root(), &Databases::All);
    assert_eq!(name, "all-databases.sql");
    let user_tables: Vec<TableCount> = facts
        .tables
        .iter()
        .filter(|t| !t.table.starts_with("mysql."))
        .cloned()
        .collect();
    assert_eq!(user_tables, real);
    assert!(
        facts
            .tables
            .iter()
            .any(|t| t.table == "mysql.global_priv" && t.rows > 0),
        "{:?}",
        facts.tables
    );
    let third = server();
    restore(&third.root(), &bytes);
    for db in &dbs {
        assert_eq!(
            checksums(&third.root(), db),
            checksums(&source.root(), db),
            "{db}"
        );
        assert_eq!(
            objects(&third.root(), db),
            objects(&source.root(), db),
            "{db}"
        );
    }
}

#[test]
fn wrong_credentials_and_missing_databases_fail_clearly() {
    let server = server();
    sql(&server.root(), "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); INSERT INTO shop.t VALUES (1),(2);");
    // A password the option file must quote and escape.
    let password = r#"pa'ss "w#rd\ ;x"#;
    server.create_user("alice", password).unwrap();
    let good = MysqlTarget {
        user: "alice".into(),
        password: Some(Secret::new(password.to_string())),
        ..server.target("shop")
    };
    let (_, _, facts) = backup(&good, &Databases::FromUrl);
    assert_eq!(
        facts.tables,
        vec![TableCount {
            table: "shop.t".into(),
            rows: 2
        }]
    );

    let wrong = MysqlTarget {
        password: Some(Secret::new("not-the-password".into())),
        ..good.clone()
    };
    let address = format!("127.0.0.1:{}", server.port);
    let errors = [
        start_backup(&wrong, &Databases::FromUrl)
            .err()
            .expect("backup with a wrong password"),
        prepare_target(&wrong).expect_err("prepare_target with a wrong password"),
        start_restore(&wrong, TargetState::Empty, &LoadPlan::default())
            .err()
            .expect("restore with a wrong password"),
        start_restore(
            &wrong.with_db("fresh"),
            TargetState::Missing,
            &LoadPlan::default(),
        )
        .err()
        .expect("create with a wrong password"),
    ];
    for e in errors {
        let text = e.to_string();
        assert!(matches!(e, SourceError::Connect(_)), "{text}");
        assert!(
            text.contains(&address) && text.contains("Access denied"),
            "{text}"
        );
        assert!(
            !text.contains("not-the-password") && !text.contains("pa'ss"),
            "{text}"
        );
    }

    let e = start_backup(&good.with_db("nope"), &Databases::FromUrl)
        .err()
        .expect("a missing database");
    assert!(e.to_string().contains("nope"), "{e}");
    let e = start_backup(&good, &Databases::List(vec!["shop".into(), "gone".into()]))
        .err()
        .expect("a missing one");
    assert!(
        e.to_string().contains("gone") && !e.to_string().contains("shop`"),
        "{e}"
    );
    let e = start_backup(&good.without_db(), &Databases::FromUrl)
        .err()
        .expect("no database");
    assert!(matches!(e, SourceError::Invalid(_)), "{e}");
}

#[test]
fn an_unreachable_server_is_named() {
    let port = free_port().unwrap();
    let target = MysqlTarget::parse(&format!("mysql://root@127.0.0.1:{port}/shop"), None).unwrap();
    let address = format!("127.0.0.1:{port}");
    let errors = [
        start_backup(&target, &Databases::FromUrl)
            .err()
            .expect("backup of nothing"),
        prepare_target(&target).expect_err("prepare_target of nothing"),
        start_restore(&target, TargetState::Missing, &LoadPlan::default())
            .err()
            .expect("restore into nothing"),
        start_restore(&target, TargetState::Empty, &LoadPlan::default())
            .err()
            .expect("restore into nothing"),
    ];
    for e in errors {
        assert!(matches!(e, SourceError::Connect(_)), "{e}");
        assert!(e.to_string().contains(&address), "{e}");
    }
}

/// Direct children of this process whose command line holds all of `words`.
fn children_with(words: &[&str]) -> Vec<(u32, Vec<String>)> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_string));
        if ppid.as_deref() != Some(me.as_str()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let argv: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if words.iter().all(|w| argv.iter().any(|a| a.contains(w))) {
            found.push((pid, argv));
        }
    }
    found
}

/// A database big enough that the dump blocks on a full pipe until read.
fn big_database(server: &ScratchMariaDb, db: &str) {
    sql(&server.root(), &format!("CREATE DATABASE {db}"));
    sql(
        &server.target(db),
        "CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(1000));
         INSERT INTO big SELECT seq, REPEAT(CHAR(65 + seq % 26), 1000) FROM seq_1_to_8000;",
    );
}

#[test]
fn credentials_stay_out_of_argv_and_environment() {
    use std::os::unix::fs::PermissionsExt;
    let server = server();
    big_database(&server, "argvdb");
    let password = "argv-S3cret-value";
    server.create_user("bob", password).unwrap();
    let target = MysqlTarget {
        user: "bob".into(),
        password: Some(Secret::new(password.into())),
        ..server.target("argvdb")
    };
    let mut dump = start_backup(&target, &Databases::FromUrl).unwrap();
    let mut first = vec![0u8; 4096];
    dump.stream.read_exact(&mut first).unwrap();

    let children = children_with(&["mariadb-dump", "argvdb"]);
    assert_eq!(children.len(), 1, "{children:?}");
    let (pid, argv) = &children[0];
    assert!(
        argv[1].starts_with("--defaults-extra-file="),
        "the option file comes first: {argv:?}"
    );
    assert!(argv.iter().all(|a| !a.contains(password)), "{argv:?}");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        !environ.contains(password) && !environ.contains("MYSQL_PWD"),
        "password in the environment"
    );
    let option_file = argv[1]
        .trim_start_matches("--defaults-extra-file=")
        .to_string();
    let meta = std::fs::metadata(&option_file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&option_file)
        .unwrap()
        .contains(password));

    let mut rest = Vec::new();
    dump.stream.read_to_end(&mut rest).unwrap();
    let facts = (dump.finish)().unwrap();
    assert_eq!(
        facts.tables,
        vec![TableCount {
            table: "argvdb.big".into(),
            rows: 8000
        }]
    );
    assert!(
        !std::path::Path::new(&option_file).exists(),
        "the option file is removed after the dump"
    );
}

#[test]
fn a_dump_killed_mid_stream_fails() {
    let server = server();
    big_database(&server, "killdb");
    let mut dump = start_backup(&server.target("killdb"), &Databases::FromUrl).unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    dump.stream.read_exact(&mut buf).unwrap();
    let children = children_with(&["mariadb-dump", "killdb"]);
    assert_eq!(children.len(), 1, "{children:?}");
    let pid = children[0].0.to_string();
    assert!(std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap()
        .success());
    // Keep reading slowly until the stream ends where the dump died.
    loop {
        match dump.stream.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("{e}"),
        }
    }
    let e = (dump.finish)().expect_err("a killed dump must fail");
    assert!(matches!(e, SourceError::ChildFailed { .. }), "{e}");
    assert!(e.to_string().contains("signal 9"), "{e}");
}
