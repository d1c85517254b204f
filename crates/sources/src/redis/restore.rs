//! Restoring an RDB. Online: a throwaway redis-server loads the file, and every key
//! moves into the running target with `DUMP` + `RESTORE … REPLACE ABSTTL`, pipelined,
//! so the target is never restarted and its config and AOF are left alone. Offline:
//! `dump.rdb` is replaced atomically in the data dir of a stopped server.

use super::client::{as_table_counts, server_error, Conn};
use super::resp::Value;
use super::target::RedisTarget;
use super::RDB_MAGIC;
use crate::scratch::redis::ScratchRedis;
use crate::SourceError;
use lifeboat_core::TableCount;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Keys asked for per `SCAN` step, and so per pipelined batch.
const SCAN_COUNT: &[u8] = b"500";

/// What an online restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreStats {
    /// Keys restored per logical database, named like the backup's facts (`db0`, …).
    pub keys: Vec<TableCount>,
    /// Keys skipped because their TTL ran out before they could be restored.
    pub expired: u64,
}

impl RestoreStats {
    pub fn total(&self) -> u64 {
        self.keys.iter().map(|t| t.rows).sum()
    }
}

/// Keys per non-empty logical database of a running server, as facts (`db0`, …).
pub fn key_counts(target: &RedisTarget) -> Result<Vec<TableCount>, SourceError> {
    Ok(as_table_counts(&Conn::open(target)?.key_counts()?))
}

/// Keys per logical database (`db0`, …) and, from the same `INFO keyspace`, how many
/// of them have an expiry.
pub fn keyspace_counts(
    target: &RedisTarget,
) -> Result<(Vec<TableCount>, Vec<TableCount>), SourceError> {
    let (keys, expiring) = Conn::open(target)?.keyspace()?;
    Ok((as_table_counts(&keys), as_table_counts(&expiring)))
}

/// All keys of a running server, to tell whether a restore would overwrite data.
pub fn target_key_count(target: &RedisTarget) -> Result<u64, SourceError> {
    Ok(Conn::open(target)?
        .key_counts()?
        .iter()
        .map(|(_, n)| n)
        .sum())
}

/// Loads `rdb` into a throwaway server and copies every key into `target`. With
/// `flush`, the target is emptied first (`FLUSHALL`) and ends equal to the backup;
/// without, backed-up keys replace same-named ones and other keys stay.
pub fn restore_online(
    rdb: &Path,
    target: &RedisTarget,
    flush: bool,
) -> Result<RestoreStats, SourceError> {
    let scratch = ScratchRedis::start(Some(rdb))?;
    let mut source = Conn::open(&scratch.target())?;
    let mut dest = Conn::open(target)?;
    let dbs = source.key_counts()?;
    // Before anything is flushed: fail while the target is still untouched when it
    // cannot take this Redis's payloads.
    if let Some(&(db, _)) = dbs.first() {
        preflight(&mut source, &mut dest, db)?;
    }
    if flush {
        dest.call(&[b"FLUSHALL"])?;
    }
    let mut stats = RestoreStats::default();
    for (db, _) in dbs {
        let rows = copy_db(&mut source, &mut dest, db, &mut stats.expired)?;
        stats.keys.push(TableCount {
            table: format!("db{db}"),
            rows,
        });
    }
    Ok(stats)
}

fn select(conn: &mut Conn, db: u32) -> Result<(), SourceError> {
    conn.call(&[b"SELECT", db.to_string().as_bytes()]).map(drop)
}

/// Restores one payload with an expiry long past: the target checks the payload's
/// version and checksum, then stores nothing (an expired `RESTORE` without `REPLACE`
/// writes no key and propagates nothing).
fn preflight(source: &mut Conn, dest: &mut Conn, db: u32) -> Result<(), SourceError> {
    select(source, db)?;
    let Some(key) = source.call(&[b"RANDOMKEY"])?.as_bytes().map(<[u8]>::to_vec) else {
        return Ok(());
    };
    let Value::Bulk(payload) = source.call(&[b"DUMP", &key])? else {
        return Ok(());
    };
    let probe = format!("lifeboat:restore-probe:{}:{}", std::process::id(), now_ms());
    let args: [&[u8]; 5] = [b"RESTORE", probe.as_bytes(), b"1", &payload, b"ABSTTL"];
    match dest.call(&args) {
        Ok(_) => Ok(()),
        Err(e) => Err(incompatible(source, dest, e)),
    }
}

