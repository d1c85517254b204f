//! Listing lifeboat snapshots and deleting them.

use crate::error::engine;
use crate::known::{Checked, KnownSnapshots};
use crate::{Repo, RepoError};
use lifeboat_core::layout::{tag_value, MANIFEST_PATH, TAG_LIFEBOAT, TAG_PRE_RESTORE, TAG_VERIFY};
use rustic_core::repofile::SnapshotFile;
use rustic_core::repofile::SnapshotId;
use rustic_core::{IndexedIdsStatus, Repository};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::Path;

pub use lifeboat_core::ports::{Listing, SnapshotInfo};

pub(crate) fn info_of(snap: &SnapshotFile) -> SnapshotInfo {
    let tags: Vec<String> = snap.tags.iter().cloned().collect();
    let tag = |k: &str| tag_value(&tags, k).unwrap_or_default().to_string();
    SnapshotInfo {
        id: snap.id.to_hex().to_string(),
        time: snap.time.timestamp().to_string(),
        timestamp: snap.time.timestamp(),
        hostname: snap.hostname.clone(),
        app: tag("app"),
        source: tag("source"),
        kind: tag("kind"),
        run_id: tag("run"),
        pre_restore: tags.iter().any(|t| t == TAG_PRE_RESTORE),
        size: snap.summary.as_ref().map_or(0, |s| s.total_bytes_processed),
        added: snap.summary.as_ref().map_or(0, |s| s.data_added_packed),
        verified: None,
        tags,
    }
}

/// Whether the snapshot's tree holds the manifest: `Complete` or `Incomplete` once its
/// trees were read, `None` when they could not be (then nothing is concluded). This is
/// rustic's `node_from_path` walk, which reports both cases as one error.
fn manifest_in(repo: &Repository<IndexedIdsStatus>, snap: &SnapshotFile) -> Option<Checked> {
    let mut tree = snap.tree;
    let mut parts = Path::new(MANIFEST_PATH)
        .iter()
        .filter(|p| *p != OsStr::new("/"));
    let mut next = parts.next();
    while let Some(name) = next {
        let nodes = repo.get_tree(&tree).ok()?.nodes;
        next = parts.next();
        let Some(node) = nodes.into_iter().find(|n| n.name() == name) else {
            return Some(Checked::Incomplete);
        };
        match (next, node.subtree) {
            (None, _) if node.is_file() => return Some(Checked::Complete),
            (Some(_), Some(sub)) if node.is_dir() => tree = sub,
            _ => return Some(Checked::Incomplete),
        }
    }
    Some(Checked::Incomplete)
}

/// Checks `snaps` for their manifest, spread over the CPUs: each check reads and
/// decrypts two trees, and the first list on a machine checks every backup.
fn check_all(repo: &Repository<IndexedIdsStatus>, snaps: &[SnapshotFile]) -> Vec<Option<Checked>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(8);
    let chunk = snaps.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = snaps
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|s| manifest_in(repo, s))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

impl Repo {
    /// Every complete lifeboat backup (a snapshot with its manifest), oldest first.
    /// Snapshots missing their manifest were interrupted between save and clean-up;
    /// they are skipped with a warning.
    pub fn list(&mut self) -> Result<Vec<SnapshotInfo>, RepoError> {
        Ok(self.listing()?.backups)
    }

