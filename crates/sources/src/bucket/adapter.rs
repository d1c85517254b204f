//! The `bucket` kind as a source port: every object a stream of its own plus the
//! metadata document, restored by uploading each object, verified by sha256.

use super::{BucketTarget, METADATA_PATH};
use crate::payload;
use crate::{Dump, DumpFacts};
use lifeboat_core::ports::{Prepared, Purpose, RestoreTarget, SnapshotReader, SnapshotRef, Source};
use lifeboat_core::{
    BucketSettings, CancelToken, Error, Facts, Manifest, RestoreOptions, SourceKind, VerifyReport,
};

pub struct BucketSource {
    pub settings: BucketSettings,
}

/// Where a `bucket` source's objects are.
fn bucket_target(b: &BucketSettings) -> Result<BucketTarget, Error> {
    Ok(BucketTarget::parse(
        &b.url,
        b.endpoint.clone(),
        b.region.clone(),
        b.access_key.clone(),
        b.secret_key.clone(),
    )?)
}

impl Source for BucketSource {
    /// Every object as a stream of its own (opened when the archiver reads it), plus
    /// the metadata document with their content types, stored outside the payload root
    /// (absolute name: [`METADATA_PATH`]); facts count the objects only.
    fn backup(&self, _purpose: Purpose, _cancel: &CancelToken) -> Result<Prepared, Error> {
        let target = bucket_target(&self.settings)?;
        let objects = super::list_objects(&target)?;
        let mut dumps = super::dumps_for(&target, &objects)?;
        dumps.push(Dump {
            name: METADATA_PATH.to_string(),
            stream: Box::new(std::io::Cursor::new(super::metadata_json(&objects))),
            hash: false,
            running: false,
            finish: Box::new(|| Ok(DumpFacts::default())),
        });
        let (count, bytes) = (
            objects.len() as u64,
            objects.iter().map(|o| o.size).sum::<u64>(),
        );
        let (payload, complete) = payload::streams(dumps)?;
        let complete = payload::and_then(complete, move |mut m| {
            m.facts.file_count = count;
            m.facts.total_bytes = bytes;
            Ok(m)
        });
        Ok(Prepared {
            origin: target.url(),
            facts: Facts::default(),
            payload,
            complete,
        })
    }

    fn restore_target(&self, to: Option<&str>) -> Result<Box<dyn RestoreTarget>, Error> {
        let target = bucket_target(&self.settings)?;
        let target = match to {
            Some(url) => target.with_url(url)?,
            None => target,
        };
        Ok(Box::new(BucketRestoreTarget {
            target,
            settings: self.settings.clone(),
        }))
    }

    fn verify(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        manifest: &Manifest,
        report: &mut VerifyReport,
        _cancel: &CancelToken,
    ) -> Result<(), Error> {
        crate::checks::verify_streams(reader, snap, manifest, report)
    }
}

struct BucketRestoreTarget {
    target: BucketTarget,
    settings: BucketSettings,
}

impl RestoreTarget for BucketRestoreTarget {
    fn describe(&self) -> String {
        self.target.url()
    }

    fn holds_data(&self) -> Result<bool, Error> {
        Ok(super::holds_data(&self.target)?)
    }

    fn plan(&self, snapshot: &str, opts: &RestoreOptions) -> Vec<String> {
        let clean = if opts.delete {
            "delete every object under the prefix, then "
        } else {
            ""
        };
        vec![format!(
            "{clean}upload every object of snapshot {snapshot} to {}, content types kept",
            self.describe()
        )]
    }

    fn safety_kind(&self) -> SourceKind {
        SourceKind::Bucket(BucketSettings {
            url: self.target.url(),
            ..self.settings.clone()
        })
    }

    fn restore(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        opts: &RestoreOptions,
        _cancel: &CancelToken,
    ) -> Result<(), Error> {
        restore_bucket(reader, snap, &self.target, opts.delete)
    }
}

/// Uploads every object of the backup (streamed through a pipe, one at a time), after
/// emptying the prefix with `--clean`/`--delete`.
fn restore_bucket(
    reader: &dyn SnapshotReader,
    snap: SnapshotRef<'_>,
    target: &BucketTarget,
    clean: bool,
) -> Result<(), Error> {
    let files = reader.manifest(snap.id)?.files;
    let mut listing = Vec::new();
    if files.iter().any(|f| f == METADATA_PATH) {
        reader.dump_path(snap.id, METADATA_PATH, &mut listing)?;
    } else {
        reader.dump(snap, super::LEGACY_METADATA_NAME, &mut listing)?;
    }
    let objects = super::parse_metadata(&listing)?;
    if clean {
        super::delete_prefix(target)?;
    }
    for object in &objects {
        upload(reader, snap, target, object).map_err(|e| e.context(object.key.clone()))?;
    }
    Ok(())
}

fn upload(
    reader: &dyn SnapshotReader,
    snap: SnapshotRef<'_>,
    target: &BucketTarget,
    object: &super::ObjectInfo,
) -> Result<(), Error> {
    let (mut rx, mut tx) = std::io::pipe()?;
    let (target, info) = (target.clone(), object.clone());
    let upload = std::thread::spawn(move || {
        super::put_object(
            &target,
            &info.key,
            &mut rx,
            info.size,
            info.content_type.as_deref(),
        )
    });
    let fed = reader.dump(snap, &object.key, &mut tx);
    drop(tx);
    let uploaded = upload
        .join()
        .map_err(|_| Error::failed("upload thread failed"))?;
    // A read error explains an upload cut short; an upload error explains a broken pipe.
    match (fed, uploaded) {
        (Err(e), _) if !e.to_string().contains("Broken pipe") => {
            Err(e.context("reading the backup"))
        }
        (_, Err(e)) => Err(e.into()),
        (Err(e), Ok(())) => Err(e.context("reading the backup")),
        (Ok(()), Ok(())) => Ok(()),
    }
}
