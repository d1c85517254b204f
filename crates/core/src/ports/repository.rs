//! The repository port: store a payload as one snapshot with its manifest, list
//! lifeboat's snapshots, read them back. The restic-format adapter is `lifeboat-repo`.

use crate::error::Result;
use crate::Manifest;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// What identifies a snapshot before it is taken.
#[derive(Debug, Clone)]
pub struct SnapshotMeta {
    /// Directory in the snapshot holding the payload, e.g. `/esp/db`.
    pub root: String,
    pub tags: Vec<String>,
    pub time: jiff::Zoned,
}

/// One payload stream (a dump) to store as file `name` under the payload root.
pub struct StreamEntry {
    pub name: String,
    pub reader: Box<dyn Read + Send>,
    /// Whether to compute its sha256 while storing (costs CPU).
    pub hash: bool,
}

/// What was read of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStats {
    pub name: String,
    pub bytes: u64,
    pub sha256: Option<String>,
}

/// What was read of the whole payload, handed to the manifest producer.
#[derive(Debug, Clone, Default)]
pub struct PayloadStats {
    pub errors: Vec<String>,
    pub file_count: u64,
    pub total_bytes: u64,
    pub streams: Vec<StreamStats>,
}

/// A snapshot that was saved with its manifest.
#[derive(Debug, Clone)]
pub struct StoredSnapshot {
    pub id: String,
    pub total_bytes: u64,
    pub added_bytes: u64,
}

/// Produces the manifest bytes once the payload was read completely; its error (the
/// dump tool failed after its stream ended, …) means no snapshot is saved.
pub type ManifestFn = Box<dyn FnOnce(&PayloadStats) -> Result<Vec<u8>, String> + Send>;

/// Told the payload bytes read so far by a store in progress.
pub type Progress = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

/// What a backup hands the repository.
pub enum Payload {
    /// Streams, each stored as one file under the payload root.
    Streams(Vec<StreamEntry>),
    /// A directory tree, without what `exclude` (gitignore lines) matches.
    Tree { path: PathBuf, exclude: Vec<String> },
}

/// One lifeboat backup as `list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SnapshotInfo {
    /// The full snapshot id (64 hex digits), as restic prints it with `--no-trunc`.
    pub id: String,
    /// RFC 3339, with the snapshot's own offset.
    pub time: String,
    #[serde(skip)]
    pub timestamp: jiff::Timestamp,
    pub hostname: String,
    pub app: String,
    pub source: String,
    pub kind: String,
    pub run_id: String,
    pub pre_restore: bool,
    /// Bytes of payload processed (before dedup and compression).
    pub size: u64,
    /// Bytes this snapshot added to the repository (packed).
    pub added: u64,
    /// The latest verification's result: `Some(true)` passed, `Some(false)` failed.
    pub verified: Option<bool>,
    pub tags: Vec<String>,
}

impl SnapshotInfo {
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(8)]
    }

    /// The time for people: `2026-12-01 09:00:00 UTC`.
    pub fn display_time(&self) -> String {
        display_time(self.timestamp)
    }
}

/// An instant for people: `2026-12-01 09:00:00 UTC`.
pub fn display_time(at: jiff::Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// The backups and the verification records, from one reading of the snapshot list.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// What [`Repository::list`] returns.
    pub backups: Vec<SnapshotInfo>,
    /// Every verification record (tag `lifeboat-verify`), oldest first.
    pub verifications: Vec<SnapshotInfo>,
}

/// How a tree restore treats what the target holds beyond the backup.
#[derive(Debug, Clone, Default)]
pub struct TreeRestoreOptions {
    /// Remove entries the backup does not have (`--delete`).
    pub delete: bool,
    /// Remove them even where the excludes match (`--delete-excluded`).
    pub delete_excluded: bool,
    /// The source's exclude patterns (gitignore lines), which protect paths.
    pub exclude: Vec<String>,
}

/// One snapshot's payload, as the adapters that restore and verify it name it.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRef<'a> {
    /// The full snapshot id.
    pub id: &'a str,
    /// The payload root inside the snapshot (`/APP/SOURCE`).
    pub root: &'a str,
}

