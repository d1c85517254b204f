//! The `redis` kind against real redis-servers started here: backup over the
//! replication protocol, online restore (flush and merge) into a running server,
//! offline restore into a data dir, and logins. Failures that must never pass
//! silently are in `redis_failures.rs`.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use lifeboat_core::Secret;
use lifeboat_sources::redis::{
    restore_offline, restore_online, start_backup, target_key_count, Conn, RedisTarget, Value,
};
use lifeboat_sources::scratch::redis::ScratchRedis;
use std::collections::BTreeMap;
use std::path::Path;
use support::redis::{backup_to, cmd, cmd_bytes, populate, server};

/// Everything about a key that a restore must keep.
#[derive(Debug, Clone, PartialEq)]
struct KeyState {
    kind: String,
    value: Value,
    /// Milliseconds left, or -1.
    pttl: i64,
}

fn sorted(value: Value) -> Value {
    let mut items = value.into_array().unwrap();
    items.sort_by(|a, b| a.as_bytes().cmp(&b.as_bytes()));
    Value::Array(items)
}

/// Pairs (hash fields, zset members) sorted by their first element.
fn sorted_pairs(value: Value) -> Value {
    let items = value.into_array().unwrap();
    let mut pairs: Vec<Vec<Value>> = items.chunks(2).map(<[Value]>::to_vec).collect();
    pairs.sort_by(|a, b| a[0].as_bytes().cmp(&b[0].as_bytes()));
    Value::Array(pairs.concat())
}

fn read_value(conn: &mut Conn, key: &[u8], kind: &str) -> Value {
    match kind {
        "string" => cmd_bytes(conn, &[b"GET", key]),
        "list" => cmd_bytes(conn, &[b"LRANGE", key, b"0", b"-1"]),
        "set" => sorted(cmd_bytes(conn, &[b"SMEMBERS", key])),
        "zset" => cmd_bytes(conn, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]),
        "hash" => sorted_pairs(cmd_bytes(conn, &[b"HGETALL", key])),
        "stream" => Value::Array(vec![
            cmd_bytes(conn, &[b"XRANGE", key, b"-", b"+"]),
            cmd_bytes(conn, &[b"XINFO", b"GROUPS", key]),
        ]),
        other => panic!("unexpected type {other}"),
    }
}

/// Every key of every db: db → key → state.
fn snapshot(target: &RedisTarget) -> BTreeMap<u32, BTreeMap<Vec<u8>, KeyState>> {
    let mut conn = Conn::open(target).unwrap();
    let mut all = BTreeMap::new();
    for (db, _) in conn.key_counts().unwrap() {
        cmd(&mut conn, &["SELECT", &db.to_string()]);
        let keys = cmd(&mut conn, &["KEYS", "*"]).into_array().unwrap();
        let mut states = BTreeMap::new();
        for key in keys {
            let key = key.as_bytes().unwrap().to_vec();
            let kind = cmd_bytes(&mut conn, &[b"TYPE", &key]).as_text().unwrap();
            let value = read_value(&mut conn, &key, &kind);
            let pttl = cmd_bytes(&mut conn, &[b"PTTL", &key]).as_int().unwrap();
            states.insert(key, KeyState { kind, value, pttl });
        }
        all.insert(db, states);
    }
    all
}

/// Equal keys, types and values; TTLs within two seconds (the time the test took).
fn assert_same(
    expected: &BTreeMap<Vec<u8>, KeyState>,
    actual: &BTreeMap<Vec<u8>, KeyState>,
    what: &str,
) {
    let names = |m: &BTreeMap<Vec<u8>, KeyState>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(expected), names(actual), "{what}: key names");
    for (key, want) in expected {
        let got = &actual[key];
        let key = String::from_utf8_lossy(key);
        assert_eq!(want.kind, got.kind, "{what}: type of {key}");
        assert_eq!(want.value, got.value, "{what}: value of {key}");
        if want.pttl < 0 {
            assert_eq!(got.pttl, -1, "{what}: {key} gained a TTL");
        } else {
            assert!(
                got.pttl > 0 && got.pttl <= want.pttl + 100,
                "{what}: {key} ttl {} vs {}",
                got.pttl,
                want.pttl
            );
            assert!(
                want.pttl - got.pttl < 2000,
                "{what}: {key} ttl {} vs {}",
                got.pttl,
                want.pttl
            );
        }
    }
}

