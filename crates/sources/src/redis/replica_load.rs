//! The fast online restore for a target that is to end equal to the backup: lifeboat
//! poses as a replication master and the target, told `REPLICAOF` lifeboat, loads the
//! backup's RDB the way a replica loads a full sync, as fast as a cold start and with
//! no per-key command. The target keeps running (same process); once loaded it is
//! made a master again with `REPLICAOF NO ONE`, and its keys are counted against the
//! file's.
//!
//! Until the target accepted the sync (`+FULLRESYNC` sent) nothing of its data has
//! changed: any failure up to there makes it a master again and the caller falls back
//! to `RESTORE` key by key. After that a failure is the restore's, and the target is
//! still made a master again on every way out (a guard does it on drop).

use super::client::Conn;
use super::restore::RestoreStats;
use super::target::RedisTarget;
use super::{client, info_field};
use crate::SourceError;
use lifeboat_core::CancelToken;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the target may take to connect back and ask for the sync.
const CONNECT_BACK: Duration = Duration::from_secs(15);
/// How long the transfer and the load may go without any progress.
const STALL: Duration = Duration::from_secs(120);
/// Between two looks at the target's `INFO`.
const POLL: Duration = Duration::from_millis(20);
/// Between two `PING`s to the target once the file is sent.
const PING_EVERY: Duration = Duration::from_secs(1);
/// Expired keys touched per pipelined batch.
const BATCH: usize = 512;

/// What the file holds, from the check that read it.
pub(super) struct Expected<'a> {
    /// Keys per non-empty db, expired ones included (a replica loads those too).
    pub counts: &'a [(u32, u64)],
    /// Keys whose expiry had passed when the file was checked.
    pub expired: &'a [(u32, Vec<u8>)],
}

/// Loads `rdb` into the target by full sync. `Ok(None)`: this way was not taken (or
/// failed before the target accepted the sync); the target is a master, untouched.
pub(super) fn try_load(
    rdb: &Path,
    expected: &Expected<'_>,
    dest: &mut Conn,
    target: &RedisTarget,
    cancel: &CancelToken,
) -> Result<Option<RestoreStats>, SourceError> {
    if let Err(why) = eligible(dest) {
        tracing::debug!(target = %target.url(), %why, "restoring key by key, not by full sync");
        return Ok(None);
    }
    let mut replica = match start(dest, target) {
        Ok(started) => started,
        Err(why) => return Ok(fall_back(&why, target)),
    };
    let transfer = match replica.master.serve(rdb, cancel) {
        Ok(transfer) => transfer,
        Err(why) => {
            replica.promote()?;
            if cancel.is_cancelled() {
                return Err(SourceError::Invalid("cancelled".into()));
            }
            return Ok(fall_back(&why, target));
        }
    };
    let loaded = wait_loaded(replica.conn, &transfer, cancel)
        .and_then(|()| check_counts(replica.conn, expected.counts));
    let promoted = replica.promote();
    transfer.stop();
    drop(replica);
    loaded.and(promoted).map_err(|e| failed(e, target))?;
    expire(dest, expected.expired)?;
    Ok(Some(stats(expected)))
}

fn fall_back(why: &SourceError, target: &RedisTarget) -> Option<RestoreStats> {
    tracing::debug!(
        target = %target.url(),
        %why,
        "the target did not take a full sync from lifeboat; restoring key by key"
    );
    None
}

fn failed(e: SourceError, target: &RedisTarget) -> SourceError {
    SourceError::Query(format!(
        "restoring {} by full sync (REPLICAOF lifeboat) failed after it started loading: \
         {e}; it was told REPLICAOF NO ONE, its data may be partial: restore again",
        target.url()
    ))
}

/// A master with no replicas: a full sync into a master with replicas would cascade to
/// them, and a replica's own master would overwrite what it loads.
fn eligible(dest: &mut Conn) -> Result<(), SourceError> {
    let info = dest.info("replication")?;
    let field = |name| info_field(&info, name).unwrap_or_default();
    match (field("role").as_str(), field("connected_slaves").as_str()) {
        ("master", "0") => Ok(()),
        ("master", n) => Err(SourceError::Invalid(format!("it has {n} replica(s)"))),
        (role, _) => Err(SourceError::Invalid(format!("its role is {role}"))),
    }
}

/// A listening master and the target told to replicate from it.
struct Replica<'c> {
    conn: &'c mut Conn,
    target: RedisTarget,
    master: Master,
    promoted: bool,
}

