//! Creating and opening a repository, with the failures an operator must tell apart:
//! missing, wrong password, unreachable.

use crate::error::{engine, remote};
use crate::lock::LockStore;
use crate::{Location, RepoError};
use lifeboat_core::Secret;
use rustic_backend::BackendOptions;
use rustic_core::WriteBackend;
use rustic_core::{
    ConfigOptions, Credentials, IndexedFullStatus, IndexedIdsStatus, KeyOptions, OpenStatus,
    Repository, RepositoryBackends, RepositoryOptions,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// How to reach a repository.
#[derive(Debug, Clone)]
pub struct RepoOptions {
    pub url: String,
    pub password: Secret<String>,
    pub options: BTreeMap<String, String>,
    /// Where rustic keeps its local cache; `None` disables the cache.
    pub cache_dir: Option<std::path::PathBuf>,
    /// Where lifeboat keeps local state about repositories, in a directory per
    /// repository id: which snapshots are known complete, so that `list` need not
    /// read their trees again. `None` keeps none (every list checks every snapshot).
    pub state_dir: Option<std::path::PathBuf>,
    /// How long [`Repo::hold_lock`] waits for a conflicting lock to go.
    pub lock_wait: std::time::Duration,
}

/// An open repository.
pub struct Repo {
    /// `None` only after an indexing step failed and consumed the handle.
    inner: Option<Repository<OpenStatus>>,
    pub(crate) url: String,
    /// Lock files are written beside rustic_core, through the same backend and key.
    pub(crate) locks: LockStore,
    lock_wait: std::time::Duration,
    /// The lock this handle holds for its command, removed when it is dropped.
    held: Option<(crate::LockKind, crate::RepoLock)>,
    /// The command's cancellation: stores in progress fail at their next read.
    cancel: lifeboat_core::CancelToken,
    /// Told the bytes read so far by the store in progress.
    progress: Option<crate::Progress>,
    /// This repository's directory of local state (see [`RepoOptions::state_dir`]).
    pub(crate) state_dir: Option<PathBuf>,
    /// The backups the last listing could not read (see `snapshots::complete`).
    pub(crate) unreadable: Vec<lifeboat_core::ports::SnapshotInfo>,
}

fn backends(opts: &RepoOptions) -> Result<(RepositoryBackends, Location), RepoError> {
    let location = Location::parse(&opts.url, &opts.options)?;
    let backends = BackendOptions::default()
        .repository(location.repository.clone())
        .options(location.options.clone())
        .to_backends()
        .map_err(|e| RepoError::Location {
            url: opts.url.clone(),
            reason: engine(e).to_string(),
        })?;
    Ok((backends, location))
}

/// A repository handle, and what lock files need: the raw backend and, for a local
/// repository, its directory.
struct Handle {
    repo: Repository<()>,
    be: Arc<dyn WriteBackend>,
    local_dir: Option<PathBuf>,
    location: Location,
}

/// Whether the backend lists no key file (a listing that fails says nothing).
fn has_no_keys(be: &dyn WriteBackend) -> bool {
    be.list(rustic_core::FileType::Key)
        .is_ok_and(|keys| keys.is_empty())
}

/// Attempts, and the time each may take, to open a TCP connection to a remote store
/// before rustic gets to it. rustic's backends retry a failed connection with
/// backoff (opendal's retry layer 5 times, about 30 s, `retry` in
/// [repository.options]; the REST backend alike) and set no connect timeout, so an
/// address that drops packets would keep a command waiting for many minutes.
const CONNECT_ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Fails within about `CONNECT_ATTEMPTS * CONNECT_TIMEOUT` per address when the
/// store's server does not take TCP connections, naming it.
fn reachable(location: &Location) -> Result<(), RepoError> {
    use std::net::ToSocketAddrs;
    let Some((host, port)) = &location.address else {
        return Ok(());
    };
    let mut last = String::new();
    for attempt in 0..CONNECT_ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        match (host.as_str(), *port).to_socket_addrs() {
            Err(e) => last = format!("cannot resolve {host}: {e}"),
            Ok(addrs) => {
                for addr in addrs {
                    match std::net::TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                        Ok(_) => return Ok(()),
                        Err(e) => last = format!("connecting to {addr}: {e}"),
                    }
                }
            }
        }
    }
    Err(RepoError::Unreachable {
        server: location.server(),
        reason: format!("{last} ({CONNECT_ATTEMPTS} attempts)"),
    })
}

