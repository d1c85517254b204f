//! Repository integrity: structure, index and, on request, every pack's content.

use crate::error::engine;
use crate::{Repo, RepoError};
use rustic_core::CheckOptions;

/// What a check found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    /// Every finding, `Error: …` or `Warn: …`.
    pub findings: Vec<String>,
    /// No finding at error level.
    pub ok: bool,
}

impl Repo {
    /// Checks the repository; `read_data` also reads and decrypts every pack.
    pub fn check(&self, read_data: bool) -> Result<CheckReport, RepoError> {
        let mut opts = CheckOptions::default();
        opts.read_data = read_data;
        let results = self.open_repo()?.check(opts).map_err(engine)?;
        Ok(CheckReport {
            findings: results
                .0
                .iter()
                .map(|(level, e)| format!("{level:?}: {e}"))
                .collect(),
            ok: results.is_ok().is_ok(),
        })
    }
}
