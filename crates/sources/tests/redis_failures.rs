//! The `redis` kind's failures that must never pass silently: unreachable servers and
//! restore targets named, a connection cut mid-transfer, an unloadable RDB refused
//! before the target is touched; and the scratch server kept private, unprivileged
//! and removed on drop.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use lifeboat_sources::redis::{restore_online, start_backup, target_key_count, RedisTarget};
use lifeboat_sources::SourceError;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use support::redis::{backup_to, cmd, consume, populate, server};

#[test]
fn unreachable_server_is_named() {
    let port = lifeboat_sources::scratch::free_port().unwrap();
    let target = RedisTarget::parse(&format!("redis://127.0.0.1:{port}"), None).unwrap();
    let err = start_backup(&target).err().unwrap();
    eprintln!("{err}");
    assert!(matches!(err, SourceError::Connect(_)), "{err:?}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    let err = target_key_count(&target).unwrap_err();
    eprintln!("{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

/// A TCP proxy to `upstream`: connections pass through unchanged, except that once a
/// client sent `SYNC`, only `budget` bytes of the answer get through before both ends
/// are closed.
fn cutting_proxy(upstream: u16, budget: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
            let syncing = Arc::new(AtomicBool::new(false));
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let flag = syncing.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if buf[..n].windows(4).any(|w| w == b"SYNC") {
                        flag.store(true, Ordering::SeqCst);
                    }
                    if s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                let mut passed = 0;
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let n = if syncing.load(Ordering::SeqCst) {
                        n.min(budget - passed)
                    } else {
                        n
                    };
                    if c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    if syncing.load(Ordering::SeqCst) {
                        passed += n;
                        if passed >= budget {
                            break;
                        }
                    }
                }
                let _ = c_out.shutdown(Shutdown::Both);
                let _ = s_in.shutdown(Shutdown::Both);
            });
        }
    });
    port
}

#[test]
fn connection_cut_mid_transfer_fails_the_backup() {
    let source = server();
    populate(&mut source.admin().unwrap());
    let proxy = cutting_proxy(source.port, 8 * 1024);
    let target = RedisTarget {
        port: proxy,
        ..source.target()
    };
    let dump = start_backup(&target).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let err = consume(dump, &tmp.path().join("cut.rdb")).unwrap_err();
    eprintln!("{err}");
    assert!(err.starts_with("stream: "), "{err}");
    assert!(
        err.contains("stream ended after") && err.contains(" bytes"),
        "{err}"
    );
    assert!(err.contains(&format!("127.0.0.1:{proxy}")), "{err}");
}

#[test]
fn unreachable_restore_target_is_named() {
    let source = server();
    cmd(&mut source.admin().unwrap(), &["SET", "k", "v"]);
    let tmp = tempfile::tempdir().unwrap();
    let (rdb, _) = backup_to(&source.target(), tmp.path());
    let port = lifeboat_sources::scratch::free_port().unwrap();
    let target = RedisTarget::parse(&format!("redis://127.0.0.1:{port}"), None).unwrap();
    let err = restore_online(&rdb, &target, true).unwrap_err();
    eprintln!("{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn scratch_server_is_private_unprivileged_and_removed_on_drop() {
    let scratch = server();
    let (pid, dir) = (scratch.pid(), scratch.dir().to_path_buf());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let has_redis_user = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("redis:"));
    if lifeboat_sources::scratch::is_root() && has_redis_user {
        assert_ne!(uid, "0", "the scratch server runs as root");
    }
    let anonymous = RedisTarget {
        password: None,
        ..scratch.target()
    };
    let err = target_key_count(&anonymous).unwrap_err();
    assert!(err.to_string().contains("requires a password"), "{err}");
    drop(scratch);
    assert!(!dir.exists(), "scratch dir left behind");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "scratch server still running"
    );
}

#[test]
fn an_unloadable_rdb_fails_before_the_target_is_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.rdb");
    std::fs::write(&bad, b"REDIS0010 but then garbage").unwrap();
    let target = server();
    cmd(&mut target.admin().unwrap(), &["SET", "precious", "1"]);
    let err = restore_online(&bad, &target.target(), true).unwrap_err();
    eprintln!("{err}");
    assert!(err.to_string().contains("redis-server (scratch)"), "{err}");
    assert_eq!(target_key_count(&target.target()).unwrap(), 1);
}

#[test]
fn a_refused_restore_fails_and_names_the_key() {
    let source = server();
    let mut src = source.admin().unwrap();
    for i in 0..500 {
        cmd(&mut src, &["SET", &format!("allowed:{i}"), "v"]);
    }
    cmd(&mut src, &["SET", "forbidden", "v"]);
    let tmp = tempfile::tempdir().unwrap();
    let (rdb, _) = backup_to(&source.target(), tmp.path());
    // A user that may write `allowed:*` (and the probe's key) but not `forbidden`.
    let target = server();
    cmd(
        &mut target.admin().unwrap(),
        &[
            "ACL",
            "SETUSER",
            "limited",
            "on",
            ">limited-pw",
            "~allowed:*",
            "~lifeboat:*",
            "+@all",
        ],
    );
    let limited = RedisTarget {
        user: Some("limited".into()),
        password: Some(lifeboat_core::Secret::new("limited-pw".into())),
        ..target.target()
    };
    let err = restore_online(&rdb, &limited, false).unwrap_err();
    eprintln!("{err}");
    assert!(
        err.to_string().contains("RESTORE of key \"forbidden\""),
        "{err}"
    );
    assert!(err.to_string().contains("NOPERM"), "{err}");
}

#[test]
fn a_db_the_target_lacks_fails_before_the_target_is_touched() {
    // Keys in db 0 and db 300 (the scratch servers have 256); checksum 0: not kept.
    let rdb: Vec<u8> = [
        b"REDIS0010".as_slice(),
        &[0xfe, 0, 0, 1, b'a', 1, b'x'],
        &[0xfe, 0x41, 0x2c, 0, 1, b'b', 1, b'y'],
        &[0xff, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
    .concat();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dbs.rdb");
    std::fs::write(&path, rdb).unwrap();
    let target = server();
    cmd(&mut target.admin().unwrap(), &["SET", "precious", "1"]);
    let err = restore_online(&path, &target.target(), true).unwrap_err();
    eprintln!("{err}");
    assert!(err.to_string().contains("SELECT failed"), "{err}");
    assert_eq!(target_key_count(&target.target()).unwrap(), 1);
}

#[test]
fn a_user_without_replicaof_is_restored_key_by_key() {
    let source = server();
    let mut src = source.admin().unwrap();
    for i in 0..50 {
        cmd(&mut src, &["SET", &format!("k:{i}"), "v"]);
    }
    let tmp = tempfile::tempdir().unwrap();
    let (rdb, _) = backup_to(&source.target(), tmp.path());
    let target = server();
    cmd(
        &mut target.admin().unwrap(),
        &[
            "ACL",
            "SETUSER",
            "norepl",
            "on",
            ">norepl-pw",
            "~*",
            "+@all",
            "-replicaof",
        ],
    );
    let norepl = RedisTarget {
        user: Some("norepl".into()),
        password: Some(lifeboat_core::Secret::new("norepl-pw".into())),
        ..target.target()
    };
    let stats = restore_online(&rdb, &norepl, true).unwrap();
    assert_eq!(stats.total(), 50);
    assert_eq!(target_key_count(&target.target()).unwrap(), 50);
    let info = target.admin().unwrap().info("replication").unwrap();
    assert!(info.contains("role:master"), "{info}");
}
