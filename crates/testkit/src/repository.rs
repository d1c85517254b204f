//! A repository in memory with restic's promise (a snapshot exists only with its
//! complete payload and manifest) and faults on cue: a store or an open that fails
//! the way a full disk or a lost backend does.

use lifeboat_core::layout::{tag_value, MANIFEST_PATH, TAG_PRE_RESTORE, TAG_VERIFY};
use lifeboat_core::ports::{
    Listing, LockKind, ManifestFn, Payload, PayloadStats, Progress, PruneSummary, Repository,
    SnapshotInfo, SnapshotMeta, SnapshotReader, SnapshotRef, StoredSnapshot, StreamStats,
    TreeRestoreOptions,
};
use lifeboat_core::{Error, ErrorKind, Manifest};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One saved snapshot: what `list` says of it, its files and its manifest.
#[derive(Debug, Clone)]
pub struct StoredPayload {
    pub info: SnapshotInfo,
    pub files: BTreeMap<String, Vec<u8>>,
    pub manifest: Manifest,
}

#[derive(Default)]
pub struct MemRepository {
    /// Shared with the handles `fork` gives out.
    saved: Arc<Mutex<Vec<StoredPayload>>>,
    /// The next stores fail with this kind (e.g. `Repository`: a full disk).
    pub fail_stores: Option<ErrorKind>,
    /// Opening fails with this kind (a wrong password, a lost backend).
    pub fail_open: Option<ErrorKind>,
    progress: Option<Progress>,
    /// The locks taken, in order.
    pub locks: Vec<LockKind>,
    /// Ids of backups whose tree "cannot be read" (a lost index): listings leave
    /// them out, and `unreadable` names them.
    pub unreadable: Vec<String>,
}

impl MemRepository {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every saved snapshot, verification records included, oldest first.
    pub fn saved(&self) -> Vec<StoredPayload> {
        self.shelf().clone()
    }

    fn shelf(&self) -> std::sync::MutexGuard<'_, Vec<StoredPayload>> {
        self.saved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn check_open(&self) -> Result<(), Error> {
        match self.fail_open {
            Some(kind) => Err(Error::msg(kind, "mem: repository unavailable")),
            None => Ok(()),
        }
    }

    fn read_streams(
        &self,
        streams: Vec<lifeboat_core::ports::StreamEntry>,
    ) -> Result<(BTreeMap<String, Vec<u8>>, PayloadStats), Error> {
        let mut files = BTreeMap::new();
        let mut stats = PayloadStats::default();
        for mut s in streams {
            let mut bytes = Vec::new();
            // The real store fails the snapshot when a stream breaks: so does this one.
            s.reader
                .read_to_end(&mut bytes)
                .map_err(|e| Error::source(format!("{}: {e}", s.name)))?;
            if let Some(progress) = &self.progress {
                progress(bytes.len() as u64);
            }
            stats.file_count += 1;
            stats.total_bytes += bytes.len() as u64;
            stats.streams.push(StreamStats {
                name: s.name.clone(),
                bytes: bytes.len() as u64,
                sha256: s.hash.then(|| hex::encode(Sha256::digest(&bytes))),
            });
            files.insert(s.name, bytes);
        }
        Ok((files, stats))
    }
}

fn info_of(id: String, meta: &SnapshotMeta, size: u64) -> SnapshotInfo {
    let tag = |k: &str| tag_value(&meta.tags, k).unwrap_or_default().to_string();
    SnapshotInfo {
        id,
        time: meta.time.timestamp().to_string(),
        timestamp: meta.time.timestamp(),
        hostname: "testhost".into(),
        app: tag("app"),
        source: tag("source"),
        kind: tag("kind"),
        run_id: tag("run"),
        pre_restore: meta.tags.iter().any(|t| t == TAG_PRE_RESTORE),
        size,
        added: size,
        verified: None,
        tags: meta.tags.clone(),
    }
}

impl Repository for MemRepository {
    fn ensure_open(&mut self) -> Result<(), Error> {
        self.check_open()
    }

    /// Backups only (not verification records), each with its latest verification.
    fn list(&mut self) -> Result<Vec<SnapshotInfo>, Error> {
        self.check_open()?;
        let saved = self.shelf();
        let verdict = |id: &str| {
            let records = saved
                .iter()
                .filter(|s| s.info.tags.iter().any(|t| t == TAG_VERIFY));
            let mut mine = records.filter(|s| tag_value(&s.info.tags, "verifies") == Some(id));
            mine.next_back()
                .map(|s| tag_value(&s.info.tags, "result") == Some("pass"))
        };
        let backups = saved.iter().filter(|s| {
            !s.info.tags.iter().any(|t| t == TAG_VERIFY) && !self.unreadable.contains(&s.info.id)
        });
        Ok(backups
            .map(|s| SnapshotInfo {
                verified: verdict(&s.info.id),
                ..s.info.clone()
            })
            .collect())
    }

