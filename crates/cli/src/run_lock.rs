//! Run locks on disk: `$XDG_STATE_HOME/lifeboat/runs/APP.lock`, held with `flock`
//! (so a crashed run holds nothing: the kernel drops its lock) and holding the pid
//! and start time of the run, which the run that waits names.

use lifeboat_core::ports::{RunGuard, RunLocks};
use lifeboat_core::{CancelToken, Error, ErrorKind};
use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct FileRunLocks {
    dir: PathBuf,
    /// How long a run waits for one in progress (`[repository] lock_wait`).
    wait: Duration,
}

impl FileRunLocks {
    pub fn of_user(wait: Duration) -> Option<FileRunLocks> {
        let dir = crate::journal::state_dir()?.join("runs");
        Some(FileRunLocks { dir, wait })
    }

    fn failed(&self, what: String) -> Error {
        Error::msg(ErrorKind::Failed, what)
    }

    fn open(&self, app: &str) -> Result<File, Error> {
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| {
                File::options()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(self.dir.join(format!("{app}.lock")))
            })
            .map_err(|e| self.failed(format!("run lock in {}: {e}", self.dir.display())))
    }
}

/// "pid 42 since 2026-12-02T01:00:00Z", as the holder wrote it.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
    let text = text.trim();
    if text.is_empty() {
        "another process".into()
    } else {
        text.to_string()
    }
}

impl RunLocks for FileRunLocks {
    fn hold(&self, app: &str, cancel: &CancelToken) -> Result<RunGuard, Error> {
        let mut file = self.open(app)?;
        let started = Instant::now();
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(self.failed(format!("run lock: {e}"))),
            }
            if !told {
                tracing::warn!(
                    "{app}: waiting for the backup run in progress ({})",
                    holder(&mut file)
                );
                told = true;
            }
            if started.elapsed() >= self.wait || cancel.is_cancelled() {
                return Err(self.failed(format!(
                    "a backup run of this app is in progress ({}); waited {}s (lock_wait)",
                    holder(&mut file),
                    started.elapsed().as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let me = format!(
            "pid {} since {}",
            std::process::id(),
            jiff::Timestamp::now()
        );
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(me.as_bytes()));
        Ok(RunGuard::new(file))
    }
}
