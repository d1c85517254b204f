//! What the use cases hand back and take in, shared by the engine and the adapters:
//! restore options and the verification report.

use serde::Serialize;

/// What the user asked of a restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// `latest` or a snapshot id (prefix); for a whole app, a run id (prefix).
    pub snapshot: String,
    /// `--at`: the newest backup at or before this time.
    pub at: Option<jiff::Timestamp>,
    /// `--filter`: the newest backup whose id, run id, host, time or a tag holds this.
    pub filter: Option<String>,
    /// Another target than the source's own (`--to`).
    pub to: Option<String>,
    pub force: bool,
    pub no_safety_backup: bool,
    /// files: remove what the backup does not have (`--delete`, `--clean`), except
    /// what the source's excludes match.
    pub delete: bool,
    /// files: with `delete`, remove excluded paths too (`--delete-excluded`).
    pub delete_excluded: bool,
    /// Only say what would happen.
    pub plan_only: bool,
}

/// The outcome of verifying one backup.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct VerifyReport {
    pub app: String,
    pub source: String,
    pub kind: String,
    pub snapshot: String,
    pub ok: bool,
    pub verified_at: String,
    pub duration_ms: u64,
    /// What was checked and held.
    pub checks: Vec<String>,
    /// What differed: expected vs found.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Records a count that must match: a check when equal, a problem otherwise.
    pub fn expect(&mut self, what: &str, expected: u64, found: u64) {
        if expected == found {
            self.checks.push(format!("{what}: {found} as recorded"));
        } else {
            self.problems
                .push(format!("{what}: expected {expected}, found {found}"));
        }
    }
}