/// Explains a payload-version refusal: the target is older than the Redis that read
/// the backup.
fn incompatible(source: &mut Conn, dest: &mut Conn, e: SourceError) -> SourceError {
    if !e.to_string().contains("payload version") {
        return e;
    }
    let theirs = dest.server_field("redis_version").unwrap_or_default();
    let ours = source.server_field("redis_version").unwrap_or_default();
    SourceError::Query(format!(
        "{e}: the target runs Redis {theirs}, the backup was read by Redis {ours}; \
         RESTORE payloads need the same or a newer Redis on the target"
    ))
}

fn copy_db(
    source: &mut Conn,
    dest: &mut Conn,
    db: u32,
    expired: &mut u64,
) -> Result<u64, SourceError> {
    select(source, db)?;
    select(dest, db)?;
    let mut cursor = b"0".to_vec();
    let mut restored = 0;
    loop {
        let (next, keys) = scan(source, &cursor)?;
        restored += copy_keys(source, dest, &keys, expired)?;
        if next == b"0" {
            return Ok(restored);
        }
        cursor = next;
    }
}

/// One `SCAN` step: the next cursor and some keys. The throwaway server receives no
/// writes, so each key comes once (SCAN repeats keys only across a rehash).
fn scan(source: &mut Conn, cursor: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>), SourceError> {
    let reply = source.call(&[b"SCAN", cursor, b"COUNT", SCAN_COUNT])?;
    let malformed = || SourceError::Query(format!("{}: malformed SCAN reply", source.url()));
    let mut parts = reply.into_array().ok_or_else(malformed)?.into_iter();
    let (Some(Value::Bulk(next)), Some(Value::Array(keys))) = (parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let keys = keys
        .into_iter()
        .map(|k| match k {
            Value::Bulk(k) => Ok(k),
            _ => Err(malformed()),
        })
        .collect::<Result<_, _>>()?;
    Ok((next, keys))
}

/// What to do with one key.
enum Move {
    /// Deleted or expired between `SCAN` and `DUMP`.
    Gone,
    Expired,
    /// Payload and absolute expiry in ms since the epoch (0: none).
    Restore(Vec<u8>, u64),
}

/// Reads the `PTTL` and `DUMP` replies of one key. The expiry is made absolute once,
/// when read, so time spent restoring does not extend it. `ABSTTL` is read by the
/// target's clock: hosts are assumed to keep time (NTP).
fn next_move(source: &mut Conn) -> Result<Move, SourceError> {
    let pttl = source.read(&[b"PTTL"])?;
    let now = now_ms();
    let payload = source.read(&[b"DUMP"])?;
    let at = match pttl {
        Value::Int(-2) => return Ok(Move::Gone),
        Value::Int(-1) => 0,
        Value::Int(ms) if ms > 0 => now.saturating_add(ms.unsigned_abs()),
        Value::Int(_) => return Ok(Move::Expired),
        Value::Error(msg) => return Err(source.server_error(&[b"PTTL"], &msg)),
        _ => {
            return Err(SourceError::Query(format!(
                "{}: malformed PTTL reply",
                source.url()
            )))
        }
    };
    match payload {
        Value::Bulk(payload) => Ok(Move::Restore(payload, at)),
        Value::Nil => Ok(Move::Gone),
        Value::Error(msg) => Err(source.server_error(&[b"DUMP"], &msg)),
        _ => Err(SourceError::Query(format!(
            "{}: malformed DUMP reply",
            source.url()
        ))),
    }
}

/// Moves one batch: all `PTTL`/`DUMP`s go out at once, each payload is forwarded as
/// soon as it arrives (one payload in memory at a time), then the `RESTORE` replies
/// are collected. Returns how many keys were restored.
fn copy_keys(
    source: &mut Conn,
    dest: &mut Conn,
    keys: &[Vec<u8>],
    expired: &mut u64,
) -> Result<u64, SourceError> {
    for key in keys {
        source.send(&[b"PTTL", key])?;
        source.send(&[b"DUMP", key])?;
    }
    source.flush(&[b"DUMP"])?;
    let mut sent = Vec::with_capacity(keys.len());
    for key in keys {
        match next_move(source)? {
            Move::Gone => {}
            Move::Expired => *expired += 1,
            Move::Restore(payload, at) => {
                let at = at.to_string();
                let args: [&[u8]; 6] = [
                    b"RESTORE",
                    key,
                    at.as_bytes(),
                    &payload,
                    b"REPLACE",
                    b"ABSTTL",
                ];
                dest.send(&args)?;
                sent.push(key);
            }
        }
    }
    dest.flush(&[b"RESTORE"])?;
    // Every reply is read even after a failure, so the first one can be reported.
    let mut failure = None;
    for key in &sent {
        if let Value::Error(msg) = dest.read(&[b"RESTORE"])? {
            failure.get_or_insert((key.as_slice(), msg));
        }
    }
    match failure {
        None => Ok(sent.len() as u64),
        Some((key, msg)) => {
            let e = server_error(
                dest.url(),
                &format!("RESTORE of key {}", show_key(key)),
                &msg,
            );
            Err(incompatible(source, dest, e))
        }
    }
}

/// A key for messages: lossy text, shortened.
fn show_key(key: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(key).chars().take(100).collect();
    format!("{text:?}")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// Writes `dump.rdb` into `data_dir` for a stopped server: the bytes go to
/// `dump.rdb.lifeboat-tmp` beside it, are fsynced and renamed over `dump.rdb`, and the
/// directory is fsynced, so a crash leaves the old file or the new one, never half.
pub fn restore_offline(rdb: &mut dyn Read, data_dir: &Path) -> Result<(), SourceError> {
    let meta = fs::metadata(data_dir).map_err(SourceError::io(format!(
        "redis data dir {}",
        data_dir.display()
    )))?;
    if !meta.is_dir() {
        return Err(SourceError::Invalid(format!(
            "redis data dir {} is not a directory",
            data_dir.display()
        )));
    }
    let tmp = data_dir.join("dump.rdb.lifeboat-tmp");
    let dest = data_dir.join("dump.rdb");
    if let Err(e) = write_rdb(rdb, &tmp).and_then(|_| match_owner(&tmp, &dest, data_dir)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, &dest).map_err(SourceError::io(format!("replacing {}", dest.display())))?;
    File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(SourceError::io(format!("syncing {}", data_dir.display())))
}

/// Copies the stream into `path` after checking it starts like an RDB file.
fn write_rdb(rdb: &mut dyn Read, path: &Path) -> Result<(), SourceError> {
    let mut head = [0u8; 5];
    let not_rdb = || {
        SourceError::Invalid("the backup is not an RDB file (it does not start with REDIS)".into())
    };
    match rdb.read_exact(&mut head) {
        Ok(()) if head == RDB_MAGIC => {}
        Ok(()) => return Err(not_rdb()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(not_rdb()),
        Err(e) => return Err(SourceError::io("reading the backup")(e)),
    }
    let io_err = SourceError::io(format!("writing {}", path.display()));
    let mut file =
        File::create(path).map_err(SourceError::io(format!("creating {}", path.display())))?;
    file.write_all(&head)
        .and_then(|_| io::copy(rdb, &mut file))
        .and_then(|_| file.sync_all())
        .map_err(io_err)
}

/// Gives the new file the owner and mode of the `dump.rdb` it replaces (or, for a
/// first one, the data dir's owner and 0660), so the server's user can read it.
/// Only root can hand files to another user; others write as themselves.
fn match_owner(path: &Path, old: &Path, dir: &Path) -> Result<(), SourceError> {
    let (uid, gid, mode) = match fs::metadata(old) {
        Ok(m) => (m.uid(), m.gid(), m.mode() & 0o7777),
        Err(_) => {
            let m = fs::metadata(dir).map_err(SourceError::io(format!("{}", dir.display())))?;
            (m.uid(), m.gid(), 0o660)
        }
    };
    let io_err = SourceError::io(format!("setting the owner of {}", path.display()));
    if crate::scratch::is_root() {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io_err)?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(SourceError::io(format!(
        "setting the mode of {}",
        path.display()
    )))
}
