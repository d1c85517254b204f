//! Errors of source adapters: always say what failed and why, never a secret.

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{tool} not found: {hint}")]
    MissingTool { tool: String, hint: String },
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    Query(String),
    #[error("{tool} failed ({status}){}", stderr_suffix(.stderr))]
    ChildFailed {
        tool: String,
        status: String,
        stderr: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

fn stderr_suffix(stderr: &str) -> String {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!(": {trimmed}")
    }
}

impl SourceError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> SourceError {
        let context = context.into();
        move |source| SourceError::Io { context, source }
    }
}

impl From<SourceError> for lifeboat_core::Error {
    fn from(e: SourceError) -> Self {
        // A server that did not answer may answer later; a failed tool or bad data not.
        let retryable = matches!(e, SourceError::Connect(_));
        lifeboat_core::Error::new(lifeboat_core::ErrorKind::Source, e).retryable(retryable)
    }
}
