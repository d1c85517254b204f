//! Repository locks in restic's format: stock restic respects lifeboat's locks, lifeboat
//! respects restic's, stale locks are found and removed, and both tools read each
//! other's lock files.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{wait_for, Workspace};

/// A command source whose dump takes `secs` seconds, so a backup holds its lock that long.
fn slow_config(ws: &Workspace, secs: u32, lock_wait: &str) {
    let text = format!(
        "[repository]\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\nlock_wait = \"{lock_wait}\"\n\n\
         [[app]]\nname = \"k8s\"\n\n[[app.source]]\nname = \"secrets\"\nkind = \"command\"\n\
         backup_command = \"echo start; sleep {secs}; echo end; : {}\"\nfilename = \"secrets.json\"\n",
        ws.repo().display(),
        ws.path("").display()
    );
    std::fs::write(ws.path("lifeboat.toml"), text).unwrap();
}

/// The lock files in place: 64 hex digits (restic writes a temp file first and renames
/// it; until then it holds no lock).
fn lock_files(repo: &Path) -> Vec<String> {
    std::fs::read_dir(repo.join("locks"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.len() == 64 && n.chars().all(|c| c.is_ascii_hexdigit()))
                .collect()
        })
        .unwrap_or_default()
}

fn spawn_backup(ws: &Workspace) -> Child {
    ws.command(&["backup"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for_lock(repo: &Path) {
    assert!(
        wait_for(Duration::from_secs(20), || !lock_files(repo).is_empty()),
        "no lock file appeared"
    );
}

#[test]
fn restic_prune_refuses_while_a_lifeboat_backup_holds_its_lock() {
    let ws = Workspace::new();
    slow_config(&ws, 10, "5s");
    ws.run(&["init"]).assert_ok();
    let mut backup = spawn_backup(&ws);
    wait_for_lock(&ws.repo());
    let listed = ws.restic(&["list", "locks", "--no-lock"]);
    assert!(listed.status.success(), "{listed:?}");
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 1);
    let prune = ws.restic(&["prune"]);
    let stderr = String::from_utf8_lossy(&prune.stderr);
    assert!(!prune.status.success(), "restic prune ran beside a backup");
    assert!(stderr.contains("locked"), "{stderr}");
    assert!(backup.wait().unwrap().success());
    assert!(
        lock_files(&ws.repo()).is_empty(),
        "the backup left its lock"
    );
}

#[test]
fn backup_waits_for_a_restic_exclusive_lock_then_fails_naming_the_holder() {
    let ws = Workspace::new();
    slow_config(&ws, 0, "2s");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    // restic check takes an exclusive lock first; stopped, it holds it. On a small
    // repository check may finish before it is stopped: then try again.
    let mut check = stopped_restic_check(&ws);
    let pid = check.id().to_string();
    let started = Instant::now();
    let out = ws.run(&["backup"]);
    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    let _ = check.wait();
    let out = out.assert_code(3);
    assert!(started.elapsed() >= Duration::from_secs(2), "did not wait");
    assert!(
        out.stderr.contains("exclusive lock held by") && out.stderr.contains(&pid),
        "{}",
        out.stderr
    );
    assert_eq!(ws.snapshots_of("k8s", "secrets").len(), 1, "no new backup");
}

/// A backup killed with SIGKILL while it holds its lock; returns its pid.
fn killed_backup_leaving_its_lock(ws: &Workspace) -> u32 {
    slow_config(ws, 30, "1s");
    ws.run(&["init"]).assert_ok();
    let mut backup = spawn_backup(ws);
    wait_for_lock(&ws.repo());
    backup.kill().unwrap();
    backup.wait().unwrap();
    // The dump's shell outlives lifeboat; it names this workspace (and nothing else does).
    support::kill_groups_of(&format!("echo end; : {}", ws.path("").display()));
    assert_eq!(lock_files(&ws.repo()).len(), 1, "kill -9 leaves the lock");
    backup.id()
}

fn stopped_restic_check(ws: &Workspace) -> Child {
    for _ in 0..10 {
        let mut check = Command::new("restic")
            .args(["-r", ws.repo().to_str().unwrap(), "check"])
            .env("RESTIC_PASSWORD", support::PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let appeared = wait_for(Duration::from_secs(20), || {
            !lock_files(&ws.repo()).is_empty() || check.try_wait().unwrap().is_some()
        });
        assert!(appeared, "restic check neither locked nor ended");
        let pid = check.id().to_string();
        Command::new("kill").args(["-STOP", &pid]).status().unwrap();
        if !lock_files(&ws.repo()).is_empty() && check.try_wait().unwrap().is_none() {
            return check;
        }
        Command::new("kill").args(["-CONT", &pid]).status().unwrap();
        let _ = check.wait();
    }
    panic!("could not catch restic check holding its lock");
}

#[test]
fn stale_lock_of_a_killed_backup_is_ignored_and_removed_by_unlock() {
    let ws = Workspace::new();
    let pid = killed_backup_leaving_its_lock(&ws);
    // restic reads lifeboat's lock file and sees who holds it.
    let listed = ws.restic(&["list", "locks", "--no-lock"]);
    let id = String::from_utf8_lossy(&listed.stdout).trim().to_string();
    let cat = ws.restic(&["cat", "lock", &id, "--no-lock"]);
    let json: serde_json::Value = serde_json::from_slice(&cat.stdout).unwrap();
    assert_eq!(json["exclusive"], false);
    assert_eq!(json["pid"].as_u64().unwrap(), u64::from(pid));
    // A stale lock does not block: the process on this host is gone.
    slow_config(&ws, 0, "1s");
    ws.run(&["backup"]).assert_ok();
    let out = ws.run(&["unlock"]).assert_ok();
    assert!(out.stdout.contains("removed lock"), "{}", out.stdout);
    assert!(
        out.stdout.contains("process on this host is gone"),
        "{}",
        out.stdout
    );
    assert!(lock_files(&ws.repo()).is_empty());
}

#[test]
fn restic_unlock_removes_a_stale_lifeboat_lock() {
    let ws = Workspace::new();
    killed_backup_leaving_its_lock(&ws);
    let out = ws.restic(&["unlock"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        lock_files(&ws.repo()).is_empty(),
        "restic kept lifeboat's stale lock"
    );
}

#[test]
fn bad_lock_wait_names_the_key() {
    let ws = Workspace::new();
    slow_config(&ws, 0, "soon");
    let out = ws.run(&["config", "--check"]).assert_code(2);
    assert!(
        out.stderr.contains("repository.lock_wait"),
        "{}",
        out.stderr
    );
}
