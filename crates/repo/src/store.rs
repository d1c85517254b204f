//! Storing one backup as one snapshot: payload streams or a directory tree, then the
//! manifest, which exists only if the payload was read completely (see `tally`).

use crate::error::engine;
use crate::exclude::ExcludeMatcher;
use crate::tally::{ManifestFn, ManifestReader, StreamReader, Tally};
use crate::{Repo, RepoError};
use lifeboat_core::layout::MANIFEST_PATH;
use rustic_core::repofile::{Metadata, Node, NodeType};
use rustic_core::{
    BackupOptions, Excludes, LocalSource, LocalSourceFilterOptions, LocalSourceSaveOptions,
    ParentOptions, ReadSource, ReadSourceEntry, ReadSourceOpen, RusticResult, SnapshotOptions,
};
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

pub use lifeboat_core::ports::{
    PayloadStats, SnapshotMeta, StoredSnapshot, StreamEntry, StreamStats,
};

type Outcome = Arc<Mutex<Option<Result<(), String>>>>;

/// Non-zero size for stream nodes: restic restores a size-0 file node as an empty
/// file, and the archiver never records a stream's real size. restic and rustic
/// only special-case 0, so any non-zero value restores the whole content.
const STREAM_SIZE_PLACEHOLDER: u64 = 1;

fn file_node(name: &str, size: u64) -> Node {
    let meta = Metadata {
        mode: Some(0o600),
        mtime: Some(jiff::Timestamp::now()),
        size,
        ..Default::default()
    };
    Node::new_node(OsStr::new(name), NodeType::File, meta)
}

fn manifest_entry(
    tally: &Arc<Tally>,
    produce: ManifestFn,
    outcome: &Outcome,
) -> ReadSourceEntry<Box<dyn Read + Send>> {
    let reader = ManifestReader::new(tally.clone(), produce, outcome.clone());
    ReadSourceEntry {
        path: PathBuf::from(MANIFEST_PATH),
        node: file_node("manifest.json", STREAM_SIZE_PLACEHOLDER),
        open: Some(Box::new(reader)),
    }
}

/// Payload streams followed by the manifest.
struct StreamSource {
    entries: Mutex<Vec<ReadSourceEntry<Box<dyn Read + Send>>>>,
}

impl ReadSource for StreamSource {
    type Open = Box<dyn Read + Send>;
    type Iter = std::vec::IntoIter<RusticResult<ReadSourceEntry<Self::Open>>>;

    fn size(&self) -> RusticResult<Option<u64>> {
        Ok(None)
    }

    fn entries(&self) -> Self::Iter {
        let mut guard = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *guard)
            .into_iter()
            .map(Ok)
            .collect::<Vec<_>>()
            .into_iter()
    }
}

/// A `files` source: rustic's LocalSource, its paths moved under the payload root,
/// every entry accounted for, then the manifest.
struct TreeSource {
    local: LocalSource,
    accountant: TreeAccountant,
    manifest: Mutex<Option<ReadSourceEntry<TreeOpen>>>,
}

enum TreeOpen {
    File(
        <LocalSource as ReadSource>::Open,
        crate::tally::PendingToken,
        Arc<Tally>,
        PathBuf,
        u64,
    ),
    Manifest(Box<dyn Read + Send>),
}

impl ReadSourceOpen for TreeOpen {
    type Reader = Box<dyn Read + Send>;

    fn open(self) -> RusticResult<Self::Reader> {
        match self {
            TreeOpen::Manifest(r) => Ok(r),
            TreeOpen::File(open, token, tally, path, size) => match open.open() {
                Ok(file) => Ok(Box::new(TrackedFile {
                    file,
                    tally,
                    path,
                    left: size,
                    done: false,
                    _token: token,
                })),
                Err(e) => {
                    tally.error(format!("{}: {}", path.display(), engine(e)));
                    Err(rustic_core::RusticError::new(
                        rustic_core::ErrorKind::InputOutput,
                        "file could not be opened",
                    ))
                }
            },
        }
    }
}

