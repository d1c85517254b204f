//! Throwaway servers for verification and tests: started on a free loopback port with
//! their data in a temp dir, as an unprivileged user when we are root, and stopped and
//! removed when dropped. A missing server binary is an error naming the Debian package.

pub mod mariadb;
pub mod postgres;
pub mod redis;
pub mod s3;

use crate::process::{run_to_end, Ended, PROBE_TIMEOUT};
use crate::SourceError;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};

type Action = Box<dyn Fn() + Send>;

/// Cleanup actions of live scratch resources. Drop runs them normally; a signal handler
/// runs them when the process is interrupted (SIGINT/SIGTERM), because then no Drop
/// runs. Process-global by nature, like signals themselves.
static LIVE: Mutex<Vec<(u64, Action)>> = Mutex::new(Vec::new());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Keeps a cleanup action registered until dropped (it does not run it).
#[derive(Debug)]
pub struct Registration(u64);

/// Registers `action` to run if the process is interrupted.
pub fn register(action: impl Fn() + Send + 'static) -> Registration {
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    LIVE.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((id, Box::new(action)));
    Registration(id)
}

impl Drop for Registration {
    fn drop(&mut self) {
        LIVE.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(id, _)| *id != self.0);
    }
}

/// Runs every registered cleanup action (signal path), newest first like destructors,
/// after killing every running child (`process::kill_all_children`): a half-done
/// `initdb` is killed before its directory is removed. Returns how many actions ran.
pub fn cleanup_all() -> usize {
    crate::process::kill_all_children();
    let actions = std::mem::take(&mut *LIVE.lock().unwrap_or_else(PoisonError::into_inner));
    for (_, action) in actions.iter().rev() {
        action();
    }
    actions.len()
}

/// A free TCP port on 127.0.0.1 (the kernel picks it; a race with another process
/// binding it in between is possible but vanishingly rare on a test host).
pub fn free_port() -> Result<u16, SourceError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(SourceError::io("finding a free port"))
}

/// Whether this process runs as root (servers such as PostgreSQL refuse to).
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// A command run as `user` when we are root, as ourselves otherwise.
pub fn as_user(user: &str, program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", user, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Runs `cmd` to completion like every child (its own process group, killed if
/// lifeboat is interrupted meanwhile); a failure carries its stderr's tail.
pub fn run_checked(what: &str, cmd: &mut Command) -> Result<Ended, SourceError> {
    run_to_end(what, cmd, None, None)?.checked(what)
}

/// A temp dir the server's user may use: owned by `user` when we are root.
pub fn server_dir(prefix: &str, user: &str) -> Result<tempfile::TempDir, SourceError> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(SourceError::io("creating a scratch directory"))?;
    if is_root() {
        let mut chown = Command::new("chown");
        chown.arg(user).arg(dir.path());
        run_to_end("chown", &mut chown, None, Some(PROBE_TIMEOUT))?.checked("chown")?;
    }
    Ok(dir)
}

/// The first of `names` found in `dirs` or on PATH.
pub fn find_binary(names: &[&str], dirs: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let all: Vec<PathBuf> = dirs
        .iter()
        .cloned()
        .chain(std::env::split_paths(&path))
        .collect();
    names
        .iter()
        .find_map(|n| all.iter().map(|d| d.join(n)).find(|p| p.is_file()))
}
