//! What the redis test files share: a scratch server, commands, the sample keys, and
//! taking a backup into a file.

use lifeboat_sources::redis::{start_backup, Conn, RedisTarget, Value};
use lifeboat_sources::scratch::redis::ScratchRedis;
use lifeboat_sources::{Dump, DumpFacts};
use std::path::{Path, PathBuf};

/// Starts a server; a missing binary fails the test and names the package.
pub fn server() -> ScratchRedis {
    ScratchRedis::start(None).unwrap_or_else(|e| panic!("starting redis-server: {e}"))
}

pub fn cmd(conn: &mut Conn, args: &[&str]) -> Value {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    conn.call(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

pub fn cmd_bytes(conn: &mut Conn, args: &[&[u8]]) -> Value {
    conn.call(args).unwrap()
}

/// Deterministic filler that does not compress well, so the RDB is large enough to
/// be cut mid-transfer.
pub fn noise(seed: u64, len: usize) -> String {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(b'a' + ((x >> 33) % 26) as u8)
        })
        .collect()
}

/// Keys of every core type in dbs 0 and 3, some with TTLs, plus bulk data.
pub fn populate(conn: &mut Conn) {
    for db in ["0", "3"] {
        cmd(conn, &["SELECT", db]);
        cmd(conn, &["SET", "str", &format!("value in db {db}")]);
        cmd(conn, &["SET", "str:ttl", "short-lived", "EX", "3000"]);
        cmd_bytes(
            conn,
            &[b"SET", b"bin\x00\xff\r\nkey", b"\x00\x01\x02\xfe\xff"],
        );
        cmd(conn, &["RPUSH", "list", "a", "b", "c", "a"]);
        cmd(conn, &["SADD", "set", "x", "y", "z"]);
        cmd(conn, &["SADD", "set:ints", "1", "2", "300000"]);
        cmd(
            conn,
            &["ZADD", "zset", "1.5", "one", "2", "two", "-3", "minus"],
        );
        cmd(conn, &["HSET", "hash", "f1", "v1", "f2", "v2"]);
        cmd(conn, &["EXPIRE", "hash", "5000"]);
        cmd(conn, &["XADD", "stream", "1-1", "temp", "20"]);
        cmd(conn, &["XADD", "stream", "2-1", "temp", "21", "hum", "40"]);
        cmd(conn, &["XGROUP", "CREATE", "stream", "readers", "0"]);
        cmd(conn, &["PEXPIRE", "list", "7200000"]);
    }
    cmd(conn, &["SELECT", "0"]);
    // More keys than one SCAN batch.
    for i in 0..1200 {
        cmd(conn, &["SET", &format!("bulk:{i}"), &noise(i, 300)]);
    }
    let big: Vec<String> = (0..300)
        .map(|i| format!("member-{i}-{}", noise(i, 20)))
        .collect();
    let mut args = vec!["SADD", "set:big"];
    args.extend(big.iter().map(String::as_str));
    cmd(conn, &args);
}

/// Reads a dump to its end into `path`, then runs its finisher.
pub fn consume(dump: Dump, path: &Path) -> Result<DumpFacts, String> {
    let Dump {
        name,
        mut stream,
        hash,
        finish,
        ..
    } = dump;
    assert_eq!(name, "dump.rdb");
    assert!(hash);
    let mut file = std::fs::File::create(path).unwrap();
    let copied = std::io::copy(&mut stream, &mut file);
    let finished = finish();
    match (copied, finished) {
        (Ok(_), Ok(facts)) => Ok(facts),
        (Err(e), Ok(_)) => panic!("the stream failed ({e}) but finish succeeded"),
        (Ok(n), Err(e)) => Err(format!("stream ok ({n} bytes), finish: {e}")),
        (Err(s), Err(f)) => Err(format!("stream: {s}; finish: {f}")),
    }
}

pub fn backup_to(target: &RedisTarget, dir: &Path) -> (PathBuf, DumpFacts) {
    let path = dir.join("backup.rdb");
    let dump = start_backup(target).unwrap_or_else(|e| panic!("start_backup: {e}"));
    let facts = consume(dump, &path).unwrap();
    (path, facts)
}
