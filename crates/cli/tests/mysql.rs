//! The mysql kind through the binary, against a real MariaDB started here.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use lifeboat_sources::mysql::query;
use lifeboat_sources::scratch::mariadb::ScratchMariaDb;
use support::{Workspace, PASSWORD};

fn seed(server: &ScratchMariaDb) {
    server.create_user("app", PASSWORD).unwrap();
    let sql = "CREATE DATABASE app; USE app;
        CREATE TABLE users (id INT PRIMARY KEY, name TEXT, avatar BLOB);
        INSERT INTO users VALUES (1, 'O''Brien', X'00FF10'), (2, 'line\\nbreak', NULL), (3, '),(', X'');
        CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(20));
        INSERT INTO events (kind) SELECT 'seq' FROM information_schema.columns LIMIT 500;";
    query(&server.root(), sql).unwrap();
}

fn checksum(server: &ScratchMariaDb, db: &str) -> Vec<Vec<String>> {
    let sql = format!(
        "SELECT COUNT(*), MD5(GROUP_CONCAT(CONCAT_WS('|', id, name, HEX(avatar)) ORDER BY id)) FROM {db}.users
         UNION ALL SELECT COUNT(*), MD5(GROUP_CONCAT(CONCAT_WS('|', id, kind) ORDER BY id)) FROM {db}.events"
    );
    query(&server.root(), &sql).unwrap()
}

fn config(ws: &mut Workspace, server: &ScratchMariaDb) {
    ws.env.push(("APP_DB_PASSWORD".into(), PASSWORD.into()));
    ws.config(&format!(
        "[[app]]\nname = \"system\"\n\n[[app.source]]\nname = \"mysql\"\nkind = \"mysql\"\nurl = \"mysql://app@127.0.0.1:{}/app\"\npassword_env = \"APP_DB_PASSWORD\"\nverify_sql = [\"SELECT COUNT(*) = 3 FROM users\"]\n",
        server.port
    ));
}

#[test]
fn backup_restore_elsewhere_and_verify() {
    let server = ScratchMariaDb::start().unwrap();
    seed(&server);
    let mut ws = Workspace::new();
    config(&mut ws, &server);
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["backup"]).assert_ok();
    assert!(!out.all().contains(PASSWORD));
    let manifest = ws.manifest("system/mysql");
    let tables: Vec<(String, u64)> = manifest["facts"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    let events: u64 = query(&server.root(), "SELECT COUNT(*) FROM app.events").unwrap()[0][0]
        .parse()
        .unwrap();
    assert_eq!(
        tables,
        vec![
            ("app.events".to_string(), events),
            ("app.users".to_string(), 3)
        ]
    );

    let to = format!("mysql://app@127.0.0.1:{}/app_copy", server.port);
    ws.run(&["restore", "system/mysql", "--to", &to])
        .assert_ok();
    assert_eq!(checksum(&server, "app_copy"), checksum(&server, "app"));

    // Over data: refused without --force, then a safety backup first.
    ws.run(&["restore", "system/mysql", "--to", &to])
        .assert_code(1);
    ws.run(&["restore", "system/mysql", "--to", &to, "--force"])
        .assert_ok();
    assert_eq!(
        ws.snapshots_of("system", "mysql")
            .iter()
            .filter(|s| s["pre_restore"] == true)
            .count(),
        1
    );

    let verified = ws.run(&["verify", "system/mysql"]).assert_ok();
    assert!(
        verified
            .stdout
            .contains("2 of 2 tables have the recorded row counts"),
        "{}",
        verified.stdout
    );
    assert!(
        verified.stdout.contains("returned true"),
        "{}",
        verified.stdout
    );
}

