//! Throwaway servers are children like any other (`process.rs`): each runs in its own
//! process group, registered while it runs, and the whole group is gone after its
//! handle drops or after `kill_all_children()` (the cancel path).

#![allow(clippy::unwrap_used)]

use lifeboat_sources::process::{kill_all_children, running_groups};
use lifeboat_sources::scratch::mariadb::ScratchMariaDb;
use lifeboat_sources::scratch::postgres::ScratchPostgres;
use lifeboat_sources::scratch::redis::ScratchRedis;
use lifeboat_sources::scratch::s3::ScratchS3;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// `kill_all_children` kills every child of this test process: the tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The processes of group `pgid` that have not exited (zombies have).
fn members(pgid: u32) -> Vec<u32> {
    processes(|_, pgrp| pgrp == pgid)
}

/// The processes `pid` started that have not exited: the postmaster's workers, which
/// lead groups of their own.
fn children(pid: u32) -> Vec<u32> {
    processes(|ppid, _| ppid == pid)
}

/// The live processes whose parent and group match, from /proc.
fn processes(matching: impl Fn(u32, u32) -> bool) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let state = fields.first()?;
            let ppid = fields.get(1)?.parse().ok()?;
            let pgrp = fields.get(2)?.parse().ok()?;
            (*state != "Z" && matching(ppid, pgrp)).then_some(pid)
        })
        .collect()
}

fn gone_within(pgid: u32, limit: Duration) -> bool {
    wait_for(limit, || members(pgid).is_empty())
}

fn wait_for(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The server `pid` leads its own group, which is registered.
fn assert_registered_leader(what: &str, pid: u32) {
    assert!(members(pid).contains(&pid), "{what}: {pid} leads no group");
    assert!(
        running_groups().contains(&pid),
        "{what}: group {pid} not registered: {:?}",
        running_groups()
    );
}

fn assert_gone(what: &str, pgid: u32) {
    assert!(
        gone_within(pgid, Duration::from_secs(10)),
        "{what}: group {pgid} still has {:?}",
        members(pgid)
    );
    assert!(
        !running_groups().contains(&pgid),
        "{what}: group {pgid} still registered"
    );
}

/// The postmaster's workers exited with it (they are not in its group).
fn assert_workers_gone(workers: &[u32]) {
    let alive = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
    };
    assert!(
        wait_for(Duration::from_secs(10), || !workers.iter().any(alive)),
        "postmaster workers left: {:?}",
        workers.iter().filter(|p| alive(p)).collect::<Vec<_>>()
    );
}

fn redis() -> ScratchRedis {
    ScratchRedis::start(None).unwrap_or_else(|e| panic!("starting redis-server: {e}"))
}

fn postgres() -> ScratchPostgres {
    ScratchPostgres::start(0).unwrap_or_else(|e| panic!("starting PostgreSQL: {e}"))
}

#[test]
fn dropping_a_scratch_server_kills_its_group_and_deregisters_it() {
    let _turn = serial();
    let server = redis();
    let pid = server.pid();
    assert_registered_leader("redis", pid);
    drop(server);
    assert_gone("redis", pid);

    let server = ScratchS3::start().unwrap_or_else(|e| panic!("starting s3s-fs: {e}"));
    let pid = server.pid();
    assert_registered_leader("s3s-fs", pid);
    drop(server);
    assert_gone("s3s-fs", pid);

    let server = ScratchMariaDb::start().unwrap_or_else(|e| panic!("starting mariadbd: {e}"));
    let pid = server.pid();
    assert_registered_leader("mariadbd", pid);
    drop(server);
    assert_gone("mariadbd", pid);

    let server = postgres();
    let pgid = server.group().expect("the postmaster's group is adopted");
    assert_registered_leader("postmaster", pgid);
    let workers = children(pgid);
    assert!(!workers.is_empty(), "the postmaster has no workers");
    let dir = server.dir().to_path_buf();
    drop(server);
    assert_gone("postmaster", pgid);
    assert_workers_gone(&workers);
    assert!(!dir.exists(), "scratch dir left behind");
}

#[test]
fn kill_all_children_kills_every_scratch_servers_group() {
    let _turn = serial();
    let (redis, postgres) = (redis(), postgres());
    let redis_group = redis.pid();
    let pg_group = postgres.group().expect("the postmaster's group is adopted");
    assert_registered_leader("redis", redis_group);
    assert_registered_leader("postmaster", pg_group);
    let workers = children(pg_group);
    assert!(kill_all_children() >= 2);
    assert_gone("redis", redis_group);
    assert_gone("postmaster", pg_group);
    assert_workers_gone(&workers);
    // The handles still clean up after a cancel killed their servers.
    let (redis_dir, pg_dir) = (redis.dir().to_path_buf(), postgres.dir().to_path_buf());
    drop((redis, postgres));
    assert!(
        !redis_dir.exists() && !pg_dir.exists(),
        "scratch dirs left behind"
    );
}
