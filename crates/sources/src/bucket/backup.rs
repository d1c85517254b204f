//! Backing up a prefix: list its objects (sizes and content types), then one lazily
//! opened stream per object, so that only as many GETs run as the archiver reads.

use super::client::{block, drop_on_runtime, operator, s3_error};
use super::target::{is_clean_path, BucketTarget};
use super::ObjectInfo;
use crate::dump::{Dump, DumpFacts};
use crate::dump_lazy::lazy;
use crate::SourceError;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use opendal::{ErrorKind, Operator};
use std::io::{self, Read};
use std::sync::{Arc, Mutex, PoisonError};

/// HEAD requests in flight while listing: the list itself has no content types.
const HEAD_CONCURRENCY: usize = 16;

type Stream = opendal::FuturesBytesStream;

/// `s3://BUCKET/PREFIX/KEY`, as messages name an object.
pub(crate) fn object_url(target: &BucketTarget, key: &str) -> String {
    format!("{}/{key}", target.url())
}

/// Keys of the objects under the operator's root, without folder markers
/// (zero-byte keys ending in `/`, which hold no data).
async fn list_keys(op: &Operator) -> opendal::Result<Vec<String>> {
    let mut lister = op.lister_with("").recursive(true).await?;
    let mut keys = Vec::new();
    while let Some(entry) = lister.try_next().await? {
        if entry.metadata().is_file() {
            keys.push(entry.path().to_string());
        }
    }
    Ok(keys)
}

/// Size and content type of each key, by HEAD, several at once (in key order).
async fn head_all(
    op: Operator,
    keys: Vec<String>,
) -> Vec<(String, opendal::Result<opendal::Metadata>)> {
    futures::stream::iter(keys)
        .map(|key| {
            let op = op.clone();
            async move {
                let stat = op.stat(&key).await;
                (key, stat)
            }
        })
        .buffered(HEAD_CONCURRENCY)
        .collect()
        .await
}

fn check_key(target: &BucketTarget, key: &str) -> Result<(), SourceError> {
    if is_clean_path(key) {
        Ok(())
    } else {
        Err(SourceError::Invalid(format!(
            "object {} cannot be backed up: its key has an empty, '.' or '..' path segment",
            object_url(target, key)
        )))
    }
}

/// Keys become paths in the snapshot's tree: `dir` and `dir/x` would be a file and a
/// directory of the same name, which no snapshot tree can hold. Refused, naming both.
fn check_tree_clash(target: &BucketTarget, keys: &[String]) -> Result<(), SourceError> {
    let mut sorted: Vec<&str> = keys.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let clash = sorted.iter().find_map(|key| {
        let dir = format!("{key}/");
        // Keys under `key/` sort right after `key/` itself, wherever they are.
        let at = sorted.partition_point(|k| *k < dir.as_str());
        sorted
            .get(at)
            .filter(|k| k.starts_with(&dir))
            .map(|inner| (*key, *inner))
    });
    match clash {
        Some((key, inner)) => Err(SourceError::Invalid(format!(
            "objects {} and {} cannot both be backed up: a snapshot would need a file and a \
             directory of the same name",
            object_url(target, key),
            object_url(target, inner)
        ))),
        None => Ok(()),
    }
}

/// Every object under the target's prefix, sorted by key (relative to the prefix).
pub fn list_objects(target: &BucketTarget) -> Result<Vec<ObjectInfo>, SourceError> {
    let op = operator(target)?;
    let listing = op.clone();
    let keys = block(async move { list_keys(&listing).await })?
        .map_err(|e| s3_error(target, &format!("listing {}", target.url()), &e))?;
    for key in &keys {
        check_key(target, key)?;
    }
    check_tree_clash(target, &keys)?;
    let mut objects = Vec::with_capacity(keys.len());
    for (key, stat) in block(head_all(op, keys))? {
        match stat {
            Ok(meta) => objects.push(ObjectInfo {
                size: meta.content_length(),
                content_type: meta.content_type().map(str::to_string),
                key,
            }),
            // Deleted since the listing: no longer there to back up.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                tracing::debug!(key, "object deleted while listing; skipped");
            }
            Err(e) => {
                let doing = format!("reading the metadata of {}", object_url(target, &key));
                return Err(s3_error(target, &doing, &e));
            }
        }
    }
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(objects)
}

/// Lists the target and returns one lazily opened [`Dump`] per object.
pub fn start_backup(target: &BucketTarget) -> Result<Vec<Dump>, SourceError> {
    let objects = list_objects(target)?;
    dumps_for(target, &objects)
}

