//! Retention and prune through the binary: per source (one source's policy never
//! touches another's backups, whatever their names), applied after each backup and by
//! `lifeboat prune`, with safety backups and verification records kept as promised,
//! and the space reclaimed as stock restic sees it.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use support::Workspace;

/// Two command sources whose names contain each other (seed 003's pruning matched file
/// names by substring), `db` with `retention`, `db2` without.
fn two_sources(ws: &Workspace, retention: &str) {
    ws.config(&format!(
        "[[app]]\nname = \"shop\"\n\n\
         [[app.source]]\nname = \"db\"\nkind = \"command\"\nbackup_command = \"date +%N; seq 1 2000\"\nfilename = \"db.txt\"\nretention = {retention}\n\n\
         [[app.source]]\nname = \"db2\"\nkind = \"command\"\nbackup_command = \"date +%N\"\nfilename = \"db2.txt\"\n"
    ));
}

fn restic_snapshot_count(ws: &Workspace, tag: &str) -> usize {
    let out = ws.restic(&["snapshots", "--json", "--tag", tag]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .unwrap()
        .len()
}

#[test]
fn retention_after_each_backup_keeps_the_newest_n_of_that_source_only() {
    let ws = Workspace::new();
    two_sources(&ws, "{ strategy = \"daily\", keep = 2 }");
    ws.run(&["init"]).assert_ok();
    let mut kept = Vec::new();
    let mut said = Vec::new();
    for _ in 0..4 {
        said.push(ws.run(&["backup"]).assert_ok().stdout);
        kept.push(ws.snapshots_of("shop", "db").last().unwrap()["id"].clone());
    }
    assert!(
        said[0].contains("retention: forgot 0 snapshot(s)"),
        "{}",
        said[0]
    );
    assert!(
        said[3].contains("retention: forgot 1 snapshot(s)"),
        "{}",
        said[3]
    );
    let db: Vec<_> = ws
        .snapshots_of("shop", "db")
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(db, kept[2..], "the two newest backups of db are kept");
    assert_eq!(
        ws.snapshots_of("shop", "db2").len(),
        4,
        "db2 has no retention"
    );
    // stock restic sees the same: 2 + 4 backups, and its check is clean after the prune
    assert_eq!(restic_snapshot_count(&ws, "source=db"), 2);
    assert_eq!(restic_snapshot_count(&ws, "source=db2"), 4);
    let check = ws.restic(&["check", "--read-data"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn prune_dry_run_names_the_rule_for_every_backup_and_changes_nothing() {
    let ws = Workspace::new();
    two_sources(&ws, "{ strategy = \"custom\", keep_last = 1 }");
    ws.run(&["init"]).assert_ok();
    // without retention in the config while backing up, nothing is removed yet
    let config = std::fs::read_to_string(ws.path("lifeboat.toml")).unwrap();
    let unretained = config.replace("retention = { strategy = \"custom\", keep_last = 1 }\n", "");
    std::fs::write(ws.path("lifeboat.toml"), &unretained).unwrap();
    for _ in 0..3 {
        ws.run(&["backup", "shop/db"]).assert_ok();
    }
    std::fs::write(ws.path("lifeboat.toml"), &config).unwrap();
    let out = ws.run(&["prune", "--dry-run", "--json"]).assert_ok();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let db = &report["sources"][0];
    assert_eq!(db["source"], "db");
    let reasons: Vec<(bool, String)> = db["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["keep"].as_bool().unwrap(),
                d["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(reasons[0], (true, "last #1".to_string()), "{reasons:?}");
    assert!(reasons[1..].iter().all(|(keep, _)| !keep), "{reasons:?}");
    assert_eq!(report["forgotten"].as_array().unwrap().len(), 2);
    assert!(report["sources"][1]["note"]
        .as_str()
        .unwrap()
        .contains("no retention"));
    assert_eq!(
        ws.snapshots_of("shop", "db").len(),
        3,
        "a dry run changed the repository"
    );
    let text = ws.run(&["prune", "--dry-run"]).assert_ok();
    assert!(
        text.stdout.contains("keep  ") && text.stdout.contains("last #1"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("would forget 2 snapshot(s)"),
        "{}",
        text.stdout
    );
    // the real prune forgets them and reclaims under an exclusive lock
    let pruned = ws.run(&["prune"]).assert_ok();
    assert!(
        pruned.stdout.contains("forgot 2 snapshot(s)"),
        "{}",
        pruned.stdout
    );
    assert!(pruned.stdout.contains("reclaimed:"), "{}", pruned.stdout);
    assert_eq!(ws.snapshots_of("shop", "db").len(), 1);
    let locks = ws.restic(&["list", "locks", "--no-lock"]);
    assert!(
        String::from_utf8_lossy(&locks.stdout).trim().is_empty(),
        "a lock was left behind"
    );
}

#[test]
fn verification_records_go_with_their_backup_and_safety_backups_stay_30_days() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("site")).unwrap();
    std::fs::write(ws.path("site/index.html"), "v1").unwrap();
    ws.config(&format!(
        "[[app]]\nname = \"web\"\n\n[[app.source]]\nname = \"site\"\nkind = \"files\"\npath = \"{}\"\n",
        ws.path("site").display()
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    ws.run(&["verify"]).assert_ok();
    std::fs::write(ws.path("site/index.html"), "v2").unwrap();
    ws.run(&["backup"]).assert_ok();
    // restore the newest over changed data: a pre-restore safety backup is taken
    std::fs::write(ws.path("site/index.html"), "v3").unwrap();
    ws.run(&["restore", "web/site", "--force"]).assert_ok();
    assert_eq!(restic_snapshot_count(&ws, "lifeboat-verify"), 1);
    let config = std::fs::read_to_string(ws.path("lifeboat.toml")).unwrap();
    std::fs::write(
        ws.path("lifeboat.toml"),
        format!("{config}retention = {{ strategy = \"daily\", keep = 1 }}\n"),
    )
    .unwrap();
    let out = ws.run(&["prune", "--json"]).assert_ok();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let decisions = report["sources"][0]["decisions"].as_array().unwrap();
    let reason_of = |kind: &str| -> Vec<String> {
        decisions
            .iter()
            .filter(|d| d["role"]["kind"] == kind)
            .map(|d| format!("{} {}", d["keep"], d["reason"].as_str().unwrap()))
            .collect()
    };
    assert_eq!(
        reason_of("pre-restore"),
        ["true pre-restore < 30 d"],
        "{decisions:?}"
    );
    assert_eq!(
        reason_of("verification"),
        ["false verification of a removed backup"],
        "{decisions:?}"
    );
    assert_eq!(
        restic_snapshot_count(&ws, "lifeboat-verify"),
        0,
        "the record stayed"
    );
    assert_eq!(
        restic_snapshot_count(&ws, "pre-restore"),
        1,
        "the safety backup went"
    );
    let backups: Vec<_> = ws
        .snapshots_of("web", "site")
        .into_iter()
        .filter(|s| s["pre_restore"] == false)
        .collect();
    assert_eq!(backups.len(), 1);
}

#[test]
fn retention_config_errors_name_file_line_column_and_key() {
    let cases = [
        (
            "{ strategy = \"weekly\" }",
            "app.source.retention.strategy",
            "unknown strategy `weekly`",
        ),
        (
            "{ strategy = \"daily\", daily = 3 }",
            "app.source.retention.daily",
            "does not belong to strategy \"daily\"",
        ),
        (
            "{ strategy = \"custom\" }",
            "app.source.retention.strategy",
            "needs at least one of",
        ),
        (
            "{ strategy = \"custom\", keep_within = \"3x\" }",
            "app.source.retention.keep_within",
            "`3x`",
        ),
        (
            "{ strategy = \"rolling\", weekly = -1 }",
            "key `retention`",
            "invalid value: integer `-1`, expected u32",
        ),
        (
            "{ strategy = \"daily\", keep_pre_restore = \"soon\" }",
            "app.source.retention.keep_pre_restore",
            "soon",
        ),
    ];
    for (retention, key, message) in cases {
        let ws = Workspace::new();
        two_sources(&ws, retention);
        let out = ws.run(&["config"]).assert_code(2);
        assert!(
            out.stderr.contains("lifeboat.toml:13:"),
            "{retention}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(key),
            "{retention}: {key} in {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(message),
            "{retention}: {message} in {}",
            out.stderr
        );
    }
    let ws = Workspace::new();
    two_sources(&ws, "{ strategy = \"daily\" }");
    let config = std::fs::read_to_string(ws.path("lifeboat.toml")).unwrap();
    std::fs::write(
        ws.path("lifeboat.toml"),
        config.replace(
            "[[app]]",
            "[defaults]\ntimezone = \"Mars/Olympus\"\n\n[[app]]",
        ),
    )
    .unwrap();
    let out = ws.run(&["config"]).assert_code(2);
    assert!(
        out.stderr.contains("lifeboat.toml:6:") && out.stderr.contains("defaults.timezone"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("unknown time zone `Mars/Olympus`"),
        "{}",
        out.stderr
    );
}
