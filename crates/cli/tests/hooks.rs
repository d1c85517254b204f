//! App hooks through the binary: the `LIFEBOAT_*` environment (app, run id, event,
//! status, sources), no secret in their environment, their output in the run report,
//! `hook_timeout`, and a failing `before_backup` that stops the dumps while
//! `after_backup` still runs.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use serde_json::Value;
use support::{Workspace, PASSWORD};

fn config(ws: &Workspace, before: &str, second_source_fails: bool, timeout: &str) -> String {
    let log = ws.path("hooks.log");
    let env = ws.path("hook-env.txt");
    let second = if second_source_fails {
        "exit 1"
    } else {
        "echo two"
    };
    format!(
        r#"[[app]]
name = "shop"
hook_timeout = "{timeout}"
before_backup = ["{before}", "echo \"before $LIFEBOAT_APP $LIFEBOAT_RUN_ID $LIFEBOAT_EVENT [$LIFEBOAT_STATUS] $LIFEBOAT_SOURCES\" >> {log}; env > {env}; echo printed by the hook"]
after_backup = ["echo \"after $LIFEBOAT_EVENT $LIFEBOAT_STATUS\" >> {log}"]

[[app.source]]
name = "one"
kind = "command"
backup_command = "echo one"
filename = "one.txt"

[[app.source]]
name = "two"
kind = "command"
backup_command = "{second}"
filename = "two.txt"
"#,
        log = log.display(),
        env = env.display(),
    )
}

fn hook_log(ws: &Workspace) -> Vec<String> {
    std::fs::read_to_string(ws.path("hooks.log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn hooks_are_told_the_run_see_no_secret_and_their_output_is_reported() {
    let ws = Workspace::new();
    ws.config(&config(&ws, "true", false, "5m"));
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["--json", "backup"]).assert_ok();
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(
        hook_log(&ws),
        [
            format!("before shop {run_id} before_backup [] one,two"),
            "after after_backup ok".to_string()
        ]
    );
    let env = std::fs::read_to_string(ws.path("hook-env.txt")).unwrap();
    assert!(
        !env.contains(PASSWORD),
        "the repository password reached a hook: {env}"
    );
    assert!(env.contains("LIFEBOAT_APP=shop"));
    let outputs: Vec<&str> = report["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["output"].as_str().unwrap())
        .collect();
    assert!(outputs.contains(&"printed by the hook"), "{outputs:?}");
}

#[test]
fn after_backup_is_told_the_run_failed() {
    let ws = Workspace::new();
    ws.config(&config(&ws, "true", true, "5m"));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_code(1);
    assert_eq!(hook_log(&ws).last().unwrap(), "after after_backup failed");
}

#[test]
fn a_hook_over_its_timeout_fails_the_run_before_any_dump_and_after_backup_runs() {
    let ws = Workspace::new();
    ws.config(&config(&ws, "sleep 30", false, "1s"));
    ws.run(&["init"]).assert_ok();
    let started = std::time::Instant::now();
    let out = ws.run(&["backup"]).assert_code(1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the timeout held"
    );
    assert!(out.stderr.contains("before_backup hook"), "{}", out.all());
    assert!(
        out.stderr.contains("1s") || out.stderr.contains("timed out"),
        "{}",
        out.all()
    );
    assert_eq!(
        hook_log(&ws),
        ["after after_backup failed"],
        "no dump, after_backup ran"
    );
    assert!(ws.list().is_empty());
}
