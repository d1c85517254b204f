//! Restoring a whole app from one backup set: every source in `restore_after` order,
//! `before_restore`/`after_restore` around the whole, the safety backups of all
//! targets first (one run id), a stop at the first failure with a report of what was
//! restored, what failed and what was not attempted.

use crate::error::failed;
use crate::restore::{refuse_overwrite, Prepared};
use crate::select::{pick_of_kind, pick_set, BackupSet, Wanted};
use crate::Engine;
use lifeboat_core::ports::{HookCall, HookRun, Repository};
use lifeboat_core::{restore_order, AppSpec, Error, ErrorKind, RestoreOptions, SourceSpec};
use serde::Serialize;
use std::time::Duration;

/// What the user asked of a whole-app restore.
#[derive(Debug, Clone, Default)]
pub struct AppRestoreOptions {
    /// Backup set choice (`snapshot` is a run id), safety and clean rules, plan only.
    pub base: RestoreOptions,
    /// `--to SOURCE=TARGET`: sources restored elsewhere than their own target.
    pub to: Vec<(String, String)>,
    /// `--only`: restore just these sources (all when empty).
    pub only: Vec<String>,
    /// `--skip`: leave these sources alone.
    pub skip: Vec<String>,
}

/// Where one source of an app restore stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceStatus {
    /// `--plan`: what would be done.
    Planned,
    Restored,
    Failed,
    /// A failure before it stopped the restore: its target is as it was.
    NotAttempted,
}

/// One source of an app restore.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRestore {
    pub source: String,
    pub kind: String,
    pub status: SourceStatus,
    pub restore_after: Vec<String>,
    pub snapshot: String,
    pub snapshot_time: String,
    pub target: String,
    pub target_holds_data: bool,
    pub safety_snapshot: Option<String>,
    pub steps: Vec<String>,
    pub error: Option<String>,
}

/// What an app restore did (or, with `--plan`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct AppRestoreReport {
    pub app: String,
    /// The backup set restored (its run id) and its time.
    pub set: String,
    pub set_time: String,
    /// The set is a safety set taken before an earlier restore.
    pub set_pre_restore: bool,
    /// This restore's run id: its safety backups form one set under it.
    pub run_id: String,
    pub plan_only: bool,
    pub before_restore: Vec<String>,
    pub after_restore: Vec<String>,
    /// In restore order.
    pub sources: Vec<SourceRestore>,
    /// Sources left out by `--only`/`--skip`.
    pub skipped: Vec<String>,
    /// The hook commands that ran, with their output.
    pub hooks: Vec<HookRun>,
    pub after_restore_ran: bool,
    /// What stopped the restore (or, in a plan, what will).
    pub error: Option<String>,
    pub error_kind: Option<ErrorKind>,
    /// How to finish a restore that stopped part way.
    pub resume: Option<String>,
}

impl AppRestoreReport {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// The safety set's run id, when any safety backup was taken.
    pub fn safety_set(&self) -> Option<&str> {
        let any = self.sources.iter().any(|s| s.safety_snapshot.is_some());
        any.then_some(self.run_id.as_str())
    }

    /// Records what stopped the restore; what had not started is then not attempted.
    fn stop(&mut self, e: &Error, redactor: &lifeboat_core::Redactor) {
        self.error = Some(redactor.apply(&e.to_string()));
        self.error_kind = Some(e.kind());
        if !self.plan_only {
            let waiting = self
                .sources
                .iter_mut()
                .filter(|s| s.status == SourceStatus::Planned);
            waiting.for_each(|s| s.status = SourceStatus::NotAttempted);
        }
    }
}

/// The sources of one app restore, prepared in order (or the error that kept one
/// from being prepared).
struct Steps<'a> {
    sources: Vec<&'a SourceSpec>,
    prepared: Vec<Result<Prepared, Error>>,
    opts: Vec<RestoreOptions>,
}

impl Engine {
    /// Restores the sources of `app` chosen by `opts` from one backup set. A source's
    /// failure stops the restore and is in the report (not an `Err`); `Err` is a bad
    /// selection or a repository that cannot be read, before anything changed.
    pub fn restore_app(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        opts: &AppRestoreOptions,
        run_id: &str,
        now: &jiff::Zoned,
    ) -> Result<AppRestoreReport, Error> {
        let (chosen, skipped) = chosen_sources(app, opts)?;
        let ordered = restore_order(&chosen)
            .map_err(|c| Error::msg(ErrorKind::Config, c.to_string()).context(&app.name))?;
        let snapshots = repo.list()?;
        let names: Vec<&str> = ordered.iter().map(|s| s.name.as_str()).collect();
        let set = pick_set(&snapshots, &app.name, &names, Wanted::of(&opts.base))?;
        let mut report = new_report(app, &set, run_id, &opts.base, skipped);
        let mut steps = self.prepare_all(repo, app, ordered, &set, opts)?;
        report.sources = steps
            .prepared
            .iter()
            .zip(&steps.sources)
            .map(|(p, s)| self.entry(s, p))
            .collect();
        if let Some(e) = first_error(&steps) {
            report.stop(&e, &self.redactor);
        }
        if opts.base.plan_only || !report.ok() {
            return Ok(report);
        }
        if let Err(e) = refuse_all_overwrites(app, &steps) {
            report.stop(&e, &self.redactor);
            return Ok(report);
        }
        self.run_restore(repo, app, &mut steps, run_id, now, &mut report);
        Ok(report)
    }

