//! Reading backups back: manifests, dump streams and directory trees.

use crate::error::engine;
use crate::{Repo, RepoError};
use lifeboat_core::layout::MANIFEST_PATH;
use lifeboat_core::Manifest;
use rustic_core::repofile::SnapshotFile;
use rustic_core::{IndexedFullStatus, LocalDestination, LsOptions, Repository, RestoreOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

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
        let mut out = BufWriter::with_capacity(1 << 20, out);
        self.full()?.dump(&node, &mut out).map_err(engine)?;
        out.flush().map_err(|source| RepoError::Io {
            context: "writing the dump".into(),
            source,
        })
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

    /// Restores the tree under `root` of snapshot `id` into directory `target`, keeping
    /// modes, owners, times and symlinks; with `delete`, removes what the backup lacks.
    pub fn restore_tree(
        &self,
        id: &str,
        root: &str,
        target: &Path,
        delete: bool,
    ) -> Result<(), RepoError> {
        let snap = self.snapshot(id)?;
        let node = self
            .full()?
            .node_from_path(snap.tree, Path::new(root))
            .map_err(engine)?;
        let ls = LsOptions::default();
        let mut opts = RestoreOptions::default();
        opts.delete = delete;
        let dest_str = format!("{}/", target.display());
        let dest = LocalDestination::new(&dest_str, true, !node.is_dir()).map_err(engine)?;
        let repo = self.full()?;
        let plan = repo
            .prepare_restore(&opts, repo.ls(&node, &ls).map_err(engine)?, &dest, false)
            .map_err(engine)?;
        repo.restore(plan, &opts, repo.ls(&node, &ls).map_err(engine)?, &dest)
            .map_err(engine)
    }
}
