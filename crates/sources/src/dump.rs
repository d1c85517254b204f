//! The shape every streaming source kind hands to the engine: a byte stream to store
//! and a finisher that, once the stream was read to its end, says whether the dump
//! really succeeded and what facts it recorded.

use crate::SourceError;
use lifeboat_core::TableCount;
use std::io::Read;

/// What a finished dump recorded besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct DumpFacts {
    pub tables: Vec<TableCount>,
    pub tool_versions: Vec<String>,
}

/// Checks the outcome after the stream hit its end (child exit status, …).
pub type Finish = Box<dyn FnOnce() -> Result<DumpFacts, SourceError> + Send>;

/// A dump in progress.
pub struct Dump {
    /// File name in the snapshot.
    pub name: String,
    pub stream: Box<dyn Read + Send>,
    /// Whether to record the stream's sha256 (costs CPU; databases record row counts).
    pub hash: bool,
    /// The dump's producer runs already (a child process, a server sending): reading
    /// it ahead keeps the producer from stalling on a full pipe. Lazy dumps, which
    /// start on first read, say false, so that reading ahead does not start them all.
    pub running: bool,
    pub finish: Finish,
}
