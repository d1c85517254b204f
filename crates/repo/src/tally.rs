//! Accounting of what the archiver actually read, so that a snapshot gets its
//! manifest only when every payload entry was read completely and without error.
//!
//! rustic's archiver logs and drops entries whose reader fails, then saves the
//! snapshot anyway (see ../shared/notes/rustic_core-0.13.md). Every payload reader
//! therefore reports into a [`Tally`]; the manifest entry, archived last, waits until
//! no payload reader is pending and refuses to produce bytes if anything went wrong.

use crate::hash_ahead::{hash_ahead, HashAhead};
use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

#[derive(Debug, Default)]
pub(crate) struct TallyState {
    pub pending: usize,
    pub errors: Vec<String>,
    pub file_count: u64,
    pub total_bytes: u64,
    pub streams: Vec<crate::StreamStats>,
}

#[derive(Debug, Default)]
pub(crate) struct Tally {
    state: Mutex<TallyState>,
    idle: Condvar,
    /// Once cancelled, every payload reader fails at its next read.
    cancel: lifeboat_core::CancelToken,
    /// Told the payload bytes read so far, after every read.
    progress: ProgressSink,
    read: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct ProgressSink(Option<crate::Progress>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(on)"
        } else {
            "Progress(off)"
        })
    }
}

impl Tally {
    pub fn new(cancel: lifeboat_core::CancelToken, progress: Option<crate::Progress>) -> Self {
        Self {
            cancel,
            progress: ProgressSink(progress),
            ..Self::default()
        }
    }

    /// Counts `n` more payload bytes read and tells the progress callback.
    pub fn advance(&self, n: usize) {
        let n = n as u64;
        let total = self.read.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        if let Some(progress) = &self.progress.0 {
            progress(total);
        }
    }

    /// An error once the command was cancelled (the reader then fails its entry, so
    /// the snapshot gets no manifest and is deleted).
    pub fn check_cancelled(&self) -> io::Result<()> {
        self.cancel
            .check()
            // not ErrorKind::Interrupted: read loops retry that forever
            .map_err(io::Error::other)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut TallyState) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    /// A token that keeps the tally pending until dropped.
    pub fn token(self: &Arc<Self>) -> PendingToken {
        self.with(|s| s.pending += 1);
        PendingToken(self.clone())
    }

    pub fn error(&self, message: String) {
        self.with(|s| s.errors.push(message));
    }

    /// Blocks until every token is dropped, then returns a view of the state.
    pub fn wait_idle<R>(&self, f: impl FnOnce(&TallyState) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while guard.pending > 0 {
            guard = self
                .idle
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
        f(&guard)
    }
}

/// Keeps its tally pending while alive.
#[derive(Debug)]
pub(crate) struct PendingToken(Arc<Tally>);

impl Drop for PendingToken {
    fn drop(&mut self) {
        self.0.with(|s| s.pending -= 1);
        self.0.idle.notify_all();
    }
}

/// What a [`StreamReader`] reads: the stream itself, or the stream hashed on a thread
/// of its own (see `hash_ahead`), started at the first read: lazy streams (a bucket's
/// objects) are opened one at a time, and so must their threads be.
enum Inner {
    Plain(Box<dyn Read + Send>),
    ToHash(Option<Box<dyn Read + Send>>),
    Hashed(HashAhead),
}

impl Inner {
    fn read_full(&mut self, name: &str, buf: &mut [u8]) -> io::Result<usize> {
        if let Inner::ToHash(stream) = self {
            let stream = stream
                .take()
                .ok_or_else(|| io::Error::other("the stream's hashing thread failed to start"))?;
            *self = Inner::Hashed(hash_ahead(name, stream)?);
        }
        match self {
            Inner::Plain(r) => lifeboat_core::read_full(r, buf),
            Inner::Hashed(r) => lifeboat_core::read_full(r, buf),
            Inner::ToHash(_) => Ok(0),
        }
    }
}

/// Reads a payload stream for the archiver: fills every buffer it is given (working
/// around rustic's chunker shrinking its reads to the last short pipe read), counts
/// and optionally hashes the bytes, and reports completion or failure to the tally.
pub(crate) struct StreamReader {
    inner: Inner,
    name: String,
    bytes: u64,
    tally: Arc<Tally>,
    token: Option<PendingToken>,
}

impl StreamReader {
    pub fn new(name: String, inner: Box<dyn Read + Send>, hash: bool, tally: &Arc<Tally>) -> Self {
        let inner = match hash {
            true => Inner::ToHash(Some(inner)),
            false => Inner::Plain(inner),
        };
        Self {
            inner,
            name,
            bytes: 0,
            token: Some(tally.token()),
            tally: tally.clone(),
        }
    }

