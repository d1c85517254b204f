//! `lifeboat dump`: write a stored dump to a writer, byte for byte as it was taken.

use crate::select::pick;
use crate::EngineError;
use lifeboat_core::layout::payload_root;
use lifeboat_repo::Repo;
use std::io::Write;

/// What `dump` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpWhat {
    /// The payload, byte for byte.
    Payload,
    /// The manifest, as JSON.
    Manifest,
}

/// Writes the payload (every payload file, in order) or the manifest of the chosen
/// backup of `app/source` to `out`.
pub fn dump(
    repo: &mut Repo,
    app: &str,
    source: &str,
    snapshot: &str,
    what: DumpWhat,
    out: &mut dyn Write,
) -> Result<(), EngineError> {
    let spec = format!("{app}/{source}");
    let snapshots = repo.list()?;
    let chosen = pick(&snapshots, app, source, snapshot)?.clone();
    let reader = repo.reader()?;
    let manifest = reader.manifest(&chosen.id)?;
    if what == DumpWhat::Manifest {
        return out
            .write_all(&manifest.to_json())
            .map_err(|e| EngineError::failed(&spec, format!("writing the manifest: {e}")));
    }
    if manifest.kind == "files" {
        return Err(EngineError::failed(
            &spec,
            "a files backup is a directory tree; use `lifeboat restore --to DIR`",
        ));
    }
    for file in &manifest.files {
        reader.dump(&chosen.id, &payload_root(app, source), file, out)?;
    }
    Ok(())
}
