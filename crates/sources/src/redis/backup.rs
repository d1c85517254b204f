//! Backing up a Redis server over the network: the replication handshake (`SYNC`)
//! makes the server fork and produce a point-in-time RDB, which it sends to us; we
//! stream exactly those bytes. We announce `REPLCONF capa eof` as `redis-cli --rdb`
//! does, so a server with `repl-diskless-sync yes` (the default since Redis 7) streams
//! the RDB straight from its fork instead of first writing `dump.rdb` into its own data
//! dir (which fails on a read-only or full disk). Key counts come from `INFO keyspace`
//! taken right before and right after the transfer.

use super::client::{as_table_counts, Conn};
use super::framing::{Body, Framing};
use super::resp::Value;
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
    /// The announced length; `None` for a diskless transfer, which ends with a mark.
    total: Option<u64>,
    /// The body ended where its framing says the RDB ends.
    complete: bool,
    failure: Option<String>,
}

impl Progress {
    fn text(&self) -> String {
        match self.total {
            Some(total) => format!("{} of {total} bytes", self.read),
            None => format!("{} bytes, before the end-of-RDB mark", self.read),
        }
    }
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
    let (reader, framing) = start_sync(Conn::open(target)?)?;
    // A second handle on the socket, to hang up once the RDB is complete.
    let socket = reader.get_ref().try_clone().ok();
    let (stream, shared) = RdbStream::new(framing, reader, socket);
    let target = target.clone();
    Ok(Dump {
        name: "dump.rdb".into(),
        stream: Box::new(stream),
        hash: true,
        running: true,
        finish: Box::new(move || finish(&target, &shared, &before, &version)),
    })
}

/// Asks for a diskless transfer, sends `SYNC` and reads up to the RDB's first byte.
fn start_sync(mut conn: Conn) -> Result<(BufReader<TcpStream>, Framing), SourceError> {
    request_diskless(&mut conn)?;
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
        Some((b'$', rest)) => Framing::parse(rest)
            .map(|framing| (reader, framing))
            .ok_or_else(|| unexpected(&url, &line)),
        Some((b'-', msg)) => Err(super::client::server_error(
            &url,
            "SYNC",
            &String::from_utf8_lossy(msg),
        )),
        _ => Err(unexpected(&url, &line)),
    }
}

fn unexpected(url: &str, line: &[u8]) -> SourceError {
    SourceError::Query(format!(
        "{url}: unexpected answer to SYNC: {}",
        String::from_utf8_lossy(line)
            .chars()
            .take(80)
            .collect::<String>()
    ))
}

