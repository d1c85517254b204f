//! Dump producer faults: the dump tool killed mid-stream, its server stopped mid-dump,
//! Redis closing the replication stream early, a command printing data then exiting 1,
//! a hook hanging past its timeout. Each run also backs up a healthy source: the run
//! exits 1, names the broken source and the cause, stores nothing of it, and still
//! saves the healthy one.

use crate::common::restic_ids;
use crate::support::pg::{big_shop, pg_config, pg_dump_wrapper};
use crate::support::{backup_with_fault, script, PgServer, Workspace, PASSWORD, STALLING_DUMP};
use crate::Log;
use lifeboat_sources::scratch::mariadb::ScratchMariaDb;
use lifeboat_sources::scratch::redis::ScratchRedis;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A healthy app run beside the faulty one.
const HEALTHY: &str = "[[app]]\nname = \"fine\"\n\n[[app.source]]\nname = \"notes\"\nkind = \"command\"\nbackup_command = \"seq 1 1000\"\nfilename = \"notes.txt\"\n\n";

/// Runs `backup`, calling `fault` once the wrapper wrote its pid (when `pid_file` is
/// given); checks the outcome every producer fault shares.
fn faulty_run(
    ws: &Workspace,
    pid_file: Option<&std::path::Path>,
    fault: impl FnOnce(&str),
    spec: (&str, &str),
    cause: &str,
) -> String {
    let (code, stderr) = backup_with_fault(ws, pid_file, fault);
    assert_eq!(code, Some(1), "exit 1: {stderr}");
    let (app, source) = spec;
    let named = stderr.contains(&format!("{app}/{source}")) || stderr.contains(&format!("{app}: "));
    assert!(named, "names {app}/{source}: {stderr}");
    assert!(
        stderr.to_lowercase().contains(&cause.to_lowercase()),
        "names the cause {cause:?}: {stderr}"
    );
    assert!(
        ws.snapshots_of(app, source).is_empty(),
        "no backup of {app}/{source}"
    );
    assert_eq!(
        ws.snapshots_of("fine", "notes").len(),
        1,
        "the healthy source was saved"
    );
    assert_eq!(
        restic_ids(ws, &ws.repo()).len(),
        1,
        "restic sees only the healthy snapshot"
    );
    let cause = cause.to_lowercase();
    let named = |l: &&str| l.to_lowercase().contains(&cause);
    let failed = stderr
        .lines()
        .filter(|l| l.starts_with("FAILED"))
        .find(named);
    let line = failed.or_else(|| stderr.lines().rfind(named));
    line.unwrap_or("").trim().to_string()
}

fn kill_pid(pid: &str) {
    std::process::Command::new("kill")
        .args(["-9", pid])
        .status()
        .unwrap();
}

fn pg_workspace(server: &PgServer) -> Workspace {
    let mut ws = Workspace::new();
    ws.config(&format!("{HEALTHY}{}", pg_config(server, "shop")));
    pg_dump_wrapper(&mut ws, STALLING_DUMP);
    ws.run(&["init"]).assert_ok();
    ws
}

pub fn pg_dump_killed(log: &mut Log) {
    let server = PgServer::start();
    big_shop(&server, 20000);
    let ws = pg_workspace(&server);
    let line = faulty_run(
        &ws,
        Some(&ws.path("bin/pid")),
        kill_pid,
        ("shop", "db"),
        "pg_dump",
    );
    log.fact(format!(
        "exit 1, no snapshot, healthy source saved: `{line}`"
    ));
}

pub fn postgres_stopped(log: &mut Log) {
    let server = PgServer::start();
    big_shop(&server, 20000);
    let ws = pg_workspace(&server);
    let line = faulty_run(
        &ws,
        Some(&ws.path("bin/pid")),
        |_| server.kill(),
        ("shop", "db"),
        "pg_dump",
    );
    log.fact(format!(
        "exit 1, no snapshot, healthy source saved: `{line}`"
    ));
}

