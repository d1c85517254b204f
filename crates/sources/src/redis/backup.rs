//! Backing up a Redis server over the network: the replication handshake (`SYNC`)
//! makes the server fork and write a point-in-time RDB, which it then sends as one
//! bulk string; we stream exactly those bytes. Key counts come from `INFO keyspace`
//! taken right before and right after the transfer.

use super::client::{as_table_counts, Conn};
use super::target::RedisTarget;
use super::RDB_MAGIC;
use crate::dump::{Dump, DumpFacts};
use crate::SourceError;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Silence tolerated on the replication socket. While it forks and saves, the server
/// sends a `\n` every second, so only a dead connection stays quiet this long.
const SYNC_TIMEOUT: Duration = Duration::from_secs(120);

/// How far the stream got, shared between the stream and its finisher.
#[derive(Debug, Default)]
struct Progress {
    read: u64,
    total: u64,
    failure: Option<String>,
}

type Shared = Arc<Mutex<Progress>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Progress> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts a backup of `target`. Fails early (no stream) when the server is
/// unreachable, refuses the login or the `SYNC`.
pub fn start_backup(target: &RedisTarget) -> Result<Dump, SourceError> {
    let mut control = Conn::open(target)?;
    let version = control.server_field("redis_version")?;
    let before = control.key_counts()?;
    drop(control);
    let (reader, total) = start_sync(Conn::open(target)?)?;
    let shared: Shared = Arc::new(Mutex::new(Progress {
        total,
        ..Progress::default()
    }));
    // A second handle on the socket, to hang up once the RDB is complete.
    let socket = reader.get_ref().try_clone().ok();
    let stream = RdbStream {
        reader,
        socket,
        remaining: total,
        head: Vec::with_capacity(RDB_MAGIC.len()),
        shared: shared.clone(),
    };
    let target = target.clone();
    Ok(Dump {
        name: "dump.rdb".into(),
        stream: Box::new(stream),
        hash: true,
        running: true,
        finish: Box::new(move || finish(&target, &shared, &before, &version)),
    })
}

/// Sends `SYNC` (without `REPLCONF capa eof`, so the server sends a length-prefixed
/// RDB rather than an EOF-marker one) and reads up to the RDB's first byte.
fn start_sync(mut conn: Conn) -> Result<(BufReader<TcpStream>, u64), SourceError> {
    let args: [&[u8]; 1] = [b"SYNC"];
    conn.send(&args)?;
    conn.flush(&args)?;
    let url = conn.url().to_string();
    let mut reader = conn.into_reader();
    let io_err = |source| SourceError::Io {
        context: format!("waiting for the RDB from {url}"),
        source,
    };
    reader
        .get_ref()
        .set_read_timeout(Some(SYNC_TIMEOUT))
        .map_err(io_err)?;
    skip_keepalives(&mut reader).map_err(io_err)?;
    let line = super::resp::read_line(&mut reader).map_err(io_err)?;
    match line.split_first() {
        Some((b'$', len)) => {
            let len = super::resp::parse_int(len).map_err(io_err)?;
            let len = u64::try_from(len).map_err(|_| {
                SourceError::Query(format!("{url}: SYNC announced a negative length"))
            })?;
            Ok((reader, len))
        }
        Some((b'-', msg)) => Err(super::client::server_error(
            &url,
            "SYNC",
            &String::from_utf8_lossy(msg),
        )),
        _ => Err(SourceError::Query(format!(
            "{url}: unexpected answer to SYNC: {}",
            String::from_utf8_lossy(&line)
                .chars()
                .take(80)
                .collect::<String>()
        ))),
    }
}

/// Consumes the bare `\n`s the server sends while it prepares the RDB.
fn skip_keepalives(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        match buf.first() {
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before the RDB started (did the server's \
                     background save fail? its log says why)",
                ))
            }
            Some(b'\n') => reader.consume(1),
            Some(_) => return Ok(()),
        }
    }
}

/// The RDB bytes: exactly the announced length, checked to start with `REDIS`.
struct RdbStream<R> {
    reader: R,
    socket: Option<TcpStream>,
    remaining: u64,
    head: Vec<u8>,
    shared: Shared,
}

impl<R: Read> RdbStream<R> {
    /// Records a failure (the first one wins) and returns it as an I/O error.
    fn fail(&mut self, kind: io::ErrorKind, why: String) -> io::Error {
        self.remaining = 0;
        let mut progress = lock(&self.shared);
        let why = progress.failure.get_or_insert(why).clone();
        io::Error::new(kind, why)
    }

    fn check_magic(&mut self, chunk: &[u8]) -> Result<(), String> {
        let missing = RDB_MAGIC.len() - self.head.len();
        self.head
            .extend_from_slice(&chunk[..missing.min(chunk.len())]);
        if !RDB_MAGIC.starts_with(&self.head) {
            return Err("the server did not send an RDB file (no REDIS header)".into());
        }
        Ok(())
    }

