//! Restoring an RDB. Online into a target that is to end equal to the backup (flush),
//! and can: it loads the whole file as a replica of lifeboat (see `replica_load`).
//! Otherwise online: lifeboat reads the RDB itself and sends every key to the
//! running target as `RESTORE … REPLACE ABSTTL` with the value's bytes from the file
//! (see `rdb`), streamed without waiting for replies (see `pipeline`), so the target is
//! never restarted and its config and AOF are left alone. An RDB lifeboat cannot read
//! goes through a throwaway redis-server instead (see `via_server`). Offline:
//! `dump.rdb` is replaced atomically in the data dir of a stopped server.

use super::client::{as_table_counts, Conn};
use super::pipeline::{Pipeline, Tally};
use super::rdb::{Entry, RdbError, RdbReader};
use super::replica_load::{self, Expected};
use super::target::RedisTarget;
use super::RDB_MAGIC;
use crate::SourceError;
use lifeboat_core::{CancelToken, TableCount};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Read buffer for the RDB file.
const READ_BUFFER: usize = 1 << 20;

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

/// Copies every key of `rdb` into `target`. With `flush`, the target is emptied first
/// (`FLUSHALL`) and ends equal to the backup; without, backed-up keys replace
/// same-named ones and other keys stay. Keys whose expiry has passed are skipped.
///
/// The whole file is read once before the target is touched: an RDB lifeboat cannot
/// read (newer format, damage) goes to a throwaway server, which refuses a damaged one
/// before anything is flushed.
pub fn restore_online(
    rdb: &Path,
    target: &RedisTarget,
    flush: bool,
) -> Result<RestoreStats, SourceError> {
    restore_online_cancellable(rdb, target, flush, &CancelToken::new())
}

/// [`restore_online`], given up when `cancel` is (the target is left a master).
pub fn restore_online_cancellable(
    rdb: &Path,
    target: &RedisTarget,
    flush: bool,
    cancel: &CancelToken,
) -> Result<RestoreStats, SourceError> {
    let started = Instant::now();
    match check(rdb) {
        Ok(checked) => {
            tracing::debug!(elapsed_ms = started.elapsed().as_millis(), "RDB checked");
            let stats = restore_from_rdb(rdb, &checked, target, flush, cancel)?;
            tracing::debug!(
                elapsed_ms = started.elapsed().as_millis(),
                keys = stats.total(),
                expired = stats.expired,
                "keys restored"
            );
            Ok(stats)
        }
        Err(RdbError::Unreadable(why)) => {
            tracing::warn!(
                rdb = %rdb.display(),
                %why,
                "lifeboat cannot read this RDB itself; copying it through a throwaway redis-server"
            );
            super::via_server::restore(rdb, target, flush)
        }
        Err(RdbError::Io(e)) => Err(read_error(rdb, e)),
    }
}

fn read_error(rdb: &Path, source: io::Error) -> SourceError {
    SourceError::Io {
        context: format!("reading {}", rdb.display()),
        source,
    }
}

fn open_rdb(rdb: &Path, keep_values: bool) -> Result<RdbReader<BufReader<File>>, RdbError> {
    let file = File::open(rdb).map_err(RdbError::Io)?;
    RdbReader::open(BufReader::with_capacity(READ_BUFFER, file), keep_values)
}

/// What a walk through the whole file found.
struct Checked {
    /// Keys per db that holds any, in file order (expired keys included).
    counts: Vec<(u32, u64)>,
    /// Keys whose expiry had passed at the walk.
    expired: Vec<(u32, Vec<u8>)>,
    /// Module data or functions: only `RESTORE` key by key is safe.
    beyond_keys: bool,
}

impl Checked {
    fn dbs(&self) -> Vec<u32> {
        self.counts.iter().map(|&(db, _)| db).collect()
    }
}

/// Walks the whole file (types, lengths, checksum) keeping only the names of expired
/// keys; counts the keys per db.
fn check(rdb: &Path) -> Result<Checked, RdbError> {
    let mut reader = open_rdb(rdb, false)?;
    let mut counts: Vec<(u32, u64)> = Vec::new();
    let mut expired = Vec::new();
    let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
    while let Some(entry) = reader.next_entry()? {
        if entry.empty {
            continue;
        }
        match counts.last_mut() {
            Some((db, n)) if *db == entry.db => *n += 1,
            _ => counts.push((entry.db, 1)),
        }
        if entry.expire_at.is_some_and(|at| at <= now) {
            expired.push((entry.db, entry.key));
        }
    }
    counts.sort_unstable();
    Ok(Checked {
        counts,
        expired,
        beyond_keys: reader.beyond_keys(),
    })
}

/// `SELECT`s each db once: a target with fewer databases refuses before it is touched.
fn check_dbs(dest: &mut Conn, dbs: &[u32]) -> Result<(), SourceError> {
    for db in dbs.iter().chain(&[0]) {
        dest.call(&[b"SELECT", db.to_string().as_bytes()])?;
    }
    Ok(())
}

