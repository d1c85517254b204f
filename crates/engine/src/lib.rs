//! Use cases of lifeboat over the repository and the source adapters: a backup run
//! (hooks → dumps → store), restores with their safety rules, dumps and listings.

pub mod backup;
pub mod dump;
pub mod error;
pub mod restore;
pub mod select;
pub mod verify;

pub use backup::{backup_source, run_backup, BackupReport, Purpose, RunControl, SourceReport};
pub use error::EngineError;
pub use restore::{restore_source, RestoreOptions, RestoreReport};
pub use verify::{verify_source, VerifyReport};
