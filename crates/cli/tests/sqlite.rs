//! The sqlite kind: online backup while a writer process writes, atomic restore.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use rusqlite::Connection;
use std::time::Duration;
use support::Workspace;

fn config(ws: &Workspace) -> String {
    format!(
        "[[app]]\nname = \"web\"\n\n[[app.source]]\nname = \"db\"\nkind = \"sqlite\"\npath = \"{}\"\n",
        ws.path("app.sqlite").display()
    )
}

fn seed(ws: &Workspace) {
    let c = Connection::open(ws.path("app.sqlite")).unwrap();
    c.execute_batch(
        "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE b (id INTEGER PRIMARY KEY, v BLOB);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
         INSERT INTO a (v) SELECT hex(randomblob(100)) FROM n;
         INSERT INTO b (v) SELECT randomblob(100) FROM a;",
    )
    .unwrap();
}

fn count(path: &std::path::Path, table: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn backup_while_a_writer_process_writes_restores_a_consistent_state() {
    let ws = Workspace::new();
    seed(&ws);
    ws.config(&config(&ws));
    ws.run(&["init"]).assert_ok();
    let sqlite3 = support::which("sqlite3")
        .unwrap_or_else(|| panic!("sqlite3 not found: apt-get install -y sqlite3"));
    // Each transaction adds one row to a and one to b: a consistent copy has equal counts.
    let mut writer = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while true; do {} -cmd '.timeout 5000' {} 'BEGIN; INSERT INTO a (v) VALUES (1); INSERT INTO b (v) VALUES (2); COMMIT;' || exit 1; done",
            sqlite3.display(),
            ws.path("app.sqlite").display()
        ))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    ws.run(&["backup"]).assert_ok();
    writer.kill().unwrap();
    writer.wait().unwrap();

    let restored = ws.path("restored.sqlite");
    ws.run(&["restore", "web/db", "--to", restored.to_str().unwrap()])
        .assert_ok();
    let integrity: String = Connection::open(&restored)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let (a, b) = (count(&restored, "a"), count(&restored, "b"));
    assert_eq!(a, b, "a consistent state");
    assert!(a > 20000, "the writer had written before the backup");
    let manifest = ws.manifest("web/db");
    assert_eq!(manifest["facts"]["tables"][0]["rows"].as_i64().unwrap(), a);
    ws.run(&["verify"]).assert_ok();
}

#[test]
fn restore_over_a_live_file_needs_force_and_is_atomic() {
    let ws = Workspace::new();
    seed(&ws);
    ws.config(&config(&ws));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    Connection::open(ws.path("app.sqlite"))
        .unwrap()
        .execute_batch("DELETE FROM a")
        .unwrap();
    ws.run(&["restore", "web/db"]).assert_code(1);
    assert_eq!(count(&ws.path("app.sqlite"), "a"), 0);
    ws.run(&["restore", "web/db", "--force"]).assert_ok();
    assert_eq!(count(&ws.path("app.sqlite"), "a"), 20000);
    assert!(
        !ws.path("app.sqlite.lifeboat-restore").exists(),
        "nothing left beside the target"
    );
    let safety: Vec<_> = ws
        .snapshots_of("web", "db")
        .into_iter()
        .filter(|s| s["pre_restore"] == true)
        .collect();
    assert_eq!(safety.len(), 1);
}

#[test]
fn missing_database_file_fails_naming_it() {
    let ws = Workspace::new();
    ws.config(&config(&ws));
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["backup"]).assert_code(1);
    assert!(
        out.stderr.contains("web/db") && out.stderr.contains("app.sqlite"),
        "{}",
        out.stderr
    );
}

/// Runs `sql` in a sqlite3 process that is then killed (SIGKILL) before it can
/// checkpoint: its committed transactions are left in `PATH-wal` only.
fn write_and_crash(path: &std::path::Path, sql: &str) {
    use std::io::{BufRead, Write};
    let sqlite3 = support::which("sqlite3")
        .unwrap_or_else(|| panic!("sqlite3 not found: apt-get install -y sqlite3"));
    let mut app = std::process::Command::new(sqlite3)
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = app.stdin.take().unwrap();
    writeln!(
        stdin,
        "PRAGMA wal_autocheckpoint=0;\n{sql}\n.print crashed-after-commit"
    )
    .unwrap();
    stdin.flush().unwrap();
    // PRAGMA prints its value first: wait for our marker.
    let out = std::io::BufReader::new(app.stdout.take().unwrap());
    let seen = out
        .lines()
        .map(Result::unwrap)
        .any(|l| l.trim() == "crashed-after-commit");
    assert!(seen, "the app committed");
    app.kill().unwrap();
    app.wait().unwrap();
    drop(stdin);
}

fn wal_of(path: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    name.into()
}

#[test]
fn restore_in_place_is_not_undone_by_a_stale_wal_of_a_crashed_app() {
    let ws = Workspace::new();
    let db = ws.path("app.sqlite");
    Connection::open(&db)
        .unwrap()
        .execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
             INSERT INTO t (v) VALUES ('one'), ('two'), ('three');",
        )
        .unwrap();
    ws.config(&config(&ws));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    write_and_crash(
        &db,
        "DELETE FROM t; INSERT INTO t (v) VALUES ('after the backup');",
    );
    assert!(
        std::fs::metadata(wal_of(&db, "-wal")).unwrap().len() > 0,
        "the crashed app left its WAL"
    );
    ws.run(&["restore", "web/db", "--force"]).assert_ok();
    let values: Vec<String> = {
        let c = Connection::open(&db).unwrap();
        let mut stmt = c.prepare("SELECT v FROM t ORDER BY id").unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    assert_eq!(
        values,
        ["one", "two", "three"],
        "the backup, not the old WAL"
    );
    for leftover in [
        "-wal.lifeboat-old",
        "-shm.lifeboat-old",
        ".lifeboat-restore",
        ".lifeboat-restore-wal",
        ".lifeboat-restore-shm",
    ] {
        assert!(!wal_of(&db, leftover).exists(), "{leftover} left behind");
    }
    // The safety backup holds what was in the WAL.
    let safety = ws
        .snapshots_of("web", "db")
        .into_iter()
        .find(|s| s["pre_restore"] == true)
        .unwrap();
    let before = ws.path("before.sqlite");
    ws.run(&[
        "restore",
        "web/db",
        "--snapshot",
        safety["id"].as_str().unwrap(),
        "--to",
        before.to_str().unwrap(),
    ])
    .assert_ok();
    let v: String = Connection::open(&before)
        .unwrap()
        .query_row("SELECT group_concat(v) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, "after the backup");
    ws.run(&["verify"]).assert_ok();
}
