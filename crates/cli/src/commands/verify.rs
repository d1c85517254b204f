//! `lifeboat verify [SPEC…] [--snapshot ID]`: prove backups restore, told to
//! `[[notify]]` per app.

use crate::Ctx;
use lifeboat_core::{AppSpec, SourceSpec};
use lifeboat_engine::{VerifyReport, VerifyRun};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// APP or APP/SOURCE (all when none)
    specs: Vec<String>,
    /// Snapshot id (prefix) or `latest`
    #[arg(long, default_value = "latest")]
    snapshot: String,
    /// Read the [[copy_to]] repository called NAME instead of [repository] (the primary is lost)
    #[arg(long, value_name = "NAME")]
    from: Option<String>,
}

pub fn run(ctx: &Ctx, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config_from(ctx, args.from.as_deref())?;
    let selected = super::selected(&loaded.config, &args.specs)?;
    let notifier = crate::notify::Notifier::new(&loaded.config);
    let mut apps: Vec<&str> = Vec::new();
    for (app, _) in &selected {
        if !apps.contains(&app.name.as_str()) {
            apps.push(&app.name);
        }
    }
    let (run, failed) = match verify(ctx, &loaded.config, &selected, &args.snapshot) {
        Ok(done) => done,
        Err(e) => {
            for app in &apps {
                notifier.verify_failed(app, &format!("{e:#}"));
            }
            notifier.flush_before_exit();
            return Err(e);
        }
    };
    for app in &apps {
        notifier.verify_finished(app, &of_app(&run, &failed, app));
    }
    if ctx.json {
        crate::output::json(&run)?;
    }
    notifier.flush_before_exit();
    Ok(if run.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::FAILED)
    })
}

/// Verifies `selected` in one run; with the run, the app of each error in it.
fn verify(
    ctx: &Ctx,
    config: &lifeboat_core::Config,
    selected: &[(&AppSpec, &SourceSpec)],
    snapshot: &str,
) -> anyhow::Result<(VerifyRun, Vec<String>)> {
    let mut repo = super::open_locked(ctx, config, lifeboat_repo::LockKind::Shared)?;
    let engine = crate::wire::quiet_engine(ctx, config);
    // The engine reports each source in `selected`'s order, once.
    let mut next = 0;
    let mut failed = Vec::new();
    let run = engine.verify_all(&mut repo, selected, snapshot, &mut |done| {
        let app = selected.get(next).map(|(app, _)| app.name.clone());
        next += 1;
        match done {
            Ok(report) if !ctx.json => print_report(report, ctx.quiet),
            Ok(_) => {}
            Err(e) => {
                eprintln!("FAILED: {}", crate::exit::masked(&e.to_string()));
                failed.push(app.unwrap_or_default());
            }
        }
    })?;
    Ok((run, failed))
}

/// The part of `run` about `app`; `failed` names the app of each of its errors.
fn of_app(run: &VerifyRun, failed: &[String], app: &str) -> VerifyRun {
    VerifyRun {
        run_id: run.run_id.clone(),
        reports: run
            .reports
            .iter()
            .filter(|r| r.app == app)
            .cloned()
            .collect(),
        errors: run
            .errors
            .iter()
            .zip(failed)
            .filter(|(_, of)| *of == app)
            .map(|(e, _)| e.clone())
            .collect(),
    }
}

fn print_report(r: &VerifyReport, quiet: bool) {
    let id = &r.snapshot[..8.min(r.snapshot.len())];
    let verdict = if r.ok { "verified ✓" } else { "FAILED ✗" };
    let line = format!(
        "{}/{} snapshot {id}: {verdict} ({})",
        r.app,
        r.source,
        crate::output::millis(r.duration_ms)
    );
    if r.ok {
        if !quiet {
            println!("{line}");
            for c in &r.checks {
                println!("  ✓ {c}");
            }
        }
    } else {
        eprintln!("{line}");
        for p in &r.problems {
            eprintln!("  ✗ {}", crate::exit::masked(p));
        }
    }
}
