//! Talking S3 through opendal from blocking code: a private tokio runtime, an operator
//! rooted at the target's prefix, and errors that say what happened in plain words.

use super::target::BucketTarget;
use crate::SourceError;
use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::services::S3;
use opendal::{ErrorKind, Operator};
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

/// Bound on a request without a body (stat, delete, …).
const TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on each step of a body transfer (one chunk read, one part written): generous
/// enough for an 8 MiB part on a slow uplink, short enough that a dead link ends.
const IO_TIMEOUT: Duration = Duration::from_secs(120);
/// Retries of temporary failures (connection reset, 5xx, throttling).
const RETRIES: usize = 4;

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The runtime all S3 work runs on. Our own, rather than the caller's: opendal's IO
/// must run inside a runtime, while our callers are plain threads.
fn runtime() -> Result<&'static tokio::runtime::Runtime, SourceError> {
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("lifeboat-s3")
        .enable_all()
        .build()
        .map_err(SourceError::io("starting the S3 runtime"))?;
    // A racing thread may have won; its runtime is kept and ours dropped.
    Ok(RUNTIME.get_or_init(|| built))
}

/// Runs `future` on the S3 runtime and waits for its output. Unlike
/// `Handle::block_on` (and opendal's blocking API built on it), this also works when
/// the calling thread happens to be inside another tokio runtime: it only waits on a
/// channel.
pub(crate) fn block<F>(future: F) -> Result<F::Output, SourceError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let _ = tx.send(future.await);
    });
    rx.recv()
        .map_err(|_| SourceError::Invalid("an S3 request was aborted (it panicked)".into()))
}

/// Runs `future` on the S3 runtime without waiting for it (best-effort cleanup).
pub(crate) fn spawn_detached<F: Future<Output = ()> + Send + 'static>(future: F) {
    if let Some(runtime) = RUNTIME.get() {
        runtime.spawn(future);
    }
}

/// Drops `value` on the S3 runtime without waiting: readers and writers may hold
/// timers and connections that want their runtime around when they go.
pub(crate) fn drop_on_runtime<T: Send + 'static>(value: T) {
    spawn_detached(async move { drop(value) });
}

/// An operator whose paths are keys relative to the target's prefix.
pub(crate) fn operator(target: &BucketTarget) -> Result<Operator, SourceError> {
    // Installs the HTTP transport opendal's services send requests through (once).
    opendal::install_default();
    let mut builder = S3::default()
        .bucket(&target.bucket)
        .root(&target.root())
        .region(&target.effective_region());
    if let Some(endpoint) = &target.endpoint {
        builder = builder.endpoint(endpoint);
    }
    if let (Some(access), Some(secret)) = (&target.access_key, &target.secret_key) {
        builder = builder
            .access_key_id(access.expose())
            .secret_access_key(secret.expose());
    }
    let op = Operator::new(builder)
        .map_err(|e| SourceError::Invalid(format!("bucket {}: {}", target.url(), e.message())))?;
    // Timeout below retry, so that each attempt is timed out (opendal's advice).
    Ok(op
        .layer(
            TimeoutLayer::new()
                .with_timeout(TIMEOUT)
                .with_io_timeout(IO_TIMEOUT),
        )
        .layer(
            RetryLayer::new()
                .with_max_times(RETRIES)
                .with_min_delay(Duration::from_millis(250))
                .with_max_delay(Duration::from_secs(10))
                .with_jitter(),
        ))
}

