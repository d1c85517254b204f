//! How far a running dump's stream is read ahead of the repository (the queue itself is
//! `lifeboat_core::Ahead`).
//!
//! Why: a dump tool blocks as soon as its 64 KiB pipe is full. Without read-ahead,
//! `pg_dump` stalls while the repository is still opening (a deliberate ~0.3 s scrypt)
//! and whenever the archiver is busy elsewhere; the per-byte work of the stream's own
//! reader (row counting) also moves off the archiver's chunking thread.

use lifeboat_core::Ahead;
use std::io::{self, Read};

/// 1 MiB blocks: large enough that channel traffic is negligible, small enough that
/// the consumer starts promptly.
pub const BLOCK: usize = 1 << 20;
/// Blocks read ahead at most: 16 MiB, about 0.1 s of `pg_dump` output. 32 MiB measured
/// no faster on B1 and added its 16 MiB to the peak RSS of every stream backup.
pub const BUFFERS: usize = 16;

/// A running dump's stream, read ahead on a thread of its own.
pub fn read_ahead(name: &str, stream: Box<dyn Read + Send>) -> io::Result<Ahead<()>> {
    Ahead::spawn(name, stream, (), BUFFERS, BLOCK)
}