    /// [`Repo::list`] and every verification record (oldest first), from one reading
    /// of the snapshot files.
    pub fn listing(&mut self) -> Result<Listing, RepoError> {
        let all = self.lifeboat_snapshots()?;
        let (mut records, snaps): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|s| s.tags.contains(TAG_VERIFY));
        records.sort();
        let verifications: Vec<SnapshotInfo> = records.iter().map(info_of).collect();
        let mut backups: Vec<SnapshotInfo> = self.complete(snaps)?.iter().map(info_of).collect();
        // Oldest first, so a later record of the same backup replaces an earlier one.
        let latest: HashMap<&str, bool> = verifications
            .iter()
            .filter_map(|v| {
                let id = tag_value(&v.tags, "verifies")?;
                Some((id, tag_value(&v.tags, "result") == Some("pass")))
            })
            .collect();
        for info in &mut backups {
            info.verified = latest.get(info.id.as_str()).copied();
        }
        backups.sort_by_key(|i| i.timestamp);
        Ok(Listing {
            backups,
            verifications,
        })
    }

    /// Every lifeboat snapshot: backups (complete or not) and verification records.
    pub(crate) fn lifeboat_snapshots(&self) -> Result<Vec<SnapshotFile>, RepoError> {
        let repo = self.open_repo()?;
        repo.get_matching_snapshots(is_ours)
            .or_else(|e| readable_snapshots(repo, e))
    }

    /// The snapshots of `snaps` that hold their manifest. What the local record
    /// settled is taken from it; only the others are checked (their trees read, with
    /// the index loaded), and the record is brought up to date.
    pub(crate) fn complete(
        &mut self,
        snaps: Vec<SnapshotFile>,
    ) -> Result<Vec<SnapshotFile>, RepoError> {
        let known = self.state_dir.as_deref().map(KnownSnapshots::load);
        let mut found = Vec::with_capacity(snaps.len());
        let mut unsettled = Vec::new();
        for snap in snaps {
            match known.as_ref().and_then(|k| k.get(&snap.id)) {
                Some(checked) => found.push((snap, Some(checked))),
                None => unsettled.push(snap),
            }
        }
        if !unsettled.is_empty() {
            let checked = self.with_index(|repo| Ok(check_all(repo, &unsettled)))?;
            found.extend(unsettled.into_iter().zip(checked));
        }
        if let Some(known) = &known {
            // Only what was settled goes in: an unreadable tree is checked again.
            known.store(
                found
                    .iter()
                    .filter_map(|(s, c)| c.map(|c| (s.id, c)))
                    .collect(),
            );
        }
        let mut complete = Vec::with_capacity(found.len());
        self.unreadable.clear();
        for (snap, checked) in found {
            match checked {
                Some(Checked::Complete) => complete.push(snap),
                Some(Checked::Incomplete) => {
                    tracing::warn!(snapshot = %snap.id, "snapshot has no manifest: ignored");
                }
                None => {
                    // Not an interrupted backup (that has a tree without manifest): the
                    // index or a pack is damaged, and the backup may well be repairable.
                    let info = info_of(&snap);
                    tracing::warn!(
                        snapshot = %snap.id,
                        source = %format!("{}/{}", info.app, info.source),
                        "the tree of this backup cannot be read (a lost index file or a damaged pack?): not listed; `lifeboat check` names the damage and README, Reliability, how to repair it"
                    );
                    self.unreadable.push(info);
                }
            }
        }
        Ok(complete)
    }

    /// Deletes snapshots by full id.
    pub fn delete(&self, ids: &[String]) -> Result<(), RepoError> {
        let ids: Vec<SnapshotId> = ids
            .iter()
            .map(|id| {
                id.parse::<SnapshotId>()
                    .map_err(|_| RepoError::SnapshotNotFound(id.clone()))
            })
            .collect::<Result<_, _>>()?;
        self.open_repo()?.delete_snapshots(&ids).map_err(engine)
    }
}

fn is_ours(s: &SnapshotFile) -> bool {
    s.tags.contains(TAG_LIFEBOAT) || s.tags.contains(TAG_VERIFY)
}

/// Reading all snapshot files at once failed (`first`): reads them one by one and
/// skips, with a warning naming it, each that cannot be read (truncated, bit rot), so
/// one damaged file does not make every backup unreachable. When none can be read,
/// the repository itself is the problem: `first` is the error.
fn readable_snapshots(
    repo: &rustic_core::Repository<rustic_core::OpenStatus>,
    first: Box<rustic_core::RusticError>,
) -> Result<Vec<SnapshotFile>, RepoError> {
    let ids: Vec<rustic_core::repofile::SnapshotId> = repo.list().map_err(engine)?.collect();
    let mut read = Vec::new();
    let mut damaged = 0;
    for id in &ids {
        let hex = id.to_string();
        match repo.get_snapshots(&[hex.as_str()]) {
            Ok(snaps) => read.extend(snaps.into_iter().filter(is_ours)),
            Err(e) => {
                damaged += 1;
                tracing::warn!(
                    "snapshot {} cannot be read, skipped (`lifeboat check` names the damage; README, Reliability, says how to repair): {}",
                    &hex[..8.min(hex.len())],
                    e.display_log()
                );
            }
        }
    }
    if damaged == ids.len() {
        return Err(engine(first));
    }
    Ok(read)
}
