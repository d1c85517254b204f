//! The restore journal port: the restores that were started and never finished, so
//! the next restore or `restore --plan` of that target says it may be partial (a
//! crash or `kill -9` mid-restore gets no chance to say so itself).

use crate::Error;
use serde::{Deserialize, Serialize};
use std::sync::{Mutex, PoisonError};

/// A restore begun on a target and not (yet) finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnfinishedRestore {
    pub app: String,
    pub source: String,
    /// The target as described to the user (a path, a URL without password).
    pub target: String,
    /// The snapshot being restored.
    pub snapshot: String,
    /// The safety backup of what the target held before, if one was taken.
    pub safety_snapshot: Option<String>,
    /// When the restore began (RFC 3339).
    pub started: String,
    /// The process that ran it.
    pub pid: u32,
}

impl UnfinishedRestore {
    /// "a restore of snapshot 1a2b3c4d begun 2026-…(pid 42) did not finish; its
    /// previous state is in safety backup 5e6f7a8b".
    pub fn describe(&self) -> String {
        let short = |id: &str| id[..8.min(id.len())].to_string();
        let mut text = format!(
            "{} may be partial: a restore of snapshot {} begun {} (pid {}) did not finish",
            self.target,
            short(&self.snapshot),
            self.started,
            self.pid
        );
        if let Some(id) = &self.safety_snapshot {
            text.push_str(&format!(
                "; its previous state is in safety backup {}",
                short(id)
            ));
        }
        text
    }
}

/// Where restores are recorded while they run.
pub trait RestoreJournal: Send + Sync {
    /// Records that a restore into `entry.target` begins; an error stops the restore
    /// before the target is changed.
    fn begin(&self, entry: &UnfinishedRestore) -> Result<(), Error>;
    /// The restore into `target` of `app/source` finished: forget it.
    fn finish(&self, app: &str, source: &str, target: &str) -> Result<(), Error>;
    /// The restore into `target` that began and never finished, if any.
    fn unfinished(&self, app: &str, source: &str, target: &str) -> Option<UnfinishedRestore>;
}

/// A journal of this process only (engine tests; a command that wires none).
#[derive(Debug, Default)]
pub struct MemoryJournal {
    entries: Mutex<Vec<UnfinishedRestore>>,
}

impl RestoreJournal for MemoryJournal {
    fn begin(&self, entry: &UnfinishedRestore) -> Result<(), Error> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|e| !same(e, &entry.app, &entry.source, &entry.target));
        entries.push(entry.clone());
        Ok(())
    }

    fn finish(&self, app: &str, source: &str, target: &str) -> Result<(), Error> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|e| !same(e, app, source, target));
        Ok(())
    }

    fn unfinished(&self, app: &str, source: &str, target: &str) -> Option<UnfinishedRestore> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .find(|e| same(e, app, source, target))
            .cloned()
    }
}

fn same(e: &UnfinishedRestore, app: &str, source: &str, target: &str) -> bool {
    e.app == app && e.source == source && e.target == target
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(target: &str) -> UnfinishedRestore {
        UnfinishedRestore {
            app: "esp".into(),
            source: "db".into(),
            target: target.into(),
            snapshot: "1a2b3c4d5e6f".into(),
            safety_snapshot: Some("99887766aabb".into()),
            started: "2026-12-02T01:00:00Z".into(),
            pid: 42,
        }
    }

    #[test]
    fn an_unfinished_restore_is_known_until_it_finishes() {
        let journal = MemoryJournal::default();
        journal.begin(&entry("/srv/a")).unwrap();
        assert_eq!(
            journal.unfinished("esp", "db", "/srv/a"),
            Some(entry("/srv/a"))
        );
        assert_eq!(journal.unfinished("esp", "db", "/srv/b"), None);
        journal.finish("esp", "db", "/srv/a").unwrap();
        assert_eq!(journal.unfinished("esp", "db", "/srv/a"), None);
    }

    #[test]
    fn the_description_names_target_snapshot_and_safety_backup() {
        let text = entry("/srv/a").describe();
        assert!(text.starts_with("/srv/a may be partial: a restore of snapshot 1a2b3c4d"));
        assert!(text.ends_with("safety backup 99887766"), "{text}");
    }
}
