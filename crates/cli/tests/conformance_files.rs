//! Conformance of the files kind: a table of hostile trees, each backed up, restored
//! into an empty directory and over a modified copy of itself (`--force`, then
//! `--force --delete`), compared exactly, and verified with `lifeboat verify`.
//!
//! Compared per entry: type, mode with setuid/setgid/sticky, uid/gid, mtime to the
//! nanosecond (files, dirs, FIFOs and sockets; symlinks' own times too), content,
//! symlink target, device numbers, hard-link groups, `user.*` xattrs, and whether a
//! large file is sparse (st_blocks: less than half allocated). Allocation is not
//! compared block for block: a chunk mixing data and zeros is stored whole, so a hole
//! is restored from the first all-zero chunk (0.5–8 MiB) on.
//!
//! Sockets: restic skips them; rustic stores them and restores them with mknod (an
//! unbound socket inode, as `cp -a`/rsync do). They are compared like FIFOs.
//!
//! Random trees are in `conformance_files_random.rs`; the comparison is
//! `support/fingerprint.rs`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use support::fingerprint::{assert_same, chmod, config, fingerprint, mutate, sh, write};
use support::Workspace;

fn touch_ns(path: &Path, stamp: &str) {
    sh(
        "touch",
        &[
            "-h".as_ref(),
            "-d".as_ref(),
            stamp.as_ref(),
            path.as_os_str(),
        ],
    );
}

// ---- the table of odd data -------------------------------------------------------

fn odd_names(d: &Path) {
    for name in [
        &b"new\nline"[..],
        b"\xff\xfeinvalid-utf8",
        b"-rf",
        b"--help",
        b" lead and trail ",
        b"tab\there",
        b"caf\xc3\xa9",
        b"back\\slash",
        b"quote\"'",
    ] {
        let name = OsStr::from_bytes(name);
        write(&d.join(name), name.as_bytes());
        std::fs::create_dir_all(d.join("dir").join(name)).unwrap();
        write(&d.join("dir").join(name).join(name), b"x");
    }
    write(&d.join("x".repeat(255)), b"long name");
}

fn hard_links(d: &Path) {
    write(&d.join("a"), b"shared content");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::hard_link(d.join("a"), d.join("b")).unwrap();
    std::fs::hard_link(d.join("a"), d.join("sub/c")).unwrap();
    write(&d.join("x"), b"second group");
    std::fs::hard_link(d.join("x"), d.join("sub/y")).unwrap();
    write(&d.join("alone"), b"one link");
}

fn sparse_files(d: &Path) {
    let mib = 1 << 20;
    let f = std::fs::File::create(d.join("holes")).unwrap();
    f.write_at(&vec![0xab; mib], 0).unwrap();
    f.write_at(&vec![0xcd; mib], 64 * mib as u64).unwrap();
    f.set_len(130 * mib as u64).unwrap();
    let g = std::fs::File::create(d.join("all-hole")).unwrap();
    g.set_len(40 * mib as u64).unwrap();
}

