//! A backup run: per app, `before_backup` hooks, every selected source dumped into
//! its own snapshot (one run id for all), `after_backup` hooks even after a failure.

use crate::EngineError;
use lifeboat_core::layout::{self, payload_root, TAG_PRE_RESTORE};
use lifeboat_core::manifest::MANIFEST_VERSION;
use lifeboat_core::{AppSpec, CancelToken, Event, Events, Facts, Manifest, SourceKind, SourceSpec};
use lifeboat_repo::{
    PayloadStats, RepoAccess, RepoError, SnapshotMeta, StoredSnapshot, StreamEntry,
};
use lifeboat_sources::bucket::{self, BucketTarget};
use lifeboat_sources::hooks::run_hooks;
use lifeboat_sources::mysql::{self, MysqlTarget};
use lifeboat_sources::postgres::{self, PgTarget};
use lifeboat_sources::read_ahead::{self, ReadAhead};
use lifeboat_sources::redis::{self, RedisTarget};
use lifeboat_sources::{command, sqlite, Dump};
use serde::Serialize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Why a snapshot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A regular backup.
    Backup,
    /// The safety copy of a restore target, taken before it is overwritten.
    PreRestore,
}

/// The outcome of one source in a run.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub app: String,
    pub source: String,
    pub kind: String,
    pub ok: bool,
    pub snapshot: Option<String>,
    pub size: u64,
    pub added: u64,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome of a whole run.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub run_id: String,
    pub sources: Vec<SourceReport>,
    /// Hook failures (they fail the run but are not a source's failure).
    pub errors: Vec<String>,
    /// The run was interrupted: sources not yet done were skipped, nothing partial was
    /// saved, and the after_backup hooks ran.
    pub cancelled: bool,
}

impl BackupReport {
    pub fn ok(&self) -> bool {
        !self.cancelled && self.errors.is_empty() && self.sources.iter().all(|s| s.ok)
    }
}

/// What a backup of one source stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub snapshot: StoredSnapshot,
    pub manifest: Manifest,
}

/// Runs one backup cycle for `selected` (app, sources) pairs, grouped per app.
/// What steers a run from outside: its cancellation, and where its events go.
#[derive(Clone)]
pub struct RunControl {
    pub cancel: CancelToken,
    pub events: Arc<dyn Events>,
}

impl RunControl {
    /// Not cancellable from outside, events dropped.
    pub fn quiet() -> Self {
        Self {
            cancel: CancelToken::new(),
            events: Arc::new(lifeboat_core::NoEvents),
        }
    }
}

/// A cancelled run skips what has not started, fails the dump in progress (no partial
/// snapshot) and still runs the after_backup hooks of the app it was in.
pub fn run_backup(
    repo: &mut impl RepoAccess,
    selected: &[(&AppSpec, Vec<&SourceSpec>)],
    run_id: &str,
    now: &jiff::Zoned,
    ctl: &RunControl,
) -> Result<BackupReport, EngineError> {
    ctl.events.emit(&Event::RunStarted {
        run_id: run_id.to_string(),
        sources: selected.iter().map(|(_, s)| s.len()).sum(),
    });
    let report = run_apps(repo, selected, run_id, now, ctl)?;
    ctl.events.emit(&Event::RunDone {
        run_id: run_id.to_string(),
        ok: report.ok(),
        cancelled: report.cancelled,
    });
    Ok(report)
}

fn run_apps(
    repo: &mut impl RepoAccess,
    selected: &[(&AppSpec, Vec<&SourceSpec>)],
    run_id: &str,
    now: &jiff::Zoned,
    ctl: &RunControl,
) -> Result<BackupReport, EngineError> {
    let cancel = &ctl.cancel;
    let mut report = BackupReport {
        run_id: run_id.to_string(),
        sources: Vec::new(),
        errors: Vec::new(),
        cancelled: false,
    };
    for (app, sources) in selected {
        if cancel.is_cancelled() {
            break;
        }
        if !app.before_backup.is_empty() {
            // Never stop an application for a backup that could not be stored.
            repo.repo()?;
        }
        let before = run_hooks("before_backup", &app.before_backup);
        if let Err(e) = &before {
            report.errors.push(format!("{}: {e}", app.name));
        }
        for source in sources {
            if cancel.is_cancelled() {
                report
                    .sources
                    .push(skipped(app, source, "skipped: the run was interrupted"));
                continue;
            }
            if before.is_err() {
                report
                    .sources
                    .push(skipped(app, source, "skipped: before_backup hook failed"));
                continue;
            }
            let started = Instant::now();
            watch_progress(repo, app, source, &ctl.events);
            let result = backup_source(repo, app, source, run_id, now, Purpose::Backup);
            repo.set_progress(None);
            if matches!(&result, Err(e) if e.is_repository_problem()) {
                let _ = run_hooks("after_backup", &app.after_backup);
                return result.map(|_| report);
            }
            let done = source_report(app, source, started, result);
            ctl.events.emit(&Event::SourceDone {
                app: done.app.clone(),
                source: done.source.clone(),
                ok: done.ok,
                snapshot: done.snapshot.clone(),
                bytes: done.size,
                error: done.error.clone(),
            });
            report.sources.push(done);
        }
        if let Err(e) = run_hooks("after_backup", &app.after_backup) {
            report.errors.push(format!("{}: {e}", app.name));
        }
    }
    report.cancelled = cancel.is_cancelled();
    Ok(report)
}

