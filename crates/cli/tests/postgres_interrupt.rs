//! The postgres kind cut short: a server vanishing or pg_dump killed mid-dump leaves no
//! snapshot; a restore blocked by a lock fails after `lock_timeout`, and one stopped
//! by SIGTERM says the target may be partly restored, both naming the safety backup.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::time::Duration;
use support::pg::{
    assert_no_db_snapshot, big_shop, hold_table, pg_config, pg_dump_wrapper, restore_blocked,
    restore_unblocked, shop,
};
use support::{backup_with_fault, PgServer, Workspace, STALLING_DUMP};

#[test]
fn server_vanishing_mid_dump_leaves_no_snapshot() {
    let server = PgServer::start();
    big_shop(&server, 40000);
    let mut ws = Workspace::new();
    pg_dump_wrapper(&mut ws, STALLING_DUMP);
    ws.config(&pg_config(&server, "shop"));
    ws.run(&["init"]).assert_ok();
    let (code, stderr) = backup_with_fault(&ws, Some(&ws.path("bin/pid")), |_| {
        std::thread::sleep(Duration::from_millis(500));
        server.kill();
    });
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("shop/db") && stderr.contains("pg_dump failed"),
        "{stderr}"
    );
    drop(server);
    assert_no_db_snapshot(&ws);
}

#[test]
fn dump_killed_mid_stream_leaves_no_snapshot() {
    let server = PgServer::start();
    big_shop(&server, 40000);
    let mut ws = Workspace::new();
    pg_dump_wrapper(&mut ws, STALLING_DUMP);
    ws.config(&pg_config(&server, "shop"));
    ws.run(&["init"]).assert_ok();
    let (code, stderr) = backup_with_fault(&ws, Some(&ws.path("bin/pid")), |pid| {
        std::process::Command::new("kill")
            .args(["-9", pid])
            .status()
            .unwrap();
    });
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("shop/db") && stderr.contains("pg_dump failed (exit code 137)"),
        "{stderr}"
    );
    assert_no_db_snapshot(&ws);
}

/// A session that holds `table` (an open transaction that read it), named `app`.
fn safety_id(ws: &Workspace) -> String {
    let safety: Vec<_> = ws
        .snapshots_of("shop", "db")
        .into_iter()
        .filter(|s| s["pre_restore"] == true)
        .collect();
    assert_eq!(safety.len(), 1, "one safety backup");
    safety[0]["id"].as_str().unwrap()[..8].to_string()
}

#[test]
fn restore_blocked_by_a_lock_fails_after_lock_timeout_naming_the_holder_and_the_safety_backup() {
    let server = PgServer::start();
    shop(&server);
    let ws = Workspace::new();
    ws.config(&format!("{}lock_timeout = 2\n", pg_config(&server, "shop")));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let plan = ws
        .run(&["restore", "shop/db", "--force", "--plan"])
        .assert_ok();
    assert!(
        plan.stdout.contains("at most 2 s for each lock"),
        "{}",
        plan.stdout
    );
    let (_holder, pid) = hold_table(&server, "customers", "report-runner");
    let start = std::time::Instant::now();
    let out = ws.run(&["restore", "shop/db", "--force"]).assert_code(1);
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "it did not wait forever"
    );
    for wanted in [
        "lock_timeout".to_string(),
        format!("pid {pid}"),
        "report-runner".into(),
        "public.customers".into(),
        "idle in transaction".into(),
        format!(
            "may be partly restored; its previous state is in safety backup {}",
            safety_id(&ws)
        ),
    ] {
        assert!(out.stderr.contains(&wanted), "{wanted:?} in {}", out.stderr);
    }
}

#[test]
fn sigterm_mid_restore_says_the_target_may_be_partly_restored_and_names_the_safety_backup() {
    let server = PgServer::start();
    shop(&server);
    let ws = Workspace::new();
    ws.config(&format!("{}lock_timeout = 0\n", pg_config(&server, "shop")));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let (_holder, _) = hold_table(&server, "customers", "report-runner");
    let child = ws
        .command(&["restore", "shop/db", "--force"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        restore_blocked(&server),
        "pg_restore never waited for the lock"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let wanted = format!(
        "{} may be partly restored; its previous state is in safety backup {}",
        server.url("postgres", "shop"),
        safety_id(&ws)
    );
    assert!(stderr.contains(&wanted), "{wanted:?} in {stderr}");
    assert!(!stderr.contains("nothing partial was saved"), "{stderr}");
    assert!(
        restore_unblocked(&server),
        "pg_restore was stopped with lifeboat, not left waiting"
    );
}
