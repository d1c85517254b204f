//! The local record of which snapshots hold their manifest (are complete backups) and
//! which do not, so that `list` reads no trees, and loads no index, for the snapshots
//! it checked before.
//!
//! A snapshot id is the hash of the snapshot file, which names its tree by hash, so
//! "snapshot X holds the manifest" (or does not) never changes once it was checked:
//! the record is only a shortcut, never a second source of truth. Any process may
//! rebuild it, and a record that is missing, unreadable, from another version or
//! damaged (its checksum does not match) counts as empty: everything is checked again.
//! Only what `list` read in the trees itself goes in, never what a backup claims, and
//! never a tree that could not be read. A backup whose trees are lost later stays
//! listed, as `restic snapshots` lists it: finding that is `check`'s job.

use rustic_core::repofile::SnapshotId;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// First line of the file: names the format, so another one is never misread.
const HEADER: &str = "lifeboat snapshot manifests v1";
/// The file in the repository's state directory.
const FILE_NAME: &str = "snapshot-manifests";

/// What reading a snapshot's trees showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checked {
    /// The manifest is there: a complete backup.
    Complete,
    /// The trees were read and hold no manifest: the backup was interrupted.
    Incomplete,
}

impl Checked {
    fn word(self) -> &'static str {
        match self {
            Checked::Complete => "complete",
            Checked::Incomplete => "incomplete",
        }
    }
}

/// Snapshot ids whose check is settled, as read from their file.
pub(crate) struct KnownSnapshots {
    path: PathBuf,
    ids: HashMap<SnapshotId, Checked>,
}

impl KnownSnapshots {
    /// The record in `dir` (the repository's own state directory). Never fails: a
    /// record that cannot be read is an empty one.
    pub(crate) fn load(dir: &Path) -> KnownSnapshots {
        let path = dir.join(FILE_NAME);
        let ids = match std::fs::read_to_string(&path) {
            Ok(text) => parse(&text).unwrap_or_else(|| {
                tracing::debug!(path = %path.display(), "record of snapshot manifests damaged: checking all");
                HashMap::new()
            }),
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::debug!(path = %path.display(), error = %e, "record of snapshot manifests unreadable");
                }
                HashMap::new()
            }
        };
        KnownSnapshots { path, ids }
    }

    pub(crate) fn get(&self, id: &SnapshotId) -> Option<Checked> {
        self.ids.get(id).copied()
    }

    /// Replaces the record with `ids` (the snapshots the repository has now, so that
    /// forgotten ones drop out) if they differ from what was read. Best effort: a
    /// record that cannot be written only means checking again next time.
    pub(crate) fn store(&self, ids: HashMap<SnapshotId, Checked>) {
        if ids == self.ids {
            return;
        }
        if let Err(e) = write(&self.path, &ids) {
            tracing::debug!(path = %self.path.display(), error = %e, "record of snapshot manifests not written");
        }
    }
}

fn checksum(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// The entries of a well-formed record; `None` for anything else.
fn parse(text: &str) -> Option<HashMap<SnapshotId, Checked>> {
    // The checksum line covers every byte before it, so a truncated or altered file
    // (a crash mid-write, a disk error) is rejected whole rather than read in part.
    let body_end = text.trim_end_matches('\n').rfind('\n')? + 1;
    let (body, last) = text.split_at(body_end);
    let sum = last.trim_end_matches('\n').strip_prefix("sha256 ")?;
    if sum != checksum(body) {
        return None;
    }
    let mut lines = body.lines();
    if lines.next()? != HEADER {
        return None;
    }
    lines
        .map(|line| {
            let (word, id) = line.split_once(' ')?;
            let checked = match word {
                "complete" => Checked::Complete,
                "incomplete" => Checked::Incomplete,
                _ => return None,
            };
            Some((id.parse::<SnapshotId>().ok()?, checked))
        })
        .collect()
}

fn render(ids: &HashMap<SnapshotId, Checked>) -> String {
    let mut lines: Vec<String> = ids
        .iter()
        .map(|(id, c)| format!("{} {}\n", c.word(), id.to_hex().as_str()))
        .collect();
    lines.sort_unstable();
    let mut body = String::with_capacity(HEADER.len() + 1 + lines.len() * 75);
    body.push_str(HEADER);
    body.push('\n');
    for line in &lines {
        body.push_str(line);
    }
    let sum = checksum(&body);
    format!("{body}sha256 {sum}\n")
}

/// Writes beside the record and renames over it, so that readers (other lifeboat
/// processes) see the old record or the new one, never a partial one.
fn write(path: &Path, ids: &HashMap<SnapshotId, Checked>) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("record path without a directory"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{FILE_NAME}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(render(ids).as_bytes())?;
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn id(n: u8) -> SnapshotId {
        format!("{n:02x}").repeat(32).parse().unwrap()
    }

    #[test]
    fn round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let ids: HashMap<_, _> = [
            (id(1), Checked::Complete),
            (id(2), Checked::Incomplete),
            (id(0xab), Checked::Complete),
        ]
        .into();
        KnownSnapshots::load(dir.path()).store(ids.clone());
        let known = KnownSnapshots::load(dir.path());
        assert_eq!(known.ids, ids);
        assert_eq!(known.get(&id(3)), None);

        let path = dir.path().join(FILE_NAME);
        let text = std::fs::read_to_string(&path).unwrap();
        let one = id(1).to_hex().to_string();
        let two = id(2).to_hex().to_string();
        let damaged = [
            text.replacen(&format!("incomplete {two}"), &format!("complete {two}"), 1),
            text.replacen(&one, id(3).to_hex().as_str(), 1),
            text[..text.len() / 2].to_string(),
            text.replacen(HEADER, "lifeboat snapshot manifests v0", 1),
            String::new(),
            "garbage".into(),
        ];
        for bad in damaged {
            assert_ne!(bad, text);
            std::fs::write(&path, &bad).unwrap();
            assert!(KnownSnapshots::load(dir.path()).ids.is_empty(), "{bad:?}");
        }
    }

    #[test]
    fn unwritable_record_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // a file where the directory should be: writing fails, quietly
        let blocked = dir.path().join("file").join("sub");
        std::fs::write(dir.path().join("file"), b"x").unwrap();
        KnownSnapshots::load(&blocked).store([(id(1), Checked::Complete)].into());
        assert_eq!(KnownSnapshots::load(&blocked).get(&id(1)), None);
    }
}
