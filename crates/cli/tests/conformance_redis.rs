//! Conformance of the redis kind on hostile data: keys over 1 MB, binary key names
//! (NUL, CR LF, 0xFF), every type (strings incl. integers, HyperLogLog and bitmaps,
//! lists, sets, sorted sets incl. geo, hashes, streams with consumer groups and
//! pending entries), millisecond TTLs, several logical databases. Restored into an
//! empty server and over a modified one (`--force`), compared key by key (PTTL within
//! a tolerance), then `lifeboat verify`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use lifeboat_sources::redis::{Conn, Value};
use lifeboat_sources::scratch::redis::ScratchRedis;
use std::collections::BTreeMap;
use support::{Workspace, PASSWORD};

/// How far apart the PTTL of a key may be in source and restore (ms).
const TTL_TOLERANCE_MS: i64 = 10_000;

fn call(conn: &mut Conn, args: &[&[u8]]) -> Value {
    conn.call(args).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    v.as_bytes().unwrap().to_vec()
}

fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// Pushes `values` with `command key v1 v2 …` in batches.
fn batched(conn: &mut Conn, command: &[u8], key: &[u8], values: &[Vec<u8>]) {
    for chunk in values.chunks(1000) {
        let mut args: Vec<&[u8]> = vec![command, key];
        args.extend(chunk.iter().map(Vec::as_slice));
        call(conn, &args);
    }
}

fn seed(server: &ScratchRedis) {
    let mut c = server.admin().unwrap();
    let big: Vec<u8> = (0..2_500_000u32).map(|i| (i * 31 % 256) as u8).collect();
    call(&mut c, &[b"SET", b"big-string", &big]);
    call(&mut c, &[b"SET", b"\x00nul\r\nkey\xff", b"binary name"]);
    call(
        &mut c,
        &[b"SET", b"value\x00with\xffbytes", b"\x00\r\n\xff\xfe"],
    );
    call(&mut c, &[b"SET", b"int", b"12345"]);
    call(&mut c, &[b"SET", b"", b"empty key name"]);
    call(
        &mut c,
        &[b"SET", b"emoji-\xf0\x9f\xa6\x80", b"\xf0\x9f\xa6\x80"],
    );
    call(&mut c, &[b"PFADD", b"hll", b"a", b"b", b"c"]);
    call(&mut c, &[b"SETBIT", b"bitmap", b"1000001", b"1"]);
    call(&mut c, &[b"SET", b"ms-ttl", b"v", b"PX", b"600123"]);
    call(&mut c, &[b"SET", b"s-ttl", b"v", b"EX", b"86400"]);
    let list: Vec<Vec<u8>> = (0..150_000)
        .map(|i| format!("item{i}").into_bytes())
        .collect();
    batched(&mut c, b"RPUSH", b"big-list", &list);
    call(&mut c, &[b"RPUSH", b"small-list", b"\x00", b"", b"\xff"]);
    let members: Vec<Vec<u8>> = (0..30_000).map(|i| format!("m{i}").into_bytes()).collect();
    batched(&mut c, b"SADD", b"big-set", &members);
    call(&mut c, &[b"SADD", b"int-set", b"1", b"2", b"3"]);
    let mut scored = Vec::new();
    for i in 0..20_000 {
        scored.push(format!("{}.5", i % 977).into_bytes());
        scored.push(format!("z{i}").into_bytes());
    }
    batched(&mut c, b"ZADD", b"big-zset", &scored);
    call(
        &mut c,
        &[
            b"ZADD",
            b"small-zset",
            b"-inf",
            b"low",
            b"inf",
            b"high",
            b"0",
            b"\x00",
        ],
    );
    call(
        &mut c,
        &[b"GEOADD", b"geo", b"13.361389", b"38.115556", b"Palermo"],
    );
    let mut fields = Vec::new();
    for i in 0..10_000 {
        fields.push(format!("f{i}").into_bytes());
        fields.push(format!("v{i}").into_bytes());
    }
    batched(&mut c, b"HSET", b"big-hash", &fields);
    call(
        &mut c,
        &[b"HSET", b"hash", b"\x00f", &big[..1_200_000], b"g", b""],
    );
    call(&mut c, &[b"PEXPIRE", b"hash", b"900456"]);
    for i in 0..5 {
        call(
            &mut c,
            &[b"XADD", b"stream", b"*", b"n", i.to_string().as_bytes()],
        );
    }
    call(&mut c, &[b"XGROUP", b"CREATE", b"stream", b"g1", b"0"]);
    call(&mut c, &[b"XGROUP", b"CREATE", b"stream", b"g2", b"$"]);
    let read = items(call(
        &mut c,
        &[
            b"XREADGROUP",
            b"GROUP",
            b"g1",
            b"alice",
            b"COUNT",
            b"3",
            b"STREAMS",
            b"stream",
            b">",
        ],
    ));
    assert_eq!(read.len(), 1);
    let first = items(items(items(read.into_iter().next().unwrap()).remove(1)).remove(0)).remove(0);
    call(&mut c, &[b"XACK", b"stream", b"g1", &bytes(&first)]);
    call(
        &mut c,
        &[b"XADD", b"empty-stream", b"MAXLEN", b"0", b"*", b"x", b"y"],
    );
    for db in ["5", "15"] {
        call(&mut c, &[b"SELECT", db.as_bytes()]);
        call(&mut c, &[b"SET", b"in-db", db.as_bytes()]);
        call(&mut c, &[b"SET", b"ttl-in-db", b"x", b"PX", b"700000"]);
        call(&mut c, &[b"RPUSH", b"\r\n", b"crlf"]);
    }
}

