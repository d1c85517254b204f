//! A backup run: per app, `before_backup` hooks, every selected source dumped into
//! its own snapshot (one run id for all), `after_backup` hooks even after a failure or
//! a cancel.

use crate::error::failed;
use crate::Engine;
use lifeboat_core::layout::{self, payload_root, TAG_PRE_RESTORE};
use lifeboat_core::manifest::MANIFEST_VERSION;
use lifeboat_core::ports::{
    Complete, HookCall, HookRun, PayloadStats, Purpose, Repository, SnapshotMeta, StoredSnapshot,
};
use lifeboat_core::{AppSpec, Error, Event, Manifest, SourceSpec};
use serde::Serialize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

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
    /// The hook commands that ran, with their output.
    pub hooks: Vec<HookRun>,
    /// Retention applied after the run to the sources stored (when they have one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<crate::PruneReport>,
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

impl Engine {
    /// Runs one backup cycle for `selected` (app, sources) pairs, grouped per app. A
    /// cancelled run skips what has not started, fails the dump in progress (no partial
    /// snapshot) and still runs the after_backup hooks of the app it was in.
    pub fn run_backup(
        &self,
        repo: &mut dyn Repository,
        selected: &[(&AppSpec, Vec<&SourceSpec>)],
        run_id: &str,
        now: &jiff::Zoned,
    ) -> Result<BackupReport, Error> {
        self.events.emit(&Event::RunStarted {
            run_id: run_id.to_string(),
            sources: selected.iter().map(|(_, s)| s.len()).sum(),
        });
        let mut report = BackupReport {
            run_id: run_id.to_string(),
            sources: Vec::new(),
            errors: Vec::new(),
            cancelled: false,
            hooks: Vec::new(),
            retention: None,
        };
        for (app, sources) in selected {
            if self.cancel.is_cancelled() {
                break;
            }
            self.run_app(repo, app, sources, run_id, now, &mut report)?;
        }
        report.cancelled = self.cancel.is_cancelled();
        self.events.emit(&Event::RunDone {
            run_id: run_id.to_string(),
            ok: report.ok(),
            cancelled: report.cancelled,
        });
        Ok(report)
    }

    /// One app: its hooks around its sources. A repository problem stops the run
    /// (after the app's after_backup hooks); a source's failure does not.
    fn run_app(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        sources: &[&SourceSpec],
        run_id: &str,
        now: &jiff::Zoned,
        report: &mut BackupReport,
    ) -> Result<(), Error> {
        // Before any hook: a second run of the app must not stop or start it too.
        let _running = match self.run_locks.hold(&app.name, &self.cancel) {
            Ok(guard) => guard,
            Err(e) => {
                let why = format!("not started: {e}");
                report.errors.push(format!("{}: {e}", app.name));
                report
                    .sources
                    .extend(sources.iter().map(|s| skipped(app, s, &why)));
                return Ok(());
            }
        };
        if !app.before_backup.is_empty() {
            // Never stop an application for a backup that could not be stored.
            repo.ensure_open()?;
        }
        let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
        let call = |stage, commands, status| HookCall {
            stage,
            app: &app.name,
            run_id,
            status,
            sources: names.clone(),
            commands,
            timeout: std::time::Duration::from_secs(app.hook_timeout_secs),
        };
        let before = self
            .hooks
            .run(&call("before_backup", &app.before_backup, ""));
        match &before {
            Ok(ran) => report.hooks.extend(ran.iter().map(|r| self.redacted(r))),
            Err(e) => report
                .errors
                .push(self.redactor.apply(&format!("{}: {e}", app.name))),
        }
        let dumped = self.dump_sources(repo, app, sources, run_id, now, before.is_err());
        match dumped {
            Ok(done) => report.sources.extend(done),
            Err((done, e)) => {
                report.sources.extend(done);
                self.after_backup(report, call("after_backup", &app.after_backup, "failed"));
                return Err(e);
            }
        }
        let failed = before.is_err() || report.sources.iter().any(|s| s.app == app.name && !s.ok);
        let status = if self.cancel.is_cancelled() {
            "cancelled"
        } else if failed {
            "failed"
        } else {
            "ok"
        };
        self.after_backup(report, call("after_backup", &app.after_backup, status));
        Ok(())
    }

