//! `lifeboat completions` and `lifeboat man`, generated from the clap definition: each
//! valid for what reads it (bash, groff) and naming every command. A missing tool fails
//! the test naming the Debian package to install.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Every subcommand of `lifeboat`.
const COMMANDS: [&str; 16] = [
    "init",
    "backup",
    "list",
    "config",
    "restore",
    "recover",
    "copy",
    "dump",
    "check",
    "verify",
    "prune",
    "daemon",
    "status",
    "unlock",
    "completions",
    "man",
];

fn lifeboat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    let out = lifeboat(args);
    assert!(
        out.status.success(),
        "lifeboat {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn tool(name: &str, package: &str) -> std::path::PathBuf {
    support::which(name).unwrap_or_else(|| panic!("{name} not found: apt-get install -y {package}"))
}

/// What the bash script offers for the words typed so far (the last one being completed).
fn bash_candidates(script: &Path, words: &[&str]) -> Vec<String> {
    let cword = words.len() - 1;
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let prev = if cword > 0 { words[cword - 1] } else { "" };
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={cword}\n_lifeboat lifeboat '{}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words[cword],
    );
    let out = Command::new(tool("bash", "bash"))
        .args(["--norc", "-c", &program])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completion_is_valid_bash_and_completes_commands_and_flags() {
    let script = stdout_of(&["completions", "bash"]);
    for name in ["backup", "restore", "prune"] {
        assert!(script.contains(name), "no `{name}` in the bash script");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifeboat.bash");
    std::fs::write(&path, &script).unwrap();
    let check = Command::new(tool("bash", "bash"))
        .arg("-n")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    let commands = bash_candidates(&path, &["lifeboat", ""]);
    for name in COMMANDS {
        assert!(commands.iter().any(|c| c == name), "{name}: {commands:?}");
    }
    let restore = bash_candidates(&path, &["lifeboat", "restore", "--"]);
    for flag in ["--snapshot", "--to", "--force", "--plan", "--config"] {
        assert!(restore.iter().any(|c| c == flag), "{flag}: {restore:?}");
    }
    let shells = bash_candidates(&path, &["lifeboat", "completions", ""]);
    for shell in ["bash", "zsh", "fish"] {
        assert!(shells.iter().any(|c| c == shell), "{shell}: {shells:?}");
    }
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    let zsh = stdout_of(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef lifeboat"), "{}", &zsh[..80]);
    let fish = stdout_of(&["completions", "fish"]);
    assert!(
        fish.contains("complete -c lifeboat"),
        "no `complete -c lifeboat`"
    );
    for name in COMMANDS {
        assert!(zsh.contains(&format!("'{name}:")), "zsh: no `{name}`");
        assert!(
            fish.contains(&format!("-a \"{name}\"")),
            "fish: no `{name}`"
        );
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = lifeboat(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bash, zsh, fish"), "{stderr}");
}

/// The page rendered as plain text by groff, which must not warn.
fn render(roff: &[u8]) -> String {
    let mut child = Command::new(tool("groff", "groff-base"))
        .args(["-man", "-Tutf8", "-ww", "-P", "-cbou"])
        .env("GROFF_NO_SGR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), roff).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "groff: {stderr}");
    // groff's minus signs and hyphens as ASCII, line breaks as spaces.
    String::from_utf8(out.stdout)
        .unwrap()
        .replace(['\u{2212}', '\u{2010}'], "-")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn man_page_renders_and_describes_every_command() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH lifeboat 1"), "{}", &page[..200]);
    let text = render(page.as_bytes());
    for section in ["NAME", "SYNOPSIS", "OPTIONS", "COMMANDS", "EXIT STATUS"] {
        assert!(text.contains(section), "no {section} section: {text}");
    }
    for name in COMMANDS {
        assert!(
            text.contains(&format!("lifeboat {name} [OPTIONS]")),
            "no usage of `{name}`: {text}"
        );
    }
    // Each command's own flags are there, with their help.
    for flag in [
        "--no-safety-backup",
        "--dry-run",
        "--read-data",
        "--remove-all",
    ] {
        assert!(text.contains(flag), "no {flag}: {text}");
    }
    assert!(text.contains("Configuration file"), "{text}");
}

#[test]
fn man_dir_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let man1 = dir.path().join("man1");
    let listed = stdout_of(&["man", "--dir", man1.to_str().unwrap()]);
    let top = std::fs::read(man1.join("lifeboat.1")).unwrap();
    assert_eq!(top, stdout_of(&["man"]).into_bytes());
    for name in COMMANDS {
        let file = man1.join(format!("lifeboat-{name}.1"));
        assert!(listed.contains(file.to_str().unwrap()), "{listed}");
        let text = render(&std::fs::read(&file).unwrap());
        assert!(
            text.contains(&format!("lifeboat-{name} -")),
            "{}: {text}",
            file.display()
        );
    }
    assert_eq!(
        std::fs::read_dir(&man1).unwrap().count(),
        COMMANDS.len() + 1
    );
}
