//! Regressions of the files kind (issue 10 and after): `--delete` keeps excluded paths,
//! files growing or shrinking while read, `--force` over hard links and over paths that
//! changed type, empty or all-excluded trees, gitignore excludes, sparse files, and the
//! top directory's mode, owner and mtime.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use support::files::{snapshot_of, write};
use support::Workspace;

// ---- regressions of issue 10 -----------------------------------------------------

fn source_config(ws: &Workspace, exclude: &str) -> String {
    format!(
        "[[app]]\nname = \"esp\"\n\n[[app.source]]\nname = \"data\"\nkind = \"files\"\npath = \"{}\"\nexclude = [{exclude}]\n",
        ws.path("data").display()
    )
}

fn verify_ok(ws: &Workspace) {
    let out = ws.run(&["verify", "esp/data", "--json"]).assert_ok();
    assert!(out.stdout.contains("\"ok\": true"), "{}", out.stdout);
}

/// Bug 1: `restore --delete` removed `DATA/database/` (a live PostgreSQL data dir)
/// because the backup excludes it.
#[test]
fn restore_delete_keeps_excluded_paths() {
    let ws = Workspace::new();
    write(&ws.path("data/app/config"), "c", 0o644);
    write(&ws.path("data/database/PG_VERSION"), "15\n", 0o600);
    ws.config(&source_config(&ws, "\"database/\""));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    write(&ws.path("data/database/base/16384"), "live rows", 0o600);
    write(&ws.path("data/stray.txt"), "not in the backup", 0o644);

    let plan = ws
        .run(&["restore", "esp/data", "--force", "--delete", "--plan"])
        .assert_ok();
    assert!(plan.stdout.contains("stray.txt"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("database"), "{}", plan.stdout);
    ws.run(&["restore", "esp/data", "--force", "--delete"])
        .assert_ok();
    assert!(!ws.path("data/stray.txt").exists());
    assert_eq!(
        std::fs::read_to_string(ws.path("data/database/base/16384")).unwrap(),
        "live rows"
    );
    assert!(ws.path("data/database/PG_VERSION").exists());

    let plan = ws
        .run(&[
            "restore",
            "esp/data",
            "--force",
            "--delete-excluded",
            "--plan",
        ])
        .assert_ok();
    assert!(plan.stdout.contains("database"), "{}", plan.stdout);
    assert!(ws.path("data/database").exists(), "--plan changes nothing");
    ws.run(&["restore", "esp/data", "--force", "--delete-excluded"])
        .assert_ok();
    assert!(!ws.path("data/database").exists());
    assert!(ws.path("data/app/config").exists());
}

/// Bug 4: a file growing while it was read gave an "ok" backup whose verify failed
/// forever (node size from stat, content read to EOF).
#[test]
fn file_growing_during_backup_gives_a_backup_that_verifies() {
    use std::io::Write;
    let ws = Workspace::new();
    write(&ws.path("data/small"), "s", 0o644);
    let log = ws.path("data/growing.log");
    std::fs::write(&log, vec![b'x'; 64 << 20]).unwrap();
    ws.config(&source_config(&ws, ""));
    ws.run(&["init"]).assert_ok();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, log) = (stop.clone(), log.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(log).unwrap();
            let block = vec![b'y'; 1 << 20];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                f.write_all(&block).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    let backup = ws.run(&["backup"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    let backup = backup.assert_ok();
    assert!(backup.stderr.contains("grew"), "{}", backup.stderr);
    verify_ok(&ws);
}

/// Bug 4, the other way: a file that shrinks while read must not give an ok backup
/// that fails verify.
#[test]
fn file_shrinking_during_backup_never_gives_an_ok_backup_that_fails_verify() {
    let ws = Workspace::new();
    let f = ws.path("data/rotating.log");
    write(&f, &"z".repeat(48 << 20), 0o644);
    ws.config(&source_config(&ws, ""));
    ws.run(&["init"]).assert_ok();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, f) = (stop.clone(), f.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
                file.set_len(1 << 20).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(5));
                file.set_len(48 << 20).unwrap();
            }
        })
    };
    let backup = ws.run(&["backup"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    if backup.code == 0 {
        verify_ok(&ws);
    }
}

/// Bug 7: `restore --force` in place failed on every hard link ("Failed to recreate
/// the hardlink … File exists"), leaving the target half restored.
#[test]
fn restore_force_over_hard_links_replaces_existing_entries() {
    let ws = Workspace::new();
    write(&ws.path("data/a"), "shared", 0o644);
    std::fs::hard_link(ws.path("data/a"), ws.path("data/b")).unwrap();
    write(&ws.path("data/x"), "other", 0o644);
    ws.config(&source_config(&ws, ""));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    // Same tree in place, and one where the link is broken and regrouped.
    ws.run(&["restore", "esp/data", "--force"]).assert_ok();
    std::fs::remove_file(ws.path("data/b")).unwrap();
    std::fs::hard_link(ws.path("data/x"), ws.path("data/b")).unwrap();
    ws.run(&["restore", "esp/data", "--force"]).assert_ok();
    let (a, b, x) = (
        std::fs::metadata(ws.path("data/a")).unwrap(),
        std::fs::metadata(ws.path("data/b")).unwrap(),
        std::fs::metadata(ws.path("data/x")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino(), "a and b are one file again");
    assert_ne!(a.ino(), x.ino());
    assert_eq!(
        std::fs::read_to_string(ws.path("data/b")).unwrap(),
        "shared"
    );
    assert_eq!(std::fs::read_to_string(ws.path("data/x")).unwrap(), "other");
}

/// Bug 8: `restore --force` panicked (exit 101) when a path had changed type since
/// the backup (file ↔ directory, symlink ↔ file).
#[test]
fn restore_force_replaces_paths_that_changed_type_without_panicking() {
    let ws = Workspace::new();
    write(&ws.path("data/was-file"), "file", 0o644);
    write(&ws.path("data/was-dir/inner"), "inner", 0o644);
    std::os::unix::fs::symlink("was-file", ws.path("data/was-link")).unwrap();
    write(&ws.path("data/becomes-link"), "real", 0o644);
    ws.config(&source_config(&ws, ""));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let before = snapshot_of(&ws.path("data"));

    std::fs::remove_file(ws.path("data/was-file")).unwrap();
    write(&ws.path("data/was-file/now-inside"), "x", 0o644);
    std::fs::remove_dir_all(ws.path("data/was-dir")).unwrap();
    write(&ws.path("data/was-dir"), "now a file", 0o644);
    std::fs::remove_file(ws.path("data/was-link")).unwrap();
    write(&ws.path("data/was-link"), "now a file", 0o644);
    std::fs::remove_file(ws.path("data/becomes-link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", ws.path("data/becomes-link")).unwrap();

    let plan = ws
        .run(&["restore", "esp/data", "--force", "--plan"])
        .assert_ok();
    assert!(plan.stdout.contains("was-file"), "{}", plan.stdout);
    ws.run(&["restore", "esp/data", "--force"]).assert_ok();
    assert_eq!(snapshot_of(&ws.path("data")), before);
    assert_ne!(
        std::fs::read_to_string("/etc/passwd").unwrap(),
        "real",
        "never written through a symlink"
    );
}

/// Bug 9: an empty directory, or a tree whose every entry is excluded, backed up "ok",
/// then restore and verify failed ("Node `a` not found in tree").
#[test]
fn empty_or_all_excluded_tree_restores_and_verifies() {
    for exclude in ["", "\"*\""] {
        let ws = Workspace::new();
        std::fs::create_dir_all(ws.path("data")).unwrap();
        if !exclude.is_empty() {
            write(&ws.path("data/only.tmp"), "excluded", 0o644);
        }
        ws.config(&source_config(&ws, exclude));
        ws.run(&["init"]).assert_ok();
        ws.run(&["backup"]).assert_ok();
        let out = ws.path("out");
        ws.run(&["restore", "esp/data", "--to", out.to_str().unwrap()])
            .assert_ok();
        assert!(out.is_dir());
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
        verify_ok(&ws);
    }
}

/// Bug 14: `!pattern` was silently ignored (patterns were prefixed with `!`). The
/// excludes now follow gitignore; `git check-ignore` is the oracle.
#[test]
fn exclude_patterns_follow_git_check_ignore() {
    let patterns = [
        "*.tmp",
        "!important.tmp",
        "/top-only/",
        "build/",
        "!build/keep.txt",
        "docs/**/*.pdf",
        "a/**/z",
        "\\!bang",
        "logs/*",
        "!logs/keep/",
        "dir-only/",
        "# a comment",
        "",
    ];
    let paths = [
        "x.tmp",
        "sub/important.tmp",
        "sub/y.tmp",
        "top-only/f",
        "sub/top-only/f",
        "build/keep.txt",
        "build/out.o",
        "sub/build/keep.txt",
        "docs/a/b/c.pdf",
        "docs/c.pdf",
        "docs/c.txt",
        "a/z",
        "a/b/c/z",
        "!bang",
        "logs/old.log",
        "logs/keep/new.log",
        "dir-only",
        "other/dir-only/f",
        "plain.txt",
    ];
    let ws = Workspace::new();
    for root in ["data", "oracle"] {
        for p in paths {
            write(&ws.path(&format!("{root}/{p}")), p, 0o644);
        }
    }
    let oracle = ws.path("oracle");
    std::fs::write(oracle.join(".gitignore"), patterns.join("\n")).unwrap();
    let git = |args: &[&str], input: Option<&str>| {
        use std::io::Write;
        let mut child = std::process::Command::new("git")
            .args(args)
            .current_dir(&oracle)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("git: {e} (apt-get install -y git)"));
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.unwrap_or("").as_bytes()).unwrap();
        drop(stdin);
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    };
    git(&["init", "-q"], None);
    // check-ignore answers for a path itself; git never enters an ignored directory,
    // so a path is left out when it or any of its directories is ignored.
    let mut queries: Vec<String> = Vec::new();
    for p in paths {
        let parts: Vec<&str> = p.split('/').collect();
        for i in 1..=parts.len() {
            queries.push(parts[..i].join("/"));
        }
    }
    queries.sort();
    queries.dedup();
    let ignored: Vec<String> = git(&["check-ignore", "--stdin"], Some(&queries.join("\n")))
        .lines()
        .map(str::to_string)
        .collect();
    let expected: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| {
            let parts: Vec<&str> = p.split('/').collect();
            (1..=parts.len()).all(|i| !ignored.contains(&parts[..i].join("/")))
        })
        .collect();
    assert!(expected.contains(&"sub/important.tmp") && !expected.contains(&"x.tmp"));

    let quoted: Vec<String> = patterns
        .iter()
        .map(|p| format!("\"{}\"", p.replace('\\', "\\\\")))
        .collect();
    ws.config(&source_config(&ws, &quoted.join(", ")));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let out = ws.path("out");
    ws.run(&["restore", "esp/data", "--to", out.to_str().unwrap()])
        .assert_ok();
    let restored: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| out.join(p).is_file())
        .collect();
    assert_eq!(restored, expected);
}