/// A file being read for a `files` backup; read errors fail the backup. It reads at
/// most the size `stat` gave when the walk found it, so that what is stored matches
/// the node (a file still growing is cut there, with a warning); a file that shrank
/// meanwhile is stored as read, and the tally counts the bytes actually stored.
struct TrackedFile {
    file: std::fs::File,
    tally: Arc<Tally>,
    path: PathBuf,
    /// Bytes still expected (the size the walk saw minus what was read).
    left: u64,
    done: bool,
    _token: crate::tally::PendingToken,
}

impl TrackedFile {
    /// The file ended (or reached its walked size): warn about a changed size and
    /// count the difference.
    fn finish(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        if self.left > 0 {
            tracing::warn!(
                path = %self.path.display(),
                missing = self.left,
                "file shrank while being backed up; stored what was read"
            );
            let missing = std::mem::take(&mut self.left);
            self.tally
                .with(|s| s.total_bytes = s.total_bytes.saturating_sub(missing));
        } else if self
            .file
            .metadata()
            .is_ok_and(|m| m.len() > self.file_len_seen())
        {
            tracing::warn!(
                path = %self.path.display(),
                "file grew while being backed up; stored its size when the backup reached it"
            );
        }
    }

    fn file_len_seen(&self) -> u64 {
        use std::io::Seek;
        (&self.file).stream_position().unwrap_or(u64::MAX)
    }
}

impl Read for TrackedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Err(e) = self.tally.check_cancelled() {
            self.tally.error(format!("{}: {e}", self.path.display()));
            return Err(e);
        }
        if self.left == 0 {
            self.finish();
            return Ok(0);
        }
        let limit = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.file.read(&mut buf[..limit]).inspect_err(|e| {
            self.tally.error(format!("{}: {e}", self.path.display()));
        })?;
        if n == 0 {
            self.finish();
        }
        self.tally.advance(n);
        self.left -= n as u64;
        Ok(n)
    }
}

type TreeItem = RusticResult<ReadSourceEntry<TreeOpen>>;
type LocalItem = RusticResult<ReadSourceEntry<<LocalSource as ReadSource>::Open>>;

impl ReadSource for TreeSource {
    type Open = TreeOpen;
    type Iter = Box<dyn Iterator<Item = TreeItem> + Send>;

    fn size(&self) -> RusticResult<Option<u64>> {
        Ok(None)
    }

    fn entries(&self) -> Self::Iter {
        let accountant = self.accountant.clone();
        let manifest = self
            .manifest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Box::new(
            self.local
                .entries()
                .map(move |item| accountant.account(item))
                .chain(manifest.map(Ok)),
        )
    }
}

/// Moves entries under the payload root and records them in the tally. Owned by the
/// entry iterator, which must be `'static`.
#[derive(Clone)]
struct TreeAccountant {
    dir: PathBuf,
    root: PathBuf,
    tally: Arc<Tally>,
}

impl TreeAccountant {
    fn account(&self, item: LocalItem) -> TreeItem {
        let mut entry = item.inspect_err(|e| self.tally.error(e.display_log()))?;
        let rel = entry.path.strip_prefix(&self.dir).unwrap_or(&entry.path);
        let path = if rel.as_os_str().is_empty() {
            // The source directory itself becomes the payload root: its node takes
            // the root's name, keeping its mode, owner and times.
            let name = self.root.file_name().unwrap_or_default();
            entry.node = Node::new_node(name, NodeType::Dir, entry.node.meta);
            self.root.clone()
        } else {
            self.root.join(rel)
        };
        if entry.node.is_file() {
            self.tally.with(|s| {
                s.file_count += 1;
                s.total_bytes += entry.node.meta.size;
            });
        }
        let size = entry.node.meta.size;
        let open = entry.open.map(|o| {
            TreeOpen::File(
                o,
                self.tally.token(),
                self.tally.clone(),
                entry.path.clone(),
                size,
            )
        });
        Ok(ReadSourceEntry {
            path,
            node: entry.node,
            open,
        })
    }
}