/// Announces the source and turns the store's byte counts into events.
fn watch_progress(
    repo: &mut impl RepoAccess,
    app: &AppSpec,
    source: &SourceSpec,
    events: &Arc<dyn Events>,
) {
    events.emit(&Event::SourceStarted {
        app: app.name.clone(),
        source: source.name.clone(),
        kind: source.kind.name().to_string(),
    });
    if !events.wants_progress() {
        return;
    }
    let (app, source) = (app.name.clone(), source.name.clone());
    let sink = events.clone();
    repo.set_progress(Some(std::sync::Arc::new(move |bytes| {
        sink.emit(&Event::BytesRead {
            app: app.clone(),
            source: source.clone(),
            bytes,
        });
    })));
}

fn skipped(app: &AppSpec, source: &SourceSpec, why: &str) -> SourceReport {
    SourceReport {
        app: app.name.clone(),
        source: source.name.clone(),
        kind: source.kind.name().to_string(),
        ok: false,
        snapshot: None,
        size: 0,
        added: 0,
        duration_ms: 0,
        error: Some(why.to_string()),
    }
}

fn source_report(
    app: &AppSpec,
    source: &SourceSpec,
    started: Instant,
    result: Result<Stored, EngineError>,
) -> SourceReport {
    let mut report = skipped(app, source, "");
    report.duration_ms = millis(started);
    match result {
        Ok(stored) => {
            report.ok = true;
            report.error = None;
            report.snapshot = Some(stored.snapshot.id);
            report.size = stored.snapshot.total_bytes;
            report.added = stored.snapshot.added_bytes;
        }
        Err(e) => report.error = Some(e.to_string()),
    }
    report
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Backs up one source into one snapshot. Nothing is stored unless the dump completed.
pub fn backup_source(
    repo: &mut impl RepoAccess,
    app: &AppSpec,
    source: &SourceSpec,
    run_id: &str,
    now: &jiff::Zoned,
    purpose: Purpose,
) -> Result<Stored, EngineError> {
    let spec = format!("{}/{}", app.name, source.name);
    let tags = match purpose {
        Purpose::Backup => layout::tags(&app.name, &source.name, source.kind.name(), run_id),
        Purpose::PreRestore => {
            layout::safety_tags(&app.name, &source.name, source.kind.name(), run_id)
        }
    };
    let meta = SnapshotMeta {
        root: payload_root(&app.name, &source.name),
        tags,
        time: now.clone(),
    };
    let mut manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        lifeboat_version: env!("CARGO_PKG_VERSION").to_string(),
        app: app.name.clone(),
        source: source.name.clone(),
        kind: source.kind.name().to_string(),
        run_id: run_id.to_string(),
        origin: String::new(),
        files: Vec::new(),
        tool_versions: Vec::new(),
        started_at: now.timestamp().to_string(),
        duration_ms: 0,
        facts: Facts::default(),
        purpose: (purpose == Purpose::PreRestore).then(|| TAG_PRE_RESTORE.to_string()),
    };
    let started = Instant::now();
    let slot = ManifestSlot::default();
    let result = match &source.kind {
        SourceKind::Postgres(pg) => {
            let target = PgTarget::parse(&pg.url, pg.password.clone())
                .map_err(EngineError::source(&spec))?;
            manifest.origin = target.url();
            let produce = slot.producer(manifest, started);
            let dumps = if pg.globals || pg.all_databases {
                postgres::cluster::start_cluster(&target, pg.globals, pg.all_databases)
            } else {
                postgres::start_backup(&target).map(|d| vec![d])
            };
            dumps
                .map(|dumps| store_dumps(repo, &meta, dumps, produce))
                .map_err(EngineError::source(&spec))?
        }
        SourceKind::Command(cmd) => {
            manifest.origin = "backup_command".to_string();
            let produce = slot.producer(manifest, started);
            command::start_backup(&cmd.backup_command, &cmd.filename)
                .map(|dump| store_dumps(repo, &meta, vec![dump], produce))
                .map_err(EngineError::source(&spec))?
        }
        SourceKind::Mysql(my) => {
            let target = MysqlTarget::parse(&my.url, my.password.clone())
                .map_err(EngineError::source(&spec))?;
            manifest.origin = target.url();
            let databases = mysql_databases(&my.databases);
            manifest.facts.mysql_databases = mysql::database_defaults(&target, &databases)
                .map_err(EngineError::source(&spec))?;
            let produce = slot.producer(manifest, started);
            mysql::start_backup(&target, &databases)
                .map(|dump| store_dumps(repo, &meta, vec![dump], produce))
                .map_err(EngineError::source(&spec))?
        }
        SourceKind::Redis(rd) => {
            let target = RedisTarget::parse(&rd.url, rd.password.clone())
                .map_err(EngineError::source(&spec))?;
            manifest.origin = target.url();
            let produce = with_redis_keyspace(slot.producer(manifest, started), target.clone());
            redis::start_backup(&target)
                .map(|dump| store_dumps(repo, &meta, vec![dump], produce))
                .map_err(EngineError::source(&spec))?
        }
        SourceKind::Bucket(b) => {
            let target = bucket_target(b).map_err(EngineError::source(&spec))?;
            manifest.origin = target.url();
            let produce = slot.producer(manifest, started);
            backup_bucket(repo, &meta, &target, produce).map_err(EngineError::source(&spec))?
        }
        SourceKind::Sqlite(db) => {
            manifest.origin = db.path.display().to_string();
            let produce = slot.producer(manifest, started);
            sqlite::start_backup(&db.path)
                .map(|dump| store_dumps(repo, &meta, vec![dump], produce))
                .map_err(EngineError::source(&spec))?
        }
        SourceKind::Files(files) => {
            lifeboat_sources::files::check_readable(&files.path)
                .map_err(EngineError::source(&spec))?;
            manifest.origin = files.path.display().to_string();
            // A safety copy keeps everything, excluded paths too: restore --delete may remove them.
            let exclude = if purpose == Purpose::PreRestore {
                &[][..]
            } else {
                &files.exclude[..]
            };
            let produce = slot.producer(manifest, started);
            repo.repo().and_then(|repo| {
                repo.store_tree(
                    &meta,
                    &files.path,
                    exclude,
                    Box::new(move |stats| produce(stats, Box::new(Ok))),
                )
            })
        }
    };
    let snapshot = result.map_err(|e| match e {
        RepoError::Incomplete(why) => EngineError::failed(&spec, why),
        error => EngineError::RepoFor {
            spec: spec.clone(),
            error,
        },
    })?;
    let manifest = slot
        .take()
        .ok_or_else(|| EngineError::failed(&spec, "manifest was not recorded"))?;
    tracing::info!(spec, snapshot = %snapshot.id, "backup stored");
    Ok(Stored { snapshot, manifest })
}

