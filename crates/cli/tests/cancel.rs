//! SIGINT/SIGTERM during a backup: the dump in progress is killed and leaves no
//! snapshot, the remaining sources are skipped, after_backup hooks still run (an
//! application stopped for the backup is started again), and the exit code is 130.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::process::Stdio;
use std::time::Duration;
use support::{wait_for, PgServer, Workspace};

/// One source at a time: the tests check that what had not started is skipped (with
/// sources dumped in parallel, `next` would be complete, and kept, before the signal).
fn marker_config(ws: &Workspace, sources: &str) {
    ws.config(&format!(
        "[[app]]\nname = \"esp\"\nmax_parallel = 1\nbefore_backup = [\"echo stopped > {m}\"]\nafter_backup = [\"echo started >> {m}\"]\n\n{sources}",
        m = ws.path("service.state").display()
    ));
}

fn pgrep(pattern: &str) -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .unwrap()
        .status
        .success()
}

fn interrupt_mid_dump(ws: &Workspace, signal: &str, dumping: impl Fn() -> bool) -> i32 {
    let child = ws
        .command(&["backup"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(30), &dumping),
        "the dump never started"
    );
    std::thread::sleep(Duration::from_millis(300));
    std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("interrupted"), "{stderr}");
    out.status.code().unwrap_or(-1)
}

#[test]
fn sigterm_mid_dump_runs_after_backup_saves_nothing_and_exits_130() {
    let ws = Workspace::new();
    let token = format!("lifeboat-cancel-{}", std::process::id());
    marker_config(
        &ws,
        &format!(
            "[[app.source]]\nname = \"slow\"\nkind = \"command\"\nbackup_command = \"seq 1 100000; sleep 60 # {token}\"\nfilename = \"s.txt\"\n\n\
             [[app.source]]\nname = \"next\"\nkind = \"command\"\nbackup_command = \"echo never\"\nfilename = \"n.txt\"\n"
        ),
    );
    ws.run(&["init"]).assert_ok();
    let code = interrupt_mid_dump(&ws, "-TERM", || pgrep(&token));
    assert_eq!(code, 130);
    let state = std::fs::read_to_string(ws.path("service.state")).unwrap();
    assert_eq!(state, "stopped\nstarted\n", "after_backup did not run");
    assert!(
        !pgrep(&token),
        "the dump's shell and its sleep are still running"
    );
    assert!(ws.list().is_empty(), "a snapshot was saved");
    let snapshots = ws.restic(&["snapshots", "--json", "--no-lock"]);
    assert_eq!(String::from_utf8_lossy(&snapshots.stdout).trim(), "[]");
}

#[test]
fn sigint_mid_pg_dump_kills_it_and_runs_after_backup() {
    let pg = PgServer::start();
    pg.exec(
        "postgres",
        "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 8) AS t FROM generate_series(1, 400000) g",
    );
    let ws = Workspace::new();
    // A locked table makes pg_dump wait forever: only cancellation ends it.
    let mut locker = pg.client("postgres");
    let mut tx = locker.transaction().unwrap();
    tx.batch_execute("LOCK TABLE big IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    marker_config(
        &ws,
        &format!(
            "[[app.source]]\nname = \"db\"\nkind = \"postgres\"\nurl = \"{}\"\n",
            pg.url("postgres", "postgres")
        ),
    );
    ws.run(&["init"]).assert_ok();
    let mut watcher = pg.client("postgres");
    let waiting_dumps = move || -> i64 {
        watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let waiting = std::cell::RefCell::new(waiting_dumps);
    let dumping = || (waiting.borrow_mut())() > 0;
    let code = interrupt_mid_dump(&ws, "-INT", dumping);
    // The server session stays blocked until the lock goes; the pg_dump process must not.
    let own_pg_dump = format!("pg_dump.*--port {}", pg.port);
    assert!(
        wait_for(Duration::from_secs(10), || !pgrep(&own_pg_dump)),
        "pg_dump is still running"
    );
    tx.rollback().unwrap();
    assert_eq!(code, 130);
    let state = std::fs::read_to_string(ws.path("service.state")).unwrap();
    assert_eq!(state, "stopped\nstarted\n");
    assert!(ws.list().is_empty(), "a snapshot was saved");
}
