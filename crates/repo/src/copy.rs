//! Copying lifeboat's snapshots to another repository (a `[[copy_to]]`): rustic's copy,
//! so only the blobs the destination lacks travel, and the verification records after
//! their backups, pointed at the backups' ids in the destination.
//!
//! A snapshot is "in" the destination when one there has the same time and tree:
//! rustic's copy gives every copy a new id (the id is the hash of the stored file),
//! while time and tree name the content. A copy interrupted before its snapshot files
//! were saved leaves only blobs behind, which the next copy reuses.

use crate::error::engine;
use crate::snapshots::info_of;
use crate::{Repo, RepoError, SnapshotInfo};
use lifeboat_core::layout::{tag_value, TAG_VERIFY};
use rustic_core::repofile::SnapshotFile;
use std::collections::HashMap;

/// What one copy moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopySummary {
    /// Backups copied now.
    pub backups: usize,
    /// Verification records copied now.
    pub records: usize,
    /// Selected backups the destination had already.
    pub present: usize,
    /// Bytes of pack files the destination grew by.
    pub bytes: u64,
}

/// Content identity of a snapshot across repositories.
type Key = (i128, String);

fn key_of(snap: &SnapshotFile) -> Key {
    (
        snap.time.timestamp().as_nanosecond(),
        snap.tree.to_hex().to_string(),
    )
}

impl Repo {
    /// Copies to `dest` the complete backups `wanted` selects that it lacks, then the
    /// verification records of every selected backup it holds. Takes no locks: the
    /// caller holds this repository's (shared) and `dest`'s (shared).
    pub fn copy_to(
        &mut self,
        dest: &mut Repo,
        wanted: &dyn Fn(&SnapshotInfo) -> bool,
    ) -> Result<CopySummary, RepoError> {
        // One reading of the snapshot files serves both the backups and the records.
        let (records, backups): (Vec<_>, Vec<_>) = self
            .lifeboat_snapshots()?
            .into_iter()
            .partition(|s| s.tags.contains(TAG_VERIFY));
        let backups: Vec<SnapshotFile> = self
            .complete(backups)?
            .into_iter()
            .filter(|s| wanted(&info_of(s)))
            .collect();
        let there = dest.keys()?;
        let missing: Vec<SnapshotFile> = backups
            .iter()
            .filter(|s| !there.contains_key(&key_of(s)))
            .cloned()
            .collect();
        let mut summary = CopySummary {
            present: backups.len() - missing.len(),
            ..CopySummary::default()
        };
        let before = dest.data_size()?;
        self.copy_snapshots(dest, &missing)?;
        summary.backups = missing.len();
        let there = if missing.is_empty() {
            there
        } else {
            dest.keys()?
        };
        let records = pointed_at_copies(&records, &backups, &there);
        self.copy_snapshots(dest, &records)?;
        summary.records = records.len();
        summary.bytes = dest.data_size()?.saturating_sub(before);
        Ok(summary)
    }

    /// The content keys of this repository's lifeboat snapshots, with their ids.
    fn keys(&self) -> Result<HashMap<Key, String>, RepoError> {
        Ok(self
            .lifeboat_snapshots()?
            .iter()
            .map(|s| (key_of(s), s.id.to_hex().to_string()))
            .collect())
    }

    fn copy_snapshots(&mut self, dest: &mut Repo, snaps: &[SnapshotFile]) -> Result<(), RepoError> {
        if snaps.is_empty() {
            return Ok(());
        }
        let full = self.take_full()?;
        let copied = dest.adding(|d| full.copy(d, snaps).map_err(engine));
        self.put_back(full);
        copied
    }
}

/// The records to copy: those of a backup the destination holds (as `there` says),
/// not there yet, with their `verifies=` tag naming the backup's id in the destination.
fn pointed_at_copies(
    records: &[SnapshotFile],
    backups: &[SnapshotFile],
    there: &HashMap<Key, String>,
) -> Vec<SnapshotFile> {
    let copy_id: HashMap<String, &String> = backups
        .iter()
        .filter_map(|b| Some((b.id.to_hex().to_string(), there.get(&key_of(b))?)))
        .collect();
    records
        .iter()
        .filter(|r| !there.contains_key(&key_of(r)))
        .filter_map(|r| {
            let tags: Vec<String> = r.tags.iter().cloned().collect();
            let copied = copy_id.get(tag_value(&tags, "verifies")?)?;
            let mut record = r.clone();
            let mut retagged = rustic_core::StringList::default();
            for tag in &tags {
                match tag.strip_prefix("verifies=") {
                    Some(_) => retagged.add(format!("verifies={copied}")),
                    None => retagged.add(tag.clone()),
                }
            }
            record.tags = retagged;
            Some(record)
        })
        .collect()
}
