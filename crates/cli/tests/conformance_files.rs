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

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::Workspace;

/// What a tree holds at one relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    kind: String,
    mode: u32,
    uid: u32,
    gid: u32,
    /// (seconds, nanoseconds); None for symlinks' when not compared.
    mtime: (i64, i64),
    /// File content hash, link target or device number.
    body: String,
    /// Other paths of the same inode (hard links), sorted.
    links: Vec<Vec<u8>>,
    /// For files of 16 MiB or more: "sparse" when less than half is allocated.
    alloc: &'static str,
    xattrs: Vec<(String, Vec<u8>)>,
}

type Tree = BTreeMap<Vec<u8>, Entry>;

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_symlink() {
        "symlink"
    } else if t.is_dir() {
        "dir"
    } else if t.is_file() {
        "file"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() {
        "chardev"
    } else {
        "blockdev"
    }
}

fn hash(bytes: &[u8]) -> String {
    // FNV-1a is enough to tell contents apart in a test.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{}:{h:016x}", bytes.len())
}

fn user_xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = xattr::list(path)
        .unwrap()
        .filter(|n| n.as_bytes().starts_with(b"user."))
        .map(|n| {
            let v = xattr::get(path, &n).unwrap().unwrap_or_default();
            (n.to_string_lossy().into_owned(), v)
        })
        .collect();
    out.sort();
    out
}

/// Every entry under `root` (and `root` itself as the empty path).
fn fingerprint(root: &Path) -> Tree {
    let mut raw: Vec<(Vec<u8>, PathBuf, std::fs::Metadata)> = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        raw.push((rel(root, &dir), dir.clone(), meta));
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else {
                raw.push((rel(root, &path), path, meta));
            }
        }
    }
    let mut inodes: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    for (r, _, m) in &raw {
        if m.is_file() && m.nlink() > 1 {
            inodes.entry(m.ino()).or_default().push(r.clone());
        }
    }
    raw.into_iter()
        .map(|(r, path, m)| {
            let kind = kind_of(&m);
            let body = match kind {
                "file" => hash(&std::fs::read(&path).unwrap()),
                "symlink" => hex(std::fs::read_link(&path).unwrap().as_os_str().as_bytes()),
                "chardev" | "blockdev" => format!("{:x}", m.rdev()),
                _ => String::new(),
            };
            let mut links = inodes.get(&m.ino()).cloned().unwrap_or_default();
            links.sort();
            let alloc = match (kind, m.len() >= 16 << 20) {
                ("file", true) if m.blocks() * 512 * 2 < m.len() => "sparse",
                ("file", true) => "dense",
                _ => "-",
            };
            let xattrs = if kind == "symlink" {
                Vec::new()
            } else {
                user_xattrs(&path)
            };
            let entry = Entry {
                kind: kind.to_string(),
                mode: if kind == "symlink" {
                    0
                } else {
                    m.mode() & 0o7777
                },
                uid: m.uid(),
                gid: m.gid(),
                mtime: (m.mtime(), m.mtime_nsec()),
                body,
                links,
                alloc,
                xattrs,
            };
            (r, entry)
        })
        .collect()
}

fn rel(root: &Path, path: &Path) -> Vec<u8> {
    path.strip_prefix(root)
        .unwrap()
        .as_os_str()
        .as_bytes()
        .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Differences between two trees, one line each (empty when equal).
fn diff(want: &Tree, got: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (path, w) in want {
        let name = String::from_utf8_lossy(path).escape_debug().to_string();
        match got.get(path) {
            None => out.push(format!("missing {name}")),
            Some(g) if g != w => out.push(format!("{name}: want {w:?}\n   got {g:?}")),
            Some(_) => {}
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(*p)) {
        out.push(format!(
            "extra {}",
            String::from_utf8_lossy(path).escape_debug()
        ));
    }
    out
}

fn sh(cmd: &str, args: &[&OsStr]) {
    let st = Command::new(cmd).args(args).status().unwrap();
    assert!(st.success(), "{cmd} {args:?}");
}

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

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
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

/// The modified state a restore over the existing tree meets: contents changed,
/// types changed (file ↔ dir, symlink ↔ file, FIFO → dir), modes and owners changed,
/// hard links regrouped, and a stray file in every directory.
fn mutate(root: &Path) {
    let mut paths = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path.clone());
            }
            paths.push(path);
        }
    }
    paths.sort();
    for (i, path) in paths.iter().enumerate() {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            continue; // under a directory replaced earlier
        };
        let kind = kind_of(&meta);
        match (i % 3, kind) {
            (0, "dir") => {
                std::fs::remove_dir_all(path).unwrap();
                std::fs::write(path, b"was a dir").unwrap();
            }
            (0, "file") => {
                std::fs::remove_file(path).unwrap();
                write(&path.join("was-a-file"), b"inside");
            }
            (0, "symlink") | (1, "fifo") | (1, "socket") => {
                std::fs::remove_file(path).unwrap();
                std::fs::write(path, b"was special").unwrap();
            }
            (1, "file") => {
                std::fs::remove_file(path).unwrap();
                std::os::unix::fs::symlink("/etc/hostname", path).unwrap();
            }
            (_, "file") => {
                std::fs::write(path, b"changed content, other length").unwrap();
                chmod(path, 0o666);
            }
            (_, "dir") => chmod(path, 0o777),
            (_, "fifo") => {
                std::fs::remove_file(path).unwrap();
                std::fs::create_dir(path).unwrap();
                write(&path.join("inside"), b"x");
            }
            _ => {}
        }
    }
    // A stray hard link to a file the backup has (it must not be written through).
    if let Some(file) = paths
        .iter()
        .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()))
    {
        let _ = std::fs::hard_link(file, root.join("stray-hardlink"));
    }
    for dir in paths
        .iter()
        .chain(std::iter::once(&root.to_path_buf()))
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
    {
        std::fs::write(dir.join("stray"), b"not in the backup").unwrap();
    }
    chmod(root, 0o755);
}