fn start<'c>(dest: &'c mut Conn, target: &RedisTarget) -> Result<Replica<'c>, SourceError> {
    let io_err = |source| SourceError::Io {
        context: "listening for the target's replication connection".into(),
        source,
    };
    let master = Master::listen(dest.local_addr().map_err(io_err)?.ip()).map_err(io_err)?;
    let (ip, port) = (master.addr.ip().to_string(), master.addr.port().to_string());
    let told = dest.call(&[b"REPLICAOF", ip.as_bytes(), port.as_bytes()]);
    let mut replica = Replica {
        conn: dest,
        target: target.clone(),
        master,
        promoted: false,
    };
    match told {
        Ok(_) => Ok(replica),
        // Lost on the way: the guard says REPLICAOF NO ONE on drop.
        Err(e @ SourceError::Io { .. }) => Err(e),
        // Refused (no +replicaof, cluster mode): nothing changed; NO ONE all the same,
        // though it is most likely refused too.
        Err(e) => {
            let _ = replica.promote();
            replica.promoted = true;
            Err(e)
        }
    }
}

impl Replica<'_> {
    /// `REPLICAOF NO ONE`: the target is a master again, its data kept.
    fn promote(&mut self) -> Result<(), SourceError> {
        let done = self.conn.call(&[b"REPLICAOF", b"NO", b"ONE"]).map(drop);
        self.promoted = done.is_ok();
        done
    }
}

impl Drop for Replica<'_> {
    /// On any other way out (an error, a panic): a fresh connection, since the admin
    /// one may have a reply pending.
    fn drop(&mut self) {
        if self.promoted {
            return;
        }
        let promoted =
            Conn::open(&self.target).and_then(|mut c| c.call(&[b"REPLICAOF", b"NO", b"ONE"]));
        if let Err(e) = promoted {
            tracing::error!(
                target = %self.target.url(),
                error = %e,
                "could not make the target a master again: run REPLICAOF NO ONE on it"
            );
        }
    }
}

/// Polls the target until it loaded the file and its link to us is up.
fn wait_loaded(
    conn: &mut Conn,
    transfer: &Transfer,
    cancel: &CancelToken,
) -> Result<(), SourceError> {
    let mut progress = (0, String::new());
    let mut moved = Instant::now();
    loop {
        if cancel.is_cancelled() {
            return Err(SourceError::Invalid("cancelled".into()));
        }
        transfer.check()?;
        let repl = conn.info("replication")?;
        let persistence = conn.info("persistence")?;
        let field = |info: &str, name| info_field(info, name).unwrap_or_default();
        if field(&repl, "master_link_status") == "up"
            && field(&repl, "master_sync_in_progress") == "0"
            && field(&persistence, "loading") == "0"
        {
            return Ok(());
        }
        let now = (transfer.sent(), field(&persistence, "loading_loaded_bytes"));
        if now != progress {
            (progress, moved) = (now, Instant::now());
        } else if moved.elapsed() > STALL {
            return Err(SourceError::Invalid(format!(
                "no progress for {} s (see the target's log)",
                STALL.as_secs()
            )));
        }
        std::thread::sleep(POLL);
    }
}

/// Keys per db as the file holds them, before any of them can expire on a master.
fn check_counts(conn: &mut Conn, counts: &[(u32, u64)]) -> Result<(), SourceError> {
    let found = conn.key_counts()?;
    if found == counts {
        return Ok(());
    }
    Err(SourceError::Invalid(format!(
        "the target holds {found:?} keys per db after the load, the backup {counts:?}"
    )))
}

/// Touches every key that had expired when the file was checked: the master deletes
/// it then, as `RESTORE` would have skipped it.
fn expire(conn: &mut Conn, expired: &[(u32, Vec<u8>)]) -> Result<(), SourceError> {
    let mut db = None;
    for chunk in expired.chunks(BATCH) {
        let mut sent = 0;
        for (at, key) in chunk {
            if db != Some(*at) {
                conn.send(&[b"SELECT", at.to_string().as_bytes()])?;
                (db, sent) = (Some(*at), sent + 1);
            }
            conn.send(&[b"EXISTS", key])?;
            sent += 1;
        }
        conn.flush(&[b"EXISTS"])?;
        for _ in 0..sent {
            conn.read(&[b"EXISTS"])?;
        }
    }
    if db.is_some() {
        conn.call(&[b"SELECT", b"0"])?;
    }
    Ok(())
}

fn stats(expected: &Expected<'_>) -> RestoreStats {
    let keys = expected
        .counts
        .iter()
        .map(|&(db, n)| {
            let gone = expected.expired.iter().filter(|(d, _)| *d == db).count();
            (db, n.saturating_sub(gone as u64))
        })
        .filter(|&(_, n)| n > 0)
        .collect::<Vec<_>>();
    RestoreStats {
        keys: client::as_table_counts(&keys),
        expired: expected.expired.len() as u64,
    }
}

/// The socket the target connects back to.
struct Master {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Master {
    fn listen(ip: IpAddr) -> io::Result<Master> {
        let listener = TcpListener::bind((ip, 0))?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        Ok(Master { listener, addr })
    }