/// Kind-specific completion of a manifest, run once the payload was read: e.g. wait
/// for the dump tool's exit and add its facts.
type Complete = Box<dyn FnOnce(Manifest) -> Result<Manifest, String> + Send>;

/// Keeps the manifest that was actually stored, for the caller's report.
#[derive(Default, Clone)]
struct ManifestSlot(Arc<Mutex<Option<Manifest>>>);

impl ManifestSlot {
    fn take(&self) -> Option<Manifest> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// A manifest producer: records what was read, lets `complete` add kind-specific
    /// facts, and keeps the result.
    fn producer(
        &self,
        mut manifest: Manifest,
        started: Instant,
    ) -> impl FnOnce(&PayloadStats, Complete) -> Result<Vec<u8>, String> + Send + 'static {
        let slot = self.clone();
        move |stats: &PayloadStats, complete: Complete| {
            manifest.facts.file_count = stats.file_count;
            manifest.facts.total_bytes = stats.total_bytes;
            manifest.facts.sha256 = stats
                .streams
                .iter()
                .filter_map(|s| s.sha256.clone().map(|h| (s.name.clone(), h)))
                .collect();
            manifest.facts.sha256.sort();
            manifest.files = stats.streams.iter().map(|s| s.name.clone()).collect();
            // in name order, not in the order the streams happened to finish
            manifest.files.sort();
            let mut manifest = complete(manifest)?;
            manifest.duration_ms = millis(started);
            let bytes = manifest.to_json();
            *slot.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(manifest);
            Ok(bytes)
        }
    }
}

/// Where a `bucket` source's objects are.
pub fn bucket_target(
    b: &lifeboat_core::BucketSettings,
) -> Result<BucketTarget, lifeboat_sources::SourceError> {
    BucketTarget::parse(
        &b.url,
        b.endpoint.clone(),
        b.region.clone(),
        b.access_key.clone(),
        b.secret_key.clone(),
    )
}