    /// Each source's target opened and its restore planned, in order.
    fn prepare_all<'a>(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        ordered: Vec<&'a SourceSpec>,
        set: &BackupSet<'_>,
        opts: &AppRestoreOptions,
    ) -> Result<Steps<'a>, Error> {
        let mut steps = Steps {
            sources: ordered,
            prepared: Vec::new(),
            opts: Vec::new(),
        };
        for source in &steps.sources {
            let to = opts.to.iter().find(|(s, _)| *s == source.name);
            let source_opts = RestoreOptions {
                to: to.map(|(_, t)| t.clone()),
                ..opts.base.clone()
            };
            let prepared = match set.member(&source.name) {
                Some(chosen) => {
                    let one = std::slice::from_ref(chosen);
                    pick_of_kind(one, &app.name, &source.name, source.kind.name(), &chosen.id)
                        .and_then(|c| self.prepare_restore(repo, app, source, c, &source_opts))
                }
                None => Err(failed(&source.name, "not in the backup set")),
            };
            if let Err(e) = &prepared {
                if e.is_repository_problem() {
                    return Err(Error::msg(e.kind(), e.to_string()));
                }
            }
            steps.prepared.push(prepared);
            steps.opts.push(source_opts);
        }
        Ok(steps)
    }

    /// The hooks, the safety set, the sources in order; the first failure stops it.
    fn run_restore(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        steps: &mut Steps<'_>,
        run_id: &str,
        now: &jiff::Zoned,
        report: &mut AppRestoreReport,
    ) {
        let names: Vec<String> = steps.sources.iter().map(|s| s.name.clone()).collect();
        let call = |stage, commands, status| HookCall {
            stage,
            app: &app.name,
            run_id,
            status,
            sources: names.clone(),
            commands,
            timeout: Duration::from_secs(app.hook_timeout_secs),
        };
        let outcome = self
            .hook(report, call("before_restore", &app.before_restore, ""))
            .and_then(|()| self.safety_set(repo, app, steps, run_id, now, report))
            .and_then(|()| self.restore_in_order(repo, steps, report));
        match outcome {
            Ok(()) => {
                let after = self.hook(report, call("after_restore", &app.after_restore, "ok"));
                report.after_restore_ran = true;
                if let Err(e) = after {
                    report.stop(&e, &self.redactor);
                }
            }
            Err(e) => {
                report.stop(&e, &self.redactor);
                report.resume = resume_hint(app, report);
            }
        }
    }

    fn hook(&self, report: &mut AppRestoreReport, call: HookCall<'_>) -> Result<(), Error> {
        let ran = self.hooks.run(&call).map_err(|e| e.context(call.app))?;
        report.hooks.extend(ran.iter().map(|r| HookRun {
            output: self.redactor.apply(&r.output),
            ..r.clone()
        }));
        Ok(())
    }

    /// The safety backups of every target that holds data, before any is changed.
    fn safety_set(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        steps: &mut Steps<'_>,
        run_id: &str,
        now: &jiff::Zoned,
        report: &mut AppRestoreReport,
    ) -> Result<(), Error> {
        for (i, source) in steps.sources.iter().enumerate() {
            let Ok(prepared) = &mut steps.prepared[i] else {
                continue;
            };
            let taken = self.take_safety_backup(repo, app, source, prepared, run_id, now);
            report.sources[i].safety_snapshot = prepared.report.safety_snapshot.clone();
            if let Err(e) = taken {
                report.sources[i].status = SourceStatus::Failed;
                report.sources[i].error = Some(self.redactor.apply(&e.to_string()));
                return Err(e);
            }
        }
        Ok(())
    }

    fn restore_in_order(
        &self,
        repo: &mut dyn Repository,
        steps: &mut Steps<'_>,
        report: &mut AppRestoreReport,
    ) -> Result<(), Error> {
        for i in 0..steps.sources.len() {
            let Ok(prepared) = &mut steps.prepared[i] else {
                continue;
            };
            let entry = &mut report.sources[i];
            match self.run_prepared(repo, prepared, &steps.opts[i]) {
                Ok(()) => entry.status = SourceStatus::Restored,
                Err(e) => {
                    entry.status = SourceStatus::Failed;
                    entry.error = Some(self.redactor.apply(&e.to_string()));
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn entry(&self, source: &SourceSpec, prepared: &Result<Prepared, Error>) -> SourceRestore {
        let mut entry = SourceRestore {
            source: source.name.clone(),
            kind: source.kind.name().to_string(),
            status: SourceStatus::Planned,
            restore_after: source.restore_after.clone(),
            snapshot: String::new(),
            snapshot_time: String::new(),
            target: String::new(),
            target_holds_data: false,
            safety_snapshot: None,
            steps: Vec::new(),
            error: None,
        };
        match prepared {
            Ok(p) => {
                let r = &p.report;
                entry.snapshot = r.snapshot.clone();
                entry.snapshot_time = r.snapshot_time.clone();
                entry.target = r.target.clone();
                entry.target_holds_data = r.target_holds_data;
                entry.steps = r.steps.clone();
            }
            Err(e) => {
                entry.status = SourceStatus::Failed;
                entry.error = Some(self.redactor.apply(&e.to_string()));
            }
        }
        entry
    }
}

/// The sources `--only`/`--skip` leave (in config order) and those they leave out.
fn chosen_sources<'a>(
    app: &'a AppSpec,
    opts: &AppRestoreOptions,
) -> Result<(Vec<&'a SourceSpec>, Vec<String>), Error> {
    let known = |name: &String| app.sources.iter().any(|s| &s.name == name);
    let named = opts
        .only
        .iter()
        .chain(&opts.skip)
        .chain(opts.to.iter().map(|(s, _)| s));
    if let Some(unknown) = named.clone().find(|n| !known(n)) {
        let all: Vec<&str> = app.sources.iter().map(|s| s.name.as_str()).collect();
        return Err(Error::usage(format!(
            "app `{}` has no source named `{unknown}` (its sources: {})",
            app.name,
            all.join(", ")
        )));
    }
    let wanted = |s: &&SourceSpec| {
        (opts.only.is_empty() || opts.only.contains(&s.name)) && !opts.skip.contains(&s.name)
    };
    let (chosen, left): (Vec<&SourceSpec>, Vec<&SourceSpec>) = app.sources.iter().partition(wanted);
    if chosen.is_empty() {
        return Err(Error::usage(format!(
            "--only/--skip leave no source of app `{}` to restore",
            app.name
        )));
    }
    Ok((chosen, left.iter().map(|s| s.name.clone()).collect()))
}

fn new_report(
    app: &AppSpec,
    set: &BackupSet<'_>,
    run_id: &str,
    opts: &RestoreOptions,
    skipped: Vec<String>,
) -> AppRestoreReport {
    AppRestoreReport {
        app: app.name.clone(),
        set: set.run_id.clone(),
        set_time: set.display_time(),
        set_pre_restore: set.pre_restore,
        run_id: run_id.to_string(),
        plan_only: opts.plan_only,
        before_restore: app.before_restore.clone(),
        after_restore: app.after_restore.clone(),
        sources: Vec::new(),
        skipped,
        hooks: Vec::new(),
        after_restore_ran: false,
        error: None,
        error_kind: None,
        resume: None,
    }
}

/// The first source that could not be prepared.
fn first_error(steps: &Steps<'_>) -> Option<Error> {
    steps.prepared.iter().find_map(|p| match p {
        Err(e) => Some(Error::msg(
            ErrorKind::Failed,
            format!("{e}; nothing was changed"),
        )),
        Ok(_) => None,
    })
}

/// Refuses the whole restore, before anything runs, when any target holds data and
/// `--force` was not given; the message names every such target.
fn refuse_all_overwrites(app: &AppSpec, steps: &Steps<'_>) -> Result<(), Error> {
    let held: Vec<String> = steps
        .prepared
        .iter()
        .flatten()
        .filter(|p| refuse_overwrite(p).is_err())
        .map(|p| format!("{} ({})", p.report.source, p.report.target))
        .collect();
    if held.is_empty() {
        return Ok(());
    }
    Err(failed(
        &app.name,
        format!(
            "{} hold{} data; restoring would overwrite it. Nothing was changed. \
             Re-run with --force (a safety backup of each is taken first)",
            held.join(", "),
            if held.len() == 1 { "s" } else { "" }
        ),
    ))
}

/// `lifeboat restore APP --snapshot SET --only …` for what is left to do.
fn resume_hint(app: &AppSpec, report: &AppRestoreReport) -> Option<String> {
    let left: Vec<&str> = report
        .sources
        .iter()
        .filter(|s| matches!(s.status, SourceStatus::Failed | SourceStatus::NotAttempted))
        .map(|s| s.source.as_str())
        .collect();
    let restored = report
        .sources
        .iter()
        .any(|s| s.status == SourceStatus::Restored);
    if left.is_empty() {
        return None;
    }
    let only = if restored {
        format!(" --only {}", left.join(","))
    } else {
        String::new()
    };
    Some(format!(
        "after fixing the cause: lifeboat restore {} --snapshot {}{only} --force \
         (with the same --to/--clean options), or re-run the whole restore",
        app.name, report.set
    ))
}
