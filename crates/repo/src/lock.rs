//! Repository locks in restic's format, beside rustic_core (which has none): an
//! encrypted JSON file `locks/<sha256 of its bytes>` per running operation, so that
//! stock restic and lifeboat see and respect each other's locks.

use crate::error::engine;
use crate::lock_file::{LockInfo, Stale};
use crate::{Repo, RepoError};
use rustic_core::repofile::MasterKey;
use rustic_core::{FileType, Id, ReadBackend, WriteBackend};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use lifeboat_core::ports::LockKind;

/// How long to wait after writing a lock before looking again for a competitor that
/// wrote at the same moment (restic waits 200 ms).
const RECHECK_AFTER: Duration = Duration::from_millis(200);
/// A running operation writes a fresh lock this often, so it never looks stale
/// (restic refreshes every 5 minutes; locks are stale after 30).
const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);
/// Times this process waited for another's lock (the daemon's metrics).
static LOCK_WAITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many times this process has waited for a conflicting lock.
pub fn lock_waits() -> u64 {
    LOCK_WAITS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Between attempts while waiting for a conflicting lock to go.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// A lock file as found in the repository.
#[derive(Debug, Clone)]
pub struct FoundLock {
    pub id: String,
    pub info: LockInfo,
    /// Why it no longer counts, if it does not.
    pub stale: Option<Stale>,
}

/// Reads, writes and removes lock files through the repository's own backend.
#[derive(Clone)]
pub(crate) struct LockStore {
    pub(crate) be: Arc<dyn WriteBackend>,
    pub(crate) key: MasterKey,
    /// A local repository's directory: `locks/` may be missing there (rustic's `init`
    /// does not create it), and a local backend does not create directories.
    pub(crate) local_dir: Option<std::path::PathBuf>,
    pub(crate) url: String,
}

impl LockStore {
    /// `locks/` of a local repository, which rustic's `init` does not create.
    fn ensure_local_dir(&self) -> Result<(), RepoError> {
        let Some(dir) = &self.local_dir else {
            return Ok(());
        };
        let locks = dir.join(FileType::Lock.dirname());
        if locks.is_dir() || !dir.is_dir() {
            return Ok(());
        }
        std::fs::create_dir(&locks)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(e),
            })
            .map_err(|source| RepoError::Io {
                context: format!("creating {}", locks.display()),
                source,
            })
    }

    fn write(&self, info: &LockInfo) -> Result<Id, RepoError> {
        let encrypted = self.key.encrypt_data(&info.to_json()).map_err(engine)?;
        let id = Id::new(sha256(&encrypted));
        self.ensure_local_dir()?;
        match &self.local_dir {
            Some(dir) => write_local_atomically(dir, &id, &encrypted)?,
            None => self
                .be
                .write_bytes(FileType::Lock, &id, false, encrypted.into())
                .map_err(engine)?,
        }
        Ok(id)
    }

    fn remove(&self, id: &Id) -> Result<(), RepoError> {
        self.be.remove(FileType::Lock, id, false).map_err(engine)
    }

    /// Every lock file in the repository; unreadable ones are reported as stale
    /// garbage rather than blocking everyone forever.
    fn list(&self) -> Result<Vec<(Id, FoundLock)>, RepoError> {
        self.ensure_local_dir()?;
        let ids = self.be.list(FileType::Lock).map_err(engine)?;
        let now = jiff::Timestamp::now();
        let host = crate::lock_file::hostname();
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            // A lock removed between list and read is simply gone.
            let Ok(bytes) = self.be.read_full(FileType::Lock, &id) else {
                continue;
            };
            let info = self
                .key
                .decrypt_data(&bytes)
                .ok()
                .and_then(|plain| LockInfo::from_stored(&plain));
            let lock = match info {
                Some(info) => {
                    let stale = info.stale(now, &host);
                    FoundLock {
                        id: id.to_hex().to_string(),
                        info,
                        stale,
                    }
                }
                None => FoundLock {
                    id: id.to_hex().to_string(),
                    info: LockInfo::unknown(),
                    stale: Some(Stale::Unreadable),
                },
            };
            found.push((id, lock));
        }
        Ok(found)
    }

    /// The first live lock that conflicts with taking a `kind` lock, ours excepted.
    pub(crate) fn conflict(
        &self,
        kind: LockKind,
        ours: Option<&Id>,
    ) -> Result<Option<FoundLock>, RepoError> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|(id, l)| Some(id) != ours && l.stale.is_none())
            .map(|(_, l)| l)
            .find(|l| kind == LockKind::Exclusive || l.info.exclusive))
    }
}

