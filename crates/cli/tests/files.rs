//! The files kind: excludes, modes, mtimes, symlinks, --delete, restore safety.
//! Regressions found since are in `files_regressions.rs`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use support::files::{snapshot_of, tree, write};
use support::Workspace;

fn files_config(ws: &Workspace) -> String {
    format!(
        "[[app]]\nname = \"esp\"\n\n[[app.source]]\nname = \"data\"\nkind = \"files\"\npath = \"{}\"\nexclude = [\"/log/\", \"run/\", \"database/\", \"project/\"]\n",
        ws.path("data").display()
    )
}

#[test]
fn round_trip_keeps_modes_mtimes_symlinks_and_honours_excludes() {
    let ws = Workspace::new();
    tree(&ws.path("data"));
    ws.config(&files_config(&ws));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup", "esp/data"]).assert_ok();
    ws.run(&[
        "restore",
        "esp/data",
        "--to",
        ws.path("out").to_str().unwrap(),
    ])
    .assert_ok();

    let mut expected = snapshot_of(&ws.path("data"));
    expected.retain(|(p, _)| {
        !["log", "run", "database", "project"]
            .iter()
            .any(|x| p == x || p.starts_with(&format!("{x}/")))
    });
    assert_eq!(snapshot_of(&ws.path("out")), expected);
    assert!(ws.path("out/uploads/log/kept.txt").exists());
    let manifest = ws.manifest("esp/data");
    assert_eq!(manifest["facts"]["file_count"], 4, "{manifest}");
    assert_eq!(
        manifest["facts"]["total_bytes"].as_u64().unwrap(),
        11 + 18 + 300_000 + 32
    );
}

#[test]
fn restore_into_data_needs_force_keeps_a_safety_backup_and_delete_removes_extras() {
    let ws = Workspace::new();
    tree(&ws.path("data"));
    ws.config(&files_config(&ws));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();

    // Damage the live tree: change a file, add one, remove one.
    std::fs::write(ws.path("data/config/app.yml"), "port: 9999\n").unwrap();
    std::fs::write(ws.path("data/stray.txt"), "not in the backup").unwrap();
    std::fs::remove_file(ws.path("data/bin/run.sh")).unwrap();
    let damaged = snapshot_of(&ws.path("data"));

    let refused = ws.run(&["restore", "esp/data"]).assert_code(1);
    assert!(refused.stderr.contains("holds data"), "{}", refused.stderr);
    assert_eq!(
        snapshot_of(&ws.path("data")),
        damaged,
        "refusal changed nothing"
    );

    ws.run(&["restore", "esp/data", "--force"]).assert_ok();
    assert_eq!(
        std::fs::read_to_string(ws.path("data/config/app.yml")).unwrap(),
        "port: 1487\n"
    );
    assert!(ws.path("data/bin/run.sh").exists());
    assert!(
        ws.path("data/stray.txt").exists(),
        "without --delete extra files stay"
    );
    assert!(
        ws.path("data/log/app.log").exists(),
        "excluded paths are left alone"
    );

    ws.run(&["restore", "esp/data", "--force", "--delete"])
        .assert_ok();
    assert!(
        !ws.path("data/stray.txt").exists(),
        "--delete removes files not in the backup"
    );

    let safety: Vec<_> = ws
        .snapshots_of("esp", "data")
        .into_iter()
        .filter(|s| s["pre_restore"] == true)
        .collect();
    assert_eq!(safety.len(), 2, "each forced restore took a safety backup");
    // The first safety backup holds the damaged tree, excluded paths included.
    let first = safety[0]["id"].as_str().unwrap();
    ws.run(&[
        "restore",
        "esp/data",
        "--snapshot",
        &first[..8],
        "--to",
        ws.path("before").to_str().unwrap(),
    ])
    .assert_ok();
    assert_eq!(snapshot_of(&ws.path("before")), damaged);
}

#[test]
fn missing_directory_fails_naming_it() {
    let ws = Workspace::new();
    ws.config(&files_config(&ws));
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["backup"]).assert_code(1);
    assert!(
        out.stderr.contains("esp/data")
            && out.stderr.contains(&ws.path("data").display().to_string()),
        "{}",
        out.stderr
    );
    assert!(ws.list().is_empty());
}

#[test]
fn unreadable_file_fails_the_backup_instead_of_being_skipped() {
    let ws = Workspace::new();
    tree(&ws.path("data"));
    write(&ws.path("data/secret.key"), "k", 0o000);
    ws.config(&files_config(&ws));
    ws.run(&["init"]).assert_ok();
    // root reads any file: run lifeboat as `nobody` then, on a repository it may write.
    let mut cmd = if support::is_root() {
        std::process::Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(ws.dir.path())
            .status()
            .unwrap();
        std::process::Command::new("chmod")
            .args(["000"])
            .arg(ws.path("data/secret.key"))
            .status()
            .unwrap();
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "nobody", "--", env!("CARGO_BIN_EXE_lifeboat")]);
        c
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_lifeboat"))
    };
    let out = cmd
        .arg("--config")
        .arg(ws.path("lifeboat.toml"))
        .arg("backup")
        .env("LIFEBOAT_PASSWORD", support::PASSWORD)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("esp/data") && stderr.contains("secret.key"),
        "{stderr}"
    );
    assert!(ws.list().is_empty(), "no snapshot for an incomplete tree");
}