impl Repo {
    /// Stores payload streams plus the manifest `produce` returns once every stream was
    /// read to its end. Any failure leaves no snapshot behind.
    pub fn store_streams(
        &mut self,
        meta: &SnapshotMeta,
        streams: Vec<StreamEntry>,
        produce: ManifestFn,
    ) -> Result<StoredSnapshot, RepoError> {
        let tally = Arc::new(Tally::new(self.cancel_token(), self.progress()));
        let outcome = Outcome::default();
        let mut entries: Vec<_> = streams
            .into_iter()
            .map(|s| {
                let reader = StreamReader::new(s.name.clone(), s.reader, s.hash, &tally);
                let path = Path::new(&meta.root).join(&s.name);
                // A name may be a nested path (bucket keys): the node is its last part.
                let base = path
                    .file_name()
                    .map_or_else(|| s.name.clone(), |n| n.to_string_lossy().into_owned());
                ReadSourceEntry {
                    node: file_node(&base, STREAM_SIZE_PLACEHOLDER),
                    path,
                    open: Some(Box::new(reader) as Box<dyn Read + Send>),
                }
            })
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries.push(manifest_entry(&tally, produce, &outcome));
        let source = StreamSource {
            entries: Mutex::new(entries),
        };
        // Streams carry no metadata a parent could match on: never use a parent, or
        // the archiver silently keeps the previous content.
        let opts = BackupOptions::default().parent_opts(ParentOptions::default().force(true));
        self.archive(meta, &opts, &source, &outcome)
    }

    /// Stores the directory tree `dir` (minus what the `exclude` patterns match, read
    /// as a `.gitignore` at its root) plus the manifest. Unreadable entries fail the
    /// backup.
    pub fn store_tree(
        &mut self,
        meta: &SnapshotMeta,
        dir: &Path,
        exclude: &[String],
        produce: ManifestFn,
    ) -> Result<StoredSnapshot, RepoError> {
        let tally = Arc::new(Tally::new(self.cancel_token(), self.progress()));
        let outcome = Outcome::default();
        let matcher = ExcludeMatcher::new(exclude).map_err(RepoError::Incomplete)?;
        let walk_root = dir.to_path_buf();
        // The walk never enters an excluded directory: as in git, nothing under one
        // can be re-included.
        let local = LocalSource::new(
            LocalSourceSaveOptions::default(),
            &Excludes::default(),
            &LocalSourceFilterOptions::default(),
            &[dir],
        )
        .map_err(engine)?
        .keep_root()
        .filter_entry(move |entry| {
            let rel = entry
                .path()
                .strip_prefix(&walk_root)
                .unwrap_or(entry.path());
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !matcher.excludes(rel, is_dir)
        });
        let manifest = manifest_entry(&tally, produce, &outcome);
        let source = TreeSource {
            local,
            accountant: TreeAccountant {
                dir: dir.to_path_buf(),
                root: PathBuf::from(&meta.root),
                tally,
            },
            manifest: Mutex::new(Some(ReadSourceEntry {
                path: manifest.path,
                node: manifest.node,
                open: manifest.open.map(TreeOpen::Manifest),
            })),
        };
        self.archive(meta, &BackupOptions::default(), &source, &outcome)
    }

    fn archive<R>(
        &mut self,
        meta: &SnapshotMeta,
        opts: &BackupOptions,
        source: &R,
        outcome: &Outcome,
    ) -> Result<StoredSnapshot, RepoError>
    where
        R: ReadSource + 'static,
        R::Open: Send,
        R::Iter: Send,
    {
        let snap = snapshot_file(meta)?;
        let saved = self.adding(|repo| {
            repo.archive(opts, source, snap, &[PathBuf::from(&meta.root)])
                .map_err(engine)
        })?;
        let result = outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match result {
            Some(Ok(())) => Ok(StoredSnapshot {
                id: saved.id.to_string(),
                total_bytes: saved
                    .summary
                    .as_ref()
                    .map_or(0, |s| s.total_bytes_processed),
                added_bytes: saved.summary.as_ref().map_or(0, |s| s.data_added_packed),
            }),
            failed => {
                self.open_repo()?
                    .delete_snapshots(&[saved.id])
                    .map_err(engine)?;
                let why = match failed {
                    Some(Err(message)) => message,
                    _ => "the payload was not stored completely".to_string(),
                };
                Err(RepoError::Incomplete(why))
            }
        }
    }
}

fn snapshot_file(meta: &SnapshotMeta) -> Result<rustic_core::repofile::SnapshotFile, RepoError> {
    let mut opts = SnapshotOptions::default().time(meta.time.clone());
    for tag in &meta.tags {
        opts = opts.add_tags(tag).map_err(engine)?;
    }
    opts.to_snapshot().map_err(engine)
}
