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

fn workspace_for(port: u16) -> Workspace {
    let mut ws = Workspace::new();
    ws.env.push(("REDIS_PASSWORD".into(), PASSWORD.into()));
    ws.config(&format!(
        "[[app]]\nname = \"gw\"\n\n[[app.source]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{port}\"\npassword_env = \"REDIS_PASSWORD\"\n"
    ));
    ws.run(&["init"]).assert_ok();
    ws
}

/// The stored dump is a whole RDB and nothing else: it ends with the EOF opcode and
/// its checksum (not with the transfer's end mark), and a fresh server loads it.
fn assert_stored_dump_loads(ws: &Workspace, source: &ScratchRedis) {
    let rdb = ws.run_bytes(&["dump", "gw/cache"]);
    assert!(rdb.starts_with(b"REDIS"));
    assert_eq!(rdb[rdb.len() - 9], 0xff, "the RDB ends with EOF + checksum");
    let file = ws.path("stored.rdb");
    std::fs::write(&file, &rdb).unwrap();
    let fresh = ScratchRedis::start(Some(&file)).unwrap();
    let keys = ["s", "l", "z", "stream"];
    assert_eq!(dumps(&fresh, "0", &keys), dumps(source, "0", &keys));
}

#[test]
fn backup_writes_no_dump_rdb_into_the_source_data_dir() {
    let source = ScratchRedis::start_with_password(PASSWORD).unwrap();
    seed(&source);
    // The default wait for more replicas, shortened: the server sends keepalive
    // newlines meanwhile, before the `$EOF:` line.
    cmd(&source, &["CONFIG", "SET", "repl-diskless-sync-delay", "1"]);
    let on_disk = source.dir().join("dump.rdb");
    assert!(!on_disk.exists());
    let ws = workspace_for(source.port);
    ws.run(&["backup"]).assert_ok();
    assert!(
        !on_disk.exists(),
        "the source server saved an RDB into its data dir for the backup"
    );
    let log = std::fs::read_to_string(source.dir().join("redis.log")).unwrap();
    assert!(log.contains("target: replicas sockets"), "{log}");
    assert!(!log.contains("target: disk"), "{log}");
    assert_stored_dump_loads(&ws, &source);
    ws.run(&["verify"]).assert_ok();
}

#[test]
fn backup_still_reads_a_length_prefixed_rdb_when_diskless_sync_is_off() {
    let source = ScratchRedis::start_with_password(PASSWORD).unwrap();
    seed(&source);
    cmd(&source, &["CONFIG", "SET", "repl-diskless-sync", "no"]);
    let ws = workspace_for(source.port);
    ws.run(&["backup"]).assert_ok();
    // The server's choice: it saves to disk and sends the file with its length.
    let log = std::fs::read_to_string(source.dir().join("redis.log")).unwrap();
    assert!(log.contains("target: disk"), "{log}");
    assert_stored_dump_loads(&ws, &source);
}

/// A fake master that answers the handshake, then sends a diskless RDB whose
/// connection closes after `cut` bytes of "RDB + end mark".
fn cut_diskless_master(cut: usize) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = serve_cut_sync(conn, cut);
        }
    });
    port
}

/// One connection of [`cut_diskless_master`]: every command is read as `*N` and N
/// bulk strings and answered by its name.
fn serve_cut_sync(conn: std::net::TcpStream, cut: usize) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, Write};
    let mark = "0123456789abcdef0123456789abcdef01234567";
    let mut wire = b"REDIS0010\xfa\x09redis-ver\x067.0.15\xff".to_vec();
    wire.extend_from_slice(&[0; 8]);
    wire.extend_from_slice(mark.as_bytes());
    wire.truncate(cut);
    let mut out = conn.try_clone()?;
    let mut input = BufReader::new(conn);
    let mut line = String::new();
    while input.read_line(&mut line)? > 0 {
        let n: usize = line.trim().trim_start_matches('*').parse().unwrap_or(0);
        let mut args = Vec::new();
        for _ in 0..n * 2 {
            line.clear();
            input.read_line(&mut line)?;
            args.push(line.trim().to_uppercase());
        }
        line.clear();
        let reply: Vec<u8> = match (
            args.get(1).map(String::as_str),
            args.get(3).map(String::as_str),
        ) {
            (Some("INFO"), Some("SERVER")) => {
                b"$32\r\n# Server\r\nredis_version:7.0.15\r\n\r\n".to_vec()
            }
            (Some("INFO"), _) => b"$12\r\n# Keyspace\r\n\r\n".to_vec(),
            (Some("SYNC"), _) => {
                let mut r = format!("\n\n$EOF:{mark}\r\n").into_bytes();
                r.extend_from_slice(&wire);
                // Then the connection closes.
                return out.write_all(&r);
            }
            _ => b"+OK\r\n".to_vec(),
        };
        out.write_all(&reply)?;
    }
    Ok(())
}