#[test]
fn wrong_password_and_unreachable_server_fail_clearly() {
    let server = ScratchMariaDb::start().unwrap();
    seed(&server);
    let mut ws = Workspace::new();
    config(&mut ws, &server);
    ws.env.retain(|(k, _)| k != "APP_DB_PASSWORD");
    ws.env.push(("APP_DB_PASSWORD".into(), "nope".into()));
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["backup"]).assert_code(1);
    assert!(
        out.stderr.contains("system/mysql") && out.stderr.contains("Access denied"),
        "{}",
        out.stderr
    );
    drop(server);
    let out = ws.run(&["backup"]).assert_code(1);
    assert!(out.stderr.contains("127.0.0.1:"), "{}", out.stderr);
    assert!(ws.list().is_empty());
}

fn source_config(ws: &mut Workspace, server: &ScratchMariaDb, url_tail: &str, databases: &str) {
    ws.env.push(("APP_DB_PASSWORD".into(), PASSWORD.into()));
    ws.config(&format!(
        "[[app]]\nname = \"system\"\n\n[[app.source]]\nname = \"mysql\"\nkind = \"mysql\"\nurl = \"mysql://app@127.0.0.1:{}{url_tail}\"\npassword_env = \"APP_DB_PASSWORD\"\n{databases}",
        server.port
    ));
}

fn rows(server: &ScratchMariaDb, sql: &str) -> Vec<Vec<String>> {
    query(&server.root(), sql).unwrap()
}

fn defaults(server: &ScratchMariaDb, db: &str) -> Vec<Vec<String>> {
    rows(
        server,
        &format!("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{db}'"),
    )
}

#[test]
fn restore_of_a_listed_database_to_another_name_leaves_the_original_alone() {
    let server = ScratchMariaDb::start().unwrap();
    server.create_user("app", PASSWORD).unwrap();
    query(
        &server.root(),
        "CREATE DATABASE orig CHARACTER SET latin1 COLLATE latin1_german1_ci; CREATE DATABASE other;
         CREATE TABLE orig.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO orig.t VALUES (1, 'backed up');
         CREATE TABLE other.u (id INT); INSERT INTO other.u VALUES (7);",
    )
    .unwrap();
    let mut ws = Workspace::new();
    source_config(&mut ws, &server, "", "databases = [\"orig\"]\n");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    query(
        &server.root(),
        "INSERT INTO orig.t VALUES (2, 'after the backup')",
    )
    .unwrap();

    let to = format!("mysql://app@127.0.0.1:{}/copy", server.port);
    let plan = ws
        .run(&["restore", "system/mysql", "--to", &to, "--plan"])
        .assert_ok();
    assert!(
        plan.stdout.contains("/copy") && plan.stdout.contains("database orig of snapshot"),
        "the plan names the real target: {}",
        plan.stdout
    );
    ws.run(&["restore", "system/mysql", "--to", &to])
        .assert_ok();
    assert_eq!(
        rows(&server, "SELECT id, v FROM copy.t ORDER BY id"),
        [["1", "backed up"]]
    );
    assert_eq!(
        rows(&server, "SELECT COUNT(*) FROM orig.t"),
        [["2"]],
        "orig keeps the row written after the backup"
    );
    assert_eq!(defaults(&server, "copy"), defaults(&server, "orig"));

    // Over an existing, modified copy.
    query(&server.root(), "INSERT INTO copy.t VALUES (9, 'stray')").unwrap();
    ws.run(&["restore", "system/mysql", "--to", &to, "--force"])
        .assert_ok();
    assert_eq!(
        rows(&server, "SELECT id, v FROM copy.t ORDER BY id"),
        [["1", "backed up"]]
    );
    assert_eq!(rows(&server, "SELECT COUNT(*) FROM orig.t"), [["2"]]);

    // A dump of several databases is refused for one database, before anything is written.
    let mut ws = Workspace::new();
    source_config(&mut ws, &server, "", "databases = [\"orig\", \"other\"]\n");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let to = format!("mysql://app@127.0.0.1:{}/merged", server.port);
    let out = ws
        .run(&["restore", "system/mysql", "--to", &to, "--force"])
        .assert_code(1);
    assert!(
        out.stderr.contains("several databases") && out.stderr.contains("merged"),
        "{}",
        out.stderr
    );
    assert_eq!(rows(&server, "SELECT COUNT(*) FROM orig.t"), [["2"]]);
    assert!(defaults(&server, "merged").is_empty());
    let plan = ws.run(&["restore", "system/mysql", "--plan"]).assert_ok();
    assert!(
        plan.stdout.contains("(databases orig, other)"),
        "{}",
        plan.stdout
    );
}