pub fn mariadb_dump_killed(log: &mut Log) {
    let server = ScratchMariaDb::start().unwrap();
    server.create_user("app", PASSWORD).unwrap();
    let sql = "CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, body TEXT);
        INSERT INTO t SELECT seq, REPEAT(MD5(seq), 20) FROM seq_1_to_20000;";
    lifeboat_sources::mysql::query(&server.root(), sql).unwrap();
    let mut ws = Workspace::new();
    ws.env.push(("APP_DB_PASSWORD".into(), PASSWORD.into()));
    ws.config(&format!(
        "{HEALTHY}[[app]]\nname = \"system\"\n\n[[app.source]]\nname = \"mysql\"\nkind = \"mysql\"\nurl = \"mysql://app@127.0.0.1:{}/app\"\npassword_env = \"APP_DB_PASSWORD\"\n",
        server.port
    ));
    let bin = ws.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let real = crate::support::which("mariadb-dump")
        .expect("mariadb-dump: apt-get install -y mariadb-client");
    script(
        &bin.join("mariadb-dump"),
        &format!(
            "REAL={}\nW={}\ncase \" $* \" in *\" --version \"*) exec $REAL \"$@\";; esac\n{STALLING_DUMP}",
            real.display(),
            bin.display()
        ),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    ws.env.push(("PATH".into(), path));
    ws.run(&["init"]).assert_ok();
    let line = faulty_run(
        &ws,
        Some(&bin.join("pid")),
        kill_pid,
        ("system", "mysql"),
        "mariadb-dump",
    );
    log.fact(format!(
        "exit 1, no snapshot, healthy source saved: `{line}`"
    ));
}

/// A proxy to `upstream` that passes the first `limit` bytes from the server, then
/// closes both sides: a replication stream cut short.
fn cutting_proxy(upstream: u16, limit: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
            });
            std::thread::spawn(move || {
                let (mut server, mut client) = (server, client);
                let mut passed = 0;
                let mut buf = [0u8; 16384];
                while passed < limit {
                    let Ok(n) = server.read(&mut buf) else { break };
                    if n == 0 {
                        break;
                    }
                    let n = n.min(limit - passed);
                    if client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    passed += n;
                }
                let _ = client.shutdown(std::net::Shutdown::Both);
                let _ = server.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    port
}

pub fn redis_closes_early(log: &mut Log) {
    let server = ScratchRedis::start_with_password(PASSWORD).unwrap();
    let mut conn = server.admin().unwrap();
    // Random values, so that the RDB (LZF-compressed) stays ~2 MB.
    let mut rng = crate::common::Rng::for_fault("redis");
    for i in 0..2000 {
        let value = crate::support::fingerprint::hex(&rng.bytes(500));
        conn.call(&[b"SET", format!("key{i}").as_bytes(), value.as_bytes()])
            .unwrap();
    }
    let proxy = cutting_proxy(server.port, 600_000);
    let mut ws = Workspace::new();
    ws.env.push(("REDIS_PASSWORD".into(), PASSWORD.into()));
    ws.config(&format!(
        "{HEALTHY}[[app]]\nname = \"gw\"\n\n[[app.source]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{proxy}\"\npassword_env = \"REDIS_PASSWORD\"\n"
    ));
    ws.run(&["init"]).assert_ok();
    let line = faulty_run(&ws, None, |_| {}, ("gw", "cache"), "");
    log.fact(format!(
        "stream cut after 600 kB of ~2 MB: exit 1, no snapshot, healthy source saved: `{line}`"
    ));
}

pub fn command_exits_1(log: &mut Log) {
    let ws = Workspace::new();
    ws.config(&format!(
        "{HEALTHY}[[app]]\nname = \"k8s\"\n\n[[app.source]]\nname = \"secrets\"\nkind = \"command\"\nbackup_command = \"seq 1 100000; echo 'kubectl: connection lost' >&2; exit 1\"\nfilename = \"secrets.yaml\"\n"
    ));
    ws.run(&["init"]).assert_ok();
    let line = faulty_run(&ws, None, |_| {}, ("k8s", "secrets"), "connection lost");
    log.fact(format!(
        "589 kB printed then exit 1: exit 1, no snapshot, healthy source saved: `{line}`"
    ));
}

pub fn hook_hangs(log: &mut Log) {
    let ws = Workspace::new();
    ws.config(&format!(
        "{HEALTHY}[[app]]\nname = \"hung\"\nhook_timeout = \"2s\"\nbefore_backup = [\"sleep 60\"]\n\n[[app.source]]\nname = \"data\"\nkind = \"command\"\nbackup_command = \"echo never\"\nfilename = \"x.txt\"\n"
    ));
    ws.run(&["init"]).assert_ok();
    let started = std::time::Instant::now();
    let line = faulty_run(&ws, None, |_| {}, ("hung", "data"), "timed out after 2s");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "the timeout held: {took:?}");
    log.fact(format!(
        "hook `sleep 60`, timeout 2s: run ended in {took:.1?}, exit 1, no snapshot: `{line}`"
    ));
}
