//! `lifeboat-repo` as the engine's repository port: the restic-format repository (or
//! one still opening) behind `Repository`, its reader behind `SnapshotReader`, and its
//! errors classified into the ports' error kinds.

use crate::{Repo, RepoAccess, RepoError, RepoReader, RepoSlot};
use lifeboat_core::ports::{
    Listing, LockKind, ManifestFn, Payload, Progress, PruneSummary, Repository, SnapshotInfo,
    SnapshotMeta, SnapshotReader, SnapshotRef, StoredSnapshot, TreeRestoreOptions,
};
use lifeboat_core::{Error, ErrorKind, Manifest};
use std::io::Write;
use std::path::Path;

impl From<RepoError> for Error {
    fn from(e: RepoError) -> Self {
        let kind = match &e {
            RepoError::Locked { .. } => ErrorKind::Locked,
            // The payload was cut short or a dump failed: the source's failure.
            RepoError::Incomplete(_) => ErrorKind::Source,
            RepoError::SnapshotNotFound(_) | RepoError::Output(_) => ErrorKind::Failed,
            _ => ErrorKind::Repository,
        };
        // A backend that failed or a lock that is held may be fine a moment later; a
        // missing repository or a wrong password is not.
        let retryable = matches!(
            e,
            RepoError::Locked { .. } | RepoError::Engine(_) | RepoError::Io { .. }
        );
        Error::new(kind, e).retryable(retryable)
    }
}

fn store_on(
    repo: &mut Repo,
    meta: &SnapshotMeta,
    payload: Payload,
    manifest: ManifestFn,
) -> Result<StoredSnapshot, RepoError> {
    match payload {
        Payload::Streams(streams) => repo.store_streams(meta, streams, manifest),
        Payload::Tree { path, exclude } => repo.store_tree(meta, &path, &exclude, manifest),
    }
}

/// The port over anything that gives access to an open repository.
fn port_store(
    access: &mut impl RepoAccess,
    meta: &SnapshotMeta,
    payload: Payload,
    manifest: ManifestFn,
) -> Result<StoredSnapshot, Error> {
    // The dumps are running already: this is where a repository still opening is waited for.
    Ok(store_on(access.repo()?, meta, payload, manifest)?)
}

macro_rules! repository_port {
    ($t:ty) => {
        impl Repository for $t {
            fn ensure_open(&mut self) -> Result<(), Error> {
                RepoAccess::repo(self)?;
                Ok(())
            }

            fn list(&mut self) -> Result<Vec<SnapshotInfo>, Error> {
                Ok(RepoAccess::repo(self)?.list()?)
            }

            fn listing(&mut self) -> Result<Listing, Error> {
                Ok(RepoAccess::repo(self)?.listing()?)
            }

            fn store(
                &mut self,
                meta: &SnapshotMeta,
                payload: Payload,
                manifest: ManifestFn,
            ) -> Result<StoredSnapshot, Error> {
                port_store(self, meta, payload, manifest)
            }

            fn reader(&mut self) -> Result<Box<dyn SnapshotReader + '_>, Error> {
                Ok(Box::new(RepoAccess::repo(self)?.reader()?))
            }

            fn set_progress(&mut self, progress: Option<Progress>) {
                RepoAccess::set_progress(self, progress);
            }

            fn fork(&mut self) -> Result<Box<dyn Repository + Send>, Error> {
                Ok(Box::new(RepoAccess::repo(self)?.share()?))
            }

            fn hold_lock(&mut self, kind: LockKind) -> Result<(), Error> {
                Ok(RepoAccess::repo(self)?.hold_lock(kind)?)
            }

            fn forget(&mut self, ids: &[String]) -> Result<(), Error> {
                Ok(RepoAccess::repo(self)?.delete(ids)?)
            }

            fn prune(&mut self, dry_run: bool) -> Result<PruneSummary, Error> {
                Ok(RepoAccess::repo(self)?.prune(dry_run)?)
            }

            fn unreadable(&mut self) -> Vec<SnapshotInfo> {
                RepoAccess::repo(self).map_or_else(|_| Vec::new(), |r| r.unreadable.clone())
            }
        }
    };
}

repository_port!(Repo);
repository_port!(RepoSlot);

impl SnapshotReader for RepoReader<'_> {
    fn manifest(&self, id: &str) -> Result<Manifest, Error> {
        Ok(RepoReader::manifest(self, id)?)
    }

    fn dump(&self, snap: SnapshotRef<'_>, file: &str, out: &mut dyn Write) -> Result<(), Error> {
        Ok(RepoReader::dump(self, snap.id, snap.root, file, out)?)
    }

    fn dump_path(&self, id: &str, path: &str, out: &mut dyn Write) -> Result<(), Error> {
        Ok(RepoReader::dump_path(self, id, path, out)?)
    }

    fn restore_tree(
        &self,
        snap: SnapshotRef<'_>,
        dir: &Path,
        opts: &TreeRestoreOptions,
    ) -> Result<(), Error> {
        Ok(RepoReader::restore_tree(
            self, snap.id, snap.root, dir, opts,
        )?)
    }

    fn plan_tree(
        &self,
        snap: SnapshotRef<'_>,
        dir: &Path,
        opts: &TreeRestoreOptions,
    ) -> Result<Vec<String>, Error> {
        let removals = RepoReader::plan_tree(self, snap.id, snap.root, dir, opts)?;
        Ok(removals.iter().filter_map(|r| r.describe(dir)).collect())
    }
}
