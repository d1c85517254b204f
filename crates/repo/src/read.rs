//! Reading backups back: manifests, dump streams and directory trees.

use crate::error::engine;
use crate::tree_restore::{self, Kind, Listing, Removal, TreeRestoreOptions};
use crate::{Repo, RepoError};
use lifeboat_core::layout::MANIFEST_PATH;
use lifeboat_core::Manifest;
use rustic_core::repofile::{Node, NodeType, SnapshotFile};
use rustic_core::{
    IndexedFullStatus, LocalDestination, LsOptions, Repository, RestoreOptions, SparseRestore,
};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The repository with its full index loaded, for reading data. Dropping it gives
/// the plain handle back to its [`Repo`].
pub struct RepoReader<'r> {
    home: &'r mut Repo,
    inner: Option<Repository<IndexedFullStatus>>,
}

impl Repo {
    /// Loads the full index so that data can be read.
    pub fn reader(&mut self) -> Result<RepoReader<'_>, RepoError> {
        let full = self.take_full()?;
        Ok(RepoReader {
            home: self,
            inner: Some(full),
        })
    }
}

impl Drop for RepoReader<'_> {
    fn drop(&mut self) {
        if let Some(full) = self.inner.take() {
            self.home.put_back(full);
        }
    }
}

/// A writer that remembers its first error, so it can be told apart from the
/// repository's own errors once rustic has wrapped it; it fails once the command is
/// cancelled, so that a restore or verify stops at its next write.
struct WatchedWriter<'w> {
    out: &'w mut dyn Write,
    failed: Option<std::io::Error>,
    cancel: lifeboat_core::CancelToken,
}

impl Write for WatchedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.cancel.is_cancelled() {
            let e = std::io::Error::other(lifeboat_core::Cancelled);
            self.failed
                .get_or_insert_with(|| std::io::Error::other(lifeboat_core::Cancelled));
            return Err(e);
        }
        self.out.write(buf).inspect_err(|e| {
            if self.failed.is_none() {
                self.failed = Some(std::io::Error::new(e.kind(), e.to_string()));
            }
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl RepoReader<'_> {
    fn full(&self) -> Result<&Repository<IndexedFullStatus>, RepoError> {
        self.inner.as_ref().ok_or_else(crate::open::lost)
    }

    fn snapshot(&self, id: &str) -> Result<SnapshotFile, RepoError> {
        self.full()?
            .get_snapshot_from_str(id, |_| true)
            .map_err(|_| RepoError::SnapshotNotFound(id.to_string()))
    }

    /// Writes file `path` (absolute in the snapshot) of snapshot `id` to `out`.
    pub fn dump_path(&self, id: &str, path: &str, out: &mut dyn Write) -> Result<(), RepoError> {
        let snap = self.snapshot(id)?;
        let node = self
            .full()?
            .node_from_path(snap.tree, Path::new(path))
            .map_err(|_| RepoError::Incomplete(format!("snapshot {id} holds no {path}")))?;
        let watched = WatchedWriter {
            out,
            failed: None,
            cancel: self.home.cancel_token(),
        };
        let mut out = BufWriter::with_capacity(1 << 20, watched);
        let dumped = self.full()?.dump(&node, &mut out);
        let flushed = out.flush();
        // rustic reports a failing writer as its own error; the writer's error is the
        // real cause (a closed pipe, a full disk), and it is not the repository's fault.
        if let Some(source) = out.get_mut().failed.take() {
            return Err(RepoError::Output(source));
        }
        dumped.map_err(engine)?;
        flushed.map_err(RepoError::Output)
    }

    /// The manifest stored in snapshot `id`.
    pub fn manifest(&self, id: &str) -> Result<Manifest, RepoError> {
        let mut bytes = Vec::new();
        self.dump_path(id, MANIFEST_PATH, &mut bytes)?;
        Manifest::from_json(&bytes)
            .map_err(|e| RepoError::Incomplete(format!("snapshot {id}: unreadable manifest: {e}")))
    }

    /// Writes payload file `root/name` of snapshot `id` to `out`.
    pub fn dump(
        &self,
        id: &str,
        root: &str,
        name: &str,
        out: &mut dyn Write,
    ) -> Result<(), RepoError> {
        self.dump_path(id, &format!("{root}/{name}"), out)
    }

    /// The tree under `root` of snapshot `id`: its root node and every path in it.
    fn tree_listing(&self, id: &str, root: &str) -> Result<(Node, Listing), RepoError> {
        let snap = self.snapshot(id)?;
        let repo = self.full()?;
        let node = repo
            .node_from_path(snap.tree, Path::new(root))
            .map_err(|_| RepoError::Incomplete(format!("snapshot {id} holds no {root}")))?;
        if !node.is_dir() {
            return Err(RepoError::Incomplete(format!(
                "snapshot {id}: {root} is not a directory"
            )));
        }
        let mut listing = Listing::new();
        for item in repo.ls(&node, &LsOptions::default()).map_err(engine)? {
            let (path, node) = item.map_err(engine)?;
            let kind = match node.node_type {
                NodeType::Dir => Kind::Dir,
                NodeType::File => Kind::File,
                NodeType::Symlink { .. } => Kind::Symlink,
                _ => Kind::Special,
            };
            listing.insert(path, kind);
        }
        Ok((node, listing))
    }

    /// What restoring the tree under `root` of snapshot `id` into `target` would
    /// remove from it first.
    pub fn plan_tree(
        &self,
        id: &str,
        root: &str,
        target: &Path,
        opts: &TreeRestoreOptions,
    ) -> Result<Vec<Removal>, RepoError> {
        let (_, listing) = self.tree_listing(id, root)?;
        tree_restore::plan(target, &listing, opts)
    }

    /// Restores the tree under `root` of snapshot `id` into directory `target`, keeping
    /// modes, owners, times, xattrs, hard links, symlinks and holes, the target
    /// directory's own included. Entries in the way are replaced; with `delete`, what the
    /// backup lacks is removed, except what the excludes protect (see [`Removal`]).
    pub fn restore_tree(
        &self,
        id: &str,
        root: &str,
        target: &Path,
        opts: &TreeRestoreOptions,
    ) -> Result<(), RepoError> {
        let (node, listing) = self.tree_listing(id, root)?;
        let removals = tree_restore::plan(target, &listing, opts)?;
        tree_restore::apply(target, &removals)?;
        let mut restore = RestoreOptions::default();
        restore.sparse = Some(SparseRestore::ByContent);
        let dest_str = format!("{}/", target.display());
        let dest = LocalDestination::new(&dest_str, true, false).map_err(engine)?;
        let repo = self.full()?;
        // The root node first: rustic lists only what is under it, so the target
        // directory would keep its own mode, owner and times. Snapshots taken before
        // lifeboat stored the root have a synthesized one (0755, no times): skip it.
        let ls = LsOptions::default();
        let top = node
            .meta
            .mtime
            .is_some()
            .then(|| (PathBuf::new(), node.clone()));
        let nodes = || -> Result<_, RepoError> {
            let top = top.clone().map(Ok).into_iter();
            Ok(top.chain(repo.ls(&node, &ls).map_err(engine)?))
        };
        let plan = repo
            .prepare_restore(&restore, nodes()?, &dest, false)
            .map_err(engine)?;
        repo.restore(plan, &restore, nodes()?, &dest)
            .map_err(engine)
    }
}
