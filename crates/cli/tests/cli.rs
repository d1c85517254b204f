//! The binary's contract: exit codes, repository errors, configuration errors.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use support::Workspace;

fn simple(ws: &Workspace) {
    std::fs::create_dir_all(ws.path("data")).unwrap();
    std::fs::write(ws.path("data/f"), "x".repeat(100_000)).unwrap();
    ws.config(&format!(
        "[[app]]\nname = \"a\"\n\n[[app.source]]\nname = \"data\"\nkind = \"files\"\npath = \"{}\"\n",
        ws.path("data").display()
    ));
}

#[test]
fn missing_repository_says_to_run_init() {
    let ws = Workspace::new();
    simple(&ws);
    let out = ws.run(&["backup"]).assert_code(3);
    assert!(out.stderr.contains("lifeboat init"), "{}", out.stderr);
}

#[test]
fn init_twice_is_refused() {
    let ws = Workspace::new();
    simple(&ws);
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["init"]).assert_code(3);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
}

#[test]
fn wrong_password_is_exit_3_with_a_clear_message() {
    let mut ws = Workspace::new();
    simple(&ws);
    ws.run(&["init"]).assert_ok();
    ws.env = vec![("LIFEBOAT_PASSWORD".into(), "not the password".into())];
    let out = ws.run(&["list"]).assert_code(3);
    assert!(out.stderr.contains("wrong password"), "{}", out.stderr);
    assert!(!out.all().contains("not the password"));
}

#[test]
fn corrupted_pack_is_reported_as_a_repository_problem() {
    let ws = Workspace::new();
    simple(&ws);
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    // Flip bytes in the middle of every data pack.
    let mut packs = Vec::new();
    for sub in std::fs::read_dir(ws.repo().join("data")).unwrap() {
        for pack in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            packs.push(pack.unwrap().path());
        }
    }
    assert!(!packs.is_empty());
    for pack in &packs {
        let mut bytes = std::fs::read(pack).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        bytes[mid + 1] ^= 0xff;
        std::fs::write(pack, bytes).unwrap();
    }
    let out = ws.run(&[
        "restore",
        "a/data",
        "--to",
        ws.path("out").to_str().unwrap(),
    ]);
    assert_ne!(
        out.code, 0,
        "a corrupted repository must not restore silently"
    );
    let check = ws.run(&["check", "--read-data"]).assert_code(3);
    assert!(
        check.stderr.to_lowercase().contains("pack")
            || check.stdout.to_lowercase().contains("pack"),
        "{}",
        check.all()
    );
}

#[test]
fn config_errors_are_exit_2_with_file_line_column_and_key() {
    let ws = Workspace::new();
    simple(&ws);
    let text = std::fs::read_to_string(ws.path("lifeboat.toml")).unwrap();
    std::fs::write(
        ws.path("lifeboat.toml"),
        text.replace("kind = \"files\"", "kind = \"files\"\nexclud = [\"x\"]"),
    )
    .unwrap();
    let out = ws.run(&["config", "--check"]).assert_code(2);
    assert!(
        out.stderr.contains("lifeboat.toml:11:1") && out.stderr.contains("exclud"),
        "{}",
        out.stderr
    );
    let out = ws.run(&["backup"]).assert_code(2);
    assert!(out.stderr.contains("lifeboat.toml:11:1"), "{}", out.stderr);
}

#[test]
fn unknown_spec_is_a_usage_error() {
    let ws = Workspace::new();
    simple(&ws);
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["backup", "nope"]).assert_code(2);
    assert!(out.stderr.contains("no app named `nope`"), "{}", out.stderr);
}

#[test]
fn list_shows_size_added_and_run_ids_in_table_and_json() {
    let ws = Workspace::new();
    simple(&ws);
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let table = ws.run(&["list"]).assert_ok();
    assert!(
        table.stdout.contains("APP/SOURCE") && table.stdout.contains("a/data"),
        "{}",
        table.stdout
    );
    let runs = ws.run(&["list", "--runs"]).assert_ok();
    assert_eq!(runs.stdout.matches("run ").count(), 2, "{}", runs.stdout);
    let json = ws.list();
    assert_eq!(json.len(), 2);
    assert!(json[0]["size"].as_u64().unwrap() >= 100_000);
    assert!(
        json[1]["added"].as_u64().unwrap() < json[0]["added"].as_u64().unwrap(),
        "the second run dedups"
    );
    assert_ne!(json[0]["run_id"], json[1]["run_id"]);
}

/// A snapshot with lifeboat's tags but no manifest, as a backup interrupted between
/// rustic's save and lifeboat's delete leaves one (stock restic writes it).
fn interrupted_backup(ws: &Workspace) {
    let tags = "lifeboat,app=a,source=data,kind=files,run=cut,purpose=backup";
    let data = ws.path("data");
    let out = ws.restic(&["backup", "-q", "--tag", tags, data.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn list_skips_a_snapshot_without_manifest_also_once_it_has_checked_it() {
    let ws = Workspace::new();
    simple(&ws);
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    interrupted_backup(&ws);
    let listed = |warnings: usize| {
        let out = ws.run(&["list", "--json"]).assert_ok();
        let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(rows.len(), 1, "{}", out.stdout);
        assert_eq!(
            out.stderr.matches("has no manifest: ignored").count(),
            warnings,
            "{}",
            out.stderr
        );
    };
    // cold (the trees are read), then from the record the first list wrote
    listed(1);
    assert!(ws.path("cache/lifeboat").is_dir(), "the record is kept");
    listed(1);
    // one more after the record was written: checked, skipped as well
    interrupted_backup(&ws);
    listed(2);
    listed(2);
}
