//! Restoring into a prefix: streaming uploads (multipart for big objects, so memory
//! stays at one part), and the checks and cleanup `--clean` needs.

use super::backup::object_url;
use super::client::{block, operator, s3_error, spawn_detached};
use super::target::{is_clean_path, BucketTarget};
use crate::SourceError;
use futures::TryStreamExt;
use opendal::{Operator, Writer};
use std::io::{self, Read};

/// Smallest part we upload: S3's minimum is 5 MiB, and bigger parts mean fewer requests.
const MIN_PART: u64 = 8 << 20;
/// Parts per object we aim to stay under: S3 allows at most 10,000.
const MAX_PARTS: u64 = 9_000;

/// Part size for an object of `size` bytes: 8 MiB, or more (whole MiB) when 8 MiB
/// parts would exceed S3's part limit.
fn part_size(size: u64) -> usize {
    let needed = size.div_ceil(MAX_PARTS).div_ceil(1 << 20) << 20;
    usize::try_from(needed.max(MIN_PART)).unwrap_or(usize::MAX)
}

/// Reads up to `limit` bytes (less only at the end of `body`).
fn read_part(body: &mut dyn Read, limit: usize) -> io::Result<Vec<u8>> {
    let mut part = Vec::with_capacity(limit);
    body.take(limit as u64).read_to_end(&mut part)?;
    Ok(part)
}

/// Uploads `body` (exactly `size` bytes) as `key` under the target's prefix.
pub fn put_object(
    target: &BucketTarget,
    key: &str,
    body: &mut dyn Read,
    size: u64,
    content_type: Option<&str>,
) -> Result<(), SourceError> {
    if !is_clean_path(key) {
        return Err(SourceError::Invalid(format!(
            "cannot write {}: the key has an empty, '.' or '..' path segment",
            object_url(target, key)
        )));
    }
    let doing = format!("writing {}", object_url(target, key));
    let op = operator(target)?;
    let part = part_size(size);
    let writer = open_writer(op, key, content_type, part)
        .and_then(|w| w.map_err(|e| s3_error(target, &doing, &e)))?;
    let mut upload = Upload {
        writer: Some(writer),
        target,
        doing: &doing,
    };
    let mut sent = 0u64;
    loop {
        let data = read_part(body, part).map_err(SourceError::io(format!(
            "{doing}: reading the stored object"
        )))?;
        if data.is_empty() {
            break;
        }
        sent += data.len() as u64;
        if sent > size {
            break;
        }
        upload.write(data)?;
    }
    if sent != size {
        let got = if sent > size {
            format!("more than {size}")
        } else {
            sent.to_string()
        };
        return Err(SourceError::Invalid(format!(
            "{doing}: the stored object has {got} bytes, expected {size}"
        )));
    }
    upload.close()
}

fn open_writer(
    op: Operator,
    key: &str,
    content_type: Option<&str>,
    part: usize,
) -> Result<opendal::Result<Writer>, SourceError> {
    let key = key.to_string();
    let content_type = content_type.map(str::to_string);
    block(async move {
        let mut future = op.writer_with(&key).chunk(part);
        if let Some(content_type) = &content_type {
            future = future.content_type(content_type);
        }
        future.await
    })
}

/// An upload in progress; aborted (its parts removed) unless closed.
struct Upload<'a> {
    writer: Option<Writer>,
    target: &'a BucketTarget,
    doing: &'a str,
}

impl Upload<'_> {
    fn write(&mut self, data: Vec<u8>) -> Result<(), SourceError> {
        let Some(mut writer) = self.writer.take() else {
            return Err(SourceError::Invalid(format!(
                "{}: upload already ended",
                self.doing
            )));
        };
        let (writer, written) = block(async move {
            let written = writer.write(data).await;
            (writer, written)
        })?;
        self.writer = Some(writer);
        written.map_err(|e| s3_error(self.target, self.doing, &e))
    }

    fn close(mut self) -> Result<(), SourceError> {
        let Some(mut writer) = self.writer.take() else {
            return Err(SourceError::Invalid(format!(
                "{}: upload already ended",
                self.doing
            )));
        };
        block(async move { writer.close().await })?
            .map(drop)
            .map_err(|e| s3_error(self.target, self.doing, &e))
    }
}

impl Drop for Upload<'_> {
    fn drop(&mut self) {
        // An unfinished multipart upload would keep its parts (and their cost) on the
        // server; abort it in the background.
        if let Some(mut writer) = self.writer.take() {
            spawn_detached(async move {
                let _ = writer.abort().await;
            });
        }
    }
}

/// Keys of every object under the prefix (folder markers included).
async fn all_keys(op: &Operator) -> opendal::Result<Vec<String>> {
    let mut lister = op.lister_with("").recursive(true).await?;
    let mut keys = Vec::new();
    while let Some(entry) = lister.try_next().await? {
        let path = entry.path();
        if !path.is_empty() && path != "/" {
            keys.push(path.to_string());
        }
    }
    Ok(keys)
}

/// Whether any object lies under the target's prefix. Fails when the bucket is missing.
pub fn holds_data(target: &BucketTarget) -> Result<bool, SourceError> {
    let op = operator(target)?;
    block(async move {
        let mut lister = op.lister_with("").recursive(true).limit(100).await?;
        while let Some(entry) = lister.try_next().await? {
            if entry.metadata().is_file() {
                return Ok(true);
            }
        }
        Ok(false)
    })?
    .map_err(|e| s3_error(target, &format!("listing {}", target.url()), &e))
}

/// Deletes every object under the target's prefix (for `--clean`); returns how many.
pub fn delete_prefix(target: &BucketTarget) -> Result<u64, SourceError> {
    let op = operator(target)?;
    block(async move {
        let keys = all_keys(&op).await?;
        let count = keys.len() as u64;
        op.delete_iter(keys).await?;
        Ok(count)
    })?
    .map_err(|e| {
        s3_error(
            target,
            &format!("deleting the objects of {}", target.url()),
            &e,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_stay_under_the_limit() {
        assert_eq!(part_size(0), 8 << 20);
        assert_eq!(part_size(1 << 30), 8 << 20);
        let huge = 5u64 << 40; // 5 TiB, S3's largest object
        let part = part_size(huge) as u64;
        assert!(huge.div_ceil(part) <= MAX_PARTS && part.is_multiple_of(1 << 20));
    }
}