/// The next key worth sending: collections without elements are skipped, as Redis
/// skips them when it loads a file.
fn next_key(
    reader: &mut RdbReader<BufReader<File>>,
    rdb: &Path,
) -> Result<Option<Entry>, SourceError> {
    loop {
        match reader.next_entry() {
            Ok(Some(entry)) if entry.empty => continue,
            Ok(entry) => return Ok(entry),
            Err(RdbError::Io(e)) => return Err(read_error(rdb, e)),
            Err(e @ RdbError::Unreadable(_)) => {
                return Err(SourceError::Invalid(format!("{}: {e}", rdb.display())))
            }
        }
    }
}

/// The fast path: keys straight from the file into the target.
fn restore_from_rdb(
    rdb: &Path,
    checked: &Checked,
    target: &RedisTarget,
    flush: bool,
    cancel: &CancelToken,
) -> Result<RestoreStats, SourceError> {
    let mut reader = open_rdb(rdb, true).map_err(|e| match e {
        RdbError::Io(e) => read_error(rdb, e),
        e => SourceError::Invalid(format!("{}: {e}", rdb.display())),
    })?;
    let mut dest = Conn::open(target)?;
    let mut next = next_key(&mut reader, rdb)?;
    let versions = Versions {
        ours: format!(
            "written by Redis {} (RDB version {})",
            reader.redis_version().unwrap_or("?"),
            reader.version()
        ),
    };
    // Before anything is flushed: fail while the target is still untouched when it
    // cannot take this file's payloads.
    if let Some(first) = &next {
        probe(&mut dest, &first.payload, &versions)?;
    }
    check_dbs(&mut dest, &checked.dbs())?;
    if flush && !checked.beyond_keys {
        let expected = Expected {
            counts: &checked.counts,
            expired: &checked.expired,
        };
        if let Some(stats) = replica_load::try_load(rdb, &expected, &mut dest, target, cancel)? {
            return Ok(stats);
        }
        dest = Conn::open(target)?;
    }
    if flush {
        flush_target(&mut dest)?;
    }
    let mut pipe = Pipeline::start(dest)?;
    let mut expired = 0;
    while let Some(entry) = next {
        match entry.expire_at {
            Some(at) if at <= i64::try_from(now_ms()).unwrap_or(i64::MAX) => expired += 1,
            at => {
                let at = at.map_or(0, |at| at.unsigned_abs());
                if !pipe.restore(entry.db, entry.key, &entry.payload, at) {
                    break;
                }
            }
        }
        next = next_key(&mut reader, rdb)?;
    }
    let tally = pipe
        .finish()
        .map_err(|e| explain_refusal(e, target, &versions))?;
    Ok(stats(tally, expired))
}

/// Where the payloads come from, for the message when the target refuses them.
pub(super) struct Versions {
    pub ours: String,
}

pub(super) fn flush_target(dest: &mut Conn) -> Result<(), SourceError> {
    dest.call(&[b"FLUSHALL"]).map(drop)
}

/// Restores one payload with an expiry long past: the target checks the payload's
/// version and checksum, then stores nothing (an expired `RESTORE` without `REPLACE`
/// writes no key and propagates nothing).
pub(super) fn probe(
    dest: &mut Conn,
    payload: &[u8],
    versions: &Versions,
) -> Result<(), SourceError> {
    let key = format!("lifeboat:restore-probe:{}:{}", std::process::id(), now_ms());
    let args: [&[u8]; 5] = [b"RESTORE", key.as_bytes(), b"1", payload, b"ABSTTL"];
    match dest.call(&args) {
        Ok(_) => Ok(()),
        Err(e) if is_version_refusal(&e) => {
            let theirs = dest.server_field("redis_version").unwrap_or_default();
            Err(incompatible(e, &theirs, versions))
        }
        Err(e) => Err(e),
    }
}

fn is_version_refusal(e: &SourceError) -> bool {
    e.to_string().contains("payload version")
}

/// Explains a payload-version refusal: the target is older than the Redis the
/// payloads come from.
pub(super) fn explain_refusal(
    e: SourceError,
    target: &RedisTarget,
    versions: &Versions,
) -> SourceError {
    if !is_version_refusal(&e) {
        return e;
    }
    let theirs = Conn::open(target)
        .and_then(|mut c| c.server_field("redis_version"))
        .unwrap_or_default();
    incompatible(e, &theirs, versions)
}

fn incompatible(e: SourceError, theirs: &str, versions: &Versions) -> SourceError {
    SourceError::Query(format!(
        "{e}: the target runs Redis {theirs}, the backup was {}; RESTORE payloads need \
         the same or a newer Redis on the target",
        versions.ours
    ))
}

pub(super) fn stats(tally: Tally, expired: u64) -> RestoreStats {
    RestoreStats {
        keys: as_table_counts(&tally.per_db),
        expired,
    }
}

pub(super) fn now_ms() -> u64 {
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