/// rustic's local backend writes a file in place, so a process killed mid-write would
/// leave a torn lock that neither tool can read; restic writes beside and renames.
fn write_local_atomically(dir: &std::path::Path, id: &Id, bytes: &[u8]) -> Result<(), RepoError> {
    let hex = id.to_hex();
    let temp = dir.join(format!(".lock-{}.tmp", hex.as_str()));
    let target = dir.join(FileType::Lock.dirname()).join(hex.as_str());
    let io = |source| RepoError::Io {
        context: format!("writing {}", target.display()),
        source,
    };
    std::fs::write(&temp, bytes).map_err(io)?;
    std::fs::rename(&temp, &target).map_err(io)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// A held lock: refreshed in the background, removed when dropped.
pub struct RepoLock {
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<std::thread::JoinHandle<()>>,
    current: Arc<Mutex<Id>>,
}

impl RepoLock {
    /// The lock file's id as restic shows it (`restic list locks`).
    pub fn id(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .to_hex()
            .to_string()
    }

    fn start(store: LockStore, info: LockInfo, id: Id) -> RepoLock {
        let current = Arc::new(Mutex::new(id));
        let (stop, stopped) = mpsc::channel::<()>();
        let held = current.clone();
        let refresher = std::thread::spawn(move || loop {
            match stopped.recv_timeout(REFRESH_EVERY) {
                Err(RecvTimeoutError::Timeout) => refresh(&store, &info, &held),
                _ => {
                    let id = *held.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Err(e) = store.remove(&id) {
                        tracing::warn!("removing lock {}: {e}", id.to_hex().as_str());
                    }
                    return;
                }
            }
        });
        RepoLock {
            stop: Some(stop),
            refresher: Some(refresher),
            current,
        }
    }
}

/// Writes a lock with the current time, then removes the previous one (restic's order:
/// there is never a moment without a lock).
fn refresh(store: &LockStore, info: &LockInfo, held: &Mutex<Id>) {
    match store.write(&info.renewed()) {
        Ok(new) => {
            let old = std::mem::replace(
                &mut *held.lock().unwrap_or_else(PoisonError::into_inner),
                new,
            );
            if let Err(e) = store.remove(&old) {
                tracing::warn!("removing the previous lock {}: {e}", old.to_hex().as_str());
            }
        }
        Err(e) => tracing::warn!("refreshing the repository lock: {e}"),
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(handle) = self.refresher.take() {
            let _ = handle.join();
        }
    }
}

impl Repo {
    /// Takes a `kind` lock on the repository as restic does: look for conflicting
    /// locks, write ours, look again after a moment, and back off if someone else
    /// wrote at the same time. Waits up to `wait` for conflicting locks to go, then
    /// fails naming who holds the repository.
    pub fn lock(&self, kind: LockKind, wait: Duration) -> Result<RepoLock, RepoError> {
        let store = self.lock_store()?;
        let deadline = Instant::now() + wait;
        let mut waited_for: Option<String> = None;
        loop {
            match store.conflict(kind, None)? {
                Some(holder) => {
                    if waited_for.is_none() {
                        LOCK_WAITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!("repository is locked, waiting: {}", holder.info.describe());
                        waited_for = Some(holder.id.clone());
                    }
                    wait_or_fail(&store, &holder, deadline)?;
                }
                None => {
                    let info = LockInfo::now(kind == LockKind::Exclusive);
                    let id = store.write(&info)?;
                    std::thread::sleep(RECHECK_AFTER);
                    match store.conflict(kind, Some(&id))? {
                        None => return Ok(RepoLock::start(store, info, id)),
                        Some(holder) => {
                            store.remove(&id)?;
                            wait_or_fail(&store, &holder, deadline)?;
                        }
                    }
                }
            }
        }
    }

    /// Every lock file, with whether it is stale.
    pub fn locks(&self) -> Result<Vec<FoundLock>, RepoError> {
        Ok(self
            .lock_store()?
            .list()?
            .into_iter()
            .map(|(_, l)| l)
            .collect())
    }

    /// Removes stale locks (with `all`, every lock); returns what was removed.
    pub fn unlock(&self, all: bool) -> Result<Vec<FoundLock>, RepoError> {
        let store = self.lock_store()?;
        let mut removed = Vec::new();
        for (id, lock) in store.list()? {
            if all || lock.stale.is_some() {
                store.remove(&id)?;
                removed.push(lock);
            }
        }
        Ok(removed)
    }
}

fn wait_or_fail(store: &LockStore, holder: &FoundLock, deadline: Instant) -> Result<(), RepoError> {
    let now = Instant::now();
    if now >= deadline {
        return Err(RepoError::Locked {
            url: store.url.clone(),
            holder: holder.info.describe(),
        });
    }
    std::thread::sleep(POLL_EVERY.min(deadline - now));
    Ok(())
}
