//! The one error type the ports speak: what kind of failure (which decides the exit
//! code), whether trying again can help, the context it was met in, and its cause.

use std::fmt;

/// What failed, as the exit codes and the daemon's retry rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A bad command line or selection (exit 2).
    Usage,
    /// A bad configuration (exit 2).
    Config,
    /// The repository itself: missing, wrong password, backend down, full (exit 3).
    Repository,
    /// Another process holds a conflicting repository lock (exit 3).
    Locked,
    /// A source: its server, its dump tool, its data (exit 1).
    Source,
    /// A backup that does not restore as it was taken (exit 1).
    Verify,
    /// Stopped by SIGINT/SIGTERM (exit 130).
    Cancelled,
    /// Anything else that failed (exit 1): a missing snapshot, a closed output pipe.
    Failed,
}

/// An error with its kind. Display is the whole message: context first, then the
/// cause (`esp/db: pg_dump failed (exit status: 1): …`).
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    retryable: bool,
    context: Vec<String>,
    cause: Box<dyn std::error::Error + Send + Sync>,
}

/// A message as a cause, for errors that have no type of their own.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

impl Error {
    /// An error of `kind` caused by `cause` (kept, for `cause()` and downcasting).
    pub fn new(
        kind: ErrorKind,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            retryable: matches!(kind, ErrorKind::Locked),
            context: Vec::new(),
            cause: cause.into(),
        }
    }

    /// An error of `kind` that is only a message.
    pub fn msg(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::new(kind, Message(message.into()))
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::msg(ErrorKind::Usage, message)
    }

    pub fn source(message: impl Into<String>) -> Self {
        Self::msg(ErrorKind::Source, message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self::msg(ErrorKind::Failed, message)
    }

    pub fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, crate::Cancelled)
    }

    /// Says whether trying again later can help (a dropped connection, a busy lock).
    pub fn retryable(mut self, yes: bool) -> Self {
        self.retryable = yes;
        self
    }

    /// Puts `context` in front of the message (`esp/db: …`).
    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context.insert(0, context.into());
        self
    }

    /// The same error under another kind (a repository's store error met while a
    /// dump failed is the dump's failure).
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The repository itself failed (exit 3): a run stops instead of going on.
    pub fn is_repository_problem(&self) -> bool {
        matches!(self.kind, ErrorKind::Repository | ErrorKind::Locked)
    }

    /// The message without its context.
    pub fn cause(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.cause
    }

    /// The typed cause, when it is a `T`.
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        self.cause.downcast_ref::<T>()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.context {
            write!(f, "{c}: ")?;
        }
        write!(f, "{}", self.cause)
    }
}

// The cause is part of Display already; reporting it again as `source` would print
// it twice in `{:#}` chains.
impl std::error::Error for Error {}

impl From<crate::Cancelled> for Error {
    fn from(_: crate::Cancelled) -> Self {
        Self::cancelled()
    }
}

impl From<crate::SelectorError> for Error {
    fn from(e: crate::SelectorError) -> Self {
        Self::new(ErrorKind::Usage, e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds context to any error that converts into an [`Error`], keeping its kind.
pub trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
    fn with_context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }

    fn with_context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| e.into().context(context()))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::new(ErrorKind::Failed, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_comes_before_the_cause_once() {
        let e = Error::source("pg_dump failed").context("db").context("esp");
        assert_eq!(e.to_string(), "esp: db: pg_dump failed");
        assert_eq!(e.kind(), ErrorKind::Source);
        assert!(std::error::Error::source(&e).is_none());
    }

    #[test]
    fn locks_are_retryable_by_default_and_the_cause_downcasts() {
        let e = Error::new(ErrorKind::Locked, crate::Cancelled);
        assert!(e.is_retryable() && e.is_repository_problem());
        assert!(e.downcast_ref::<crate::Cancelled>().is_some());
    }
}