fn config(ws: &Workspace, exclude: &str) -> String {
    format!(
        "[[app]]\nname = \"c\"\n\n[[app.source]]\nname = \"d\"\nkind = \"files\"\npath = \"{}\"\nexclude = [{exclude}]\n",
        ws.path("data").display()
    )
}

fn assert_same(what: &str, case: &str, want: &Tree, got: &Tree) {
    let d = diff(want, got);
    assert!(d.is_empty(), "{case}: {what}:\n{}", d.join("\n"));
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

/// One entry of a random tree.
#[derive(Debug, Clone)]
enum Gen {
    File(Vec<u8>, u32),
    Dir(u32),
    Symlink(Vec<u8>),
    /// A hard link to the n-th file made so far (if any).
    Link(usize),
    Fifo,
}

fn gen_entry() -> impl proptest::strategy::Strategy<Value = (Vec<Vec<u8>>, Gen)> {
    use proptest::prelude::*;
    let name = prop_oneof![
        Just(b"a".to_vec()),
        Just(b"b".to_vec()),
        Just(b"-x".to_vec()),
        Just(b"new\nline".to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"sp ace".to_vec()),
    ];
    let path = proptest::collection::vec(name, 1..4);
    let mode = prop_oneof![
        Just(0o644u32),
        Just(0o600),
        Just(0o4755),
        Just(0o1777),
        Just(0o000)
    ];
    let gen = prop_oneof![
        (proptest::collection::vec(any::<u8>(), 0..300), mode.clone())
            .prop_map(|(c, m)| Gen::File(c, m)),
        mode.prop_map(|m| Gen::Dir(m | 0o700)),
        proptest::collection::vec(any::<u8>().prop_filter("no NUL", |b| *b != 0), 1..20)
            .prop_map(Gen::Symlink),
        (0usize..4).prop_map(Gen::Link),
        Just(Gen::Fifo),
    ];
    (path, gen)
}

/// Builds the entries that fit (a path whose parent is not a directory is skipped).
fn build(root: &Path, entries: &[(Vec<Vec<u8>>, Gen)]) {
    let mut files: Vec<PathBuf> = Vec::new();
    for (parts, gen) in entries {
        let path = parts
            .iter()
            .fold(root.to_path_buf(), |p, c| p.join(OsStr::from_bytes(c)));
        let parent_ok = path
            .parent()
            .is_some_and(|p| std::fs::create_dir_all(p).is_ok() && p.is_dir());
        if !parent_ok || std::fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        match gen {
            Gen::File(content, mode) => {
                std::fs::write(&path, content).unwrap();
                chmod(&path, *mode);
                files.push(path);
            }
            Gen::Dir(mode) => {
                std::fs::create_dir(&path).unwrap();
                chmod(&path, *mode);
            }
            Gen::Symlink(target) => {
                std::os::unix::fs::symlink(OsStr::from_bytes(target), &path).unwrap()
            }
            Gen::Link(n) if !files.is_empty() => {
                std::fs::hard_link(&files[n % files.len()], &path).unwrap()
            }
            Gen::Link(_) => {}
            Gen::Fifo => sh("mkfifo", &[path.as_os_str()]),
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 6,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Random small trees round-trip exactly: fresh, over a mutated copy, and verify.
    #[test]
    fn conformance_random_trees(entries in proptest::collection::vec(gen_entry(), 0..14)) {
        let ws = Workspace::new();
        let data = ws.path("data");
        std::fs::create_dir_all(&data).unwrap();
        build(&data, &entries);
        let want = fingerprint(&data);
        ws.config(&config(&ws, ""));
        ws.run(&["init"]).assert_ok();
        ws.run(&["backup"]).assert_ok();
        let fresh = ws.path("fresh");
        ws.run(&["restore", "c/d", "--to", fresh.to_str().unwrap()]).assert_ok();
        assert_same("random tree into an empty directory", "random", &want, &fingerprint(&fresh));
        mutate(&data);
        ws.run(&["restore", "c/d", "--force", "--delete", "--no-safety-backup"]).assert_ok();
        assert_same("random tree over a mutated copy", "random", &want, &fingerprint(&data));
        ws.run(&["verify", "c/d"]).assert_ok();
    }
}
