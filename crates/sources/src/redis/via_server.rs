//! The fallback online restore, for an RDB lifeboat cannot read itself (a format newer
//! than it knows): a throwaway redis-server loads the file, and every key moves into
//! the target with `PTTL` + `DUMP` from there and a pipelined `RESTORE … REPLACE
//! ABSTTL`. Slower (the load and a `DUMP` per key), but it takes whatever the local
//! redis-server takes.

use super::client::Conn;
use super::pipeline::Pipeline;
use super::resp::Value;
use super::restore::{explain_refusal, flush_target, now_ms, probe, stats, Versions};
use super::target::RedisTarget;
use super::RestoreStats;
use crate::scratch::redis::ScratchRedis;
use crate::SourceError;
use std::path::Path;

/// Keys asked for per `SCAN` step, and so per pipelined batch of `DUMP`s.
const SCAN_COUNT: &[u8] = b"1000";

pub fn restore(rdb: &Path, target: &RedisTarget, flush: bool) -> Result<RestoreStats, SourceError> {
    let scratch = ScratchRedis::start(Some(rdb))?;
    let mut source = Conn::open(&scratch.target())?;
    let mut dest = Conn::open(target)?;
    let dbs = source.key_counts()?;
    let versions = Versions {
        ours: format!(
            "read by Redis {}",
            source.server_field("redis_version").unwrap_or_default()
        ),
    };
    // Before anything is flushed: fail while the target is still untouched when it
    // cannot take this Redis's payloads.
    if let Some(&(db, _)) = dbs.first() {
        select(&mut source, db)?;
        if let Some(payload) = random_payload(&mut source)? {
            probe(&mut dest, &payload, &versions)?;
        }
    }
    if flush {
        flush_target(&mut dest)?;
    }
    let mut pipe = Pipeline::start(dest)?;
    let mut expired = 0;
    'dbs: for (db, _) in dbs {
        select(&mut source, db)?;
        let mut cursor = b"0".to_vec();
        loop {
            let (next, keys) = scan(&mut source, &cursor)?;
            if !copy_keys(&mut source, &mut pipe, db, keys, &mut expired)? {
                break 'dbs;
            }
            if next == b"0" {
                break;
            }
            cursor = next;
        }
    }
    let tally = pipe
        .finish()
        .map_err(|e| explain_refusal(e, target, &versions))?;
    Ok(stats(tally, expired))
}

fn select(conn: &mut Conn, db: u32) -> Result<(), SourceError> {
    conn.call(&[b"SELECT", db.to_string().as_bytes()]).map(drop)
}

/// Some key's `DUMP`, for the probe.
fn random_payload(source: &mut Conn) -> Result<Option<Vec<u8>>, SourceError> {
    let Some(key) = source.call(&[b"RANDOMKEY"])?.as_bytes().map(<[u8]>::to_vec) else {
        return Ok(None);
    };
    match source.call(&[b"DUMP", &key])? {
        Value::Bulk(payload) => Ok(Some(payload)),
        _ => Ok(None),
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

/// Moves one batch: all `PTTL`/`DUMP`s go out at once, and each payload goes on to the
/// target as soon as it arrives (one payload in memory at a time). False once the
/// target refused something.
fn copy_keys(
    source: &mut Conn,
    pipe: &mut Pipeline,
    db: u32,
    keys: Vec<Vec<u8>>,
    expired: &mut u64,
) -> Result<bool, SourceError> {
    for key in &keys {
        source.send(&[b"PTTL", key])?;
        source.send(&[b"DUMP", key])?;
    }
    source.flush(&[b"DUMP"])?;
    for key in keys {
        match next_move(source)? {
            Move::Gone => {}
            Move::Expired => *expired += 1,
            Move::Restore(payload, at) => {
                if !pipe.restore(db, key, &payload, at) {
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn call(conn: &mut Conn, args: &[&str]) -> Value {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        conn.call(&args).unwrap()
    }

    #[test]
    fn copies_every_key_through_a_throwaway_server() {
        let source = ScratchRedis::start(None).unwrap();
        let mut src = source.admin().unwrap();
        for i in 0..2500 {
            call(&mut src, &["SET", &format!("k{i}"), &format!("v{i}")]);
        }
        call(&mut src, &["RPUSH", "list", "a", "b"]);
        call(&mut src, &["SET", "ttl", "v", "EX", "5000"]);
        call(&mut src, &["SELECT", "3"]);
        call(&mut src, &["HSET", "in-db3", "f", "v"]);
        call(&mut src, &["SAVE"]);
        let target = ScratchRedis::start(None).unwrap();
        let mut dst = target.admin().unwrap();
        call(&mut dst, &["SET", "flushed", "1"]);

        let stats = restore(&source.dir().join("dump.rdb"), &target.target(), true).unwrap();
        assert_eq!(stats.total(), 2503);
        assert_eq!(dst.key_counts().unwrap(), vec![(0, 2502), (3, 1)]);
        assert_eq!(call(&mut dst, &["EXISTS", "flushed"]), Value::Int(0));
        assert_eq!(
            call(&mut dst, &["LRANGE", "list", "0", "-1"]),
            Value::Array(vec![Value::Bulk(b"a".to_vec()), Value::Bulk(b"b".to_vec())])
        );
        match call(&mut dst, &["TTL", "ttl"]) {
            Value::Int(ttl) => assert!(ttl > 4900 && ttl <= 5000, "ttl {ttl}"),
            other => panic!("{other:?}"),
        }
    }
}