    fn listing(&mut self) -> Result<Listing, Error> {
        let backups = self.list()?;
        let saved = self.shelf();
        let records = saved
            .iter()
            .filter(|s| s.info.tags.iter().any(|t| t == TAG_VERIFY));
        Ok(Listing {
            backups,
            verifications: records.map(|s| s.info.clone()).collect(),
        })
    }

    fn store(
        &mut self,
        meta: &SnapshotMeta,
        payload: Payload,
        manifest: ManifestFn,
    ) -> Result<StoredSnapshot, Error> {
        self.check_open()?;
        if let Some(kind) = self.fail_stores {
            return Err(Error::msg(kind, "mem: no space left on device"));
        }
        let Payload::Streams(streams) = payload else {
            return Err(Error::failed("MemRepository stores streams, not trees"));
        };
        let (files, stats) = self.read_streams(streams)?;
        let bytes = manifest(&stats).map_err(Error::source)?;
        let manifest = Manifest::from_json(&bytes)
            .map_err(|e| Error::failed(format!("mem: unreadable manifest: {e}")))?;
        let mut saved = self.shelf();
        let id = hex::encode(Sha256::digest(format!("{}:{}", saved.len(), meta.root)));
        let info = info_of(id.clone(), meta, stats.total_bytes);
        saved.push(StoredPayload {
            info,
            files,
            manifest,
        });
        Ok(StoredSnapshot {
            id,
            total_bytes: stats.total_bytes,
            added_bytes: stats.total_bytes,
        })
    }

    fn reader(&mut self) -> Result<Box<dyn SnapshotReader + '_>, Error> {
        self.check_open()?;
        Ok(Box::new(MemReader(self.shelf().clone())))
    }

    fn set_progress(&mut self, progress: Option<Progress>) {
        self.progress = progress;
    }

    /// The same snapshots and faults, its own progress and locks.
    fn fork(&mut self) -> Result<Box<dyn Repository + Send>, Error> {
        self.check_open()?;
        Ok(Box::new(MemRepository {
            saved: Arc::clone(&self.saved),
            fail_stores: self.fail_stores,
            fail_open: self.fail_open,
            progress: None,
            locks: Vec::new(),
            unreadable: self.unreadable.clone(),
        }))
    }

    fn hold_lock(&mut self, kind: LockKind) -> Result<(), Error> {
        self.check_open()?;
        self.locks.push(kind);
        Ok(())
    }

    fn forget(&mut self, ids: &[String]) -> Result<(), Error> {
        self.check_open()?;
        self.shelf().retain(|s| !ids.contains(&s.info.id));
        Ok(())
    }

    /// Nothing to reclaim in memory: forgotten snapshots are gone already.
    fn prune(&mut self, dry_run: bool) -> Result<PruneSummary, Error> {
        self.check_open()?;
        Ok(PruneSummary {
            dry_run,
            ..PruneSummary::default()
        })
    }

    fn unreadable(&mut self) -> Vec<SnapshotInfo> {
        self.shelf()
            .iter()
            .filter(|s| self.unreadable.contains(&s.info.id))
            .map(|s| s.info.clone())
            .collect()
    }
}

struct MemReader(Vec<StoredPayload>);

impl MemReader {
    fn get(&self, id: &str) -> Result<&StoredPayload, Error> {
        self.0
            .iter()
            .find(|s| s.info.id == id)
            .ok_or_else(|| Error::failed(format!("snapshot {id} not found")))
    }
}

impl SnapshotReader for MemReader {
    fn manifest(&self, id: &str) -> Result<Manifest, Error> {
        Ok(self.get(id)?.manifest.clone())
    }

    fn dump(&self, snap: SnapshotRef<'_>, file: &str, out: &mut dyn Write) -> Result<(), Error> {
        let stored = self.get(snap.id)?;
        let bytes = stored
            .files
            .get(file)
            .ok_or_else(|| Error::failed(format!("snapshot {} holds no {file}", snap.id)))?;
        Ok(out.write_all(bytes)?)
    }

    fn dump_path(&self, id: &str, path: &str, out: &mut dyn Write) -> Result<(), Error> {
        if path == MANIFEST_PATH {
            return Ok(out.write_all(&self.get(id)?.manifest.to_json())?);
        }
        let stored = self.get(id)?;
        let bytes = stored
            .files
            .get(path)
            .ok_or_else(|| Error::failed(format!("snapshot {id} holds no {path}")))?;
        Ok(out.write_all(bytes)?)
    }

    fn restore_tree(
        &self,
        _: SnapshotRef<'_>,
        _: &Path,
        _: &TreeRestoreOptions,
    ) -> Result<(), Error> {
        Err(Error::failed("MemRepository holds no trees"))
    }

    fn plan_tree(
        &self,
        _: SnapshotRef<'_>,
        _: &Path,
        _: &TreeRestoreOptions,
    ) -> Result<Vec<String>, Error> {
        Ok(Vec::new())
    }
}
