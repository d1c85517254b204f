//! Adapters for each source kind behind the source port: how to dump it as a stream,
//! how to restore a backup into it, how to verify one, and which facts to record. They
//! read backups through the repository port only.

pub mod bucket;
pub mod checks;
pub mod command;
pub mod dump;
pub mod dump_lazy;
pub mod error;
pub mod factory;
pub mod files;
pub mod hooks;
pub mod mysql;
pub mod payload;
pub mod postgres;
pub mod process;
pub mod read_ahead;
pub mod redis;
pub mod scratch;
pub mod sqlite;

pub use dump::{Dump, DumpFacts};
pub use error::SourceError;
pub use factory::{adapter, Adapters};
pub use hooks::ShellHooks;