/// A sparse file was restored fully allocated; over an existing file, the holes must
/// also read as zeros (not keep the old bytes).
#[test]
fn sparse_files_restore_sparse_also_over_existing_data() {
    use std::os::unix::fs::FileExt;
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("data")).unwrap();
    let f = std::fs::File::create(ws.path("data/disk.img")).unwrap();
    f.write_at(b"header", 0).unwrap();
    f.write_at(b"trailer", 100 << 20).unwrap();
    drop(f);
    ws.config(&source_config(&ws, ""));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let want = std::fs::read(ws.path("data/disk.img")).unwrap();
    let allocated = |p: &Path| std::fs::metadata(p).unwrap().blocks() * 512;

    let out = ws.path("out");
    ws.run(&["restore", "esp/data", "--to", out.to_str().unwrap()])
        .assert_ok();
    assert!(
        allocated(&out.join("disk.img")) < 20 << 20,
        "restored sparse"
    );
    assert!(std::fs::read(out.join("disk.img")).unwrap() == want);

    std::fs::write(ws.path("data/disk.img"), vec![0xee; 101 << 20]).unwrap();
    ws.run(&["restore", "esp/data", "--force", "--no-safety-backup"])
        .assert_ok();
    assert!(std::fs::read(ws.path("data/disk.img")).unwrap() == want);
    assert!(allocated(&ws.path("data/disk.img")) < 20 << 20);
}

