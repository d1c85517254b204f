//! Conformance of the files kind on random small trees (proptest): odd names, modes,
//! symlinks, hard links and FIFOs, each backed up, restored into an empty directory and
//! over a mutated copy, compared exactly (`support/fingerprint.rs`), and verified.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use support::fingerprint::{assert_same, chmod, config, fingerprint, mutate, sh};
use support::Workspace;

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
