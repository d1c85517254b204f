//! Sources that behave as told: dump their data, fail at byte k, exit non-zero after
//! their output, stall until cancelled, or fail to start; restore into and verify
//! from an in-memory "live" copy of their data.

use lifeboat_core::ports::{
    Payload, Prepared, Purpose, RestoreTarget, SnapshotReader, SnapshotRef, Source, SourceFactory,
    StreamEntry,
};
use lifeboat_core::{
    CancelToken, Error, Facts, Manifest, RestoreOptions, SourceKind, SourceSpec, VerifyReport,
};
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};

/// How a fake source's dump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Dumps its data and succeeds.
    Good,
    /// The stream breaks after this many bytes (a dropped connection).
    FailAt(u64),
    /// The whole output arrives, then the tool exits with status 1.
    ExitNonZero,
    /// Nothing arrives until the run is cancelled; then the stream fails.
    StallUntilCancelled,
    /// The dump never starts (server unreachable).
    FailToStart,
    /// Backs up well; a restore into it fails half way (its server went away).
    RestoreFails,
}

type Shared<T> = Arc<Mutex<T>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone)]
struct Entry {
    behaviour: Behaviour,
    data: Shared<Vec<u8>>,
}

/// The factory of fake sources, keyed by source name; records what was done.
#[derive(Default, Clone)]
pub struct FakeSources {
    entries: Shared<HashMap<String, Entry>>,
    log: Shared<Vec<String>>,
}

impl FakeSources {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds source `name` whose live data is `data`.
    pub fn with(self, name: &str, behaviour: Behaviour, data: &[u8]) -> Self {
        let entry = Entry {
            behaviour,
            data: Arc::new(Mutex::new(data.to_vec())),
        };
        lock(&self.entries).insert(name.to_string(), entry);
        self
    }

    pub fn set_behaviour(&self, name: &str, behaviour: Behaviour) {
        if let Some(e) = lock(&self.entries).get_mut(name) {
            e.behaviour = behaviour;
        }
    }

    /// The source's live data now.
    pub fn data(&self, name: &str) -> Vec<u8> {
        let entries = lock(&self.entries);
        entries
            .get(name)
            .map(|e| lock(&e.data).clone())
            .unwrap_or_default()
    }

    pub fn set_data(&self, name: &str, data: &[u8]) {
        if let Some(e) = lock(&self.entries).get(name) {
            *lock(&e.data) = data.to_vec();
        }
    }

    /// `backup NAME`, `restore NAME`, `verify NAME` in the order they happened.
    pub fn log(&self) -> Vec<String> {
        lock(&self.log).clone()
    }
}

impl SourceFactory for FakeSources {
    fn adapter(&self, spec: &SourceSpec) -> Result<Box<dyn Source>, Error> {
        let entry = lock(&self.entries)
            .get(&spec.name)
            .cloned()
            .ok_or_else(|| Error::usage(format!("no fake source {}", spec.name)))?;
        Ok(Box::new(FakeSource {
            name: spec.name.clone(),
            kind: spec.kind.clone(),
            entry,
            log: self.log.clone(),
        }))
    }
}

struct FakeSource {
    name: String,
    kind: SourceKind,
    entry: Entry,
    log: Shared<Vec<String>>,
}

impl Source for FakeSource {
    fn backup(&self, _purpose: Purpose, cancel: &CancelToken) -> Result<Prepared, Error> {
        lock(&self.log).push(format!("backup {}", self.name));
        let behaviour = self.entry.behaviour;
        if behaviour == Behaviour::FailToStart {
            return Err(Error::source("fake: connection refused").retryable(true));
        }
        let reader = FakeReader {
            data: std::io::Cursor::new(lock(&self.entry.data).clone()),
            behaviour,
            cancel: cancel.clone(),
        };
        let stream = StreamEntry {
            name: format!("{}.out", self.name),
            reader: Box::new(reader),
            hash: true,
        };
        Ok(Prepared {
            origin: format!("fake:{}", self.name),
            facts: Facts::default(),
            payload: Payload::Streams(vec![stream]),
            complete: Box::new(move |mut m: Manifest| {
                if behaviour == Behaviour::ExitNonZero {
                    return Err(Error::source(
                        "fake-dump failed (exit status: 1): disk I/O error",
                    ));
                }
                m.tool_versions.push("fake-dump 1.0".into());
                Ok(m)
            }),
        })
    }

    fn restore_target(&self, _to: Option<&str>) -> Result<Box<dyn RestoreTarget>, Error> {
        Ok(Box::new(FakeTarget {
            name: self.name.clone(),
            kind: self.kind.clone(),
            data: self.entry.data.clone(),
            log: self.log.clone(),
            fails: self.entry.behaviour == Behaviour::RestoreFails,
        }))
    }

    fn verify(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        manifest: &Manifest,
        report: &mut VerifyReport,
        cancel: &CancelToken,
    ) -> Result<(), Error> {
        lock(&self.log).push(format!("verify {}", self.name));
        cancel.check()?;
        let mut bytes = Vec::new();
        for file in &manifest.files {
            reader.dump(snap, file, &mut bytes)?;
        }
        report.expect("bytes", manifest.facts.total_bytes, bytes.len() as u64);
        Ok(())
    }
}

struct FakeReader {
    data: std::io::Cursor<Vec<u8>>,
    behaviour: Behaviour,
    cancel: CancelToken,
}

impl Read for FakeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.behaviour {
            Behaviour::StallUntilCancelled => {
                while !self.cancel.is_cancelled() {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err(std::io::Error::other("fake-dump killed"))
            }
            Behaviour::FailAt(k) if self.data.position() >= k => {
                Err(std::io::Error::other("connection reset by peer"))
            }
            Behaviour::FailAt(k) => {
                let left = usize::try_from(k - self.data.position()).unwrap_or(usize::MAX);
                let n = buf.len().min(left);
                self.data.read(&mut buf[..n])
            }
            _ => self.data.read(buf),
        }
    }
}

/// The source's live data as a restore target.
struct FakeTarget {
    name: String,
    kind: SourceKind,
    data: Shared<Vec<u8>>,
    log: Shared<Vec<String>>,
    fails: bool,
}

impl RestoreTarget for FakeTarget {
    fn describe(&self) -> String {
        format!("fake:{}", self.name)
    }

    fn holds_data(&self) -> Result<bool, Error> {
        Ok(!lock(&self.data).is_empty())
    }

    fn plan(&self, snapshot: &str, _opts: &RestoreOptions) -> Vec<String> {
        vec![format!(
            "write snapshot {snapshot} into {}",
            self.describe()
        )]
    }

    fn safety_kind(&self) -> SourceKind {
        self.kind.clone()
    }

    fn restore(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        _opts: &RestoreOptions,
        cancel: &CancelToken,
    ) -> Result<(), Error> {
        lock(&self.log).push(format!("restore {}", self.name));
        cancel.check()?;
        if self.fails {
            *lock(&self.data) = b"half".to_vec();
            return Err(Error::source("fake: server closed the connection"));
        }
        let manifest = reader.manifest(snap.id)?;
        let mut bytes = Vec::new();
        for file in &manifest.files {
            reader.dump(snap, file, &mut bytes)?;
        }
        *lock(&self.data) = bytes;
        Ok(())
    }
}
