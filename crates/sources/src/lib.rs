//! Adapters for each source kind: how to dump it as a stream, how to restore a stream
//! into it, and which facts to record. They know nothing of the repository.

pub mod bucket;
pub mod command;
pub mod dump;
pub mod dump_lazy;
pub mod error;
pub mod files;
pub mod hooks;
pub mod interrupt;
pub mod mysql;
pub mod postgres;
pub mod process;
pub mod read_ahead;
pub mod redis;
pub mod scratch;
pub mod sqlite;

pub use dump::{Dump, DumpFacts};
pub use error::SourceError;