fn handle(opts: &RepoOptions) -> Result<Handle, RepoError> {
    let (backends, location) = backends(opts)?;
    reachable(&location)?;
    let mut ropts = RepositoryOptions::default();
    match &opts.cache_dir {
        Some(dir) => ropts.cache_dir = Some(dir.clone()),
        None => ropts.no_cache = true,
    }
    let repo = Repository::new(&ropts, &backends).map_err(engine)?;
    Ok(Handle {
        repo,
        be: backends.repository(),
        local_dir: location
            .repository
            .strip_prefix("local:")
            .map(PathBuf::from),
        location,
    })
}

impl Handle {
    fn into_repo(self, inner: Repository<OpenStatus>, opts: &RepoOptions) -> Repo {
        let url = &opts.url;
        let locks = LockStore {
            be: self.be,
            key: inner.key(),
            local_dir: self.local_dir,
            url: url.to_string(),
        };
        // Keyed by the repository id, as rustic's cache is: copies of a repository
        // share it, which is right, since snapshot ids name their content.
        let state_dir = opts
            .state_dir
            .as_ref()
            .map(|dir| dir.join(inner.config().id.to_hex().as_str()));
        Repo {
            inner: Some(inner),
            url: url.to_string(),
            locks,
            lock_wait: opts.lock_wait,
            held: None,
            cancel: lifeboat_core::CancelToken::default(),
            progress: None,
            state_dir,
            unreadable: Vec::new(),
        }
    }
}

/// Repository settings chosen at `init`. Data packs start at 8 MiB and grow with the
/// repository (rustic's square-root rule) up to 32 MiB. Up to about five packs are in
/// flight while the disk is slow to take them, so the pack size, not the dump size,
/// bounds a backup's memory: 16 MiB packs let a 5 GiB stream's peak RSS wander up to
/// 220 MiB, 8 MiB packs keep it near 185 MiB (BENCHMARKS.md M1).
fn config_options() -> ConfigOptions {
    const MIB: u64 = 1024 * 1024;
    let mut opts = ConfigOptions::default();
    opts.set_datapack_size = Some(bytesize::ByteSize::b(8 * MIB));
    opts.set_datapack_size_limit = Some(bytesize::ByteSize::b(32 * MIB));
    // zstd level 1: on pg_dump output and the bench's files it packs as small as the
    // default level 3 (84 MB for the 345 MB `shop` dump either way) for less CPU,
    // and a backup runs on the same cores as the database it dumps.
    opts.set_compression = Some(1);
    opts
}

/// How a repository cuts data into chunks (its chunker polynomial and chunk sizes),
/// which a `[[copy_to]]` takes at `init`, as restic's `--copy-chunker-params` does: a
/// backup made straight into the copy (the primary lost) then dedups against what was
/// copied there. Held as the settings a copy is created with.
#[derive(Debug, Clone, Copy)]
pub struct ChunkerParams(ConfigOptions);

impl Repo {
    /// This repository's chunker parameters.
    pub fn chunker_params(&self) -> Result<ChunkerParams, RepoError> {
        let config = self.open_repo()?.config();
        let size = |s: Option<usize>| s.map(|s| bytesize::ByteSize::b(s as u64));
        let mut opts = config_options();
        opts.set_chunker_polynomial = Some(config.poly().map_err(engine)?);
        opts.set_chunker = config.chunker;
        opts.set_chunk_size = size(config.chunk_size);
        opts.set_chunk_min_size = size(config.chunk_min_size);
        opts.set_chunk_max_size = size(config.chunk_max_size);
        Ok(ChunkerParams(opts))
    }

