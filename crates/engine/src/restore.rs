//! Restoring one source: pick the backup, check the target, refuse to overwrite data
//! without `--force`, take a safety backup of the target first, then restore.

use crate::error::failed;
use crate::select::{or_unreadable, pick_wanted, unreadable_of, Wanted};
use crate::Engine;
use lifeboat_core::layout::payload_root;
use lifeboat_core::ports::{
    Purpose, Repository, RestoreTarget, SnapshotInfo, SnapshotRef, UnfinishedRestore,
};
use lifeboat_core::{AppSpec, Error, ErrorKind, RestoreOptions, SourceSpec};
use serde::Serialize;

/// What a restore did (or, with `plan_only`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub app: String,
    pub source: String,
    pub snapshot: String,
    pub snapshot_time: String,
    pub target: String,
    pub target_holds_data: bool,
    pub safety_snapshot: Option<String>,
    pub steps: Vec<String>,
    pub done: bool,
    /// A restore into this target that began earlier and never finished (a crash):
    /// the target may be partial.
    pub unfinished_restore: Option<UnfinishedRestore>,
}

/// One source's restore made ready: its backup chosen, its target opened and looked
/// at, its steps known. Nothing is changed yet.
pub(crate) struct Prepared {
    pub report: RestoreReport,
    target: Box<dyn RestoreTarget>,
    root: String,
    safety: bool,
    forced: bool,
}

impl Engine {
    /// Restores `app/source` per `opts`. `run_id` and `now` label the safety backup.
    pub fn restore_source(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        source: &SourceSpec,
        opts: &RestoreOptions,
        run_id: &str,
        now: &jiff::Zoned,
    ) -> Result<RestoreReport, Error> {
        let snapshots = repo.list()?;
        let kind = source.kind.name();
        let wanted = Wanted::of(opts);
        let picked = pick_wanted(&snapshots, &app.name, &source.name, kind, wanted).cloned();
        let chosen = or_unreadable(picked, repo, &app.name, &source.name)?;
        let mut prepared = self.prepare_restore(repo, app, source, &chosen, opts)?;
        if opts.plan_only {
            return Ok(prepared.report);
        }
        refuse_overwrite(&prepared)?;
        self.take_safety_backup(repo, app, source, &mut prepared, run_id, now)?;
        self.run_prepared(repo, &mut prepared, opts)?;
        Ok(prepared.report)
    }

    /// Opens `source`'s target (`opts.to`, else its own) and plans the restore of
    /// `chosen` into it.
    pub(crate) fn prepare_restore(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        source: &SourceSpec,
        chosen: &SnapshotInfo,
        opts: &RestoreOptions,
    ) -> Result<Prepared, Error> {
        let spec = format!("{}/{}", app.name, source.name);
        // The target's own errors fail this restore (exit 1), whatever their kind.
        let target_failed = |e: Error| e.with_kind(ErrorKind::Failed).context(&spec);
        let adapter = self.sources.adapter(source).map_err(|e| e.context(&spec))?;
        let target = adapter
            .restore_target(opts.to.as_deref())
            .map_err(target_failed)?;
        let holds_data = target.holds_data().map_err(target_failed)?;
        let safety = holds_data && !opts.no_safety_backup;
        let unfinished = self
            .journal
            .unfinished(&app.name, &source.name, &target.describe());
        let mut report = RestoreReport {
            app: app.name.clone(),
            source: source.name.clone(),
            snapshot: chosen.id.clone(),
            snapshot_time: chosen.display_time(),
            target: target.describe(),
            target_holds_data: holds_data,
            safety_snapshot: None,
            steps: plan(target.as_ref(), chosen.short_id(), holds_data, safety, opts),
            done: false,
            unfinished_restore: None,
        };
        if let Some(entry) = unfinished {
            report
                .steps
                .insert(0, format!("warning: {}", entry.describe()));
            report.unfinished_restore = Some(entry);
        }
        if let Some(newer) = newer_unreadable(repo, app, source, chosen) {
            report.steps.insert(0, format!("warning: {newer}"));
        }
        let root = payload_root(&app.name, &source.name);
        if target.plans_removals() && (opts.force || !holds_data) {
            let snap = SnapshotRef {
                id: &chosen.id,
                root: &root,
            };
            let removals = target
                .plan_removals(repo.reader()?.as_ref(), snap, opts)
                .map_err(target_failed)?;
            report.steps.extend(removals);
        }
        Ok(Prepared {
            report,
            target,
            root,
            safety,
            forced: opts.force,
        })
    }

    /// The safety backup of a prepared target that holds data (unless refused by
    /// `--no-safety-backup`), labelled `run_id`.
    pub(crate) fn take_safety_backup(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        source: &SourceSpec,
        prepared: &mut Prepared,
        run_id: &str,
        now: &jiff::Zoned,
    ) -> Result<(), Error> {
        if prepared.safety {
            let target = prepared.target.as_ref();
            let id = self.safety_backup(repo, app, source, target, run_id, now)?;
            prepared.report.safety_snapshot = Some(id);
        }
        Ok(())
    }

