//! `lifeboat copy [SPEC…] [--to NAME]`, and the copies a backup run makes: each
//! `[[copy_to]]` repository receives the backups of the selected sources it lacks (with
//! their verification records), then its retention. A copy that fails is reported and
//! never touches the primary repository; the next copy sends what is still missing.

use crate::output::bytes;
use crate::Ctx;
use lifeboat_core::{AppSpec, CancelToken, Config, CopySpec, SourceSpec};
use lifeboat_engine::Engine;
use lifeboat_repo::{LockKind, Repo, RepoError};
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// APP or APP/SOURCE (all when none)
    specs: Vec<String>,
    /// Only the copy_to repository called NAME (all when not given)
    #[arg(long, value_name = "NAME")]
    to: Option<String>,
}

/// What one copy did.
#[derive(Debug, Clone, Serialize)]
pub struct CopyOutcome {
    /// The `[[copy_to]]` name.
    pub name: String,
    pub ok: bool,
    /// Backups copied now, and those the copy had already.
    pub backups: usize,
    pub present: usize,
    /// Verification records copied now.
    pub records: usize,
    /// Bytes of pack files the copy grew by (before its retention).
    pub bytes: u64,
    /// Snapshots its retention forgot.
    pub forgotten: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn run(ctx: &Ctx, args: CopyArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    let config = &loaded.config;
    let targets = targets(config, args.to.as_deref())?;
    let selected = super::selected(config, &args.specs)?;
    let mut repo = super::open_locked(ctx, config, LockKind::Shared)?;
    let engine = crate::wire::engine(ctx, config);
    let outcomes = copy_all(&engine, &ctx.cancel, &mut repo, &targets, &selected);
    let notifier = crate::notify::Notifier::new(config);
    let apps = once_each(selected.iter().map(|(app, _)| app.name.as_str()));
    notifier.copies_failed(&apps, None, &outcomes);
    if ctx.json {
        crate::output::json(&outcomes)?;
    } else {
        print_outcomes(&outcomes, ctx.quiet);
    }
    notifier.flush_before_exit();
    Ok(exit_code(&outcomes, ctx.cancel.is_cancelled()))
}

/// The `[[copy_to]]` repositories `--to` names (all when `None`).
pub fn targets<'c>(config: &'c Config, to: Option<&str>) -> anyhow::Result<Vec<&'c CopySpec>> {
    match to {
        None if config.copy_to.is_empty() => Err(crate::exit::UsageError(
            "no [[copy_to]] repository is configured".to_string(),
        )
        .into()),
        None => Ok(config.copy_to.iter().collect()),
        Some(name) => match config.copy(name) {
            Some(copy) => Ok(vec![copy]),
            None => Err(crate::exit::UsageError(format!(
                "no [[copy_to]] named {name:?} (configured: {})",
                names(config)
            ))
            .into()),
        },
    }
}

fn names(config: &Config) -> String {
    let names: Vec<&str> = config.copy_to.iter().map(|c| c.name.as_str()).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Each of `apps` once, in the order first named: the apps a copy failure is told to.
pub fn once_each<'a>(apps: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut once: Vec<String> = Vec::new();
    for app in apps {
        if !once.iter().any(|a| a == app) {
            once.push(app.to_string());
        }
    }
    once
}

/// Copies the backups of `selected` from `repo` to each of `targets`, one after the
/// other; a failure of one does not stop the next.
pub fn copy_all(
    engine: &Engine,
    cancel: &CancelToken,
    repo: &mut Repo,
    targets: &[&CopySpec],
    selected: &[(&AppSpec, &SourceSpec)],
) -> Vec<CopyOutcome> {
    targets
        .iter()
        .map(|copy| {
            let started = std::time::Instant::now();
            let outcome = match copy_one(engine, cancel, repo, copy, selected) {
                Ok(outcome) => outcome,
                Err(e) => failed(
                    copy,
                    format!("copy to {} ({}): {e}", copy.name, copy.repository.url),
                ),
            };
            log(&outcome, started.elapsed());
            outcome
        })
        .collect()
}