/// Reading backups back: manifests, payload files and directory trees.
pub trait SnapshotReader {
    fn manifest(&self, id: &str) -> Result<Manifest>;
    /// Writes payload file `file` of the snapshot to `out`, byte for byte.
    fn dump(&self, snap: SnapshotRef<'_>, file: &str, out: &mut dyn Write) -> Result<()>;
    /// Writes the file at absolute path `path` of the snapshot to `out`.
    fn dump_path(&self, id: &str, path: &str, out: &mut dyn Write) -> Result<()>;
    /// Restores the payload tree into `dir`.
    fn restore_tree(
        &self,
        snap: SnapshotRef<'_>,
        dir: &Path,
        opts: &TreeRestoreOptions,
    ) -> Result<()>;
    /// The plan lines of what a tree restore into `dir` removes first.
    fn plan_tree(
        &self,
        snap: SnapshotRef<'_>,
        dir: &Path,
        opts: &TreeRestoreOptions,
    ) -> Result<Vec<String>>;
}

/// What a prune did (or, dry, would do). Data no snapshot needs is reclaimed in two
/// phases, as restic does: its packs are marked now and deleted by a later prune.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PruneSummary {
    /// Bytes of blobs no snapshot needs.
    pub unused_bytes: u64,
    /// Of those, the bytes this prune takes out of the index (marked or repacked away).
    pub removed_bytes: u64,
    /// Partly used packs rewritten without their unused blobs.
    pub repacked_packs: u64,
    /// Packs only holding unused blobs, marked for deletion now.
    pub marked_packs: u64,
    /// Packs marked by an earlier prune and deleted now (their grace period passed).
    pub deleted_marked_packs: u64,
    /// Packs marked earlier that wait for their grace period (23 h) to pass.
    pub waiting_marked_packs: u64,
    /// Pack files no index names (left by interrupted backups).
    pub unreferenced_packs: u64,
    pub dry_run: bool,
}

/// What a lock allows others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Others may read and add (backup, restore, verify, copy).
    Shared,
    /// Nobody else may work on the repository (prune, forget, check).
    Exclusive,
}

/// A repository lifeboat stores backups in.
pub trait Repository {
    /// Waits until the repository is open (it may be opening in the background).
    fn ensure_open(&mut self) -> Result<()>;
    /// Every complete lifeboat backup, oldest first.
    fn list(&mut self) -> Result<Vec<SnapshotInfo>>;
    /// The backups and the verification records; cheaper than two listings (prune).
    fn listing(&mut self) -> Result<Listing>;
    /// Stores `payload` as one snapshot; the manifest from `manifest` is written only
    /// once the payload was read completely, otherwise nothing is saved.
    fn store(
        &mut self,
        meta: &SnapshotMeta,
        payload: Payload,
        manifest: ManifestFn,
    ) -> Result<StoredSnapshot>;
    /// A reader of the repository's data (loads the index).
    fn reader(&mut self) -> Result<Box<dyn SnapshotReader + '_>>;
    /// Where the byte counts of the next stores go.
    fn set_progress(&mut self, progress: Option<Progress>);
    /// Another handle on this open repository, for a store running beside this
    /// handle's (the sources of one app dumped in parallel). It takes no lock of its
    /// own: this handle's lock covers it for as long as the run lasts.
    fn fork(&mut self) -> Result<Box<dyn Repository + Send>>;
    /// Takes a lock that lasts as long as this handle, waiting a bounded time for
    /// conflicting ones (restic's protocol: stock restic and lifeboat respect each other).
    fn hold_lock(&mut self, kind: LockKind) -> Result<()>;
    /// Removes snapshots by full id; their data is reclaimed by a later prune.
    fn forget(&mut self, ids: &[String]) -> Result<()>;
    /// Reclaims the space of data no snapshot needs (under an exclusive lock).
    fn prune(&mut self, dry_run: bool) -> Result<PruneSummary>;
    /// The backups the last listing left out because their tree cannot be read (a
    /// lost index file, a damaged pack), so that "no backup found" is not said of
    /// them.
    fn unreadable(&mut self) -> Vec<SnapshotInfo> {
        Vec::new()
    }
}