    fn finish(&mut self) {
        let Some(token) = self.token.take() else {
            return;
        };
        let sha256 = match &self.inner {
            Inner::Hashed(ahead) => ahead.output().cloned(),
            Inner::Plain(_) | Inner::ToHash(_) => None,
        };
        let stats = crate::StreamStats {
            name: self.name.clone(),
            bytes: self.bytes,
            sha256,
        };
        self.tally.with(|s| {
            s.file_count += 1;
            s.total_bytes += stats.bytes;
            s.streams.push(stats);
        });
        drop(token);
    }

    fn fail(&mut self, message: String) {
        if let Some(token) = self.token.take() {
            self.tally.error(message);
            drop(token);
        }
    }
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Err(e) = self.tally.check_cancelled() {
            self.fail(format!("{}: {e}", self.name));
            return Err(e);
        }
        let filled = match self.inner.read_full(&self.name, buf) {
            Ok(n) => n,
            Err(e) => {
                self.fail(format!("reading {}: {e}", self.name));
                return Err(e);
            }
        };
        let at_end = filled < buf.len();
        self.tally.advance(filled);
        self.bytes += filled as u64;
        // Only now is every byte counted and hashed.
        if at_end {
            self.finish();
        }
        Ok(filled)
    }
}

impl Drop for StreamReader {
    fn drop(&mut self) {
        let name = self.name.clone();
        self.fail(format!("{name} was not read to its end"));
    }
}

pub(crate) use lifeboat_core::ports::ManifestFn;

/// The reader of the manifest entry: waits for the payload, then asks for the manifest.
pub(crate) struct ManifestReader {
    tally: Arc<Tally>,
    produce: Option<ManifestFn>,
    bytes: io::Cursor<Vec<u8>>,
    outcome: Arc<Mutex<Option<Result<(), String>>>>,
}

impl ManifestReader {
    pub fn new(
        tally: Arc<Tally>,
        produce: ManifestFn,
        outcome: Arc<Mutex<Option<Result<(), String>>>>,
    ) -> Self {
        Self {
            tally,
            produce: Some(produce),
            bytes: io::Cursor::new(Vec::new()),
            outcome,
        }
    }

    fn produce(&mut self, produce: ManifestFn) -> io::Result<()> {
        let stats = self.tally.wait_idle(|s| crate::PayloadStats {
            errors: s.errors.clone(),
            file_count: s.file_count,
            total_bytes: s.total_bytes,
            streams: s.streams.clone(),
        });
        let result = if stats.errors.is_empty() {
            produce(&stats)
        } else {
            Err(stats.errors.join("; "))
        };
        let mut outcome = self.outcome.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(bytes) => {
                self.bytes = io::Cursor::new(bytes);
                *outcome = Some(Ok(()));
                Ok(())
            }
            Err(message) => {
                *outcome = Some(Err(message.clone()));
                Err(io::Error::other(message))
            }
        }
    }
}

impl Read for ManifestReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(produce) = self.produce.take() {
            self.produce(produce)?;
        }
        self.bytes.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            // at most 3 bytes per read, like a slow pipe
            let n = buf.len().min(3).min(self.0.len() - self.1);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn stream_reader_fills_buffers_and_reports_completion() {
        let tally = Arc::new(Tally::default());
        let data: Vec<u8> = (0..100u8).collect();
        let mut r = StreamReader::new("d".into(), Box::new(Trickle(data.clone(), 0)), true, &tally);
        let mut buf = [0u8; 40];
        assert_eq!(r.read(&mut buf).unwrap(), 40);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, data[40..]);
        drop(r);
        tally.wait_idle(|s| {
            assert!(s.errors.is_empty());
            assert_eq!(s.total_bytes, 100);
            assert_eq!(s.streams[0].sha256.as_deref().map(str::len), Some(64));
        });
    }

    #[test]
    fn cancelled_stream_reader_fails_at_its_next_read() {
        let cancel = lifeboat_core::CancelToken::new();
        let tally = Arc::new(Tally::new(cancel.clone(), None));
        let mut r = StreamReader::new("d".into(), Box::new(Trickle(vec![1; 10], 0)), false, &tally);
        let mut buf = [0u8; 4];
        r.read_exact(&mut buf).unwrap();
        cancel.cancel();
        assert!(r.read(&mut buf).is_err());
        drop(r);
        tally.wait_idle(|s| {
            assert_eq!(s.errors.len(), 1);
            assert!(s.errors[0].contains("cancelled"), "{:?}", s.errors);
        });
    }

    #[test]
    fn stream_reader_dropped_early_is_an_error() {
        let tally = Arc::new(Tally::default());
        let mut r = StreamReader::new("d".into(), Box::new(Trickle(vec![1; 10], 0)), false, &tally);
        let mut buf = [0u8; 4];
        r.read_exact(&mut buf).unwrap();
        drop(r);
        tally.wait_idle(|s| assert_eq!(s.errors, vec!["d was not read to its end".to_string()]));
    }
}