fn fifos_and_sockets(d: &Path) {
    sh("mkfifo", &[d.join("fifo").as_os_str()]);
    chmod(&d.join("fifo"), 0o640);
    let sock = d.join("sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    write(&d.join("plain"), b"p");
}

fn xattrs(d: &Path) {
    write(&d.join("f"), b"with xattrs");
    xattr::set(d.join("f"), "user.text", b"hello").unwrap();
    xattr::set(d.join("f"), "user.bin", b"\0\x01\xff").unwrap();
    xattr::set(d.join("f"), "user.empty", b"").unwrap();
    std::fs::create_dir_all(d.join("dir")).unwrap();
    xattr::set(d.join("dir"), "user.on-dir", b"yes").unwrap();
}

fn owners_and_special_modes(d: &Path) {
    write(&d.join("setuid"), b"#!/bin/sh\n");
    write(&d.join("setgid"), b"#!/bin/sh\n");
    write(&d.join("owned"), b"by 1234");
    std::fs::create_dir_all(d.join("sticky")).unwrap();
    std::fs::create_dir_all(d.join("private")).unwrap();
    write(&d.join("private/secret"), b"s");
    std::os::unix::fs::symlink("owned", d.join("link-owned")).unwrap();
    if support::is_root() {
        std::os::unix::fs::chown(d.join("owned"), Some(1234), Some(5678)).unwrap();
        std::os::unix::fs::chown(d.join("private"), Some(1234), Some(1234)).unwrap();
        std::os::unix::fs::lchown(d.join("link-owned"), Some(4321), Some(8765)).unwrap();
        std::os::unix::fs::chown(d.join("setuid"), Some(1234), Some(0)).unwrap();
    }
    chmod(&d.join("setuid"), 0o4755);
    chmod(&d.join("setgid"), 0o2711);
    chmod(&d.join("sticky"), 0o1777);
    chmod(&d.join("private/secret"), 0o400);
    chmod(&d.join("private"), 0o700);
    chmod(&d.join("owned"), 0o000);
}

fn nanosecond_mtimes(d: &Path) {
    write(&d.join("f"), b"t");
    std::fs::create_dir_all(d.join("dir")).unwrap();
    std::os::unix::fs::symlink("f", d.join("l")).unwrap();
    touch_ns(&d.join("f"), "@1600000000.123456789");
    touch_ns(&d.join("l"), "@1500000000.000000001");
    touch_ns(&d.join("dir"), "@1400000000.999999999");
    touch_ns(d, "@1300000000.5");
}

fn symlinks(d: &Path) {
    let link = |target: &str, name: &str| std::os::unix::fs::symlink(target, d.join(name)).unwrap();
    link("/etc/passwd", "out-absolute");
    link("../../outside", "out-relative");
    link("loop-b", "loop-a");
    link("loop-a", "loop-b");
    link("self", "self");
    link("does/not/exist", "dangling");
    std::fs::create_dir_all(d.join("real")).unwrap();
    write(&d.join("real/file"), b"r");
    link("real", "to-dir");
    link(&"y".repeat(1000), "long-target");
}

fn empty_dirs(d: &Path) {
    std::fs::create_dir_all(d.join("a/b/c")).unwrap();
    std::fs::create_dir_all(d.join("e")).unwrap();
    chmod(&d.join("e"), 0o500);
    chmod(d, 0o700);
}

fn nothing(d: &Path) {
    chmod(d, 0o750);
}

/// Backs the case's tree up, restores it fresh and over a mutated copy, compares each.
fn round_trip(case: &str, make: fn(&Path)) {
    let ws = Workspace::new();
    let data = ws.path("data");
    std::fs::create_dir_all(&data).unwrap();
    make(&data);
    let want = fingerprint(&data);
    ws.config(&config(&ws, ""));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();

    let fresh = ws.path("fresh");
    ws.run(&["restore", "c/d", "--to", fresh.to_str().unwrap()])
        .assert_ok();
    assert_same(
        "restore into an empty directory",
        case,
        &want,
        &fingerprint(&fresh),
    );

    // Over the existing, modified tree: without --delete, extras stay.
    mutate(&data);
    ws.run(&["restore", "c/d", "--force"]).assert_ok();
    let mut got = fingerprint(&data);
    let strays: Vec<Vec<u8>> = got
        .keys()
        .filter(|p| !want.contains_key(*p))
        .cloned()
        .collect();
    for p in &strays {
        let name = Path::new(OsStr::from_bytes(p));
        assert!(
            name.file_name()
                .is_some_and(|n| n.as_bytes().starts_with(b"stray"))
                || name
                    .components()
                    .any(|c| c.as_os_str() == "was-a-file" || c.as_os_str() == "inside"),
            "{case}: unexpected extra {}",
            name.display()
        );
        got.remove(p);
    }
    assert_same("restore --force over a modified tree", case, &want, &got);

    ws.run(&["restore", "c/d", "--force", "--delete"])
        .assert_ok();
    assert_same("restore --force --delete", case, &want, &fingerprint(&data));

    ws.run(&["verify", "c/d"]).assert_ok();
}

#[test]
fn conformance_odd_names() {
    round_trip("odd names", odd_names);
}

#[test]
fn conformance_hard_links() {
    round_trip("hard links", hard_links);
}

#[test]
fn conformance_sparse_files() {
    round_trip("sparse files", sparse_files);
}

#[test]
fn conformance_fifos_and_sockets() {
    round_trip("fifos and sockets", fifos_and_sockets);
}

#[test]
fn conformance_xattrs() {
    round_trip("xattrs", xattrs);
}

#[test]
fn conformance_owners_and_special_modes() {
    round_trip("owners, setuid, sticky", owners_and_special_modes);
}

#[test]
fn conformance_nanosecond_mtimes() {
    round_trip("nanosecond mtimes", nanosecond_mtimes);
}

#[test]
fn conformance_symlinks() {
    round_trip("symlinks", symlinks);
}

#[test]
fn conformance_empty_dirs() {
    round_trip("empty dirs", empty_dirs);
}

#[test]
fn conformance_empty_tree() {
    round_trip("empty tree", nothing);
}

/// `--delete` over an existing tree whose excluded paths the backup lacks: they stay,
/// everything else equals the backup; `--delete-excluded` removes them too.
#[test]
fn conformance_delete_over_tree_with_excluded_paths() {
    let ws = Workspace::new();
    let data = ws.path("data");
    write(&data.join("keep/a.txt"), b"a");
    write(&data.join("database/PG_VERSION"), b"15");
    write(&data.join("scratch.tmp"), b"t");
    write(&data.join("keep/important.tmp"), b"kept by negation");
    write(&data.join("cache/x/y"), b"c");
    ws.config(&config(
        &ws,
        "\"database/\", \"*.tmp\", \"!important.tmp\", \"/cache/\"",
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let mut want = fingerprint(&data);
    for p in [
        "database",
        "database/PG_VERSION",
        "scratch.tmp",
        "cache",
        "cache/x",
        "cache/x/y",
    ] {
        want.remove(p.as_bytes());
    }
    let fresh = ws.path("fresh");
    ws.run(&["restore", "c/d", "--to", fresh.to_str().unwrap()])
        .assert_ok();
    assert_same(
        "restore of an excluding backup",
        "excludes",
        &want,
        &fingerprint(&fresh),
    );

    write(&data.join("stray.txt"), b"not in the backup");
    write(&data.join("database/base/1"), b"live data");
    let before_excluded = fingerprint(&data.join("database"));
    let plan = ws
        .run(&["restore", "c/d", "--force", "--delete", "--plan"])
        .assert_ok();
    assert!(plan.stdout.contains("stray.txt"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("database"), "{}", plan.stdout);
    ws.run(&["restore", "c/d", "--force", "--delete"])
        .assert_ok();
    assert!(!data.join("stray.txt").exists());
    assert_eq!(fingerprint(&data.join("database")), before_excluded);
    assert!(data.join("scratch.tmp").exists() && data.join("cache/x/y").exists());

    let plan = ws
        .run(&["restore", "c/d", "--force", "--delete-excluded", "--plan"])
        .assert_ok();
    for p in ["database", "scratch.tmp", "cache"] {
        assert!(plan.stdout.contains(p), "{p}: {}", plan.stdout);
    }
    ws.run(&["restore", "c/d", "--force", "--delete-excluded"])
        .assert_ok();
    assert_same(
        "restore --delete-excluded",
        "excludes",
        &want,
        &fingerprint(&data),
    );
    ws.run(&["verify", "c/d"]).assert_ok();
}

/// Stock restic reads what lifeboat stored of odd data: `check --read-data` passes and
/// its restore equals the source (the stored root node and node sizes are restic's).
#[test]
fn conformance_stock_restic_restores_the_same_tree() {
    let ws = Workspace::new();
    let data = ws.path("data");
    std::fs::create_dir_all(&data).unwrap();
    for (dir, make) in [
        ("names", odd_names as fn(&Path)),
        ("links", hard_links),
        ("xattrs", xattrs),
        ("modes", owners_and_special_modes),
        ("symlinks", symlinks),
        ("empty", empty_dirs),
    ] {
        std::fs::create_dir_all(data.join(dir)).unwrap();
        make(&data.join(dir));
    }
    let want = fingerprint(&data);
    ws.config(&config(&ws, ""));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let check = ws.restic(&["check", "--read-data"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let id = ws.snapshots_of("c", "d")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = ws.path("restic-out");
    let restore = ws.restic(&["restore", &id, "--target", out.to_str().unwrap()]);
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    assert_same(
        "stock restic restore",
        "restic",
        &want,
        &fingerprint(&out.join("c/d")),
    );
}