/// What a key holds, in a form that compares equal exactly when the data does.
fn content(c: &mut Conn, key: &[u8]) -> (String, String) {
    let kind = String::from_utf8(bytes(&call(c, &[b"TYPE", key]))).unwrap();
    let sorted = |v: Value| {
        let mut all: Vec<String> = items(v).iter().map(|x| format!("{x:?}")).collect();
        all.sort();
        all.join(",")
    };
    let text = match kind.as_str() {
        "string" => format!("{:?}", call(c, &[b"GET", key])),
        "list" => format!("{:?}", call(c, &[b"LRANGE", key, b"0", b"-1"])),
        "set" => sorted(call(c, &[b"SMEMBERS", key])),
        "zset" => format!(
            "{:?}",
            call(c, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"])
        ),
        "hash" => {
            let flat = items(call(c, &[b"HGETALL", key]));
            let mut pairs: Vec<String> = flat.chunks(2).map(|p| format!("{p:?}")).collect();
            pairs.sort();
            pairs.join(",")
        }
        "stream" => stream_content(c, key),
        other => panic!("unexpected type {other}"),
    };
    (kind, text)
}

/// Entries, the stream's ids and counters, each group's state and pending entries
/// (without idle times, which are wall-clock).
fn stream_content(c: &mut Conn, key: &[u8]) -> String {
    let entries = call(c, &[b"XRANGE", key, b"-", b"+"]);
    let info = items(call(c, &[b"XINFO", b"STREAM", key]));
    let wanted = [
        "length",
        "last-generated-id",
        "max-deleted-entry-id",
        "entries-added",
    ];
    let fields: Vec<String> = info
        .chunks(2)
        .filter(|p| wanted.iter().any(|w| p[0].as_bytes() == Some(w.as_bytes())))
        .map(|p| format!("{p:?}"))
        .collect();
    let groups = items(call(c, &[b"XINFO", b"GROUPS", key]));
    let mut out = format!("{entries:?} {fields:?}");
    for group in groups {
        let group = items(group);
        let name = bytes(&group[1]);
        out.push_str(&format!(" group {group:?}"));
        out.push_str(&format!(
            " pending {:?}",
            call(c, &[b"XPENDING", key, &name])
        ));
        let detail = items(call(c, &[b"XPENDING", key, &name, b"-", b"+", b"100"]));
        for entry in detail {
            let e = items(entry);
            // id, consumer, (idle ms: skipped), delivery count
            out.push_str(&format!(" {:?}/{:?}/{:?}", e[0], e[1], e[3]));
        }
    }
    out
}

type Keyspace = BTreeMap<(u32, Vec<u8>), (String, String, i64)>;

/// Every key of every db: type, content, PTTL.
fn keyspace(server: &ScratchRedis) -> Keyspace {
    let mut c = server.admin().unwrap();
    let mut out = Keyspace::new();
    for db in 0..16u32 {
        call(&mut c, &[b"SELECT", db.to_string().as_bytes()]);
        let mut cursor = b"0".to_vec();
        loop {
            let reply = items(call(&mut c, &[b"SCAN", &cursor, b"COUNT", b"1000"]));
            cursor = bytes(&reply[0]);
            for key in items(reply[1].clone()) {
                let key = bytes(&key);
                let (kind, text) = content(&mut c, &key);
                let pttl = int(&call(&mut c, &[b"PTTL", &key]));
                out.insert((db, key), (kind, text, pttl));
            }
            if cursor == b"0" {
                break;
            }
        }
    }
    out
}

fn assert_same(source: &Keyspace, restored: &Keyspace, what: &str) {
    let names = |k: &Keyspace| k.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(restored), names(source), "{what}: the same keys");
    for (key, (kind, text, ttl)) in source {
        let (got_kind, got_text, got_ttl) = &restored[key];
        assert_eq!(
            (got_kind, got_text == text),
            (kind, true),
            "{what}: {key:?}"
        );
        match (*ttl, *got_ttl) {
            (-1, -1) => {}
            (want, got) => assert!(
                want > 0 && got > 0 && (want - got).abs() < TTL_TOLERANCE_MS,
                "{what}: {key:?} PTTL {want} vs {got}"
            ),
        }
    }
}

#[test]
fn redis_conformance_round_trips_exactly() {
    let source = ScratchRedis::start_with_password(PASSWORD).unwrap();
    let target = ScratchRedis::start_with_password(PASSWORD).unwrap();
    seed(&source);
    let want = keyspace(&source);
    assert!(want.len() > 25, "{}", want.len());
    let mut ws = Workspace::new();
    ws.env.push(("REDIS_PASSWORD".into(), PASSWORD.into()));
    ws.config(&format!(
        "[[app]]\nname = \"gw\"\n\n[[app.source]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{}\"\npassword_env = \"REDIS_PASSWORD\"\n",
        source.port
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let to = format!("redis://127.0.0.1:{}", target.port);

    ws.run(&["restore", "gw/cache", "--to", &to]).assert_ok();
    assert_same(&want, &keyspace(&target), "into an empty server");

    let mut c = target.admin().unwrap();
    call(&mut c, &[b"SET", b"stray", b"1"]);
    call(&mut c, &[b"DEL", b"big-list"]);
    call(&mut c, &[b"XADD", b"stream", b"*", b"late", b"1"]);
    call(&mut c, &[b"SELECT", b"5"]);
    call(&mut c, &[b"SET", b"in-db", b"changed"]);
    ws.run(&["restore", "gw/cache", "--to", &to]).assert_code(1);
    ws.run(&["restore", "gw/cache", "--to", &to, "--force"])
        .assert_ok();
    assert_same(&want, &keyspace(&target), "over a modified server");

    let verified = ws.run(&["verify", "gw/cache"]).assert_ok();
    assert!(
        verified.stdout.contains("db15: 3 keys as recorded"),
        "{}",
        verified.stdout
    );
}