    /// Takes the target's connection, answers its handshake up to `PSYNC` and starts
    /// sending the file. An error here: the target has not accepted anything yet.
    fn serve(&self, rdb: &Path, cancel: &CancelToken) -> Result<Transfer, SourceError> {
        let stream = self.accept(cancel)?;
        let io_err = |source| SourceError::Io {
            context: "the target's replication handshake".into(),
            source,
        };
        stream.set_nonblocking(false).map_err(io_err)?;
        stream.set_nodelay(true).map_err(io_err)?;
        stream
            .set_read_timeout(Some(CONNECT_BACK))
            .map_err(io_err)?;
        let file =
            File::open(rdb).map_err(SourceError::io(format!("reading {}", rdb.display())))?;
        let sync = handshake(&stream).map_err(io_err)?;
        Transfer::start(stream, file, sync).map_err(io_err)
    }

    fn accept(&self, cancel: &CancelToken) -> Result<TcpStream, SourceError> {
        let started = Instant::now();
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => return Ok(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(SourceError::io("accepting the target's connection")(e)),
            }
            if cancel.is_cancelled() || started.elapsed() > CONNECT_BACK {
                return Err(SourceError::Invalid(format!(
                    "the target did not connect back to {} in time",
                    self.addr
                )));
            }
            std::thread::sleep(POLL);
        }
    }
}

/// How the target asked for the data.
#[derive(Clone, Copy)]
enum Sync {
    /// `PSYNC`: `+FULLRESYNC` first.
    Psync,
    /// The old `SYNC`: the file alone.
    Sync,
}

/// Answers the replica's commands until it asks for the data.
fn handshake(stream: &TcpStream) -> io::Result<Sync> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let name = command_name(&mut reader)?;
        let reply: &[u8] = match name.as_str() {
            "PING" => b"+PONG\r\n",
            "AUTH" | "REPLCONF" => b"+OK\r\n",
            "PSYNC" => return Ok(Sync::Psync),
            "SYNC" => return Ok(Sync::Sync),
            _ => b"-ERR unknown command\r\n",
        };
        out.write_all(reply)?;
    }
}

/// The next command's name, upper-cased.
fn command_name(reader: &mut impl BufRead) -> io::Result<String> {
    let value = super::resp::read_value(reader)?;
    let first = match value {
        super::resp::Value::Array(items) => items.into_iter().next(),
        other => Some(other),
    };
    Ok(first
        .and_then(|v| {
            v.as_bytes()
                .map(|b| String::from_utf8_lossy(b).to_uppercase())
        })
        .unwrap_or_default())
}

/// The file going out to the target on a thread, then a `PING` every second to keep
/// the link alive until [`Transfer::stop`].
struct Transfer {
    /// To hang up on [`Transfer::stop`], which also ends a write the target stopped
    /// reading.
    socket: TcpStream,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Transfer {
    fn start(stream: TcpStream, file: File, sync: Sync) -> io::Result<Transfer> {
        let len = file.metadata()?.len();
        let mut head = match sync {
            Sync::Psync => format!("+FULLRESYNC {} 0\r\n", replid()).into_bytes(),
            Sync::Sync => Vec::new(),
        };
        head.extend_from_slice(format!("${len}\r\n").as_bytes());
        (&stream).write_all(&head)?;
        let socket = stream.try_clone()?;
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (sent, stop) = (sent.clone(), stop.clone());
            std::thread::Builder::new()
                .name("redis-full-sync".into())
                .spawn(move || send(stream, file, &sent, &stop))?
        };
        Ok(Transfer {
            socket,
            sent,
            stop,
            thread: Some(thread),
        })
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The thread's error, if it ended with one.
    fn check(&self) -> Result<(), SourceError> {
        match &self.thread {
            Some(t) if t.is_finished() => Err(SourceError::Invalid(
                "the target dropped the replication link (see its log)".into(),
            )),
            _ => Ok(()),
        }
    }

    fn stop(mut self) {
        self.hang_up();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn hang_up(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        self.hang_up();
    }
}

/// Streams the file, then pings and drains the target's acks until told to stop or
/// the target hangs up.
fn send(
    mut stream: TcpStream,
    mut file: File,
    sent: &AtomicU64,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n])?;
        sent.fetch_add(n as u64, Ordering::Relaxed);
    }
    stream.set_read_timeout(Some(PING_EVERY))?;
    let mut last_ping = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
        if last_ping.elapsed() >= PING_EVERY {
            stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
            last_ping = Instant::now();
        }
    }
    Ok(())
}

/// A replication id for the throwaway master: 40 hex digits.
fn replid() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mixed = (nanos as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(std::process::id());
    format!(
        "{:016x}{mixed:016x}{:08x}",
        nanos as u64,
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replication_id_is_forty_hex_digits() {
        let id = replid();
        assert_eq!(id.len(), 40);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
}
