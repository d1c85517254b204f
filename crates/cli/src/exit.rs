//! The one place that maps errors to the spec's exit codes: 1 something failed,
//! 2 usage or configuration, 3 repository, 130 interrupted.

use crate::config::ConfigError;
use lifeboat_core::{Error, ErrorKind};
use lifeboat_repo::RepoError;
use std::process::ExitCode;

pub const FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const REPOSITORY: u8 = 3;
/// SIGINT or SIGTERM, for either (SPEC §4), after the clean-up ran.
pub const INTERRUPTED: u8 = 130;

/// A usage error found by a command (bad spec, bad flag combination).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn code_of(err: &anyhow::Error) -> u8 {
    if err.is::<ConfigError>() || err.is::<UsageError>() || err.is::<lifeboat_core::SelectorError>()
    {
        return USAGE;
    }
    if let Some(e) = err.downcast_ref::<RepoError>() {
        return if e.is_repository_problem() {
            REPOSITORY
        } else {
            FAILED
        };
    }
    err.downcast_ref::<Error>()
        .map_or(FAILED, |e| code_of_kind(e.kind()))
}

/// The exit code of a failure of this kind.
pub fn code_of_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage | ErrorKind::Config => USAGE,
        ErrorKind::Repository | ErrorKind::Locked => REPOSITORY,
        ErrorKind::Cancelled => INTERRUPTED,
        ErrorKind::Source | ErrorKind::Verify | ErrorKind::Failed => FAILED,
    }
}

/// The secrets of the configuration a command loaded: masked in what it prints.
static REDACTOR: std::sync::OnceLock<lifeboat_core::Redactor> = std::sync::OnceLock::new();

/// Called once the configuration is loaded.
pub fn mask_secrets(redactor: lifeboat_core::Redactor) {
    let _ = REDACTOR.set(redactor);
}

/// `text` with the configuration's secrets masked.
pub fn masked(text: &str) -> String {
    REDACTOR
        .get()
        .map_or_else(|| text.to_string(), |r| r.apply(text))
}

/// Prints the error on stderr (secrets masked) and returns its exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", masked(&format!("{err:#}")));
    ExitCode::from(code_of(err))
}
