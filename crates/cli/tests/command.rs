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

#[test]
fn second_stream_backup_stores_new_content_not_the_parents() {
    // rustic's archive() would match a stream against its parent snapshot and keep the
    // old content; lifeboat forces parent matching off for streams.
    let ws = Workspace::new();
    ws.config(&config(&ws, "echo first"));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    ws.config(&config(&ws, "echo second"));
    ws.run(&["backup"]).assert_ok();
    assert_eq!(ws.run_bytes(&["dump", "k8s/secrets"]), b"second\n");
}

/// A tmpfs mounted for the test's lifetime (root only: CI runs as root).
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &std::path::Path, size: &str) -> SmallDisk {
        assert!(
            support::is_root(),
            "this test mounts a small tmpfs to fill the disk: run it as root"
        );
        std::fs::create_dir_all(path).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success(), "mount tmpfs failed");
        SmallDisk(path.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk_fails_clearly_and_leaves_no_snapshot() {
    let ws = Workspace::new();
    let _disk = SmallDisk::mount(&ws.repo(), "4m");
    ws.config(&config(&ws, "head -c 30000000 /dev/urandom"));
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["backup"]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("No space left on device"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("k8s/secrets"),
        "the message names the source: {}",
        out.stderr
    );
    assert!(ws.list().is_empty(), "no snapshot on a full disk");
}