/// The top directory of a files restore got mode 0755 root instead of its own (a 0700
/// secrets dir became listable), both into a new directory and over an existing one.
#[test]
fn top_directory_keeps_its_mode_owner_and_mtime() {
    let ws = Workspace::new();
    write(&ws.path("data/secret"), "s", 0o600);
    let data = ws.path("data");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    if support::is_root() {
        std::os::unix::fs::chown(&data, Some(1234), Some(1234)).unwrap();
    }
    std::process::Command::new("touch")
        .args(["-d", "2020-02-03 04:05:06.123456789"])
        .arg(&data)
        .status()
        .unwrap();
    let top = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        (
            m.mode() & 0o7777,
            m.uid(),
            m.gid(),
            m.mtime(),
            m.mtime_nsec(),
        )
    };
    let want = top(&data);
    ws.config(&source_config(&ws, ""));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();

    let out = ws.path("out");
    ws.run(&["restore", "esp/data", "--to", out.to_str().unwrap()])
        .assert_ok();
    assert_eq!(top(&out), want, "into a new directory");

    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    if support::is_root() {
        std::os::unix::fs::chown(&data, Some(0), Some(0)).unwrap();
    }
    ws.run(&["restore", "esp/data", "--force"]).assert_ok();
    assert_eq!(top(&data), want, "over the existing directory");
}
