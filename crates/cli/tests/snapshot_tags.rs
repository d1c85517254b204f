//! What identifies a backup from outside: tags restic can filter on, `list --json`,
//! the kind a snapshot was taken as, and `dump` into a closed pipe.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::io::Read;
use std::process::Stdio;
use support::Workspace;

fn files_config(ws: &Workspace) -> String {
    format!(
        "[[app]]\nname = \"esp\"\n\n[[app.source]]\nname = \"data\"\nkind = \"files\"\npath = \"{}\"\n",
        ws.path("data").display()
    )
}

/// A repository with one backup of a files source holding `file` = `text`.
fn backed_up_files(file: &str, text: &str) -> Workspace {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("data")).unwrap();
    std::fs::write(ws.path("data").join(file), text).unwrap();
    ws.config(&files_config(&ws));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    ws
}

#[test]
fn readme_restic_recipe_never_picks_a_safety_copy_or_a_verification_record() {
    let ws = backed_up_files("state.txt", "backed up\n");
    ws.run(&["verify", "esp/data"]).assert_ok();
    std::fs::write(ws.path("data/state.txt"), "rolled back from\n").unwrap();
    // takes a safety copy of "rolled back from" (tag pre-restore), newer than the backup
    ws.run(&["restore", "esp/data", "--force"]).assert_ok();
    let dumped = ws.restic(&[
        "dump",
        "--tag",
        "app=esp,source=data,purpose=backup",
        "latest",
        "/esp/data/state.txt",
    ]);
    assert!(dumped.status.success(), "{dumped:?}");
    assert_eq!(String::from_utf8_lossy(&dumped.stdout), "backed up\n");
    let listed = ws.restic(&["snapshots", "--json", "--tag", "purpose=pre-restore"]);
    let safety: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(
        safety.len(),
        1,
        "the safety copy carries its own purpose tag"
    );
    let listed = ws.restic(&["snapshots", "--json", "--tag", "purpose=verify"]);
    let records: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(records.len(), 1);
}

#[test]
fn list_json_gives_full_ids_rfc3339_times_and_runs_grouped() {
    let ws = backed_up_files("a", "a");
    ws.run(&["backup"]).assert_ok();
    let list = ws.list();
    assert_eq!(list.len(), 2);
    for s in &list {
        let id = s["id"].as_str().unwrap();
        assert_eq!(id.len(), 64, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        let time = s["time"].as_str().unwrap();
        time.parse::<jiff::Timestamp>()
            .unwrap_or_else(|e| panic!("{time}: {e}"));
    }
    // a full id works wherever an id prefix does
    let id = list[0]["id"].as_str().unwrap();
    ws.run(&["dump", "esp/data", "--snapshot", id, "--manifest"])
        .assert_ok();
    let runs = ws.run(&["list", "--runs", "--json"]).assert_ok();
    let runs: Vec<serde_json::Value> = serde_json::from_str(&runs.stdout).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["backups"].as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["run_id"], list[0]["run_id"]);
}

#[test]
fn snapshot_of_another_kind_is_refused_not_restored() {
    let ws = backed_up_files("a", "a");
    ws.config(&format!(
        "[[app]]\nname = \"esp\"\n\n[[app.source]]\nname = \"data\"\nkind = \"command\"\nbackup_command = \"true\"\nrestore_command = \"cat > {}\"\nfilename = \"x\"\n",
        ws.path("out").display()
    ));
    let out = ws.run(&["restore", "esp/data"]).assert_code(1);
    assert!(
        out.stderr.contains("is a `files` backup") && out.stderr.contains("`command`"),
        "{}",
        out.stderr
    );
    assert!(!ws.path("out").exists(), "the command was fed anyway");
}

#[test]
fn dump_into_a_closed_pipe_is_not_a_repository_error() {
    let ws = Workspace::new();
    ws.config("[[app]]\nname = \"k8s\"\n\n[[app.source]]\nname = \"big\"\nkind = \"command\"\nbackup_command = \"seq 1 3000000\"\nfilename = \"big.txt\"\n");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let mut child = ws
        .command(&["dump", "k8s/big"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // stdout dropped: the pipe is closed
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("writing the output"), "{stderr}");
    assert!(!stderr.contains("repository error"), "{stderr}");
}
