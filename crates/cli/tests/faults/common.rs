//! What the faults share: the seeded random kill points, repository sizes and lock
//! files, killing a run at a moment, and the checks every fault ends with.

use crate::support::Workspace;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The run's seed: `LIFEBOAT_FAULT_SEED`, or a fixed one, so that CI is repeatable.
pub fn seed() -> u64 {
    std::env::var("LIFEBOAT_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_202)
}

/// Kill points per source: `LIFEBOAT_FAULT_POINTS`, else `default`.
pub fn points(default: usize) -> usize {
    std::env::var("LIFEBOAT_FAULT_POINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// splitmix64: a small seeded generator (no dependency, same sequence everywhere).
pub struct Rng(u64);

impl Rng {
    /// A generator for one fault: the run's seed mixed with the fault's name.
    pub fn for_fault(name: &str) -> Rng {
        let salt = name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        Rng(seed() ^ salt)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

pub fn lock_files(repo: &Path) -> usize {
    std::fs::read_dir(repo.join("locks")).map_or(0, |d| d.count())
}

/// How a run that was to be killed ended.
pub enum Ended {
    /// Killed (SIGKILL) while it ran.
    Killed,
    /// It finished before the kill came, with this exit code.
    Finished(Option<i32>),
}

/// Starts `lifeboat ARGS` and kills it with SIGKILL after `after` (or once `ready`
/// holds, then `after`), unless it ended by itself first.
pub fn kill_after(ws: &Workspace, args: &[&str], after: Duration) -> Ended {
    let child = ws
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    kill_child_after(child, after)
}

/// Starts `lifeboat ARGS` with its stdout and stderr piped.
pub fn spawn(ws: &Workspace, args: &[&str]) -> Child {
    ws.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn kill_child_after(mut child: Child, after: Duration) -> Ended {
    let start = Instant::now();
    while start.elapsed() < after {
        if let Some(status) = child.try_wait().unwrap() {
            return Ended::Finished(status.code());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if let Some(status) = child.try_wait().unwrap() {
        return Ended::Finished(status.code());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    Ended::Killed
}

/// Seconds `lifeboat ARGS` takes when nothing stops it (it must succeed).
pub fn timed_ok(ws: &Workspace, args: &[&str]) -> Duration {
    let start = Instant::now();
    ws.run(args).assert_ok();
    start.elapsed()
}

/// `lifeboat check --read-data` passes: every pack read back and its blobs hashed.
pub fn check_read_data_clean(ws: &Workspace) {
    let out = ws.run(&["check", "--read-data"]);
    assert_eq!(
        out.code,
        0,
        "check --read-data after a fault: {}",
        out.all()
    );
}

/// Snapshot ids as stock restic lists them.
pub fn restic_ids(ws: &Workspace, repo: &Path) -> Vec<String> {
    let out = ws.restic_at(repo, &["snapshots", "--json", "--no-lock"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snaps: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut ids: Vec<String> = snaps
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// Snapshot ids lifeboat lists (complete backups only).
pub fn lifeboat_ids(ws: &Workspace) -> Vec<String> {
    let mut ids: Vec<String> = ws
        .list()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}
