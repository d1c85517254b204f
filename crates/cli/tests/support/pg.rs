//! What the postgres test files share: the `shop` database, its source config, a
//! workspace with one backup of it, a pg_dump wrapper, the no-snapshot check, and a
//! table held by another session with a watch on the restores it blocks.

use super::{script, wait_for, PgServer, Workspace};
use std::time::Duration;

pub const SCHEMA: &str = r#"
CREATE TABLE customers (id serial PRIMARY KEY, name text, note text);
INSERT INTO customers (name, note) SELECT 'c' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE E'line1\nline2\ttab ' || g END FROM generate_series(1, 2000) g;
CREATE TABLE blobs (id int PRIMARY KEY, data bytea);
INSERT INTO blobs SELECT g, decode(md5(g::text) || md5((g * 3)::text), 'hex') FROM generate_series(1, 500) g;
CREATE TABLE docs (id int PRIMARY KEY, body jsonb);
INSERT INTO docs SELECT g, jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'ü', g)) FROM generate_series(1, 300) g;
CREATE SCHEMA billing;
CREATE TABLE billing."Invoice Lines" (id int PRIMARY KEY, amount numeric(10, 2));
INSERT INTO billing."Invoice Lines" SELECT g, g / 3.0 FROM generate_series(1, 50) g;
CREATE TABLE empty_one (id int);
"#;

pub fn shop(server: &PgServer) {
    server.create_db("shop");
    server.exec("shop", SCHEMA);
}

/// `shop` with blobs up to id `last` (2 kB each), so that its dump takes a while.
pub fn big_shop(server: &PgServer, last: u32) {
    shop(server);
    server.exec(
        "shop",
        &format!("INSERT INTO blobs SELECT g, decode(repeat(md5(g::text), 64), 'hex') FROM generate_series(1000, {last}) g"),
    );
}

pub fn pg_config(server: &PgServer, db: &str) -> String {
    format!(
        "[[app]]\nname = \"shop\"\n\n[[app.source]]\nname = \"db\"\nkind = \"postgres\"\nurl = \"{}\"\n",
        server.url("postgres", db)
    )
}

/// A `pg_dump` wrapper placed first on PATH: it claims a new major version so lifeboat
/// picks it, records how it was called, and runs `body` (with $REAL set).
pub fn pg_dump_wrapper(ws: &mut Workspace, body: &str) {
    let dir = ws.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let real = super::pg_bin().join("pg_dump");
    script(
        &dir.join("pg_dump"),
        &format!(
            "if [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 99.0'; exit 0; fi\n\
             REAL={real}\nW={w}\n\
             printf '%s\\n' \"$@\" > $W/argv\nstat -c %a \"$PGPASSFILE\" > $W/passfile-mode 2>/dev/null\n\
             env | grep -c PGPASSWORD= > $W/pgpassword-count\n{body}",
            real = real.display(),
            w = dir.display()
        ),
    );
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    ws.env.push(("PATH".into(), path));
}

/// A server with the `shop` database and a workspace holding one backup of it.
pub fn backed_up_shop() -> (PgServer, Workspace) {
    let server = PgServer::start();
    shop(&server);
    let ws = Workspace::new();
    ws.config(&pg_config(&server, "shop"));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    (server, ws)
}

pub fn assert_no_db_snapshot(ws: &Workspace) {
    assert!(
        ws.snapshots_of("shop", "db").is_empty(),
        "lifeboat lists no db backup"
    );
    let restic = ws.restic(&["snapshots", "--json", "--tag", "source=db"]);
    assert!(restic.status.success());
    let snaps: Vec<serde_json::Value> = serde_json::from_slice(&restic.stdout).unwrap();
    assert!(snaps.is_empty(), "restic sees no db snapshot: {snaps:?}");
}

/// A session (named `app`) holding `table` of `shop` in an open transaction, so a
/// restore that must drop or truncate it waits; and the session's backend pid.
pub fn hold_table(server: &PgServer, table: &str, app: &str) -> (postgres::Client, i32) {
    let mut holder = server.client("shop");
    holder
        .batch_execute(&format!(
            "SET application_name = '{app}'; BEGIN; SELECT count(*) FROM {table}"
        ))
        .unwrap();
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    (holder, pid)
}

/// The sessions of lifeboat's restores (`PGAPPNAME=lifeboat-restore-PID`): all, or
/// only those waiting on a lock.
fn restore_sessions(watch: &mut postgres::Client, waiting_on_a_lock: bool) -> i64 {
    let lock = if waiting_on_a_lock {
        " AND wait_event_type = 'Lock'"
    } else {
        ""
    };
    watch
        .query_one(
            &format!("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'lifeboat-restore-%'{lock}"),
            &[],
        )
        .unwrap()
        .get(0)
}

fn until_restore_sessions(
    server: &PgServer,
    waiting_on_a_lock: bool,
    timeout: Duration,
    until: impl Fn(i64) -> bool,
) -> bool {
    let mut watch = server.client("postgres");
    wait_for(timeout, || {
        until(restore_sessions(&mut watch, waiting_on_a_lock))
    })
}

/// Waits up to 60 s for a lifeboat restore's session to wait on a lock.
pub fn restore_blocked(server: &PgServer) -> bool {
    until_restore_sessions(server, true, Duration::from_secs(60), |n| n > 0)
}

/// Waits up to 20 s for no lifeboat restore's session to wait on a lock any more.
pub fn restore_unblocked(server: &PgServer) -> bool {
    until_restore_sessions(server, true, Duration::from_secs(20), |n| n == 0)
}

/// Waits up to 30 s for every lifeboat restore's session to be gone.
pub fn restore_sessions_gone(server: &PgServer) -> bool {
    until_restore_sessions(server, false, Duration::from_secs(30), |n| n == 0)
}
