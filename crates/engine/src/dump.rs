//! `lifeboat dump`: write a stored dump to a writer, byte for byte as it was taken.

use crate::error::failed;
use crate::select::{or_unreadable, pick};
use lifeboat_core::layout::payload_root;
use lifeboat_core::ports::{Repository, SnapshotRef};
use lifeboat_core::Error;
use std::io::Write;

/// What `dump` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpWhat {
    /// The payload, byte for byte.
    Payload,
    /// The manifest, as JSON.
    Manifest,
}

/// Writes the payload file (`file`, or the only one) or the manifest of the chosen
/// backup of `app/source` to `out`. Several files back to back would be one unusable
/// stream (two pg_dump archives, globals SQL before them): without `file` that is
/// refused, listing the files.
pub fn dump(
    repo: &mut dyn Repository,
    app: &str,
    source: &str,
    snapshot: &str,
    what: DumpWhat,
    file: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let spec = format!("{app}/{source}");
    let snapshots = repo.list()?;
    let chosen = or_unreadable(
        pick(&snapshots, app, source, snapshot).cloned(),
        repo,
        app,
        source,
    )?;
    let reader = repo.reader()?;
    let manifest = reader.manifest(&chosen.id)?;
    if what == DumpWhat::Manifest {
        return out
            .write_all(&manifest.to_json())
            .map_err(|e| failed(&spec, format!("writing the manifest: {e}")));
    }
    if manifest.kind == "files" {
        return Err(failed(
            &spec,
            "a files backup is a directory tree; use `lifeboat restore --to DIR`",
        ));
    }
    let name = pick_file(&manifest.files, file).map_err(|m| failed(&spec, m))?;
    let root = payload_root(app, source);
    let snap = SnapshotRef {
        id: &chosen.id,
        root: &root,
    };
    reader.dump(snap, name, out)?;
    Ok(())
}

/// The payload file to write: `wanted`, which must be one of `files`, or the only one.
fn pick_file<'f>(files: &'f [String], wanted: Option<&str>) -> Result<&'f str, String> {
    let list = || files.join(", ");
    match (wanted, files) {
        (Some(w), _) => files
            .iter()
            .find(|f| *f == w)
            .map(String::as_str)
            .ok_or_else(|| format!("the backup holds no file `{w}`; it holds: {}", list())),
        (None, [only]) => Ok(only),
        (None, []) => Err("the backup holds no payload file".into()),
        (None, _) => Err(format!(
            "the backup holds {} files, which written back to back would be one unusable stream: {}; pick one with --file NAME",
            files.len(),
            list()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::pick_file;

    #[test]
    fn one_file_is_picked_several_need_a_name() {
        let files = ["globals.sql".to_string(), "shop.pgdump".to_string()];
        assert_eq!(pick_file(&files[1..], None), Ok("shop.pgdump"));
        assert_eq!(pick_file(&files, Some("globals.sql")), Ok("globals.sql"));
        let several = pick_file(&files, None).unwrap_err();
        assert!(several.contains("globals.sql, shop.pgdump") && several.contains("--file"));
        assert!(pick_file(&files, Some("nope"))
            .unwrap_err()
            .contains("globals.sql"));
    }
}