    /// Creates a new repository. Fails if one exists already.
    pub fn init(opts: &RepoOptions) -> Result<Repo, RepoError> {
        Self::init_with(opts, &config_options())
    }

    /// Creates a new repository that cuts chunks as the one `params` came from.
    pub fn init_with_chunker(
        opts: &RepoOptions,
        params: &ChunkerParams,
    ) -> Result<Repo, RepoError> {
        Self::init_with(opts, &params.0)
    }

    fn init_with(opts: &RepoOptions, config: &ConfigOptions) -> Result<Repo, RepoError> {
        let handle = handle(opts)?;
        let repo = handle.repo.clone();
        let remote = |e| remote(&handle.location, e);
        if repo.config_id().map_err(remote)?.is_some() {
            return Err(RepoError::AlreadyExists {
                url: opts.url.clone(),
            });
        }
        // Some stores (s3s-fs, MinIO in some modes) make a missing bucket on the first
        // write: a typo in the bucket name must not become a new bucket.
        if let Some(e) = why_missing(&handle) {
            return Err(e);
        }
        let creds = Credentials::password(opts.password.expose());
        let inner = repo
            .init(&creds, &KeyOptions::default(), config)
            .map_err(remote)?;
        Ok(handle.into_repo(inner, opts))
    }

    /// Opens an existing repository.
    pub fn open(opts: &RepoOptions) -> Result<Repo, RepoError> {
        let handle = handle(opts)?;
        let repo = handle.repo.clone();
        let exists = repo
            .config_id()
            .map_err(|e| unreachable_or_engine(&handle.location, &opts.url, e))?;
        if exists.is_none() {
            return Err(why_missing(&handle).unwrap_or_else(|| RepoError::NotFound {
                url: opts.url.clone(),
            }));
        }
        let creds = Credentials::password(opts.password.expose());
        let inner = repo.open(&creds).map_err(|e| {
            if e.is_incorrect_password() && has_no_keys(handle.be.as_ref()) {
                RepoError::NoKeys {
                    url: opts.url.clone(),
                }
            } else if e.is_incorrect_password() {
                RepoError::WrongPassword {
                    url: opts.url.clone(),
                }
            } else {
                remote(&handle.location, e)
            }
        })?;
        Ok(handle.into_repo(inner, opts))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn lock_store(&self) -> Result<LockStore, RepoError> {
        Ok(self.locks.clone())
    }

    /// Makes stores of this handle fail once `cancel` is cancelled.
    pub fn set_cancel(&mut self, cancel: &lifeboat_core::CancelToken) {
        self.cancel = cancel.clone();
    }

    pub(crate) fn cancel_token(&self) -> lifeboat_core::CancelToken {
        self.cancel.clone()
    }

    /// Calls `progress` with the payload bytes read so far during the next stores
    /// (`None`: nobody listens).
    pub fn set_progress(&mut self, progress: Option<crate::Progress>) {
        self.progress = progress;
    }

    pub(crate) fn progress(&self) -> Option<crate::Progress> {
        self.progress.clone()
    }

    /// Takes a `kind` lock for as long as this handle lives (see [`Repo::lock`]),
    /// waiting up to the configured `lock_wait` for conflicting locks. A shared lock
    /// held already is given up for an exclusive one (retention after a backup); an
    /// exclusive one covers both.
    pub fn hold_lock(&mut self, kind: crate::LockKind) -> Result<(), RepoError> {
        match &self.held {
            Some((held, _)) if *held == kind || *held == crate::LockKind::Exclusive => Ok(()),
            _ => {
                // Our own shared lock would conflict with the exclusive one we ask for.
                self.held = None;
                if kind == crate::LockKind::Shared {
                    self.index_unfinished_stores();
                }
                self.held = Some((kind, self.lock(kind, self.lock_wait)?));
                Ok(())
            }
        }
    }

    /// Another handle on this open repository for a store beside this handle's (an
    /// app's sources dumped in parallel): the same backend, key, cancellation and
    /// state, no lock of its own (this handle's covers both) and no progress sink.
    pub fn share(&self) -> Result<Repo, RepoError> {
        Ok(Repo {
            inner: Some(Repository::clone(self.open_repo()?)),
            url: self.url.clone(),
            locks: self.locks.clone(),
            lock_wait: self.lock_wait,
            held: None,
            cancel: self.cancel.clone(),
            progress: None,
            state_dir: self.state_dir.clone(),
            unreadable: Vec::new(),
        })
    }

    pub(crate) fn open_repo(&self) -> Result<&Repository<OpenStatus>, RepoError> {
        self.inner.as_ref().ok_or_else(lost)
    }

    /// Runs `f` with the index loaded (blob ids and trees), then drops the index again.
    /// rustic's type states consume the handle, so it is taken and put back.
    pub(crate) fn with_index<R>(
        &mut self,
        f: impl FnOnce(&Repository<IndexedIdsStatus>) -> Result<R, RepoError>,
    ) -> Result<R, RepoError> {
        let open = self.inner.take().ok_or_else(lost)?;
        let indexed = open.to_indexed_ids().map_err(engine)?;
        let result = f(&indexed);
        self.inner = Some(indexed.drop_index());
        result
    }

    /// [`Repo::with_index`] for a step that uploads packs (a store, a copy into this
    /// repository): a marker records it until it has saved its index, so the packs of
    /// one that crashes or fails are indexed later (`unfinished`).
    pub(crate) fn adding<R>(
        &mut self,
        f: impl FnOnce(&Repository<IndexedIdsStatus>) -> Result<R, RepoError>,
    ) -> Result<R, RepoError> {
        let marker = crate::unfinished::StoreMarker::begin(self.state_dir.as_deref(), &self.url);
        let result = self.with_index(f);
        if let (Ok(_), Some(marker)) = (&result, marker) {
            marker.finished();
        }
        result
    }

    /// Loads the full index (needed to read data), taking the handle.
    pub(crate) fn take_full(&mut self) -> Result<Repository<IndexedFullStatus>, RepoError> {
        let open = self.inner.take().ok_or_else(lost)?;
        open.to_indexed().map_err(engine)
    }

    pub(crate) fn put_back(&mut self, repo: Repository<IndexedFullStatus>) {
        self.inner = Some(repo.drop_index());
    }
}

pub(crate) fn lost() -> RepoError {
    RepoError::Engine("the repository handle was lost after an earlier error".into())
}

fn unreachable_or_engine(
    location: &Location,
    url: &str,
    e: Box<rustic_core::RusticError>,
) -> RepoError {
    match remote(location, e) {
        RepoError::Engine(why) => {
            RepoError::Engine(format!("cannot read the repository at {url}: {why}"))
        }
        other => other,
    }
}

/// When a remote repository's `config` is not found, whether the store itself is the
/// problem: an S3 HEAD of an object in a missing bucket comes back as a bare 404 (no
/// body to tell), and the REST backend takes any non-2xx answer to its HEAD (401
/// included) for "no config". A listing says which.
fn why_missing(handle: &Handle) -> Option<RepoError> {
    use rustic_core::{FileType, ReadBackend};
    let probe = match handle.location.backend {
        crate::location::Backend::S3 => return s3_bucket_problem(&handle.location),
        crate::location::Backend::Rest => handle.be.list(FileType::Snapshot).err()?,
        _ => return None,
    };
    match remote(&handle.location, probe) {
        e @ (RepoError::BucketMissing { .. }
        | RepoError::AccessDenied { .. }
        | RepoError::Unreachable { .. }) => Some(e),
        _ => None,
    }
}

/// Lists the S3 prefix once (one request) with an operator of our own: rustic's
/// backend drops listing errors (it logs them and lists nothing), and a listing is
/// what answers NoSuchBucket on every S3 server (s3s-fs answers a GET in a missing
/// bucket with NoSuchKey).
fn s3_bucket_problem(location: &Location) -> Option<RepoError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let op = opendal::Operator::via_iter("s3", location.options.clone()).ok()?;
    let err = runtime.block_on(op.list("/")).err()?;
    crate::error::opendal_error(location, &location.server(), &err)
}
