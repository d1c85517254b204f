//! The source port: what each kind does — back up into a payload, restore into a
//! target it can inspect and plan for, verify a backup — and the factory that turns a
//! configured source into its adapter (the one match on the kind, in `lifeboat-sources`).

use super::repository::{Payload, SnapshotReader, SnapshotRef};
use crate::error::Result;
use crate::report::{RestoreOptions, VerifyReport};
use crate::{CancelToken, Facts, Manifest, SourceKind, SourceSpec};

/// Why a snapshot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A regular backup.
    Backup,
    /// The safety copy of a restore target, taken before it is overwritten: it keeps
    /// everything, excluded paths too.
    PreRestore,
}

/// Completes the manifest once the payload was read: waits for the dump tools' exit
/// and adds their facts. Its error means the dump failed and nothing is saved.
pub type Complete = Box<dyn FnOnce(Manifest) -> Result<Manifest> + Send>;

/// A backup under way: the payload to store and how its manifest is finished.
pub struct Prepared {
    /// Where the data came from, secrets masked (a URL, a path, `backup_command`).
    pub origin: String,
    /// Facts known before the dump started (e.g. a database's charset).
    pub facts: Facts,
    pub payload: Payload,
    pub complete: Complete,
}

/// One configured source, ready to work.
pub trait Source: Send + Sync {
    /// Starts the dump (its tools run from here on) and hands over the payload.
    fn backup(&self, purpose: Purpose, cancel: &CancelToken) -> Result<Prepared>;

    /// Where a restore writes: the source's own target, or `to` instead.
    fn restore_target(&self, to: Option<&str>) -> Result<Box<dyn RestoreTarget>>;

    /// Restores the backup somewhere thrown away afterwards and records in `report`
    /// what held and what differed. An error is a problem of the backup too.
    fn verify(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        manifest: &Manifest,
        report: &mut VerifyReport,
        cancel: &CancelToken,
    ) -> Result<()>;
}

/// Where a restore writes.
pub trait RestoreTarget {
    /// For people and plans, secrets masked.
    fn describe(&self) -> String;

    /// Whether restoring would overwrite data that is there now.
    fn holds_data(&self) -> Result<bool>;

    /// The kind's own steps of the restore of `snapshot` (its short id).
    fn plan(&self, snapshot: &str, opts: &RestoreOptions) -> Vec<String>;

    /// Whether [`RestoreTarget::plan_removals`] reads the backup (files): the engine
    /// loads the repository's index for it only then.
    fn plans_removals(&self) -> bool {
        false
    }

    /// What the restore removes first, read from the backup (files with `--delete`).
    fn plan_removals(
        &self,
        _reader: &dyn SnapshotReader,
        _snap: SnapshotRef<'_>,
        _opts: &RestoreOptions,
    ) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// The source settings that back this target up as it is now (the safety backup).
    fn safety_kind(&self) -> SourceKind;

    fn restore(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        opts: &RestoreOptions,
        cancel: &CancelToken,
    ) -> Result<()>;
}

/// Turns a configured source into its adapter.
pub trait SourceFactory: Send + Sync {
    fn adapter(&self, spec: &SourceSpec) -> Result<Box<dyn Source>>;
}