/// Messages of `error` and of its sources, e.g. "send http request: error sending
/// request …: Connection refused".
fn chain(error: &opendal::Error) -> String {
    let mut parts = vec![error.message().to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.retain(|p| !p.is_empty());
    parts.join(": ")
}

/// Shorter keys are not searched for: they would match inside ordinary words (and no
/// real S3 key is that short).
const MIN_REDACTED: usize = 6;

/// Removes the keys from a message, in case a server echoed them back.
fn redact(message: String, target: &BucketTarget) -> String {
    let keys = [&target.access_key, &target.secret_key];
    keys.into_iter()
        .flatten()
        .map(|k| k.expose())
        .filter(|k| k.len() >= MIN_REDACTED)
        .fold(message, |m, k| m.replace(k.as_str(), "****"))
}

/// What went wrong while `doing` something with `target`, in words a user can act on.
pub(crate) fn s3_error(target: &BucketTarget, doing: &str, error: &opendal::Error) -> SourceError {
    let (variant, message) = describe(target, doing, error);
    variant(redact(message, target))
}

/// The error's variant and message (before redaction).
fn describe(
    target: &BucketTarget,
    doing: &str,
    error: &opendal::Error,
) -> (fn(String) -> SourceError, String) {
    let endpoint = target.endpoint_label();
    let bucket = &target.bucket;
    let detail = chain(error);
    if detail.contains("NoSuchBucket") {
        let message = format!("{doing}: bucket {bucket} does not exist at {endpoint}");
        return (SourceError::Connect, message);
    }
    if detail.contains("InvalidBucketName") {
        let message = format!(
            "{doing}: {endpoint} refuses the bucket name {bucket:?} (S3 wants 3-63 \
             lowercase letters, digits, dots and hyphens)"
        );
        return (SourceError::Invalid, message);
    }
    match error.kind() {
        // opendal reports a 403 on some paths as a missing file; we say what it is.
        ErrorKind::PermissionDenied => (
            SourceError::Connect,
            format!(
                "{doing}: access denied by {endpoint} for bucket {bucket} (check access_key \
                 and secret_key, and that they may use this bucket)"
            ),
        ),
        ErrorKind::NotFound => (
            SourceError::Query,
            format!("{doing}: not found in bucket {bucket}"),
        ),
        ErrorKind::Unexpected if error.message() == "send http request" => (
            SourceError::Connect,
            format!("{doing}: cannot reach the S3 endpoint {endpoint}: {detail}"),
        ),
        ErrorKind::ConfigInvalid => (
            SourceError::Invalid,
            format!("{doing} (bucket {bucket} at {endpoint}): {detail}"),
        ),
        kind => (
            SourceError::Query,
            format!("{doing} (bucket {bucket} at {endpoint}): {kind}: {detail}"),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use lifeboat_core::Secret;

    fn target() -> BucketTarget {
        BucketTarget::parse(
            "s3://b/p",
            Some("http://127.0.0.1:9".into()),
            None,
            Some(Secret::new("AKIDEXAMPLE".into())),
            Some(Secret::new("s3cr3t-key".into())),
        )
        .unwrap()
    }

    #[test]
    fn access_denied_is_named_and_keys_never_shown() {
        let e = opendal::Error::new(ErrorKind::PermissionDenied, "s3cr3t-key AKIDEXAMPLE");
        let text = s3_error(&target(), "listing s3://b/p", &e).to_string();
        assert!(text.contains("access denied"), "{text}");
        assert!(
            !text.contains("s3cr3t-key") && !text.contains("AKIDEXAMPLE"),
            "{text}"
        );
        let e = opendal::Error::new(ErrorKind::Unexpected, "echo s3cr3t-key");
        let text = s3_error(&target(), "x", &e).to_string();
        assert!(!text.contains("s3cr3t-key"), "{text}");
    }

    #[test]
    fn short_keys_do_not_mangle_messages() {
        let mut t = target();
        t.access_key = Some(Secret::new("b".into()));
        t.secret_key = Some(Secret::new("p".into()));
        let e = opendal::Error::new(ErrorKind::PermissionDenied, "");
        let text = s3_error(&t, "listing s3://b/p", &e).to_string();
        assert!(
            text.starts_with("listing s3://b/p: access denied"),
            "{text}"
        );
    }

    #[test]
    fn missing_bucket_is_named() {
        let e = opendal::Error::new(
            ErrorKind::ConfigInvalid,
            "S3Error { code: \"NoSuchBucket\" }",
        );
        let text = s3_error(&target(), "listing", &e).to_string();
        assert!(
            text.contains("bucket b does not exist at http://127.0.0.1:9"),
            "{text}"
        );
    }

    #[test]
    fn block_works_inside_another_runtime() {
        let outer = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let got = outer.block_on(async { block(async { 7 }).unwrap() });
        assert_eq!(got, 7);
    }
}