#[test]
fn restore_into_a_missing_database_keeps_its_charset_and_collation() {
    let server = ScratchMariaDb::start().unwrap();
    server.create_user("app", PASSWORD).unwrap();
    query(
        &server.root(),
        "CREATE DATABASE legacy CHARACTER SET latin1 COLLATE latin1_german1_ci;
         CREATE TABLE legacy.t (v VARCHAR(10)); INSERT INTO legacy.t VALUES ('Straße');",
    )
    .unwrap();
    let mut ws = Workspace::new();
    source_config(&mut ws, &server, "/legacy", "");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let to = format!("mysql://app@127.0.0.1:{}/legacy_copy", server.port);
    ws.run(&["restore", "system/mysql", "--to", &to])
        .assert_ok();
    assert_eq!(
        defaults(&server, "legacy_copy"),
        [["latin1", "latin1_german1_ci"]]
    );
    assert_eq!(rows(&server, "SELECT v FROM legacy_copy.t"), [["Straße"]]);
    ws.run(&["verify", "system/mysql"]).assert_ok();
}

#[test]
fn percent_encoded_user_and_database_names_in_urls_are_decoded() {
    let server = ScratchMariaDb::start().unwrap();
    server.create_user("app@corp", PASSWORD).unwrap();
    query(
        &server.root(),
        "CREATE DATABASE `my db`; CREATE TABLE `my db`.t (id INT); INSERT INTO `my db`.t VALUES (1), (2);",
    )
    .unwrap();
    let mut ws = Workspace::new();
    ws.env.push(("APP_DB_PASSWORD".into(), PASSWORD.into()));
    ws.config(&format!(
        "[[app]]\nname = \"system\"\n\n[[app.source]]\nname = \"mysql\"\nkind = \"mysql\"\nurl = \"mysql://app%40corp@127.0.0.1:{}/my%20db\"\npassword_env = \"APP_DB_PASSWORD\"\n",
        server.port
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let to = format!("mysql://app%40corp@127.0.0.1:{}/my%20copy", server.port);
    ws.run(&["restore", "system/mysql", "--to", &to])
        .assert_ok();
    assert_eq!(rows(&server, "SELECT COUNT(*) FROM `my copy`.t"), [["2"]]);
    ws.run(&["restore", "system/mysql", "--to", &to, "--force"])
        .assert_ok();
    ws.run(&["verify", "system/mysql"]).assert_ok();
}

#[test]
fn verify_of_all_databases_ignores_tables_the_server_fills_itself() {
    let server = ScratchMariaDb::start().unwrap();
    server.create_user("app", PASSWORD).unwrap();
    query(
        &server.root(),
        "CREATE DATABASE shop; USE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT, KEY (v));
         INSERT INTO shop.t SELECT seq, seq FROM seq_1_to_2000; ANALYZE TABLE shop.t;",
    )
    .unwrap();
    let mut ws = Workspace::new();
    source_config(&mut ws, &server, "", "databases = \"all\"\n");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let out = ws.run(&["verify", "system/mysql"]).assert_ok();
    assert!(!out.stdout.contains("innodb_"), "{}", out.stdout);
    let manifest = ws.manifest("system/mysql");
    let tables: Vec<&str> = manifest["facts"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert!(tables.contains(&"shop.t"), "{tables:?}");
    assert!(
        !tables.contains(&"mysql.innodb_index_stats"),
        "server-maintained tables are not recorded: {tables:?}"
    );
}
