//! Repository errors, classified the way the CLI maps them to exit codes.

use rustic_core::RusticError;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("no repository at {url}: run `lifeboat init` first")]
    NotFound { url: String },
    #[error("wrong password for the repository at {url}")]
    WrongPassword { url: String },
    #[error("a repository already exists at {url}")]
    AlreadyExists { url: String },
    #[error("repository {url}: invalid location: {reason}")]
    Location { url: String, reason: String },
    #[error("repository error: {0}")]
    Engine(String),
    #[error("repository {url} is locked: {holder}; if that process is gone, `lifeboat unlock` removes stale locks")]
    Locked { url: String, holder: String },
    #[error("snapshot {0} not found")]
    SnapshotNotFound(String),
    #[error("{0}")]
    Incomplete(String),
    /// Writing what was read failed (a closed pipe, a full disk): not the repository.
    #[error("writing the output: {0}")]
    Output(std::io::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl RepoError {
    /// Whether this error is about the repository itself (exit code 3) rather than
    /// about the data being stored or restored.
    pub fn is_repository_problem(&self) -> bool {
        !matches!(
            self,
            RepoError::Incomplete(_) | RepoError::SnapshotNotFound(_) | RepoError::Output(_)
        )
    }
}

/// rustic's Display is a multi-paragraph essay; its log form is one line. Takes the box
/// because that is how rustic returns its errors (`map_err(engine)`).
#[allow(clippy::boxed_local)]
pub(crate) fn engine(err: Box<RusticError>) -> RepoError {
    let text = err.display_log();
    RepoError::Engine(text.strip_prefix("Error: ").unwrap_or(&text).to_string())
}
