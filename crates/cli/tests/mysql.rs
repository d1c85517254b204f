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
