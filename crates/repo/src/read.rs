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

/// A writer that remembers its first error, so it can be told apart from the
/// repository's own errors once rustic has wrapped it.
struct WatchedWriter<'w> {
    out: &'w mut dyn Write,
    failed: Option<std::io::Error>,
}

impl Write for WatchedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
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

    fn dump_path(&self, id: &str, path: &str, out: &mut dyn Write) -> Result<(), RepoError> {
        let snap = self.snapshot(id)?;
        let node = self
            .full()?
            .node_from_path(snap.tree, Path::new(path))
            .map_err(|_| RepoError::Incomplete(format!("snapshot {id} holds no {path}")))?;
        let mut out = BufWriter::with_capacity(1 << 20, WatchedWriter { out, failed: None });
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
