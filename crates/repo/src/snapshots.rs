//! Listing lifeboat snapshots and deleting them.

use crate::error::engine;
use crate::{Repo, RepoError};
use lifeboat_core::layout::{tag_value, MANIFEST_PATH, TAG_LIFEBOAT, TAG_PRE_RESTORE, TAG_VERIFY};
use rustic_core::repofile::SnapshotFile;
use rustic_core::repofile::SnapshotId;
use std::path::Path;

pub use lifeboat_core::ports::SnapshotInfo;

fn info_of(snap: &SnapshotFile) -> SnapshotInfo {
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

impl Repo {
    /// Every complete lifeboat backup (a snapshot with its manifest), oldest first.
    /// Snapshots missing their manifest were interrupted between save and clean-up;
    /// they are skipped with a warning.
    pub fn list(&mut self) -> Result<Vec<SnapshotInfo>, RepoError> {
        let all = self
            .open_repo()?
            .get_matching_snapshots(|s| {
                s.tags.contains(TAG_LIFEBOAT) || s.tags.contains(TAG_VERIFY)
            })
            .map_err(engine)?;
        let (mut verifications, snaps): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|s| s.tags.contains(TAG_VERIFY));
        if snaps.is_empty() {
            return Ok(Vec::new());
        }
        verifications.sort();
        let mut infos = self.with_index(|repo| {
            let mut infos = Vec::new();
            for snap in &snaps {
                match repo.node_from_path(snap.tree, Path::new(MANIFEST_PATH)) {
                    Ok(_) => infos.push(info_of(snap)),
                    Err(_) => {
                        tracing::warn!(snapshot = %snap.id, "snapshot has no manifest: ignored")
                    }
                }
            }
            Ok(infos)
        })?;
        for info in &mut infos {
            // sorted oldest first, so the last match is the latest verification
            info.verified = verifications
                .iter()
                .rev()
                .map(info_of)
                .find(|v| tag_value(&v.tags, "verifies") == Some(info.id.as_str()))
                .map(|v| tag_value(&v.tags, "result") == Some("pass"));
        }
        infos.sort_by_key(|i| i.timestamp);
        Ok(infos)
    }

    /// Every verification record, oldest first.
    pub fn verifications(&mut self) -> Result<Vec<SnapshotInfo>, RepoError> {
        let mut records = self
            .open_repo()?
            .get_matching_snapshots(|s| s.tags.contains(TAG_VERIFY))
            .map_err(engine)?;
        records.sort();
        Ok(records.iter().map(info_of).collect())
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
