//! `Repo::list` shows only complete backups (snapshots holding their manifest), whether
//! it reads their trees or takes the answer from its local record of earlier checks:
//! a snapshot saved without its manifest (a backup interrupted between rustic's save
//! and lifeboat's delete) is skipped before and after the record knows it, when it
//! appears after the record was written, and when the record is damaged. The record
//! really spares the trees: with the index gone, only a list that knows every snapshot
//! still lists them. Verification results go to the backups they name, the latest
//! winning.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use lifeboat_core::layout::{tags, TAG_VERIFY};
use lifeboat_repo::{Repo, SnapshotMeta, StreamEntry};
use std::path::{Path, PathBuf};
use support::{options, rustic};

/// Stores a backup (or, by its tags, a verification record) with its manifest and
/// returns its short id.
fn store(repo: &mut Repo, tags: Vec<String>, minutes_ago: i64) -> String {
    let meta = SnapshotMeta {
        root: "/shop/db".into(),
        tags,
        time: jiff::Zoned::now()
            .checked_sub(jiff::SignedDuration::from_mins(minutes_ago))
            .unwrap(),
    };
    let entry = StreamEntry {
        name: "db.txt".into(),
        reader: Box::new(std::io::Cursor::new(b"rows\n".to_vec())),
        hash: false,
    };
    repo.store_streams(&meta, vec![entry], Box::new(|_| Ok(b"{}".to_vec())))
        .unwrap()
        .id
}

/// The full ids of the snapshots `short` names.
fn full(repo: &Path, short: &[&str]) -> Vec<String> {
    let rustic = rustic(repo);
    short
        .iter()
        .map(|s| {
            let snap = rustic.get_snapshot_from_str(s, |_| true).unwrap();
            snap.id.to_hex().to_string()
        })
        .collect()
}

fn verification(of: &str, pass: bool) -> Vec<String> {
    vec![
        TAG_VERIFY.to_string(),
        "app=shop".into(),
        "source=db".into(),
        format!("verifies={of}"),
        format!("result={}", if pass { "pass" } else { "fail" }),
        "run=v".into(),
    ]
}

/// Saves a copy of snapshot `of` whose tree is the payload's (`/shop`): lifeboat's
/// tags, no manifest, as a backup interrupted right after rustic saved it. Returns its
/// full id.
fn interrupted_copy(repo: &Path, of: &str, minutes_later: i64) -> String {
    let repo = rustic(repo).to_indexed_ids().unwrap();
    let mut snap = repo.get_snapshots(&[of]).unwrap().remove(0);
    let shop = repo
        .get_tree(&snap.tree)
        .unwrap()
        .nodes
        .into_iter()
        .find(|n| n.name() == std::ffi::OsStr::new("shop"))
        .unwrap();
    snap.tree = shop.subtree.unwrap();
    snap.time = snap
        .time
        .checked_add(jiff::SignedDuration::from_mins(minutes_later))
        .unwrap();
    let before: Vec<_> = repo.get_all_snapshots().unwrap();
    repo.save_snapshots(vec![snap]).unwrap();
    let after = repo.get_all_snapshots().unwrap();
    let new = after
        .iter()
        .find(|s| !before.iter().any(|b| b.id == s.id))
        .unwrap();
    new.id.to_hex().to_string()
}

fn listed(repo: &mut Repo) -> Vec<String> {
    repo.list().unwrap().into_iter().map(|s| s.id).collect()
}

/// The record's only file, under the state dir's per-repository directory.
fn record(state: &Path) -> PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(state).unwrap().flatten().collect();
    assert_eq!(dirs.len(), 1, "one directory per repository");
    dirs[0].path().join("snapshot-manifests")
}

#[test]
fn list_skips_snapshots_without_manifest_with_and_without_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    let state = dir.path().join("state");
    let mut repo = Repo::init(&options(&path, Some(state.clone()))).unwrap();
    let complete = store(&mut repo, tags("shop", "db", "command", "r1"), 60);
    let [complete] = full(&path, &[&complete]).try_into().unwrap();
    let lost = interrupted_copy(&path, &complete, 1);

    // cold: the trees are read, and what they showed recorded
    assert_eq!(listed(&mut repo), [complete.as_str()]);
    let text = std::fs::read_to_string(record(&state)).unwrap();
    assert!(text.contains(&format!("complete {complete}")), "{text}");
    assert!(text.contains(&format!("incomplete {lost}")), "{text}");

    // warm: the same answer from the record, in a new process's handle too
    assert_eq!(listed(&mut repo), [complete.as_str()]);
    let mut again = Repo::open(&options(&path, Some(state.clone()))).unwrap();
    assert_eq!(listed(&mut again), [complete.as_str()]);

    // a backup and an interrupted one after the record was written: both checked
    let second = store(&mut again, tags("shop", "db", "command", "r2"), 30);
    let [second] = full(&path, &[&second]).try_into().unwrap();
    let lost_later = interrupted_copy(&path, &second, 1);
    assert_eq!(listed(&mut again), [complete.as_str(), second.as_str()]);
    let text = std::fs::read_to_string(record(&state)).unwrap();
    assert!(text.contains(&format!("incomplete {lost_later}")), "{text}");

    // a damaged record is no record: everything is checked again
    std::fs::write(record(&state), text.replace("incomplete", "complete")).unwrap();
    assert_eq!(listed(&mut again), [complete.as_str(), second.as_str()]);
    std::fs::write(record(&state), "lifeboat snapshot manifests v1\n").unwrap();
    assert_eq!(listed(&mut again), [complete.as_str(), second.as_str()]);

    // without a state dir every list checks every snapshot
    let mut stateless = Repo::open(&options(&path, None)).unwrap();
    assert_eq!(listed(&mut stateless), [complete.as_str(), second.as_str()]);

    // the record spares the trees and the index: with the index files gone, a list
    // that knows every snapshot still lists them, one that must read trees cannot
    for entry in std::fs::read_dir(path.join("index")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    assert_eq!(listed(&mut again), [complete.as_str(), second.as_str()]);
    assert_eq!(listed(&mut stateless), Vec::<String>::new());
}

#[test]
fn the_latest_verification_of_each_backup_is_the_one_shown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    let mut repo = Repo::init(&options(&path, Some(dir.path().join("state")))).unwrap();
    let a = store(&mut repo, tags("shop", "db", "command", "r1"), 60);
    let b = store(&mut repo, tags("shop", "db", "command", "r2"), 50);
    let c = store(&mut repo, tags("shop", "db", "command", "r3"), 40);
    let [a, b, c] = full(&path, &[&a, &b, &c]).try_into().unwrap();
    store(&mut repo, verification(&a, true), 30);
    store(&mut repo, verification(&b, true), 20);
    store(&mut repo, verification(&a, false), 10);
    store(&mut repo, verification(&b, true), 5);

    let listing = repo.listing().unwrap();
    let verified: Vec<_> = listing
        .backups
        .iter()
        .map(|s| (s.id.clone(), s.verified))
        .collect();
    assert_eq!(
        verified,
        [(a.clone(), Some(false)), (b.clone(), Some(true)), (c, None)]
    );
    let of: Vec<_> = listing
        .verifications
        .iter()
        .map(|v| lifeboat_core::layout::tag_value(&v.tags, "verifies").unwrap())
        .collect();
    assert_eq!(
        of,
        [a.as_str(), b.as_str(), a.as_str(), b.as_str()],
        "oldest first"
    );
    assert_eq!(repo.list().unwrap().len(), 3);
}
