//! Backups that did not finish: the packs a killed backup uploaded before any index
//! named them serve the next backup (indexed by it first), instead of being uploaded
//! a second time, and the repository stays clean for lifeboat and for restic.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use support::{dir_size, noise, wait_for_settled_size, Workspace};

const MB: u64 = 1_000_000;
const STREAM: u64 = 48 * MB;

fn data_bytes(repo: &Path) -> u64 {
    dir_size(&repo.join("data"))
}

fn command_source(ws: &Workspace, backup_command: &str) {
    ws.config(&format!(
        "[[app]]\nname = \"k8s\"\n\n[[app.source]]\nname = \"dump\"\nkind = \"command\"\n\
         backup_command = \"{backup_command}\"\nfilename = \"dump.bin\"\n"
    ));
}

#[test]
fn packs_uploaded_by_a_killed_backup_are_reused_by_the_next_backup() {
    let ws = Workspace::new();
    let big = ws.path("big.bin");
    std::fs::write(&big, noise(STREAM as usize, 7)).unwrap();
    // The whole stream, then a pause: the backup is killed while it waits, with most
    // of the stream in packs on disk and no index naming them yet.
    command_source(&ws, &format!("sh -c 'cat {}; sleep 37'", big.display()));
    ws.run(&["init"]).assert_ok();
    let mut backup = ws
        .command(&["backup"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // 48 MB make at least four full 8 MiB packs on disk (the chunker and the packer
    // keep the rest in memory); wait until three are written whole (the size stays
    // put) before the kill.
    let three_packs = 3 * 8 * 1024 * 1024;
    let uploaded = wait_for_settled_size(
        &ws.repo().join("data"),
        three_packs,
        Duration::from_millis(300),
        Duration::from_secs(60),
    );
    backup.kill().unwrap();
    backup.wait().unwrap();
    // The dump's shell outlives lifeboat; its command line names this workspace.
    support::kill_groups_of(&format!("cat {}; sleep 37", big.display()));
    assert!(
        uploaded,
        "the backup uploaded no packs before it was killed"
    );
    let left = data_bytes(&ws.repo());
    assert!(ws.list().is_empty(), "a killed backup left a snapshot");

    command_source(&ws, &format!("cat {}", big.display()));
    let first = ws.run(&["-v", "backup"]).assert_ok();
    assert!(
        first
            .stderr
            .contains("indexed the packs of 1 unfinished backup(s)"),
        "{}",
        first.stderr
    );
    let added = data_bytes(&ws.repo()) - left;
    eprintln!("the killed backup left {left} bytes of packs; the next one added {added}");
    // Only what never reached the disk is uploaded (plus a tree and a manifest);
    // without the reuse it would be the whole stream again.
    assert!(
        added < STREAM - left + 2 * MB,
        "the next backup uploaded {added} bytes of a {STREAM}-byte stream, of which {left} were on disk"
    );

    // Done once: a further backup has nothing to index.
    let second = ws.run(&["-v", "backup"]).assert_ok();
    assert!(
        !second.stderr.contains("unfinished backup"),
        "{}",
        second.stderr
    );
    ws.run(&["check", "--read-data"]).assert_ok();
    // restic counts the killed backup's lock as held until it is removed.
    ws.run(&["unlock"]).assert_ok();
    let check = ws.restic(&["check", "--read-data"]);
    assert!(check.status.success(), "{check:?}");
    assert_eq!(
        ws.run_bytes(&["dump", "k8s/dump"]),
        std::fs::read(&big).unwrap(),
        "the dump differs from the stream"
    );
}
