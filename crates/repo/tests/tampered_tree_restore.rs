//! A restore from a real tampered repository: snapshots written through rustic_core's
//! public archiver with node names no file system gives (`../../x`, a duplicate `d`:
//! a symlink to elsewhere, then a directory of that name), restored through lifeboat's
//! own tree restore. Each is refused before anything is written, and nothing appears
//! outside the target (rustic_core patch 9, end to end).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use lifeboat_core::ports::TreeRestoreOptions;
use lifeboat_repo::Repo;
use rustic_core::repofile::{Metadata, Node, NodeType, SnapshotFile};
use rustic_core::{BackupOptions, ReadSource, ReadSourceEntry, RusticResult};
use std::ffi::OsStr;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use support::{options, rustic};

const ROOT: &str = "/app/files";

/// What a tamperer hands the archiver: entries whose node names it chose.
struct Hostile(Mutex<Vec<ReadSourceEntry<Cursor<Vec<u8>>>>>);

impl ReadSource for Hostile {
    type Open = Cursor<Vec<u8>>;
    type Iter = std::vec::IntoIter<RusticResult<ReadSourceEntry<Self::Open>>>;

    fn size(&self) -> RusticResult<Option<u64>> {
        Ok(None)
    }

    fn entries(&self) -> Self::Iter {
        let taken = std::mem::take(&mut *self.0.lock().unwrap());
        taken.into_iter().map(Ok).collect::<Vec<_>>().into_iter()
    }
}

fn file(path: &str, name: &str, body: &[u8]) -> ReadSourceEntry<Cursor<Vec<u8>>> {
    let meta = Metadata {
        mode: Some(0o644),
        size: body.len() as u64,
        ..Default::default()
    };
    ReadSourceEntry {
        path: PathBuf::from(path),
        node: Node::new_node(OsStr::new(name), NodeType::File, meta),
        open: Some(Cursor::new(body.to_vec())),
    }
}

fn symlink(path: &str, name: &str, target: &Path) -> ReadSourceEntry<Cursor<Vec<u8>>> {
    ReadSourceEntry {
        path: PathBuf::from(path),
        node: Node::new_node(
            OsStr::new(name),
            NodeType::from_link(target),
            Metadata::default(),
        ),
        open: None,
    }
}

/// A repository made by lifeboat, then a snapshot of `entries` written into it by
/// rustic_core directly; returns the snapshot id.
fn tampered_snapshot(repo: &Path, entries: Vec<ReadSourceEntry<Cursor<Vec<u8>>>>) -> String {
    if !repo.join("config").exists() {
        Repo::init(&options(repo, None)).unwrap();
    }
    let rustic = rustic(repo).to_indexed_ids().unwrap();
    let saved = rustic
        .archive(
            &BackupOptions::default(),
            &Hostile(Mutex::new(entries)),
            SnapshotFile::default(),
            &[PathBuf::from(ROOT)],
        )
        .unwrap();
    saved.id.to_string()
}

/// Every path under `dir`, relative to it.
fn tree_of(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn restore(repo: &Path, id: &str, target: &Path) -> String {
    let mut lifeboat = Repo::open(&options(repo, None)).unwrap();
    let reader = lifeboat.reader().unwrap();
    let refused = reader
        .restore_tree(id, ROOT, target, &TreeRestoreOptions::default())
        .expect_err("a tampered tree was restored");
    refused.to_string()
}

#[test]
fn a_node_named_to_climb_out_of_the_target_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let id = tampered_snapshot(
        &repo,
        vec![
            file("/app/files/ok.txt", "ok.txt", b"fine\n"),
            file("/app/files/evil", "../../escaped.txt", b"pwned\n"),
        ],
    );
    let target = dir.path().join("a/b/target");
    std::fs::create_dir_all(&target).unwrap();
    let why = restore(&repo, &id, &target);
    assert!(why.contains("unsafe"), "{why}");
    assert!(
        !dir.path().join("escaped.txt").exists() && !dir.path().join("a/escaped.txt").exists(),
        "written outside the target"
    );
    assert_eq!(
        tree_of(&target),
        Vec::<String>::new(),
        "written into the target"
    );
}

#[test]
fn a_duplicate_name_redirecting_through_a_symlink_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    // `d` the symlink to elsewhere, then `d/f.txt`: the archiver makes a directory `d`
    // beside the symlink, so the tree holds two entries named `d`.
    let id = tampered_snapshot(
        &repo,
        vec![
            symlink("/app/files/d", "d", &elsewhere),
            file("/app/files/d/f.txt", "f.txt", b"through the link\n"),
        ],
    );
    let target = dir.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let why = restore(&repo, &id, &target);
    assert!(why.contains("duplicate"), "{why}");
    assert_eq!(
        tree_of(&elsewhere),
        Vec::<String>::new(),
        "written through the link"
    );
    assert_eq!(
        tree_of(&target),
        Vec::<String>::new(),
        "written into the target"
    );
}