fn copy_one(
    engine: &Engine,
    cancel: &CancelToken,
    repo: &mut Repo,
    copy: &CopySpec,
    selected: &[(&AppSpec, &SourceSpec)],
) -> Result<CopyOutcome, lifeboat_core::Error> {
    let mut dest = Repo::open(&super::spec_options(&copy.repository)).map_err(not_initialised)?;
    dest.set_cancel(cancel);
    dest.hold_lock(LockKind::Shared)?;
    let wanted = |info: &lifeboat_repo::SnapshotInfo| {
        selected
            .iter()
            .any(|(app, source)| info.app == app.name && info.source == source.name)
    };
    let summary = repo.copy_to(&mut dest, &wanted)?;
    let forgotten = retain(engine, &mut dest, copy, selected)?;
    Ok(CopyOutcome {
        name: copy.name.clone(),
        ok: true,
        backups: summary.backups,
        present: summary.present,
        records: summary.records,
        bytes: summary.bytes,
        forgotten,
        error: None,
    })
}

/// A copy repository that is not there yet is a usage problem with a known fix.
fn not_initialised(e: RepoError) -> lifeboat_core::Error {
    match e {
        RepoError::NotFound { url } => lifeboat_core::Error::new(
            lifeboat_core::ErrorKind::Repository,
            RepoError::Engine(format!(
                "no repository at {url}: create it with `lifeboat init` (it creates the copy_to repositories too)"
            )),
        ),
        e => e.into(),
    }
}

/// The copy's retention (its own, else each source's) on the sources copied.
fn retain(
    engine: &Engine,
    dest: &mut Repo,
    copy: &CopySpec,
    selected: &[(&AppSpec, &SourceSpec)],
) -> Result<usize, lifeboat_core::Error> {
    let sources: Vec<(&AppSpec, SourceSpec)> = selected
        .iter()
        .map(|(app, source)| {
            let mut source = (*source).clone();
            if copy.retention.is_some() {
                source.retention = copy.retention.clone();
            }
            (*app, source)
        })
        .filter(|(_, source)| source.retention.is_some())
        .collect();
    if sources.is_empty() {
        return Ok(0);
    }
    let refs: Vec<(&AppSpec, &SourceSpec)> = sources.iter().map(|(a, s)| (*a, s)).collect();
    dest.hold_lock(LockKind::Exclusive)?;
    let report = engine.retain(dest, &refs)?;
    Ok(report.forgotten.len())
}

pub fn failed(copy: &CopySpec, error: String) -> CopyOutcome {
    CopyOutcome {
        name: copy.name.clone(),
        ok: false,
        backups: 0,
        present: 0,
        records: 0,
        bytes: 0,
        forgotten: 0,
        error: Some(error),
    }
}

fn log(outcome: &CopyOutcome, took: std::time::Duration) {
    match &outcome.error {
        None => tracing::info!(
            copy = %outcome.name, backups = outcome.backups, records = outcome.records,
            bytes = outcome.bytes, forgotten = outcome.forgotten,
            duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX), "copied"
        ),
        Some(error) => tracing::error!(copy = %outcome.name, error = %error, "copy FAILED"),
    }
}

pub fn print_outcomes(outcomes: &[CopyOutcome], quiet: bool) {
    for o in outcomes {
        match &o.error {
            Some(error) => eprintln!("FAILED: {error}"),
            None if !quiet => println!(
                "copy {}: {} backup(s) copied, {} there already, {} verification record(s), {} uploaded{}",
                o.name,
                o.backups,
                o.present,
                o.records,
                bytes(o.bytes),
                if o.forgotten > 0 {
                    format!(", retention forgot {}", o.forgotten)
                } else {
                    String::new()
                }
            ),
            None => {}
        }
    }
}

/// `lifeboat copy` touches only repositories, so a failed copy is a repository
/// problem (exit 3), or an interruption (130).
pub fn exit_code(outcomes: &[CopyOutcome], cancelled: bool) -> ExitCode {
    if outcomes.iter().all(|o| o.ok) {
        ExitCode::SUCCESS
    } else if cancelled {
        ExitCode::from(crate::exit::INTERRUPTED)
    } else {
        ExitCode::from(crate::exit::REPOSITORY)
    }
}