/// Every object as a stream of its own (opened when the archiver reads it), plus
/// the metadata document with their content types, stored outside the payload root
/// (absolute name: [`bucket::METADATA_PATH`]); facts count the objects only.
fn backup_bucket(
    repo: &mut impl RepoAccess,
    meta: &SnapshotMeta,
    target: &BucketTarget,
    produce: impl FnOnce(&PayloadStats, Complete) -> Result<Vec<u8>, String> + Send + 'static,
) -> Result<Result<StoredSnapshot, RepoError>, lifeboat_sources::SourceError> {
    let objects = bucket::list_objects(target)?;
    let mut dumps = bucket::dumps_for(target, &objects)?;
    let listing = bucket::metadata_json(&objects);
    dumps.push(Dump {
        name: bucket::METADATA_PATH.to_string(),
        stream: Box::new(std::io::Cursor::new(listing)),
        hash: false,
        running: false,
        finish: Box::new(|| Ok(lifeboat_sources::DumpFacts::default())),
    });
    let (count, bytes) = (
        objects.len() as u64,
        objects.iter().map(|o| o.size).sum::<u64>(),
    );
    let produce = move |stats: &PayloadStats, complete: Complete| {
        let complete: Complete = Box::new(move |m| {
            let mut m = complete(m)?;
            m.facts.file_count = count;
            m.facts.total_bytes = bytes;
            Ok(m)
        });
        produce(stats, complete)
    };
    Ok(store_dumps(repo, meta, dumps, produce))
}

/// Records keys and keys with an expiry per db from one `INFO keyspace` taken once
/// the RDB was read, so that the two agree (verification allows for expired keys).
fn with_redis_keyspace(
    produce: impl FnOnce(&PayloadStats, Complete) -> Result<Vec<u8>, String> + Send + 'static,
    target: RedisTarget,
) -> impl FnOnce(&PayloadStats, Complete) -> Result<Vec<u8>, String> + Send + 'static {
    move |stats: &PayloadStats, complete: Complete| {
        let complete: Complete = Box::new(move |m| {
            let mut m = complete(m)?;
            let (keys, expiring) = redis::keyspace_counts(&target).map_err(|e| e.to_string())?;
            m.facts.tables = keys;
            m.facts.expiring_keys = expiring.into_iter().filter(|t| t.rows > 0).collect();
            Ok(m)
        });
        produce(stats, complete)
    }
}

/// The adapter's name for the databases a `mysql` source dumps.
pub fn mysql_databases(d: &lifeboat_core::MysqlDatabases) -> mysql::Databases {
    match d {
        lifeboat_core::MysqlDatabases::Url => mysql::Databases::FromUrl,
        lifeboat_core::MysqlDatabases::List(names) => mysql::Databases::List(names.clone()),
        lifeboat_core::MysqlDatabases::All => mysql::Databases::All,
    }
}

/// Stores streaming dumps in one snapshot; the manifest is written only if every
/// dump's finisher (child exit status, row counts) succeeds after its stream ended.
fn store_dumps(
    repo: &mut impl RepoAccess,
    meta: &SnapshotMeta,
    dumps: Vec<Dump>,
    produce: impl FnOnce(&PayloadStats, Complete) -> Result<Vec<u8>, String> + Send + 'static,
) -> Result<StoredSnapshot, RepoError> {
    let mut entries = Vec::with_capacity(dumps.len());
    let mut finishers = Vec::with_capacity(dumps.len());
    for dump in dumps {
        finishers.push((dump.name.clone(), dump.finish));
        // A running dump is read ahead so that its tool keeps going while the repository
        // opens; lazy ones (a cluster's databases, a bucket's objects) start one at a time.
        let reader = if dump.running {
            Box::new(
                ReadAhead::spawn(
                    &dump.name,
                    dump.stream,
                    read_ahead::BUFFERS,
                    read_ahead::BLOCK,
                )
                .map_err(|e| {
                    RepoError::Incomplete(format!("{}: starting its reader thread: {e}", dump.name))
                })?,
            )
        } else {
            dump.stream
        };
        entries.push(StreamEntry {
            name: dump.name,
            reader,
            hash: dump.hash,
        });
    }
    let complete: Complete = Box::new(move |mut m| {
        for (name, finish) in finishers {
            let facts = finish().map_err(|e| {
                if m.files.len() > 1 {
                    format!("{name}: {e}")
                } else {
                    e.to_string()
                }
            })?;
            m.facts.tables.extend(facts.tables);
            for v in facts.tool_versions {
                if !m.tool_versions.contains(&v) {
                    m.tool_versions.push(v);
                }
            }
        }
        Ok(m)
    });
    // The dumps are running already: this is where a repository still opening is waited for.
    repo.repo()?.store_streams(
        meta,
        entries,
        Box::new(move |stats| produce(stats, complete)),
    )
}