/// `REPLCONF capa eof`: we can read an RDB that ends with a mark instead of starting
/// with its length, so a diskless master need not save to its disk first.
/// `REPLCONF rdb-only 1` (Redis 7+): we want the RDB and no replication stream after
/// it, so the master lets go of us once it is sent. Neither is required: a server
/// that refuses them (an ACL without `+replconf`, an old version) still answers `SYNC`,
/// from a file on its disk.
fn request_diskless(conn: &mut Conn) -> Result<(), SourceError> {
    let capa: [&[u8]; 3] = [b"REPLCONF", b"capa", b"eof"];
    let rdb_only: [&[u8]; 3] = [b"REPLCONF", b"rdb-only", b"1"];
    conn.send(&capa)?;
    conn.send(&rdb_only)?;
    conn.flush(&capa)?;
    if let Value::Error(msg) = conn.read(&capa)? {
        tracing::warn!(
            source = %conn.url(),
            error = %msg,
            "REPLCONF capa eof refused: the server will write the RDB to its own disk \
             before sending it (grant +replconf to avoid that)"
        );
    }
    if let Value::Error(msg) = conn.read(&rdb_only)? {
        tracing::debug!(source = %conn.url(), error = %msg, "REPLCONF rdb-only refused");
    }
    Ok(())
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

/// The RDB bytes as the framing delimits them, checked to start with `REDIS`.
struct RdbStream<R> {
    body: Body<R>,
    socket: Option<TcpStream>,
    head: Vec<u8>,
    shared: Shared,
}

impl<R: Read> RdbStream<R> {
    fn new(framing: Framing, reader: R, socket: Option<TcpStream>) -> (Self, Shared) {
        let total = match framing {
            Framing::Length(len) => Some(len),
            Framing::Mark(_) => None,
        };
        let shared: Shared = Arc::new(Mutex::new(Progress {
            total,
            ..Progress::default()
        }));
        let stream = RdbStream {
            body: framing.body(reader),
            socket,
            head: Vec::with_capacity(RDB_MAGIC.len()),
            shared: shared.clone(),
        };
        (stream, shared)
    }

    /// Records a failure (the first one wins) and returns it as an I/O error.
    fn fail(&mut self, kind: io::ErrorKind, why: String) -> io::Error {
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

    fn accept(&mut self, n: usize, buf: &[u8]) -> io::Result<usize> {
        if self.head.len() < RDB_MAGIC.len() {
            if let Err(why) = self.check_magic(&buf[..n]) {
                return Err(self.fail(io::ErrorKind::InvalidData, why));
            }
        }
        lock(&self.shared).read += n as u64;
        Ok(n)
    }

    /// The body ended where its framing says: the RDB is complete.
    fn complete(&mut self) -> io::Result<usize> {
        if self.head.len() < RDB_MAGIC.len() {
            let why = "the RDB is shorter than its header".to_string();
            return Err(self.fail(io::ErrorKind::InvalidData, why));
        }
        lock(&self.shared).complete = true;
        // After the RDB the server would stream replication traffic: we are done.
        if let Some(socket) = &self.socket {
            let _ = socket.shutdown(Shutdown::Both);
        }
        Ok(0)
    }
}

impl<R: Read> Read for RdbStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        {
            let progress = lock(&self.shared);
            if let Some(why) = progress.failure.clone() {
                return Err(io::Error::other(why));
            }
            if progress.complete {
                return Ok(0);
            }
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.body.read(buf) {
                Ok(0) => return self.complete(),
                Ok(n) => return self.accept(n, buf),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    let why = format!("stream ended after {}", lock(&self.shared).text());
                    return Err(self.fail(e.kind(), why));
                }
                Err(e) => {
                    let why = format!("stream failed after {}: {e}", lock(&self.shared).text());
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
        if !progress.complete {
            return Err(failed(format!("stream ended after {}", progress.text())));
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
    use crate::redis::framing::MARK_LEN;

    const MARK: &[u8; MARK_LEN] = b"fedcba9876543210fedcba9876543210fedcba98";

    fn stream(bytes: &'static [u8], framing: Framing) -> (RdbStream<&'static [u8]>, Shared) {
        RdbStream::new(framing, bytes, None)
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
        let (s, shared) = stream(b"REDIS0010xyz+replication traffic", Framing::Length(12));
        assert_eq!(read_all(s).unwrap(), b"REDIS0010xyz");
        let p = lock(&shared);
        assert_eq!((p.read, p.total, p.complete), (12, Some(12), true));
        assert!(p.failure.is_none());
    }

    #[test]
    fn a_diskless_transfer_yields_the_rdb_without_its_end_mark() {
        let wire: &'static [u8] = b"REDIS0010xyzfedcba9876543210fedcba9876543210fedcba98*1\r\n";
        let (s, shared) = stream(wire, Framing::Mark(*MARK));
        assert_eq!(read_all(s).unwrap(), b"REDIS0010xyz");
        let p = lock(&shared);
        assert_eq!((p.read, p.total, p.complete), (12, None, true));
    }

    #[test]
    fn a_diskless_transfer_cut_before_its_mark_is_an_error_that_sticks() {
        let (s, shared) = stream(b"REDIS0010xyzfedcba98765", Framing::Mark(*MARK));
        let err = read_all(s).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(
            err.to_string().contains("before the end-of-RDB mark"),
            "{err}"
        );
        let p = lock(&shared);
        assert!(!p.complete);
        assert!(p.failure.is_some());
    }

    #[test]
    fn an_early_end_is_an_error_that_sticks() {
        let (s, shared) = stream(b"REDIS00", Framing::Length(10));
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
        let (s, shared) = stream(b"HTTP/1.1 200 OK", Framing::Length(15));
        assert!(read_all(s)
            .unwrap_err()
            .to_string()
            .contains("no REDIS header"));
        assert!(lock(&shared).failure.is_some());
        let (s, _) = stream(b"RED", Framing::Length(3));
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
