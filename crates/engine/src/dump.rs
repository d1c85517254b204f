//! `lifeboat dump`: write a stored dump to a writer, byte for byte as it was taken.

use crate::select::pick;
use crate::EngineError;
use lifeboat_core::layout::payload_root;
use lifeboat_repo::Repo;
use std::io::Write;

/// Writes every payload file of the chosen backup of `app/source` to `out`.
pub fn dump(repo: &mut Repo, app: &str, source: &str, snapshot: &str, out: &mut dyn Write) -> Result<(), EngineError> {
    let spec = format!("{app}/{source}");
    let snapshots = repo.list()?;
    let chosen = pick(&snapshots, app, source, snapshot)?.clone();
    let reader = repo.reader()?;
    let manifest = reader.manifest(&chosen.id)?;
    if manifest.kind == "files" {
        return Err(EngineError::failed(&spec, "a files backup is a directory tree; use `lifeboat restore --to DIR`"));
    }
    for file in &manifest.files {
        reader.dump(&chosen.id, &payload_root(app, source), file, out)?;
    }
    Ok(())
}
