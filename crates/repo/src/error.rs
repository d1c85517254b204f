//! Repository errors, classified the way the CLI maps them to exit codes.

use crate::location::{Backend, Location};
use rustic_core::RusticError;
use std::error::Error as _;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("no repository at {url}: run `lifeboat init` first")]
    NotFound { url: String },
    #[error("wrong password for the repository at {url}")]
    WrongPassword { url: String },
    /// keys/ is empty: no password opens the repository until a key file is back.
    #[error("the repository at {url} has no key file (keys/ is empty), so nothing in it can be decrypted: put back keys/ from a copy of the repository (README, Reliability)")]
    NoKeys { url: String },
    #[error("a repository already exists at {url}")]
    AlreadyExists { url: String },
    #[error("repository {url}: invalid location: {reason}")]
    Location { url: String, reason: String },
    #[error("repository error: {0}")]
    Engine(String),
    /// The server refused the credentials (S3 403, REST 401, SFTP key refused).
    #[error("access denied by {server}: check the credentials ({hint})")]
    AccessDenied { server: String, hint: String },
    /// The S3 bucket is not there: lifeboat never creates buckets (their policies,
    /// versioning and lifecycle rules belong to the store's administrator).
    #[error("bucket `{bucket}` does not exist on {server}: create it with the store's own tool (for example `aws s3 mb s3://{bucket}`, `mc mb ALIAS/{bucket}` or `garage bucket create {bucket}`), then run `lifeboat init`")]
    BucketMissing { server: String, bucket: String },
    /// No TCP connection to the server, after a few tries.
    #[error("cannot reach {server}: {reason}")]
    Unreachable { server: String, reason: String },
    /// Any other failure of a remote store, with the server named.
    #[error("{server}: {reason}")]
    Backend { server: String, reason: String },
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

/// What went wrong with a remote store, told from the errors rustic wraps: opendal's
/// (S3, SFTP, FTP) and reqwest's (REST). rustic's own messages for these mislead (a
/// 403 from S3 reads "Path `config` does not exist ... a bug, please report it").
/// Falls back to [`engine`] with the server named. Never quotes credentials: opendal's
/// and reqwest's messages hold none but the REST URL, which the CLI masks.
#[allow(clippy::boxed_local)]
pub(crate) fn remote(location: &Location, err: Box<RusticError>) -> RepoError {
    if location.is_local() || err.is_incorrect_password() {
        return engine(err);
    }
    let server = location.server();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(e) = cause {
        if let Some(o) = e.downcast_ref::<opendal::Error>() {
            if let Some(found) = opendal_error(location, &server, o) {
                return found;
            }
        }
        if let Some(r) = e.downcast_ref::<reqwest::Error>() {
            if matches!(r.status().map(|s| s.as_u16()), Some(401 | 403)) {
                return access_denied(location, server);
            }
            if r.is_connect() || r.is_timeout() {
                return RepoError::Unreachable {
                    server,
                    reason: chain(e),
                };
            }
        }
        cause = e.source();
    }
    match engine(err) {
        RepoError::Engine(reason) => RepoError::Backend { server, reason },
        other => other,
    }
}

pub(crate) fn opendal_error(
    location: &Location,
    server: &str,
    e: &opendal::Error,
) -> Option<RepoError> {
    use opendal::ErrorKind as K;
    let text = chain(e);
    match e.kind() {
        K::PermissionDenied => Some(access_denied(location, server.to_string())),
        K::ConfigInvalid if text.contains("NoSuchBucket") => Some(RepoError::BucketMissing {
            server: server.to_string(),
            bucket: location.bucket.clone().unwrap_or_default(),
        }),
        // The FTP server's "530 Login incorrect", ssh's "Permission denied (publickey)".
        _ if text.contains("530 ") || text.contains("Permission denied") => {
            Some(access_denied(location, server.to_string()))
        }
        _ => None,
    }
}

fn access_denied(location: &Location, server: String) -> RepoError {
    let hint = match location.backend {
        Backend::S3 => {
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or access_key_id and \
             secret_access_key in [repository.options_env]"
        }
        Backend::Sftp => {
            "the private key in [repository.options] key, and the server's authorized_keys"
        }
        Backend::Ftp | Backend::Rest => {
            "the user in the URL and password in [repository.options_env]"
        }
        Backend::Local => "",
    };
    RepoError::AccessDenied {
        server,
        hint: hint.to_string(),
    }
}

/// An error and its causes on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}
