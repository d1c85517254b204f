//! `lifeboat backup [SPEC…]`: one backup cycle now, told to `[[notify]]`.

use crate::output::{bytes, millis};
use crate::Ctx;
use lifeboat_core::{AppSpec, SourceSpec};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// APP or APP/SOURCE (all when none)
    specs: Vec<String>,
}

/// Groups selected sources per app, keeping config order.
fn per_app<'c>(
    pairs: Vec<(&'c AppSpec, &'c SourceSpec)>,
) -> Vec<(&'c AppSpec, Vec<&'c SourceSpec>)> {
    let mut groups: Vec<(&AppSpec, Vec<&SourceSpec>)> = Vec::new();
    for (app, source) in pairs {
        match groups.iter_mut().find(|(a, _)| a.name == app.name) {
            Some((_, sources)) => sources.push(source),
            None => groups.push((app, vec![source])),
        }
    }
    groups
}

pub fn run(ctx: &Ctx, args: BackupArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    let selected = per_app(super::selected(&loaded.config, &args.specs)?);
    // Opening derives the key (deliberately slow); the first dump starts meanwhile.
    let mut repo = lifeboat_repo::RepoSlot::open_in_background(
        super::repo_options(&loaded.config),
        Some(lifeboat_repo::LockKind::Shared),
        &ctx.cancel,
    );
    let engine = crate::wire::engine(ctx, &loaded.config);
    let notifier = crate::notify::Notifier::new(&loaded.config);
    let (run_id, now) = engine.new_run();
    let apps: Vec<&str> = selected.iter().map(|(app, _)| app.name.as_str()).collect();
    let notice = notifier.backup_started(&run_id, &apps);
    let mut report = match engine.run_backup(&mut repo, &selected, &run_id, &now) {
        Ok(report) => report,
        Err(e) => {
            notifier.backup_failed(&notice, &e.to_string());
            notifier.flush_before_exit();
            return Err(e.into());
        }
    };
    // Copies before retention, so that nothing is forgotten here before it is offsite.
    let copies = if report.cancelled {
        Vec::new()
    } else {
        copy_stored(&engine, &mut repo, &loaded.config, &report)
    };
    if !report.cancelled {
        retain(&engine, &mut repo, &loaded.config, &mut report);
    }
    notifier.backup_finished(&notice, &report);
    notifier.copies_failed(&apps_of(&report), Some(&report.run_id), &copies);
    if ctx.json {
        crate::output::json(&BackupOutput {
            report: &report,
            copies: &copies,
        })?;
    } else {
        print_report(&report, ctx.quiet);
        super::copy::print_outcomes(&copies, ctx.quiet);
    }
    notifier.flush_before_exit();
    Ok(if report.cancelled {
        eprintln!("interrupted: nothing partial was saved; after_backup hooks ran");
        ExitCode::from(crate::exit::INTERRUPTED)
    } else if report.ok() && copies.iter().all(|c| c.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::FAILED)
    })
}

/// `--json`: the run's report with its copies.
#[derive(serde::Serialize)]
struct BackupOutput<'r> {
    #[serde(flatten)]
    report: &'r lifeboat_engine::BackupReport,
    copies: &'r [super::copy::CopyOutcome],
}

/// The apps of the run, once each.
pub fn apps_of(report: &lifeboat_engine::BackupReport) -> Vec<String> {
    super::copy::once_each(report.sources.iter().map(|s| s.app.as_str()))
}

/// The sources of the run that stored a backup, copied to every `[[copy_to]]`
/// (with whatever of theirs an earlier copy missed).
pub fn copy_stored(
    engine: &lifeboat_engine::Engine,
    repo: &mut lifeboat_repo::RepoSlot,
    config: &lifeboat_core::Config,
    report: &lifeboat_engine::BackupReport,
) -> Vec<super::copy::CopyOutcome> {
    let stored = stored_sources(config, report);
    if config.copy_to.is_empty() || stored.is_empty() {
        return Vec::new();
    }
    let targets: Vec<&lifeboat_core::CopySpec> = config.copy_to.iter().collect();
    match lifeboat_repo::RepoAccess::repo(repo) {
        Ok(repo) => super::copy::copy_all(engine, &engine.cancel, repo, &targets, &stored),
        Err(e) => {
            let error = format!("copies: the repository is not open: {e}");
            targets
                .iter()
                .map(|c| super::copy::failed(c, error.clone()))
                .collect()
        }
    }
}

/// The app and source of each backup the run stored.
fn stored_sources<'c>(
    config: &'c lifeboat_core::Config,
    report: &lifeboat_engine::BackupReport,
) -> Vec<(&'c AppSpec, &'c SourceSpec)> {
    report
        .sources
        .iter()
        .filter(|s| s.ok)
        .filter_map(|s| {
            let app = config.app(&s.app)?;
            Some((app, app.source(&s.source)?))
        })
        .collect()
}

/// Retention after the run, for the sources stored that have a policy: under an
/// exclusive lock (the shared one is given up for it), as restic's forget takes. A
/// failure fails the run (exit 1) but loses no backup.
fn retain(
    engine: &lifeboat_engine::Engine,
    repo: &mut lifeboat_repo::RepoSlot,
    config: &lifeboat_core::Config,
    report: &mut lifeboat_engine::BackupReport,
) {
    use lifeboat_core::ports::Repository;
    let stored: Vec<(&AppSpec, &SourceSpec)> = stored_sources(config, report)
        .into_iter()
        .filter(|(_, source)| source.retention.is_some())
        .collect();
    if stored.is_empty() {
        return;
    }
    let retained = repo
        .hold_lock(lifeboat_repo::LockKind::Exclusive)
        .and_then(|()| engine.retain(repo, &stored));
    match retained {
        Ok(retention) => report.retention = Some(retention),
        Err(e) => report.errors.push(format!("retention: {e}")),
    }
}

fn print_report(report: &lifeboat_engine::BackupReport, quiet: bool) {
    for s in &report.sources {
        let spec = format!("{}/{}", s.app, s.source);
        match (&s.snapshot, &s.error) {
            (Some(id), None) if !quiet => println!(
                "{spec}: ok  snapshot {}  size {}  added {}  {}",
                &id[..8.min(id.len())],
                bytes(s.size),
                bytes(s.added),
                millis(s.duration_ms)
            ),
            // The error names the source already.
            (_, Some(error)) => eprintln!("FAILED: {error}"),
            _ => {}
        }
    }
    for e in &report.errors {
        eprintln!("FAILED: {e}");
    }
    if let (Some(retention), false) = (&report.retention, quiet) {
        let reclaimed = retention.reclaimed.as_ref().map_or(0, |r| r.removed_bytes);
        println!(
            "retention: forgot {} snapshot(s), {} taken out of the index (`lifeboat prune --dry-run` shows why each is kept)",
            retention.forgotten.len(),
            bytes(reclaimed)
        );
    }
    let failed = report.sources.iter().filter(|s| !s.ok).count();
    if !quiet {
        println!(
            "run {}: {} ok, {failed} failed",
            report.run_id,
            report.sources.len() - failed
        );
    }
}
