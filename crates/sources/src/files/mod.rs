//! The `files` kind: what the repository layer cannot know about a directory target.

pub mod adapter;

use crate::SourceError;
use std::path::Path;

/// Whether `dir` holds anything a restore would overwrite.
pub fn holds_data(dir: &Path) -> Result<bool, SourceError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(SourceError::io(format!("reading {}", dir.display()))(e)),
    }
}

/// Fails unless `dir` is a readable directory.
pub fn check_readable(dir: &Path) -> Result<(), SourceError> {
    let meta = std::fs::metadata(dir).map_err(SourceError::io(format!("{}", dir.display())))?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(SourceError::Invalid(format!(
            "{} is not a directory",
            dir.display()
        )))
    }
}
