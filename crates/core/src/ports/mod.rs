//! The ports: what the engine needs from the world, as traits. Adapters implement
//! them (`lifeboat-sources`, `lifeboat-repo`); tests use fakes (`lifeboat-testkit`).

pub mod clock;
pub mod events;
pub mod hooks;
pub mod journal;
pub mod repository;
pub mod run_lock;
pub mod source;

pub use clock::{Clock, SystemClock};
pub use events::{Event, Events, NoEvents, RecordedEvents};
pub use hooks::{HookCall, HookRun, Hooks, DEFAULT_HOOK_TIMEOUT};
pub use journal::{MemoryJournal, RestoreJournal, UnfinishedRestore};
pub use repository::{
    Listing, LockKind, ManifestFn, Payload, PayloadStats, Progress, PruneSummary, Repository,
    SnapshotInfo, SnapshotMeta, SnapshotReader, SnapshotRef, StoredSnapshot, StreamEntry,
    StreamStats, TreeRestoreOptions,
};
pub use run_lock::{MemoryRunLocks, RunGuard, RunLocks};
pub use source::{Complete, Prepared, Purpose, RestoreTarget, Source, SourceFactory};