    /// One source of a run: its snapshot stored through `repo`, its report and its
    /// `SourceDone` event; `Err` only for a repository problem (the run stops).
    pub(crate) fn dump_one(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        source: &SourceSpec,
        run_id: &str,
        now: &jiff::Zoned,
    ) -> Result<SourceReport, Error> {
        let started = Instant::now();
        self.watch_progress(repo, app, source);
        let result = self.backup_source(repo, app, source, run_id, now, Purpose::Backup);
        repo.set_progress(None);
        match result {
            Err(e) if e.is_repository_problem() => Err(e),
            result => {
                let mut done = source_report(app, source, started, result);
                done.error = done.error.map(|e| self.redactor.apply(&e));
                self.events.emit(&Event::SourceDone {
                    app: done.app.clone(),
                    source: done.source.clone(),
                    ok: done.ok,
                    snapshot: done.snapshot.clone(),
                    bytes: done.size,
                    error: done.error.clone(),
                });
                Ok(done)
            }
        }
    }

    /// Runs always: also after a failure or a cancel (the app may be stopped).
    fn after_backup(&self, report: &mut BackupReport, call: HookCall<'_>) {
        match self.hooks.run(&call) {
            Ok(ran) => report.hooks.extend(ran.iter().map(|r| self.redacted(r))),
            Err(e) => report
                .errors
                .push(self.redactor.apply(&format!("{}: {e}", call.app))),
        }
    }

    fn redacted(&self, run: &HookRun) -> HookRun {
        HookRun {
            output: self.redactor.apply(&run.output),
            ..run.clone()
        }
    }

    /// Announces the source and turns the store's byte counts into events.
    fn watch_progress(&self, repo: &mut dyn Repository, app: &AppSpec, source: &SourceSpec) {
        self.events.emit(&Event::SourceStarted {
            app: app.name.clone(),
            source: source.name.clone(),
            kind: source.kind.name().to_string(),
        });
        if !self.events.wants_progress() {
            return;
        }
        let (app, source) = (app.name.clone(), source.name.clone());
        let sink = self.events.clone();
        repo.set_progress(Some(Arc::new(move |bytes| {
            sink.emit(&Event::BytesRead {
                app: app.clone(),
                source: source.clone(),
                bytes,
            });
        })));
    }

    /// Backs up one source into one snapshot. Nothing is stored unless the dump completed.
    pub fn backup_source(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        source: &SourceSpec,
        run_id: &str,
        now: &jiff::Zoned,
        purpose: Purpose,
    ) -> Result<Stored, Error> {
        let spec = format!("{}/{}", app.name, source.name);
        let kind = source.kind.name();
        let tags = match purpose {
            Purpose::Backup => layout::tags(&app.name, &source.name, kind, run_id),
            Purpose::PreRestore => layout::safety_tags(&app.name, &source.name, kind, run_id),
        };
        let meta = SnapshotMeta {
            root: payload_root(&app.name, &source.name),
            tags,
            time: now.clone(),
        };
        let started = Instant::now();
        let adapter = self.sources.adapter(source).map_err(|e| e.context(&spec))?;
        let prepared = adapter
            .backup(purpose, &self.cancel)
            .map_err(|e| e.context(&spec))?;
        let manifest = Manifest {
            manifest_version: MANIFEST_VERSION,
            lifeboat_version: env!("CARGO_PKG_VERSION").to_string(),
            app: app.name.clone(),
            source: source.name.clone(),
            kind: kind.to_string(),
            run_id: run_id.to_string(),
            origin: prepared.origin,
            files: Vec::new(),
            tool_versions: Vec::new(),
            started_at: now.timestamp().to_string(),
            duration_ms: 0,
            facts: prepared.facts,
            purpose: (purpose == Purpose::PreRestore).then(|| TAG_PRE_RESTORE.to_string()),
            config: app.stored_config.clone(),
        };
        let slot = ManifestSlot::default();
        let produce = slot.producer(manifest, started, prepared.complete);
        let snapshot = repo
            .store(&meta, prepared.payload, Box::new(produce))
            .map_err(|e| e.context(&spec))?;
        let manifest = slot
            .take()
            .ok_or_else(|| failed(&spec, "manifest was not recorded"))?;
        tracing::info!(spec, snapshot = %snapshot.id, "backup stored");
        Ok(Stored { snapshot, manifest })
    }
}

pub(crate) fn skipped(app: &AppSpec, source: &SourceSpec, why: &str) -> SourceReport {
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
    result: Result<Stored, Error>,
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
        complete: Complete,
    ) -> impl FnOnce(&PayloadStats) -> Result<Vec<u8>, String> + Send + 'static {
        let slot = self.clone();
        move |stats: &PayloadStats| {
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
            // Into the repository's words: its readers speak io errors and strings.
            let mut manifest = complete(manifest).map_err(|e| e.to_string())?;
            manifest.duration_ms = millis(started);
            let bytes = manifest.to_json();
            *slot.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(manifest);
            Ok(bytes)
        }
    }
}
