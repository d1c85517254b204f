//! Use cases of lifeboat over the ports of `lifeboat-core`: a backup run (hooks →
//! dumps → store), restores with their safety rules, verification, dumps and picks.
//! It knows no adapter: the composition root hands it an [`Engine`].

pub mod backup;
pub mod dump;
pub mod error;
mod parallel;
pub mod ports;
pub mod prune;
pub mod restore;
pub mod restore_app;
pub mod schedule;
pub mod select;
pub mod status;
pub mod verify;

pub use backup::{BackupReport, SourceReport, Stored};
pub use error::EngineError;
pub use lifeboat_core::{RestoreOptions, VerifyReport};
pub use ports::Engine;
pub use prune::{PruneReport, SourceRetention};
pub use restore::RestoreReport;
pub use restore_app::{AppRestoreOptions, AppRestoreReport, SourceRestore, SourceStatus};
pub use schedule::{JobKey, NextRun, Plan, Step, Work};
pub use verify::VerifyRun;
