//! Engine errors: which source, what failed; repository problems kept apart so the
//! CLI can map them to their exit code.

use lifeboat_repo::RepoError;
use lifeboat_sources::SourceError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// A repository problem met while storing one source (full disk, lost backend).
    #[error("{spec}: {error}")]
    RepoFor { spec: String, error: RepoError },
    #[error("{spec}: {error}")]
    Source { spec: String, error: SourceError },
    #[error("{spec}: {message}")]
    Failed { spec: String, message: String },
    #[error("{0}")]
    Usage(String),
}

impl EngineError {
    pub fn source(spec: &str) -> impl FnOnce(SourceError) -> EngineError + '_ {
        move |error| EngineError::Source {
            spec: spec.to_string(),
            error,
        }
    }

    pub fn failed(spec: &str, message: impl Into<String>) -> EngineError {
        EngineError::Failed {
            spec: spec.to_string(),
            message: message.into(),
        }
    }

    /// A problem with the repository itself (exit code 3).
    pub fn is_repository_problem(&self) -> bool {
        match self {
            EngineError::Repo(e) | EngineError::RepoFor { error: e, .. } => {
                e.is_repository_problem()
            }
            _ => false,
        }
    }
}
