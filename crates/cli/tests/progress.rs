//! Progress on a terminal, and none when piped: the piped report stays what it was.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use support::Workspace;

fn slow_source(ws: &Workspace) {
    ws.config("[[app]]\nname = \"k8s\"\n\n[[app.source]]\nname = \"secrets\"\nkind = \"command\"\nbackup_command = \"head -c 30000000 /dev/urandom; sleep 1.5\"\nfilename = \"s.bin\"\n");
}

#[test]
fn backup_on_a_terminal_shows_a_progress_line_per_source() {
    let ws = Workspace::new();
    slow_source(&ws);
    ws.run(&["init"]).assert_ok();
    let line = format!(
        "{} --config {} backup",
        env!("CARGO_BIN_EXE_lifeboat"),
        ws.path("lifeboat.toml").display()
    );
    // `script` gives the command a pseudo-terminal and copies what it drew to stdout.
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]);
    for (k, v) in &ws.env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(
        screen.contains("k8s/secrets (command)"),
        "no progress line: {screen:?}"
    );
    assert!(screen.contains("MiB"), "no byte count: {screen:?}");
    assert!(screen.contains("k8s/secrets: ok"), "{screen:?}");
}

#[test]
fn piped_backup_prints_only_the_report() {
    let ws = Workspace::new();
    slow_source(&ws);
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["backup"]).assert_ok();
    assert_eq!(out.stderr, "", "nothing but the report when piped");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines[0].starts_with("k8s/secrets: ok  snapshot "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("run ") && lines[1].ends_with(": 1 ok, 0 failed"),
        "{}",
        lines[1]
    );
}
