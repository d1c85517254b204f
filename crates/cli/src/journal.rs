//! The restore journal on disk: one small JSON file per target being restored, in
//! `$XDG_STATE_HOME/lifeboat/restores` (`~/.local/state/…`). A restore writes it
//! (synced) before it changes the target and removes it when done, so a file left
//! behind means a restore that never finished.

use lifeboat_core::ports::{RestoreJournal, UnfinishedRestore};
use lifeboat_core::{Error, ErrorKind};
use std::io::Write;
use std::path::PathBuf;

/// lifeboat's state on this host: `$XDG_STATE_HOME/lifeboat` (`~/.local/state/…`).
/// A user without a writable home (`nobody`, a systemd `DynamicUser`) gets a private
/// dir in the temp dir instead; `None` when neither can be made.
pub fn state_dir() -> Option<PathBuf> {
    let configured = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .map(|base| base.join("lifeboat"));
    if let Some(dir) = configured.filter(|d| std::fs::create_dir_all(d).is_ok()) {
        return Some(dir);
    }
    private_temp_dir()
}

/// `$TMPDIR/lifeboat-state-UID`, made 0700 and used only when it is ours and private.
fn private_temp_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let dir = std::env::temp_dir().join(format!("lifeboat-state-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    let private = meta.is_dir() && meta.uid() == uid && meta.permissions().mode() & 0o077 == 0;
    private.then_some(dir)
}

pub struct FileJournal {
    dir: PathBuf,
}

impl FileJournal {
    /// The journal of this user, or `None` when neither `XDG_STATE_HOME` nor `HOME`
    /// is set.
    pub fn of_user() -> Option<FileJournal> {
        Some(FileJournal {
            dir: state_dir()?.join("restores"),
        })
    }

    /// One file per (app, source, target): a hash of the three, since a target is a
    /// path or URL that makes no file name.
    fn file(&self, app: &str, source: &str, target: &str) -> PathBuf {
        let hash = lifeboat_core::layout::file_name_hash(&[app, source, target].join("\0"));
        self.dir.join(format!("{app}-{source}-{hash}.json"))
    }

    fn write(&self, entry: &UnfinishedRestore) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.file(&entry.app, &entry.source, &entry.target);
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&serde_json::to_vec_pretty(entry)?)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&self.dir)?.sync_all()
    }

    fn failed(&self, what: &str, e: std::io::Error) -> Error {
        Error::msg(
            ErrorKind::Failed,
            format!("restore journal {}: {what}: {e}", self.dir.display()),
        )
    }
}

impl RestoreJournal for FileJournal {
    fn begin(&self, entry: &UnfinishedRestore) -> Result<(), Error> {
        self.write(entry)
            .map_err(|e| self.failed("cannot write", e))
    }

    fn finish(&self, app: &str, source: &str, target: &str) -> Result<(), Error> {
        match std::fs::remove_file(self.file(app, source, target)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(self.failed("cannot remove", e))
            }
            _ => Ok(()),
        }
    }

    fn unfinished(&self, app: &str, source: &str, target: &str) -> Option<UnfinishedRestore> {
        let text = std::fs::read(self.file(app, source, target)).ok()?;
        serde_json::from_slice(&text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_begun_restore_is_on_disk_until_it_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let journal = FileJournal {
            dir: dir.path().join("restores"),
        };
        let entry = UnfinishedRestore {
            app: "esp".into(),
            source: "db".into(),
            target: "postgres://app@db/esp".into(),
            snapshot: "1a2b3c4d".into(),
            safety_snapshot: None,
            started: "2026-12-02T01:00:00Z".into(),
            pid: 7,
        };
        journal.begin(&entry).unwrap();
        let again = FileJournal {
            dir: dir.path().join("restores"),
        };
        assert_eq!(
            again.unfinished("esp", "db", &entry.target),
            Some(entry.clone())
        );
        assert_eq!(again.unfinished("esp", "db", "other"), None);
        again.finish("esp", "db", &entry.target).unwrap();
        assert_eq!(journal.unfinished("esp", "db", &entry.target), None);
        again.finish("esp", "db", &entry.target).unwrap();
    }
}