fn process_id(conn: &mut Conn) -> String {
    conn.server_field("process_id").unwrap()
}

#[test]
fn backup_then_online_restore_with_flush_makes_the_target_equal() {
    let source = server();
    let mut src = source.admin().unwrap();
    populate(&mut src);
    let tmp = tempfile::tempdir().unwrap();
    let (rdb, facts) = backup_to(&source.target(), tmp.path());
    assert!(std::fs::read(&rdb).unwrap().starts_with(b"REDIS"));
    let tables: Vec<(String, u64)> = facts
        .tables
        .iter()
        .map(|t| (t.table.clone(), t.rows))
        .collect();
    assert_eq!(tables, vec![("db0".into(), 1210), ("db3".into(), 9)]);
    assert!(
        facts.tool_versions.iter().any(|v| v.starts_with("Redis 7")),
        "{:?}",
        facts.tool_versions
    );

    let target = server();
    let mut dst = target.admin().unwrap();
    cmd(&mut dst, &["SET", "other", "target's own"]);
    cmd(&mut dst, &["SELECT", "5"]);
    cmd(&mut dst, &["SET", "elsewhere", "x"]);
    cmd(&mut dst, &["SELECT", "3"]);
    cmd(&mut dst, &["SET", "str", "to be replaced"]);
    let pid = process_id(&mut dst);
    assert_eq!(target_key_count(&target.target()).unwrap(), 3);

    let stats = restore_online(&rdb, &target.target(), true).unwrap();
    assert_eq!(stats.keys, facts.tables);
    assert_eq!(stats.total(), 1219);

    let expected = snapshot(&source.target());
    let actual = snapshot(&target.target());
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>(),
        "dbs"
    );
    for (db, keys) in &expected {
        assert_same(keys, &actual[db], &format!("db{db}"));
    }
    assert_eq!(
        process_id(&mut target.admin().unwrap()),
        pid,
        "the target was restarted"
    );
    assert_eq!(target_key_count(&target.target()).unwrap(), 1219);
}

#[test]
fn online_restore_without_flush_merges() {
    let source = server();
    let mut src = source.admin().unwrap();
    populate(&mut src);
    let tmp = tempfile::tempdir().unwrap();
    let (rdb, _) = backup_to(&source.target(), tmp.path());

    let target = server();
    let mut dst = target.admin().unwrap();
    cmd(&mut dst, &["SET", "other", "target's own"]);
    cmd(
        &mut dst,
        &["SET", "list", "a string where the backup has a list"],
    );
    cmd(&mut dst, &["SELECT", "5"]);
    cmd(&mut dst, &["HSET", "elsewhere", "k", "v"]);
    let pid = process_id(&mut dst);

    let stats = restore_online(&rdb, &target.target(), false).unwrap();
    assert_eq!(stats.total(), 1219);

    let expected = snapshot(&source.target());
    let mut actual = snapshot(&target.target());
    let other = actual
        .get_mut(&0)
        .unwrap()
        .remove(b"other".as_slice())
        .unwrap();
    assert_eq!(other.value, Value::Bulk(b"target's own".to_vec()));
    let elsewhere = actual.remove(&5).unwrap();
    assert_eq!(elsewhere.keys().collect::<Vec<_>>(), vec![b"elsewhere"]);
    for (db, keys) in &expected {
        assert_same(keys, &actual[db], &format!("db{db}"));
    }
    assert_eq!(process_id(&mut target.admin().unwrap()), pid);
}

#[test]
fn online_restore_skips_keys_that_expired_since_the_backup() {
    let source = server();
    let mut src = source.admin().unwrap();
    cmd(&mut src, &["SET", "keeps", "1"]);
    cmd(&mut src, &["SET", "fades", "1", "PX", "1500"]);
    let tmp = tempfile::tempdir().unwrap();
    let (rdb, facts) = backup_to(&source.target(), tmp.path());
    assert_eq!(facts.tables[0].rows, 2);
    std::thread::sleep(std::time::Duration::from_millis(1700));
    let target = server();
    let stats = restore_online(&rdb, &target.target(), true).unwrap();
    assert_eq!(stats.total(), 1);
    let mut dst = target.admin().unwrap();
    assert_eq!(cmd(&mut dst, &["EXISTS", "fades"]), Value::Int(0));
    assert_eq!(cmd(&mut dst, &["EXISTS", "keeps"]), Value::Int(1));
}

