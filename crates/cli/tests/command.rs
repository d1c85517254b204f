//! The command kind: stdout is the backup; restore feeds stdin.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use support::Workspace;

fn config(ws: &Workspace, backup: &str) -> String {
    format!(
        "[[app]]\nname = \"k8s\"\n\n[[app.source]]\nname = \"secrets\"\nkind = \"command\"\nbackup_command = \"{backup}\"\nrestore_command = \"cat > {}\"\nfilename = \"secrets.json\"\n",
        ws.path("restored.json").display()
    )
}

#[test]
fn round_trip_records_bytes_and_sha256() {
    let ws = Workspace::new();
    ws.config(&config(
        &ws,
        "printf '{\\\"kind\\\":\\\"List\\\"}'; seq 1 50000",
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let expected = std::process::Command::new("sh")
        .args(["-c", "printf '{\"kind\":\"List\"}'; seq 1 50000"])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(ws.run_bytes(&["dump", "k8s/secrets"]), expected);
    let manifest = ws.manifest("k8s/secrets");
    assert_eq!(
        manifest["facts"]["total_bytes"].as_u64().unwrap(),
        expected.len() as u64
    );
    assert_eq!(
        manifest["facts"]["sha256"][0][1].as_str().unwrap().len(),
        64
    );
    ws.run(&["restore", "k8s/secrets"]).assert_ok();
    assert_eq!(std::fs::read(ws.path("restored.json")).unwrap(), expected);
}

#[test]
fn failing_command_leaves_no_snapshot_and_says_why() {
    let ws = Workspace::new();
    ws.config(&config(
        &ws,
        "seq 1 100000; echo 'error: You must be logged in to the server' >&2; exit 3",
    ));
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["backup"]).assert_code(1);
    assert!(
        out.stderr.contains("k8s/secrets") && out.stderr.contains("exit code 3"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("You must be logged in"),
        "{}",
        out.stderr
    );
    assert!(ws.list().is_empty());
    let snaps = ws.restic(&["snapshots", "--json"]);
    assert_eq!(String::from_utf8_lossy(&snaps.stdout).trim(), "[]");
}

#[test]
fn failing_restore_command_is_a_failed_restore() {
    let ws = Workspace::new();
    ws.config(&config(&ws, "seq 1 10"));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let out = ws
        .run(&[
            "restore",
            "k8s/secrets",
            "--to",
            "cat >/dev/null; echo 'apply rejected' >&2; exit 5",
        ])
        .assert_code(1);
    assert!(
        out.stderr.contains("exit code 5") && out.stderr.contains("apply rejected"),
        "{}",
        out.stderr
    );
}
