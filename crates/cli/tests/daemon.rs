//! `lifeboat daemon` end to end, through the binary: a real PostgreSQL source on a
//! 6-field cron every few seconds (backups happen, retention keeps the newest, a run
//! held by a slow before_backup hook makes the next one be skipped, `status` agrees
//! with `list`, SIGTERM mid-dump cancels after the grace period without a partial
//! snapshot and exits 0), and reload, catch-up and the JSON log on a command source.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::daemon::Daemon;
use support::{PgServer, Workspace};

fn ids_of(ws: &Workspace, source: &str) -> Vec<String> {
    let mut snaps = ws.snapshots_of("shop", source);
    snaps.sort_by_key(|s| s["time"].as_str().unwrap().to_string());
    snaps
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

fn pg_daemon_config(server: &PgServer, flag: &Path) -> String {
    format!(
        r#"[daemon]
shutdown_grace = "1s"

[[app]]
name = "shop"
schedule = "*/4 * * * * *"
before_backup = ["if [ -e {flag} ]; then sleep 6; fi"]
retention = {{ strategy = "daily", keep = 2 }}

[[app.source]]
name = "db"
kind = "postgres"
url = "{url}"
"#,
        flag = flag.display(),
        url = server.url("postgres", "shop"),
    )
}

#[test]
fn daemon_backs_up_on_schedule_retains_skips_overlaps_and_stops_cleanly_on_sigterm() {
    let server = PgServer::start();
    support::pg::shop(&server);
    let ws = Workspace::new();
    let slow = ws.path("slow-hook");
    std::fs::write(&slow, "").unwrap();
    ws.config(&pg_daemon_config(&server, &slow));
    ws.run(&["init"]).assert_ok();
    let daemon = Daemon::start(&ws);

    // The first run sleeps 6 s in its hook: the run due 4 s later is skipped.
    daemon.wait_for_messages(
        "skipped: the previous run is still going",
        1,
        Duration::from_secs(60),
    );
    std::fs::remove_file(&slow).unwrap();
    daemon.wait_for_messages("backup stored", 4, Duration::from_secs(90));
    let applied = daemon.messages("retention applied");
    assert!(
        applied.iter().any(|l| l["forgotten"].as_u64() >= Some(1)),
        "retention forgot something: {applied:?}"
    );

    // Hold a lock pg_dump waits for, so the next dump is in progress when SIGTERM comes.
    let mut blocker = server.client("shop");
    blocker
        .batch_execute("BEGIN; LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let started = daemon.messages("backup run started").len();
    daemon.wait_for_messages("backup run started", started + 1, Duration::from_secs(30));
    let blocked_run = daemon.messages("backup run started")[started]["run"]
        .as_str()
        .unwrap()
        .to_string();
    daemon.wait_for_messages("backup started", started + 1, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    daemon.signal("TERM");
    let (code, log) = daemon.wait(Duration::from_secs(30));
    drop(blocker);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("grace period over"), "{log}");
    assert!(log.contains("\"stopped\""), "{log}");

    // No partial snapshot of the cancelled run, for lifeboat and for restic.
    let list = ws.list();
    assert!(
        list.iter()
            .all(|s| s["run_id"].as_str() != Some(blocked_run.as_str())),
        "{list:?}"
    );
    let tag = format!("run={blocked_run}");
    let restic = ws.restic(&["snapshots", "--json", "--tag", &tag]);
    let theirs: Vec<Value> = serde_json::from_slice(&restic.stdout).unwrap();
    assert!(theirs.is_empty(), "{theirs:?}");

    // Retention kept the two newest stored backups: the last two "backup stored".
    let kept = ids_of(&ws, "db");
    assert_eq!(kept.len(), 2, "{kept:?}");
    let stored: Vec<String> = daemon_stored(&log);
    for (kept, stored) in kept.iter().zip(&stored[stored.len() - 2..]) {
        assert!(
            kept.starts_with(stored.as_str()),
            "kept {kept}, stored last {stored}"
        );
    }

    // status agrees with list.
    let status: Value =
        serde_json::from_str(&ws.run(&["--json", "status"]).assert_ok().stdout).unwrap();
    let db = &status["sources"][0];
    assert_eq!(db["backups"], 2);
    assert_eq!(
        db["last_backup"]["snapshot"].as_str(),
        kept.last().map(String::as_str)
    );
    assert_eq!(db["next_backup"]["schedule"], "*/4 * * * * *");
    assert_eq!(db["next_prune"]["when"], "after_each_backup");
    assert!(status["repository"]["size_bytes"].as_u64() > Some(0));
}

/// The short ids of "backup stored" lines, in order.
fn daemon_stored(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "backup stored")
        .map(|l| l["snapshot"].as_str().unwrap().to_string())
        .collect()
}

fn command_config(schedule: &str, catch_up: bool) -> String {
    format!(
        r#"[daemon]
catch_up = {catch_up}

[[app]]
name = "shop"
schedule = "{schedule}"

[[app.source]]
name = "out"
kind = "command"
backup_command = "echo hello"
filename = "out.txt"
"#
    )
}

#[test]
fn daemon_catches_up_reloads_on_sighup_and_keeps_the_old_config_when_the_new_is_bad() {
    let ws = Workspace::new();
    // Never due in this test: only catch-up can run it.
    ws.config(&command_config("0 0 1 1 *", true));
    ws.run(&["init"]).assert_ok();
    let daemon = Daemon::start(&ws);
    daemon.wait_for_messages("backup stored", 1, Duration::from_secs(30));

    std::fs::write(ws.path("lifeboat.toml"), "[repository]\nurl = 3\n").unwrap();
    daemon.signal("HUP");
    daemon.wait_for_messages(
        "configuration NOT reloaded, the previous one stays in force",
        1,
        Duration::from_secs(10),
    );
    assert!(
        daemon.text().contains("lifeboat.toml:2:7"),
        "{}",
        daemon.text()
    );

    ws.config(&command_config("*/2 * * * * *", true));
    daemon.signal("HUP");
    daemon.wait_for_messages("configuration reloaded", 1, Duration::from_secs(10));
    daemon.wait_for_messages("backup stored", 2, Duration::from_secs(30));
    daemon.signal("TERM");
    let (code, log) = daemon.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{log}");
    assert!(ids_of(&ws, "out").len() >= 2);
}

#[test]
fn daemon_without_catch_up_waits_for_the_schedule() {
    let ws = Workspace::new();
    ws.config(&command_config("0 0 1 1 *", false));
    ws.run(&["init"]).assert_ok();
    let daemon = Daemon::start(&ws);
    daemon.wait_for_messages("scheduled", 1, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    daemon.signal("INT");
    let (code, log) = daemon.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("job started"), "{log}");
    assert!(ids_of(&ws, "out").is_empty());
}
