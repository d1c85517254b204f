//! Conformance of the sqlite kind on hostile data: a WAL database with an active
//! writer process during backup, an FTS5 table, BLOBs with every byte value (and one of
//! several MB), unicode text, a view, a trigger; restored into an empty path and in
//! place over a modified database that a crashed writer left with a stale WAL.
//! Compared exactly with `sqlite3 .dump`, then `lifeboat verify`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use rusqlite::Connection;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::Workspace;

fn sqlite3() -> PathBuf {
    support::which("sqlite3")
        .unwrap_or_else(|| panic!("sqlite3 not found: apt-get install -y sqlite3"))
}

/// The whole database as SQL text: schema and every row, BLOBs as hex literals.
fn dump(path: &Path) -> String {
    let out = Command::new(sqlite3())
        .arg(path)
        .arg(".dump")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    name.into()
}

fn seed(path: &Path) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode=WAL;
         CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB, t TEXT);
         CREATE VIRTUAL TABLE docs USING fts5(title, body);
         CREATE TABLE log (id INTEGER PRIMARY KEY, v TEXT);
         CREATE TABLE audit (n INTEGER);
         CREATE TRIGGER log_audit AFTER INSERT ON log BEGIN INSERT INTO audit VALUES (new.id); END;
         CREATE VIEW recent AS SELECT * FROM log ORDER BY id DESC LIMIT 5;
         CREATE INDEX blobs_t ON blobs (t);",
    )
    .unwrap();
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let mut insert = c
        .prepare("INSERT INTO blobs (b, t) VALUES (?1, ?2)")
        .unwrap();
    insert.execute((&all_bytes, "every byte")).unwrap();
    insert
        .execute((&b"\0\0\xff\xfe\0"[..], "NULs and 0xFF"))
        .unwrap();
    insert.execute((&big, "3 MB")).unwrap();
    insert.execute((&b""[..], "empty blob")).unwrap();
    insert
        .execute((None::<Vec<u8>>, "ünïcødé 🦀 \u{0} inside"))
        .unwrap();
    c.execute_batch(
        "INSERT INTO docs VALUES ('Straße', 'groß und klein'), ('🦀 crab', 'emoji in full text'),
             ('quotes', 'it''s \"quoted\"');
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
         INSERT INTO log (v) SELECT hex(randomblob(20)) FROM n;",
    )
    .unwrap();
}

fn config(path: &Path) -> String {
    format!(
        "[[app]]\nname = \"web\"\n\n[[app.source]]\nname = \"db\"\nkind = \"sqlite\"\npath = \"{}\"\n",
        path.display()
    )
}

/// A sqlite3 process that keeps inserting into `log` (one transaction per row).
fn writer(path: &Path) -> std::process::Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while true; do {} -cmd '.timeout 5000' {} \"INSERT INTO log (v) VALUES ('w');\" || exit 1; done",
            sqlite3().display(),
            path.display()
        ))
        .spawn()
        .unwrap()
}

/// Commits `sql` in a sqlite3 process killed before it checkpoints: a stale WAL.
fn write_and_crash(path: &Path, sql: &str) {
    let mut app = Command::new(sqlite3())
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = app.stdin.take().unwrap();
    writeln!(
        stdin,
        "PRAGMA wal_autocheckpoint=0;\n{sql}\n.print committed"
    )
    .unwrap();
    stdin.flush().unwrap();
    // PRAGMA prints its value first: wait for our marker.
    let out = std::io::BufReader::new(app.stdout.take().unwrap());
    let seen = out
        .lines()
        .map(Result::unwrap)
        .any(|l| l.trim() == "committed");
    assert!(seen, "the app committed");
    app.kill().unwrap();
    app.wait().unwrap();
}

fn count(path: &Path, sql: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn sqlite_conformance_round_trips_exactly() {
    let ws = Workspace::new();
    let db = ws.path("app.sqlite");
    seed(&db);
    ws.config(&config(&db));
    ws.run(&["init"]).assert_ok();

    // 1. Backup while a writer process writes: a consistent state (the trigger's
    //    audit rows match the log rows), exactly what the manifest recorded.
    let mut w = writer(&db);
    std::thread::sleep(Duration::from_millis(300));
    ws.run(&["backup"]).assert_ok();
    w.kill().unwrap();
    w.wait().unwrap();
    let live = ws.path("live-copy.sqlite");
    ws.run(&["restore", "web/db", "--to", live.to_str().unwrap()])
        .assert_ok();
    let logged = count(&live, "SELECT count(*) FROM log");
    assert!(logged > 5000, "the writer had written before the backup");
    assert_eq!(logged, count(&live, "SELECT count(*) FROM audit"));
    let integrity: String = Connection::open(&live)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    ws.run(&["verify"]).assert_ok();

    // 2. A quiescent backup: restores compare exactly.
    ws.run(&["backup"]).assert_ok();
    let want = dump(&db);
    assert!(want.contains("CREATE VIRTUAL TABLE docs USING fts5"));
    let fresh = ws.path("fresh.sqlite");
    ws.run(&["restore", "web/db", "--to", fresh.to_str().unwrap()])
        .assert_ok();
    assert_eq!(dump(&fresh), want, "restore into an empty path");
    assert_eq!(
        count(&fresh, "SELECT count(*) FROM docs WHERE docs MATCH 'groß'"),
        1,
        "the FTS5 index works after restore"
    );

    // 3. In place, over a modified database a crashed writer left with a stale WAL.
    Connection::open(&db)
        .unwrap()
        .execute_batch("DELETE FROM blobs WHERE id = 1; INSERT INTO docs VALUES ('new', 'row');")
        .unwrap();
    write_and_crash(&db, "DELETE FROM log; UPDATE blobs SET b = X'00';");
    assert!(std::fs::metadata(beside(&db, "-wal")).unwrap().len() > 0);
    ws.run(&["restore", "web/db", "--force"]).assert_ok();
    assert_eq!(dump(&db), want, "restore in place");
    for suffix in [
        "-wal.lifeboat-old",
        ".lifeboat-restore",
        ".lifeboat-restore-wal",
        ".lifeboat-restore-shm",
    ] {
        assert!(!beside(&db, suffix).exists(), "{suffix} left behind");
    }
    let verified = ws.run(&["verify"]).assert_ok();
    assert!(
        verified.stdout.contains("integrity_check: ok"),
        "{}",
        verified.stdout
    );
}