#[test]
fn a_diskless_rdb_cut_before_its_end_mark_fails_the_backup_and_saves_nothing() {
    // Cut inside the RDB, and after the RDB inside the end mark.
    for cut in [12, 40] {
        let port = cut_diskless_master(cut);
        let ws = workspace_for(port);
        let out = ws.run(&["backup"]).assert_code(1);
        assert!(
            out.stderr.contains("before the end-of-RDB mark"),
            "{}",
            out.stderr
        );
        assert!(ws.list().is_empty(), "a snapshot was saved");
    }
}

fn replication(server: &ScratchRedis, field: &str) -> String {
    let info = server.admin().unwrap().info("replication").unwrap();
    lifeboat_sources::redis::info_field(&info, field).unwrap_or_default()
}

fn log_of(server: &ScratchRedis) -> String {
    std::fs::read_to_string(server.dir().join("redis.log")).unwrap()
}

fn backed_up_seed() -> (ScratchRedis, Workspace) {
    let source = ScratchRedis::start_with_password(PASSWORD).unwrap();
    seed(&source);
    let ws = workspace_for(source.port);
    ws.run(&["backup"]).assert_ok();
    (source, ws)
}

fn assert_same_data(target: &ScratchRedis, source: &ScratchRedis) {
    let keys = ["s", "ttl", "l", "z", "h", "stream"];
    assert_eq!(dumps(target, "0", &keys), dumps(source, "0", &keys));
    assert_eq!(
        dumps(target, "2", &["in-db2"]),
        dumps(source, "2", &["in-db2"])
    );
    assert_eq!(
        format!("{:?}", cmd(target, &["DBSIZE"])),
        format!("{:?}", Value::Int(7))
    );
    match cmd(target, &["TTL", "ttl"]) {
        Value::Int(ttl) => assert!(ttl > 2900 && ttl <= 3000, "ttl {ttl}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn online_restore_loads_by_replication_and_leaves_the_target_a_master() {
    let (source, ws) = backed_up_seed();
    let target = ScratchRedis::start_with_password(PASSWORD).unwrap();
    cmd(&target, &["SET", "only-on-target", "1"]);
    let before = pid(&target);
    let to = format!("redis://127.0.0.1:{}", target.port);
    let plan = ws
        .run(&["restore", "gw/cache", "--to", &to, "--plan", "--force"])
        .assert_ok();
    assert!(
        format!("{}{}", plan.stdout, plan.stderr).contains("full sync"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
    ws.run(&["restore", "gw/cache", "--to", &to, "--force"])
        .assert_ok();
    assert_eq!(pid(&target), before, "restored without a restart");
    assert_eq!(replication(&target, "role"), "master");
    let log = log_of(&target);
    assert!(
        log.contains("MASTER <-> REPLICA sync: Finished with success"),
        "{log}"
    );
    assert_same_data(&target, &source);
    assert_eq!(
        format!("{:?}", cmd(&target, &["EXISTS", "only-on-target"])),
        format!("{:?}", Value::Int(0))
    );
    // It takes writes again.
    cmd(&target, &["SET", "after", "1"]);
}

#[test]
fn a_target_with_replicas_is_restored_key_by_key_not_by_full_sync() {
    let (source, ws) = backed_up_seed();
    let target = ScratchRedis::start_with_password(PASSWORD).unwrap();
    let replica = ScratchRedis::start_with_password(PASSWORD).unwrap();
    cmd(&replica, &["CONFIG", "SET", "masterauth", PASSWORD]);
    cmd(
        &replica,
        &["REPLICAOF", "127.0.0.1", &target.port.to_string()],
    );
    let attached = |n: &str| {
        for _ in 0..200 {
            if replication(&replica, "master_link_status") == "up"
                && replication(&target, "connected_slaves") == n
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the replica did not attach");
    };
    attached("1");
    let before = pid(&target);
    let to = format!("redis://127.0.0.1:{}", target.port);
    ws.run(&["restore", "gw/cache", "--to", &to, "--force"])
        .assert_ok();
    assert_eq!(pid(&target), before);
    assert_eq!(replication(&target, "role"), "master");
    assert!(
        !log_of(&target).contains("Connecting to MASTER"),
        "the target was made a replica"
    );
    assert_same_data(&target, &source);
    attached("1");
    for _ in 0..200 {
        if format!("{:?}", cmd(&replica, &["DBSIZE"])) == format!("{:?}", Value::Int(7)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_same_data(&replica, &source);
}