#[test]
fn offline_restore_writes_a_dump_rdb_a_fresh_server_loads() {
    let source = server();
    populate(&mut source.admin().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let (rdb, _) = backup_to(&source.target(), tmp.path());
    let data_dir = tmp.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::write(data_dir.join("dump.rdb"), b"REDIS0009 old contents").unwrap();

    let mut file = std::fs::File::open(&rdb).unwrap();
    restore_offline(&mut file, &data_dir).unwrap();
    let names: Vec<_> = std::fs::read_dir(&data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["dump.rdb"], "no temp file left behind");
    assert_eq!(
        std::fs::read(data_dir.join("dump.rdb")).unwrap(),
        std::fs::read(&rdb).unwrap()
    );

    let fresh = ScratchRedis::start(Some(&data_dir.join("dump.rdb"))).unwrap();
    let expected = snapshot(&source.target());
    let actual = snapshot(&fresh.target());
    for (db, keys) in &expected {
        assert_same(keys, &actual[db], &format!("db{db}"));
    }

    // Something that is not an RDB leaves the existing file alone.
    let before = std::fs::read(data_dir.join("dump.rdb")).unwrap();
    let err = restore_offline(&mut b"<html>not a dump</html>".as_slice(), &data_dir).unwrap_err();
    eprintln!("{err}");
    assert!(err.to_string().contains("not an RDB"), "{err}");
    assert_eq!(std::fs::read(data_dir.join("dump.rdb")).unwrap(), before);
    assert!(!data_dir.join("dump.rdb.lifeboat-tmp").exists());
    let err = restore_offline(&mut rdb_reader(&rdb), &tmp.path().join("missing")).unwrap_err();
    eprintln!("{err}");
    assert!(err.to_string().contains("missing"), "{err}");
}

fn rdb_reader(path: &Path) -> std::fs::File {
    std::fs::File::open(path).unwrap()
}

#[test]
fn passwords_and_acl_users() {
    let password = "pw-S3cret-value";
    let guarded = ScratchRedis::start_with_password(password).unwrap();
    let target = |user: Option<&str>, pw: Option<&str>| RedisTarget {
        user: user.map(str::to_string),
        password: pw.map(|p| Secret::new(p.to_string())),
        ..guarded.target()
    };
    cmd(&mut guarded.admin().unwrap(), &["SET", "k", "v"]);

    let tmp = tempfile::tempdir().unwrap();
    let (_, facts) = backup_to(&target(None, Some(password)), tmp.path());
    assert_eq!(facts.tables[0].rows, 1);

    let err = start_backup(&target(None, Some("wrong-guess-4711")))
        .err()
        .unwrap()
        .to_string();
    eprintln!("{err}");
    assert!(err.contains("authentication failed"), "{err}");
    assert!(
        !err.contains("wrong-guess-4711") && !err.contains(password),
        "{err}"
    );
    let err = start_backup(&target(None, None)).err().unwrap().to_string();
    eprintln!("{err}");
    assert!(err.contains("requires a password"), "{err}");

    // An ACL user that may read but not replicate.
    let mut admin = guarded.admin().unwrap();
    cmd(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "reader",
            "on",
            ">reader-pw-99",
            "~*",
            "&*",
            "+@all",
            "-sync",
            "-psync",
        ],
    );
    let err = start_backup(&target(Some("reader"), Some("reader-pw-99")))
        .err()
        .unwrap()
        .to_string();
    eprintln!("{err}");
    assert!(
        err.contains("may not run SYNC") && err.contains("+sync"),
        "{err}"
    );
    assert!(!err.contains("reader-pw-99"), "{err}");
    cmd(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "backup",
            "on",
            ">backup-pw-7",
            "~*",
            "&*",
            "+@all",
        ],
    );
    let (_, facts) = backup_to(&target(Some("backup"), Some("backup-pw-7")), tmp.path());
    assert_eq!(facts.tables[0].rows, 1);
    let err = start_backup(&target(Some("backup"), Some("nope-nope")))
        .err()
        .unwrap()
        .to_string();
    eprintln!("{err}");
    assert!(
        err.contains("authentication failed") && !err.contains("nope-nope"),
        "{err}"
    );
}