/// One lazily opened [`Dump`] per listed object, named by its key: lets the caller
/// list once and store the same listing with [`super::metadata_json`].
pub fn dumps_for(target: &BucketTarget, objects: &[ObjectInfo]) -> Result<Vec<Dump>, SourceError> {
    let op = operator(target)?;
    Ok(objects
        .iter()
        .map(|object| {
            let (op, target, object) = (op.clone(), target.clone(), object.clone());
            lazy(
                object.key.clone(),
                true,
                Box::new(move || open(op, target, object)),
            )
        })
        .collect())
}

/// How far an object's stream got, shared between the stream and its finisher.
#[derive(Debug, Default)]
struct Progress {
    read: u64,
    failure: Option<String>,
}

type Shared = Arc<Mutex<Progress>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Progress> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the object's GET.
fn open(op: Operator, target: BucketTarget, object: ObjectInfo) -> Result<Dump, SourceError> {
    let doing = format!("reading {}", object_url(&target, &object.key));
    let key = object.key.clone();
    let stream = block(async move { op.reader(&key).await?.into_bytes_stream(..).await })?
        .map_err(|e| s3_error(&target, &doing, &e))?;
    let shared = Shared::default();
    let finish_shared = shared.clone();
    let name = object.key.clone();
    let stream = ObjectStream {
        stream: Some(stream),
        chunk: Bytes::new(),
        target: target.clone(),
        key: object.key.clone(),
        shared,
    };
    Ok(Dump {
        name,
        stream: Box::new(stream),
        hash: true,
        running: false,
        finish: Box::new(move || finish(&target, &object, &finish_shared)),
    })
}

/// The bytes read must be the listed size: fewer means a cut-off transfer, another
/// size means the object was replaced during the backup.
fn finish(
    target: &BucketTarget,
    object: &ObjectInfo,
    shared: &Shared,
) -> Result<DumpFacts, SourceError> {
    let progress = lock(shared);
    if let Some(failure) = &progress.failure {
        return Err(SourceError::Query(failure.clone()));
    }
    if progress.read != object.size {
        return Err(SourceError::Query(format!(
            "{}: read {} bytes but the listing said {} (the object changed during the backup, \
             or the transfer was cut off)",
            object_url(target, &object.key),
            progress.read,
            object.size
        )));
    }
    Ok(DumpFacts::default())
}

/// An object's body as a blocking reader: each refill fetches the next chunk on the
/// S3 runtime.
struct ObjectStream {
    /// Moved into each fetch and back; `None` once it ended or failed.
    stream: Option<Stream>,
    /// The unread rest of the last chunk received.
    chunk: Bytes,
    target: BucketTarget,
    key: String,
    shared: Shared,
}

impl ObjectStream {
    /// The next chunk of the body, or `None` at its end.
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        let Some(mut stream) = self.stream.take() else {
            return Ok(None);
        };
        let (stream, item) = block(async move {
            let item = stream.next().await;
            (stream, item)
        })
        .map_err(|e| io::Error::other(e.to_string()))?;
        match item {
            None => {
                drop_on_runtime(stream);
                Ok(None)
            }
            Some(Ok(bytes)) => {
                self.stream = Some(stream);
                Ok(Some(bytes))
            }
            Some(Err(e)) => {
                drop_on_runtime(stream);
                Err(self.fail(&e))
            }
        }
    }

    /// Records a failed read for the finisher and returns it as an IO error.
    fn fail(&self, e: &io::Error) -> io::Error {
        let doing = format!("reading {}", object_url(&self.target, &self.key));
        let message = match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<opendal::Error>())
        {
            Some(s3) => s3_error(&self.target, &doing, s3).to_string(),
            None => format!("{doing}: {e}"),
        };
        lock(&self.shared).failure = Some(message.clone());
        io::Error::other(message)
    }
}

impl Read for ObjectStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.next_chunk()? {
                Some(chunk) => self.chunk = chunk,
                None => return Ok(0),
            }
        }
        let n = self.chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        lock(&self.shared).read += n as u64;
        Ok(n)
    }
}

impl Drop for ObjectStream {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            drop_on_runtime(stream);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn a_key_that_is_also_a_directory_of_other_keys_is_refused() {
        let target = BucketTarget::parse("s3://b/p", None, None, None, None).unwrap();
        assert!(check_tree_clash(&target, &keys(&["dir.d", "dir/x", "dir-x", "a/b/c"])).is_ok());
        let e = check_tree_clash(&target, &keys(&["dir", "dir-a", "dir.b", "dir/x"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("s3://b/p/dir and s3://b/p/dir/x"), "{e}");
        assert!(check_tree_clash(&target, &keys(&["a/b/c", "a/b"])).is_err());
    }
}
