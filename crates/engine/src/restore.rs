//! Restoring one source: pick the backup, check the target, refuse to overwrite data
//! without `--force`, take a safety backup of the target first, then restore.

use crate::error::failed;
use crate::select::pick_of_kind;
use crate::Engine;
use lifeboat_core::layout::payload_root;
use lifeboat_core::ports::{Purpose, Repository, RestoreTarget, SnapshotRef};
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
        let spec = format!("{}/{}", app.name, source.name);
        let snapshots = repo.list()?;
        let kind = source.kind.name();
        let chosen = pick_of_kind(&snapshots, &app.name, &source.name, kind, &opts.snapshot)?;
        let chosen = chosen.clone();
        // The target's own errors fail this restore (exit 1), whatever their kind.
        let target_failed = |e: Error| e.with_kind(ErrorKind::Failed).context(&spec);
        let adapter = self.sources.adapter(source).map_err(|e| e.context(&spec))?;
        let target = adapter
            .restore_target(opts.to.as_deref())
            .map_err(target_failed)?;
        let holds_data = target.holds_data().map_err(target_failed)?;
        let mut report = RestoreReport {
            app: app.name.clone(),
            source: source.name.clone(),
            snapshot: chosen.id.clone(),
            snapshot_time: chosen.display_time(),
            target: target.describe(),
            target_holds_data: holds_data,
            safety_snapshot: None,
            steps: Vec::new(),
            done: false,
        };
        let root = payload_root(&app.name, &source.name);
        let snap = SnapshotRef {
            id: &chosen.id,
            root: &root,
        };
        let safety = holds_data && !opts.no_safety_backup;
        report.steps = plan(target.as_ref(), chosen.short_id(), holds_data, safety, opts);
        if target.plans_removals() && (opts.force || !holds_data) {
            let removals = target
                .plan_removals(repo.reader()?.as_ref(), snap, opts)
                .map_err(target_failed)?;
            report.steps.extend(removals);
        }
        if opts.plan_only {
            return Ok(report);
        }
        if holds_data && !opts.force {
            return Err(failed(
                &spec,
                format!("{} holds data; restoring would overwrite it. Re-run with --force (a safety backup is taken first)", report.target),
            ));
        }
        if safety {
            report.safety_snapshot =
                Some(self.safety_backup(repo, app, source, target.as_ref(), run_id, now)?);
        }
        self.cancel.check()?;
        let reader = repo.reader()?;
        target
            .restore(reader.as_ref(), snap, opts, &self.cancel)
            .map_err(|e| self.restore_failed(&spec, &report, e))?;
        report.done = true;
        Ok(report)
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
