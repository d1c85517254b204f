//! The one wrapper around `rustic_core`: open or create the restic-format repository,
//! store a stream or a directory tree with its manifest, list, read back, delete.
//! No `rustic_core` type appears in this crate's public API.

mod check;
mod copy;
mod error;
mod exclude;
mod hash_ahead;
mod known;
mod location;
mod lock;
mod lock_file;
mod open;
mod port;
mod prune;
mod read;
mod slot;
mod snapshots;
pub mod ssh_masters;
mod stats;
mod store;
mod tally;
mod tree_restore;
mod unfinished;

pub use check::CheckReport;
pub use copy::CopySummary;

pub use lifeboat_core::ports::Progress;

pub use error::RepoError;
pub use exclude::{check_exclude_patterns, ExcludeMatcher};
pub use location::{Backend, Location};
pub use lock::{lock_waits, FoundLock, LockKind, RepoLock};
pub use lock_file::{LockInfo, Stale};
pub use open::{ChunkerParams, Repo, RepoOptions};
pub use read::RepoReader;
pub use slot::{RepoAccess, RepoSlot};
pub use snapshots::{Listing, SnapshotInfo};
pub use store::{PayloadStats, SnapshotMeta, StoredSnapshot, StreamEntry, StreamStats};
pub use tree_restore::{Removal, TreeRestoreOptions, Why};
