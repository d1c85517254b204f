//! Stores that did not finish, and the packs they left: each store into a repository
//! holds a marker file in the repository's local state dir (`flock`ed while it runs,
//! removed when its index is saved). A marker nobody holds is a store that crashed or
//! failed after uploading packs that no index names yet; the next handle to take a
//! shared lock indexes them (rustic's `repair index`, as `restic repair index`
//! would), so the next backup dedups against them instead of uploading them again.

use crate::{LockKind, Repo};
use rustic_core::RepairIndexOptions;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A store in progress; dropped without [`StoreMarker::finished`], it stays behind.
pub(crate) struct StoreMarker {
    path: PathBuf,
    _held: File,
}

fn markers_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("unfinished-stores")
}

/// The state dir is per repository id, which copies made by `restic copy` may share:
/// the file name also carries a hash of the URL, so each repository repairs its own.
fn url_key(url: &str) -> String {
    lifeboat_core::layout::file_name_hash(url)
}

impl StoreMarker {
    /// Writes and locks a marker for a store into `url`; `None` when there is no state
    /// dir or it cannot be written (the store goes on: the marker only saves uploads).
    pub(crate) fn begin(state_dir: Option<&Path>, url: &str) -> Option<StoreMarker> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = markers_dir(state_dir?);
        std::fs::create_dir_all(&dir).ok()?;
        let name = format!(
            "{}-{}-{}",
            url_key(url),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = File::create(&path).ok()?;
        file.try_lock().ok()?;
        Some(StoreMarker { path, _held: file })
    }

    /// The store saved its index: nothing is left to repair.
    pub(crate) fn finished(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The markers of stores into `url` that ended without finishing, each now locked by
/// us (so that two processes do not repair for the same marker at once).
fn left_behind(state_dir: &Path, url: &str) -> Vec<(PathBuf, File)> {
    let prefix = format!("{}-", url_key(url));
    let Ok(entries) = std::fs::read_dir(markers_dir(state_dir)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .filter_map(|e| {
            let file = File::open(e.path()).ok()?;
            match file.try_lock() {
                Ok(()) => Some((e.path(), file)),
                Err(TryLockError::WouldBlock | TryLockError::Error(_)) => None,
            }
        })
        .collect()
}

impl Repo {
    /// Indexes the packs that unfinished stores into this repository (on this host)
    /// uploaded, under a short exclusive lock: `repair index` rewrites index files,
    /// which no concurrent backup or prune may see half done. When another process
    /// holds a lock the repair waits for a later run; nothing is ever lost by waiting,
    /// the packs are only uploaded again.
    pub(crate) fn index_unfinished_stores(&mut self) {
        let Some(state_dir) = self.state_dir.clone() else {
            return;
        };
        let left = left_behind(&state_dir, &self.url);
        if left.is_empty() {
            return;
        }
        // Looked at first: `lock` would log a wait and count it, for a repair that
        // simply waits for a later run.
        let busy = !matches!(self.locks.conflict(LockKind::Exclusive, None), Ok(None));
        let lock = if busy {
            None
        } else {
            self.lock(LockKind::Exclusive, Duration::ZERO).ok()
        };
        let Some(lock) = lock else {
            tracing::info!(
                "{}: {} unfinished backup(s) left packs that no index names; the repository is in use, so they are indexed by a later run",
                self.url,
                left.len()
            );
            return;
        };
        let repaired = self
            .open_repo()
            .map_err(|e| e.to_string())
            .and_then(|repo| {
                repo.repair_index(&RepairIndexOptions::default(), false)
                    .map_err(|e| crate::error::engine(e).to_string())
            });
        drop(lock);
        match repaired {
            Ok(()) => {
                for (path, _) in &left {
                    let _ = std::fs::remove_file(path);
                }
                tracing::info!(
                    "{}: indexed the packs of {} unfinished backup(s), for the next backup to reuse",
                    self.url,
                    left.len()
                );
            }
            Err(why) => tracing::warn!(
                "{}: indexing the packs of unfinished backups failed (they are uploaded again): {why}",
                self.url
            ),
        }
    }
}