    fn progress_text(&self) -> String {
        let p = lock(&self.shared);
        format!("{} of {} bytes", p.read, p.total)
    }

    fn accept(&mut self, n: usize, buf: &[u8]) -> io::Result<usize> {
        if self.head.len() < RDB_MAGIC.len() {
            if let Err(why) = self.check_magic(&buf[..n]) {
                return Err(self.fail(io::ErrorKind::InvalidData, why));
            }
        }
        self.remaining -= n as u64;
        lock(&self.shared).read += n as u64;
        if self.remaining == 0 {
            if self.head.len() < RDB_MAGIC.len() {
                let why = "the RDB is shorter than its header".to_string();
                return Err(self.fail(io::ErrorKind::InvalidData, why));
            }
            // After the RDB the server would stream replication traffic: we are done.
            if let Some(socket) = &self.socket {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
        Ok(n)
    }
}

impl<R: Read> Read for RdbStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(why) = lock(&self.shared).failure.clone() {
            return Err(io::Error::other(why));
        }
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.remaining).map_or(buf.len(), |r| r.min(buf.len()));
        loop {
            match self.reader.read(&mut buf[..want]) {
                Ok(0) => {
                    let why = format!("stream ended after {}", self.progress_text());
                    return Err(self.fail(io::ErrorKind::UnexpectedEof, why));
                }
                Ok(n) => return self.accept(n, buf),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let why = format!("stream failed after {}: {e}", self.progress_text());
                    return Err(self.fail(e.kind(), why));
                }
            }
        }
    }
}

/// Checks the stream got all its bytes, then records key counts and the version.
fn finish(
    target: &RedisTarget,
    shared: &Shared,
    before: &[(u32, u64)],
    version: &str,
) -> Result<DumpFacts, SourceError> {
    let failed = |why: String| SourceError::Io {
        context: format!("fetching the RDB from {}", target.url()),
        source: io::Error::other(why),
    };
    {
        let progress = lock(shared);
        if let Some(why) = &progress.failure {
            return Err(failed(why.clone()));
        }
        if progress.read < progress.total {
            return Err(failed(format!(
                "stream ended after {} of {} bytes",
                progress.read, progress.total
            )));
        }
    }
    let after = Conn::open(target)?.key_counts()?;
    if after != before {
        tracing::warn!(
            source = %target.url(),
            ?before,
            ?after,
            "keys per database changed during the backup; recording the counts taken after it"
        );
    }
    Ok(DumpFacts {
        tables: as_table_counts(&after),
        tool_versions: vec![format!("Redis {version}")],
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn stream(bytes: &'static [u8], total: u64) -> (RdbStream<&'static [u8]>, Shared) {
        let shared: Shared = Arc::new(Mutex::new(Progress {
            total,
            ..Progress::default()
        }));
        let stream = RdbStream {
            reader: bytes,
            socket: None,
            remaining: total,
            head: Vec::new(),
            shared: shared.clone(),
        };
        (stream, shared)
    }

    fn read_all(mut s: impl Read) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        // One byte at a time: the header check must work across reads.
        let mut byte = [0u8; 1];
        loop {
            match s.read(&mut byte)? {
                0 => return Ok(out),
                _ => out.push(byte[0]),
            }
        }
    }

    #[test]
    fn yields_exactly_the_announced_bytes() {
        let (s, shared) = stream(b"REDIS0010xyz+replication traffic", 12);
        assert_eq!(read_all(s).unwrap(), b"REDIS0010xyz");
        let p = lock(&shared);
        assert_eq!((p.read, p.total, p.failure.is_none()), (12, 12, true));
    }

    #[test]
    fn an_early_end_is_an_error_that_sticks() {
        let (s, shared) = stream(b"REDIS00", 10);
        let err = read_all(s).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(err.to_string(), "stream ended after 7 of 10 bytes");
        assert_eq!(
            lock(&shared).failure.as_deref(),
            Some("stream ended after 7 of 10 bytes")
        );
    }

    #[test]
    fn refuses_what_is_not_an_rdb() {
        let (s, shared) = stream(b"HTTP/1.1 200 OK", 15);
        assert!(read_all(s)
            .unwrap_err()
            .to_string()
            .contains("no REDIS header"));
        assert!(lock(&shared).failure.is_some());
        let (s, _) = stream(b"RED", 3);
        assert!(read_all(s)
            .unwrap_err()
            .to_string()
            .contains("shorter than its header"));
    }

    #[test]
    fn skips_keepalive_newlines() {
        let mut r = io::BufReader::new(b"\n\n\n$5\r\nREDIS".as_slice());
        skip_keepalives(&mut r).unwrap();
        assert_eq!(super::super::resp::read_line(&mut r).unwrap(), b"$5");
        let mut r = io::BufReader::new(b"\n\n".as_slice());
        assert!(skip_keepalives(&mut r).is_err());
    }
}
