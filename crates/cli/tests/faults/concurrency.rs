//! Concurrency: two backups of one app at once (the second waits for the first, or
//! fails naming it after `lock_wait`; never two runs over each other), a prune during
//! a backup (it waits; nothing the backup references goes), and the daemon's run and
//! a manual one of the same app.

use crate::common::{check_read_data_clean, spawn};
use crate::support::daemon::Daemon;
use crate::support::Workspace;
use crate::Log;
use std::process::Child;
use std::time::{Duration, Instant};

/// App `app` whose one source takes `secs` seconds and whose hooks log `start`/`end`.
fn slow_app(ws: &Workspace, secs: u32, lock_wait: &str, schedule: &str) {
    let log = ws.path("hooks.log");
    let text = format!(
        "[repository]\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\nlock_wait = \"{lock_wait}\"\n\n\
         [[app]]\nname = \"app\"\n{schedule}before_backup = [\"echo start $$ >> {log}\"]\nafter_backup = [\"echo end $$ >> {log}\"]\n\n\
         [[app.source]]\nname = \"slow\"\nkind = \"command\"\nbackup_command = \"sleep {secs}; date +%s%N\"\nrestore_command = \"cat > /dev/null\"\nfilename = \"slow.txt\"\n",
        ws.repo().display(),
        log = log.display()
    );
    std::fs::write(ws.path("lifeboat.toml"), text).unwrap();
}

/// The hook log's words in order: every `start` is followed by its `end` before the
/// next `start`, i.e. the runs never overlapped. Returns how many runs there were.
fn runs_never_overlapped(ws: &Workspace) -> usize {
    let log = std::fs::read_to_string(ws.path("hooks.log")).unwrap_or_default();
    let words: Vec<&str> = log.lines().map(|l| l.split(' ').next().unwrap()).collect();
    for pair in words.chunks(2) {
        assert_eq!(pair, ["start", "end"], "runs overlapped: {log}");
    }
    words.len() / 2
}

fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// Waits until the first run's before_backup hook ran.
fn first_started(ws: &Workspace) {
    let started = crate::support::wait_for(Duration::from_secs(30), || {
        std::fs::read_to_string(ws.path("hooks.log")).is_ok_and(|l| l.contains("start"))
    });
    assert!(started, "the first run never started");
}

pub fn two_backups(log: &mut Log) {
    // lock_wait long enough: the second waits, then runs.
    let ws = Workspace::new();
    slow_app(&ws, 3, "60s", "");
    ws.run(&["init"]).assert_ok();
    let first = spawn(&ws, &["backup"]);
    first_started(&ws);
    let started = Instant::now();
    let (code, text) = finish(spawn(&ws, &["backup"]));
    assert_eq!(code, Some(0), "the second waited, then ran: {text}");
    assert!(
        text.contains("waiting for the backup run in progress (pid"),
        "{text}"
    );
    assert_eq!(finish(first).0, Some(0));
    assert_eq!(runs_never_overlapped(&ws), 2);
    assert_eq!(ws.snapshots_of("app", "slow").len(), 2);
    log.fact(format!("lock_wait 60s: the second run waited {:.1?} for the first and then ran; hooks never overlapped", started.elapsed()));

    // lock_wait short: the second fails, naming the first, and stores nothing.
    let ws = Workspace::new();
    slow_app(&ws, 4, "1s", "");
    ws.run(&["init"]).assert_ok();
    let first = spawn(&ws, &["backup"]);
    first_started(&ws);
    let (code, text) = finish(spawn(&ws, &["backup"]));
    assert_eq!(code, Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("in progress (pid") && l.contains("waited"))
        .unwrap_or_else(|| panic!("names the run: {text}"));
    assert_eq!(finish(first).0, Some(0));
    assert_eq!(runs_never_overlapped(&ws), 1);
    assert_eq!(ws.snapshots_of("app", "slow").len(), 1);
    log.fact(format!(
        "lock_wait 1s: the second failed (exit 1), storing nothing: `{}`",
        line.trim()
    ));
}

pub fn prune_during_backup(log: &mut Log) {
    let ws = Workspace::new();
    slow_app(&ws, 4, "60s", "");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let backup = spawn(&ws, &["backup"]);
    first_started(&ws);
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let (code, text) = finish(spawn(&ws, &["prune"]));
    let waited = started.elapsed();
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(finish(backup).0, Some(0));
    assert!(
        waited > Duration::from_secs(2),
        "prune waited for the backup's lock: {waited:?}"
    );
    check_read_data_clean(&ws);
    for snap in ws.snapshots_of("app", "slow") {
        ws.run(&[
            "verify",
            "app/slow",
            "--snapshot",
            snap["id"].as_str().unwrap(),
        ])
        .assert_ok();
    }
    log.fact(format!("prune waited {waited:.1?} for the backup's lock, then ran; check --read-data clean; both backups verify"));

    // With a short lock_wait the prune gives up, naming the backup that holds the lock.
    slow_app(&ws, 4, "1s", "");
    let backup = spawn(&ws, &["backup"]);
    std::thread::sleep(Duration::from_millis(300));
    first_started(&ws);
    let (code, text) = finish(spawn(&ws, &["prune"]));
    assert_eq!(code, Some(3), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or("")
        .trim()
        .to_string();
    assert_eq!(finish(backup).0, Some(0));
    check_read_data_clean(&ws);
    log.fact(format!("lock_wait 1s: prune exit 3: `{line}`"));
}

pub fn daemon_and_manual(log: &mut Log) {
    let ws = Workspace::new();
    slow_app(&ws, 3, "60s", "schedule = \"*/4 * * * * *\"\n");
    ws.run(&["init"]).assert_ok();
    let daemon = Daemon::start(&ws);
    first_started(&ws);
    let (code, text) = finish(spawn(&ws, &["backup", "app"]));
    assert_eq!(
        code,
        Some(0),
        "the manual run waited for the daemon's: {text}"
    );
    std::thread::sleep(Duration::from_secs(6));
    daemon.signal("TERM");
    let (exit, _) = daemon.wait(Duration::from_secs(30));
    assert_eq!(exit, Some(0));
    let runs = runs_never_overlapped(&ws);
    assert!(runs >= 3, "daemon runs and the manual one: {runs}");
    check_read_data_clean(&ws);
    log.fact(format!("{runs} runs (daemon every 4 s, a manual one in between), hooks never overlapped; daemon stopped by SIGTERM, exit 0"));
}
