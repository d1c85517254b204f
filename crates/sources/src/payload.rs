//! Between dumps and the repository port: running dumps become payload streams (read
//! ahead) whose finishers complete the manifest; restores feed payload files back into
//! a consumer's stdin or spool them to a file.

use crate::read_ahead::read_ahead;
use crate::{Dump, SourceError};
use lifeboat_core::ports::{Complete, Payload, SnapshotReader, SnapshotRef, StreamEntry};
use lifeboat_core::{Context, Error, Manifest};
use std::io::Write;
use std::path::Path;

/// The dumps as one payload, and the completion that waits for each dump's finisher
/// (child exit status, row counts) and records its facts.
pub fn streams(dumps: Vec<Dump>) -> Result<(Payload, Complete), Error> {
    let mut entries = Vec::with_capacity(dumps.len());
    let mut finishers = Vec::with_capacity(dumps.len());
    for dump in dumps {
        finishers.push((dump.name.clone(), dump.finish));
        // A running dump is read ahead so that its tool keeps going while the repository
        // opens; lazy ones (a cluster's databases, a bucket's objects) start one at a time.
        let reader = if dump.running {
            let ahead = read_ahead(&dump.name, dump.stream).map_err(SourceError::io(format!(
                "{}: starting its reader thread",
                dump.name
            )))?;
            Box::new(ahead)
        } else {
            dump.stream
        };
        entries.push(StreamEntry {
            name: dump.name,
            reader,
            hash: dump.hash,
        });
    }
    let complete: Complete = Box::new(move |mut m: Manifest| {
        for (name, finish) in finishers {
            let several = m.files.len() > 1;
            let facts = finish().map_err(|e| match several {
                true => Error::from(e).context(name.clone()),
                false => Error::from(e),
            })?;
            m.facts.tables.extend(facts.tables);
            for v in facts.tool_versions {
                if !m.tool_versions.contains(&v) {
                    m.tool_versions.push(v);
                }
            }
        }
        Ok(m)
    });
    Ok((Payload::Streams(entries), complete))
}

/// Adds `then` after `complete`.
pub fn and_then(
    complete: Complete,
    then: impl FnOnce(Manifest) -> Result<Manifest, Error> + Send + 'static,
) -> Complete {
    Box::new(move |m| complete(m).and_then(then))
}

/// Feeds payload files of the backup into a consumer's stdin, then waits for it: the
/// consumer's own error explains a broken pipe better than the pipe does.
pub fn feed(
    reader: &dyn SnapshotReader,
    snap: SnapshotRef<'_>,
    files: &[String],
    mut input: Box<dyn Write + Send>,
    finish: impl FnOnce() -> Result<(), SourceError>,
) -> Result<(), Error> {
    if files.is_empty() {
        return Err(Error::source("the backup holds no dump file"));
    }
    let fed = files
        .iter()
        .try_for_each(|f| reader.dump(snap, f, &mut input));
    drop(input);
    finish()?;
    fed.context("reading the backup")
}

/// Writes payload file `file` to the file at `to` (a throwaway copy: not synced).
pub fn spool(
    reader: &dyn SnapshotReader,
    snap: SnapshotRef<'_>,
    file: &str,
    to: &Path,
) -> Result<(), Error> {
    let context = || format!("spooling to {}", to.display());
    let mut out = std::fs::File::create(to).with_context(context)?;
    reader.dump(snap, file, &mut out).with_context(context)
}

/// A fresh temp dir named `lifeboat-PURPOSE-…`, removed when dropped.
pub fn temp_dir(purpose: &str) -> Result<tempfile::TempDir, Error> {
    tempfile::Builder::new()
        .prefix(&format!("lifeboat-{purpose}-"))
        .tempdir()
        .context("creating a temp dir")
}

/// The first payload file of the backup, or an error saying what it should hold.
pub fn first_file<'m>(manifest: &'m Manifest, what: &str) -> Result<&'m String, Error> {
    manifest
        .files
        .first()
        .ok_or_else(|| Error::source(format!("the backup holds no {what}")))
}
