//! The redis kind through the binary: backup over the replication protocol, online
//! restore into a running server (same PID), offline restore, verify.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use lifeboat_sources::redis::Value;
use lifeboat_sources::scratch::redis::ScratchRedis;
use support::{Workspace, PASSWORD};

fn cmd(server: &ScratchRedis, args: &[&str]) -> Value {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    server.admin().unwrap().call(&args).unwrap()
}

fn seed(server: &ScratchRedis) {
    cmd(server, &["SET", "s", "hello"]);
    cmd(server, &["SET", "ttl", "v", "EX", "3000"]);
    cmd(server, &["RPUSH", "l", "a", "b", "c"]);
    cmd(server, &["SADD", "set", "x", "y"]);
    cmd(server, &["ZADD", "z", "1", "one", "2", "two"]);
    cmd(server, &["HSET", "h", "f", "v"]);
    cmd(server, &["XADD", "stream", "*", "k", "v"]);
    let mut conn = server.admin().unwrap();
    conn.call(&[b"SELECT", b"2"]).unwrap();
    conn.call(&[b"SET", b"in-db2", b"yes"]).unwrap();
}

fn dumps(server: &ScratchRedis, db: &str, keys: &[&str]) -> Vec<String> {
    let mut conn = server.admin().unwrap();
    conn.call(&[b"SELECT", db.as_bytes()]).unwrap();
    keys.iter()
        .map(|k| format!("{:?}", conn.call(&[b"DUMP", k.as_bytes()]).unwrap()))
        .collect()
}

fn pid(server: &ScratchRedis) -> String {
    server.admin().unwrap().server_field("process_id").unwrap()
}

#[test]
fn online_restore_into_a_running_server_keeps_its_pid_and_verify_passes() {
    let source = ScratchRedis::start_with_password(PASSWORD).unwrap();
    let target = ScratchRedis::start_with_password(PASSWORD).unwrap();
    seed(&source);
    cmd(&target, &["SET", "only-on-target", "1"]);
    let mut ws = Workspace::new();
    ws.env.push(("REDIS_PASSWORD".into(), PASSWORD.into()));
    ws.config(&format!(
        "[[app]]\nname = \"gw\"\n\n[[app.source]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{}\"\npassword_env = \"REDIS_PASSWORD\"\n",
        source.port
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let manifest = ws.manifest("gw/cache");
    assert_eq!(manifest["facts"]["tables"][0]["table"], "db0");
    assert_eq!(manifest["facts"]["tables"][0]["rows"], 7);

    let before = pid(&target);
    let to = format!("redis://127.0.0.1:{}", target.port);
    ws.run(&["restore", "gw/cache", "--to", &to]).assert_code(1);
    ws.run(&["restore", "gw/cache", "--to", &to, "--force"])
        .assert_ok();
    assert_eq!(pid(&target), before, "restored without a restart");
    // Set members have no order, so their DUMP payloads may differ: compare members.
    let keys = ["s", "ttl", "l", "z", "h", "stream"];
    assert_eq!(dumps(&target, "0", &keys), dumps(&source, "0", &keys));
    let members = |server: &ScratchRedis| match cmd(server, &["SMEMBERS", "set"]) {
        Value::Array(mut items) => {
            items.sort_by_key(|v| format!("{v:?}"));
            format!("{items:?}")
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(members(&target), members(&source));
    assert_eq!(
        dumps(&target, "2", &["in-db2"]),
        dumps(&source, "2", &["in-db2"])
    );
    assert_eq!(
        format!("{:?}", cmd(&target, &["EXISTS", "only-on-target"])),
        format!("{:?}", Value::Int(0)),
        "flush = true: the target equals the backup"
    );
    match cmd(&target, &["TTL", "ttl"]) {
        Value::Int(ttl) => assert!(ttl > 2900 && ttl <= 3000, "ttl {ttl}"),
        other => panic!("{other:?}"),
    }
    ws.run(&["verify"]).assert_ok();
}

#[test]
fn offline_restore_writes_dump_rdb_a_fresh_server_loads() {
    let source = ScratchRedis::start_with_password(PASSWORD).unwrap();
    seed(&source);
    let mut ws = Workspace::new();
    ws.env.push(("REDIS_PASSWORD".into(), PASSWORD.into()));
    let data = ws.path("redis-data");
    std::fs::create_dir_all(&data).unwrap();
    ws.config(&format!(
        "[[app]]\nname = \"gw\"\n\n[[app.source]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{}\"\npassword_env = \"REDIS_PASSWORD\"\nrestore_mode = \"offline\"\ndata_dir = \"{}\"\n",
        source.port,
        data.display()
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    ws.run(&["restore", "gw/cache"]).assert_ok();
    let fresh = ScratchRedis::start(Some(&data.join("dump.rdb"))).unwrap();
    assert_eq!(
        dumps(&fresh, "0", &["s", "z", "stream"]),
        dumps(&source, "0", &["s", "z", "stream"])
    );
}

#[test]
fn verify_passes_after_keys_with_a_ttl_expired() {
    let source = ScratchRedis::start_with_password(PASSWORD).unwrap();
    let mut ws = Workspace::new();
    ws.env.push(("REDIS_PASSWORD".into(), PASSWORD.into()));
    ws.config(&format!(
        "[[app]]\nname = \"gw\"\n\n[[app.source]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{}\"\npassword_env = \"REDIS_PASSWORD\"\n",
        source.port
    ));
    ws.run(&["init"]).assert_ok();
    cmd(&source, &["SET", "kept", "1"]);
    cmd(&source, &["SET", "session", "x", "PX", "2500"]);
    let mut conn = source.admin().unwrap();
    conn.call(&[b"SELECT", b"3"]).unwrap();
    conn.call(&[b"SET", b"cache", b"y", b"PX", b"2500"])
        .unwrap();
    conn.call(&[b"SET", b"kept3", b"z"]).unwrap();
    let written = std::time::Instant::now();
    ws.run(&["backup"]).assert_ok();
    std::thread::sleep(std::time::Duration::from_millis(2700).saturating_sub(written.elapsed()));
    assert_eq!(
        format!("{:?}", cmd(&source, &["EXISTS", "session"])),
        format!("{:?}", Value::Int(0)),
        "the key has expired"
    );
    let out = ws.run(&["verify"]).assert_ok();
    assert!(
        out.stdout.contains("db0: 2 keys as recorded"),
        "{}",
        out.stdout
    );
    let manifest = ws.manifest("gw/cache");
    assert_eq!(
        manifest["facts"]["expiring_keys"],
        serde_json::json!([{"table": "db0", "rows": 1}, {"table": "db3", "rows": 1}])
    );
    // A restore skips what has expired; the rest is there.
    let target = ScratchRedis::start_with_password(PASSWORD).unwrap();
    let to = format!("redis://127.0.0.1:{}", target.port);
    ws.run(&["restore", "gw/cache", "--to", &to]).assert_ok();
    assert_eq!(
        format!("{:?}", cmd(&target, &["DBSIZE"])),
        format!("{:?}", Value::Int(1))
    );
}