    /// Writes the prepared backup into its target.
    pub(crate) fn run_prepared(
        &self,
        repo: &mut dyn Repository,
        prepared: &mut Prepared,
        opts: &RestoreOptions,
    ) -> Result<(), Error> {
        let spec = format!("{}/{}", prepared.report.app, prepared.report.source);
        self.cancel.check()?;
        let reader = repo.reader()?;
        let snap = SnapshotRef {
            id: &prepared.report.snapshot,
            root: &prepared.root,
        };
        self.journal_begin(&spec, &prepared.report)?;
        prepared
            .target
            .restore(reader.as_ref(), snap, opts, &self.cancel)
            .map_err(|e| self.restore_failed(&spec, &prepared.report, e))?;
        prepared.report.done = true;
        let r = &prepared.report;
        // The target is whole; a journal that cannot forget it only warns too often.
        if let Err(e) = self.journal.finish(&r.app, &r.source, &r.target) {
            tracing::warn!("{spec}: {e}");
        }
        Ok(())
    }

    /// Records the restore about to change the target; failing that, nothing changes.
    fn journal_begin(&self, spec: &str, r: &RestoreReport) -> Result<(), Error> {
        let entry = UnfinishedRestore {
            app: r.app.clone(),
            source: r.source.clone(),
            target: r.target.clone(),
            snapshot: r.snapshot.clone(),
            safety_snapshot: r.safety_snapshot.clone(),
            started: self.clock.now().timestamp().to_string(),
            pid: std::process::id(),
        };
        self.journal.begin(&entry).map_err(|e| {
            Error::msg(
                ErrorKind::Failed,
                format!("cannot record the restore before it starts, nothing was changed: {e}"),
            )
            .context(spec)
        })
    }

    /// Backs up the target as it is now; its id, or why nothing was changed.
    fn safety_backup(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        source: &SourceSpec,
        target: &dyn RestoreTarget,
        run_id: &str,
        now: &jiff::Zoned,
    ) -> Result<String, Error> {
        let spec = format!("{}/{}", app.name, source.name);
        let safety_source = SourceSpec {
            kind: target.safety_kind(),
            ..source.clone()
        };
        let stored = self
            .backup_source(repo, app, &safety_source, run_id, now, Purpose::PreRestore)
            .map_err(|e| {
                let kind = if self.cancel.is_cancelled() {
                    ErrorKind::Cancelled
                } else {
                    ErrorKind::Failed
                };
                Error::msg(
                    kind,
                    format!(
                        "safety backup of {} failed, nothing was changed: {e}",
                        target.describe()
                    ),
                )
                .context(&spec)
            })?;
        Ok(stored.snapshot.id)
    }

    /// A restore that failed or was interrupted: says what state it left the target in.
    fn restore_failed(&self, spec: &str, report: &RestoreReport, e: Error) -> Error {
        let state = partial_state(report);
        if self.cancel.is_cancelled() {
            return Error::msg(
                ErrorKind::Cancelled,
                format!("restore interrupted; {state}"),
            )
            .context(spec);
        }
        Error::msg(ErrorKind::Failed, format!("restore failed: {e}; {state}")).context(spec)
    }
}

/// Refuses to overwrite a target that holds data without `--force`.
pub(crate) fn refuse_overwrite(prepared: &Prepared) -> Result<(), Error> {
    let report = &prepared.report;
    if report.target_holds_data && !prepared.forced {
        let spec = format!("{}/{}", report.app, report.source);
        return Err(failed(
            &spec,
            format!("{} holds data; restoring would overwrite it. Re-run with --force (a safety backup is taken first)", report.target),
        ));
    }
    Ok(())
}

/// What a restore cut short leaves: "TARGET may be partly restored; …".
fn partial_state(report: &RestoreReport) -> String {
    match &report.safety_snapshot {
        Some(id) => format!(
            "{} may be partly restored; its previous state is in safety backup {}",
            report.target,
            &id[..8.min(id.len())]
        ),
        None if report.target_holds_data => format!("{} may be partly restored", report.target),
        None => format!("{} may hold a partial restore", report.target),
    }
}

/// The restore's steps: a refusal, or the safety backup and then the kind's own steps.
fn plan(
    target: &dyn RestoreTarget,
    snapshot: &str,
    holds_data: bool,
    safety: bool,
    opts: &RestoreOptions,
) -> Vec<String> {
    let described = target.describe();
    if holds_data && !opts.force {
        return vec![format!(
            "refuse: {described} holds data and --force was not given"
        )];
    }
    let mut steps = Vec::new();
    if safety {
        steps.push(format!(
            "back up {described} as it is now (tag pre-restore)"
        ));
    }
    steps.extend(target.plan(snapshot, opts));
    steps
}

/// When a backup of `app/source` newer than `chosen` was left out of the listing
/// because its tree cannot be read, what the plan must say: the restore takes an
/// older one.
fn newer_unreadable(
    repo: &mut dyn Repository,
    app: &AppSpec,
    source: &SourceSpec,
    chosen: &SnapshotInfo,
) -> Option<String> {
    let newest = unreadable_of(repo, &app.name, &source.name)
        .into_iter()
        .filter(|s| s.timestamp > chosen.timestamp)
        .max_by_key(|s| s.timestamp)?;
    Some(format!(
        "a newer backup of {}/{}, {} of {}, cannot be read (a lost index file or a damaged \
         pack?): this restores the older {} of {}; `lifeboat check` names the damage",
        app.name,
        source.name,
        newest.short_id(),
        newest.display_time(),
        chosen.short_id(),
        chosen.display_time()
    ))
}
