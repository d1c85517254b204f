//! Running one job of the daemon's plan: a backup of an app (or of a source with its
//! own schedule), a verification of each source's latest backup, a prune, or the
//! retention after a backup. Each opens the repository with the lock its work needs,
//! as the matching command does, and logs one line per outcome.

use super::state::State;
use crate::notify::Notifier;
use crate::Ctx;
use lifeboat_core::{AppSpec, Config, SourceSpec};
use lifeboat_engine::{Engine, JobKey, Work};
use lifeboat_repo::LockKind;

/// How a job ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub ok: bool,
    /// A backup stored at least one snapshot (retention may follow).
    pub stored: bool,
}

/// What a job works with besides the engine: the daemon's state and its notifier.
pub struct Services<'a> {
    pub state: &'a State,
    pub notifier: &'a Notifier,
}

pub fn run(
    ctx: &Ctx,
    config: &Config,
    engine: &Engine,
    key: &JobKey,
    with: &Services<'_>,
) -> Outcome {
    let Some((app, sources)) = key.sources(config) else {
        tracing::warn!(job = %key, "skipped: the app is no longer in the configuration");
        return Outcome::default();
    };
    let result = match key.work {
        Work::Backup => backup(config, engine, app, sources, with),
        Work::Verify => verify(ctx, config, engine, app, sources, with),
        Work::Prune | Work::Retain => {
            let selected: Vec<_> = sources.into_iter().map(|s| (app, s)).collect();
            let done = prune(ctx, config, engine, &selected, key.work);
            with.state.pruned(jiff::Timestamp::now());
            done
        }
    };
    match result {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::error!(job = %key, error = %e, "failed");
            Outcome::default()
        }
    }
}

fn backup(
    config: &Config,
    engine: &Engine,
    app: &AppSpec,
    sources: Vec<&SourceSpec>,
    with: &Services<'_>,
) -> anyhow::Result<Outcome> {
    let mut repo = lifeboat_repo::RepoSlot::open_in_background(
        crate::commands::repo_options(config),
        Some(LockKind::Shared),
        &engine.cancel,
    );
    let (run_id, now) = engine.new_run();
    let notice = with.notifier.backup_started(&run_id, &[app.name.as_str()]);
    let report = match engine.run_backup(&mut repo, &[(app, sources)], &run_id, &now) {
        Ok(report) => report,
        Err(e) => {
            with.notifier.backup_failed(&notice, &e.to_string());
            return Err(e.into());
        }
    };
    with.notifier.backup_finished(&notice, &report);
    with.state.backup_done(&report, now.timestamp());
    for e in &report.errors {
        tracing::error!(app = %app.name, run = %run_id, error = %e, "hook failed");
    }
    let stored = report.sources.iter().any(|s| s.ok);
    let copies = if report.cancelled {
        Vec::new()
    } else {
        crate::commands::backup::copy_stored(engine, &mut repo, config, &report)
    };
    let apps = crate::commands::backup::apps_of(&report);
    with.notifier.copies_failed(&apps, Some(&run_id), &copies);
    Ok(Outcome {
        ok: report.ok() && copies.iter().all(|c| c.ok),
        stored,
    })
}

fn verify(
    ctx: &Ctx,
    config: &Config,
    engine: &Engine,
    app: &AppSpec,
    sources: Vec<&SourceSpec>,
    with: &Services<'_>,
) -> anyhow::Result<Outcome> {
    let run = verify_run(ctx, config, engine, app, sources, with.state);
    match &run {
        Ok(run) => with.notifier.verify_finished(&app.name, run),
        Err(e) => with.notifier.verify_failed(&app.name, &format!("{e:#}")),
    }
    Ok(Outcome {
        ok: run?.ok(),
        stored: false,
    })
}

fn verify_run(
    ctx: &Ctx,
    config: &Config,
    engine: &Engine,
    app: &AppSpec,
    sources: Vec<&SourceSpec>,
    state: &State,
) -> anyhow::Result<lifeboat_engine::VerifyRun> {
    let mut repo = crate::commands::open_locked(ctx, config, LockKind::Shared)?;
    let selected: Vec<(&AppSpec, &SourceSpec)> = sources.into_iter().map(|s| (app, s)).collect();
    let run = engine.verify_all(&mut repo, &selected, "latest", &mut |done| match done {
        Ok(r) if r.ok => {
            state.verify_done(r, jiff::Timestamp::now());
            tracing::info!(
            app = %r.app, source = %r.source, snapshot = %short(&r.snapshot),
            duration_ms = r.duration_ms, "verified"
            )
        }
        Ok(r) => {
            state.verify_done(r, jiff::Timestamp::now());
            tracing::error!(
            app = %r.app, source = %r.source, snapshot = %short(&r.snapshot),
            problems = %r.problems.join("; "), "verification FAILED"
            )
        }
        Err(e) => tracing::error!(app = %app.name, error = %e, "verification FAILED"),
    })?;
    Ok(run)
}

/// The retentions the plan started together (see `Plan::start_other_retentions`):
/// one repository opening, one exclusive lock, one prune for all their apps.
pub fn retain_together(
    ctx: &Ctx,
    config: &Config,
    engine: &Engine,
    keys: &[JobKey],
    with: &Services<'_>,
) -> Outcome {
    let selected: Vec<(&AppSpec, &SourceSpec)> = keys
        .iter()
        .filter_map(|key| key.sources(config))
        .flat_map(|(app, sources)| sources.into_iter().map(move |s| (app, s)))
        .collect();
    let done = prune(ctx, config, engine, &selected, Work::Retain);
    with.state.pruned(jiff::Timestamp::now());
    match done {
        Ok(outcome) => outcome,
        Err(e) => {
            let jobs: Vec<String> = keys.iter().map(ToString::to_string).collect();
            tracing::error!(jobs = %jobs.join(" "), error = %e, "failed");
            Outcome::default()
        }
    }
}

fn prune(
    ctx: &Ctx,
    config: &Config,
    engine: &Engine,
    selected: &[(&AppSpec, &SourceSpec)],
    work: Work,
) -> anyhow::Result<Outcome> {
    let mut repo = crate::commands::open_locked(ctx, config, LockKind::Exclusive)?;
    let report = if work == Work::Retain {
        engine.retain(&mut repo, selected)?
    } else {
        engine.prune(&mut repo, selected, false)?
    };
    let reclaimed = report.reclaimed.as_ref().map_or(0, |r| r.removed_bytes);
    let mut apps: Vec<&str> = selected.iter().map(|(a, _)| a.name.as_str()).collect();
    apps.dedup();
    tracing::info!(
        app = %apps.join(" "), work = work.name(), forgotten = report.forgotten.len(),
        reclaimed_bytes = reclaimed, "retention applied"
    );
    Ok(Outcome {
        ok: true,
        stored: false,
    })
}

fn short(id: &str) -> &str {
    &id[..8.min(id.len())]
}
