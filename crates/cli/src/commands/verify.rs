//! `lifeboat verify [SPEC…] [--snapshot ID]`: prove backups restore.

use crate::Ctx;
use lifeboat_engine::{EngineError, VerifyReport};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// APP or APP/SOURCE (all when none)
    specs: Vec<String>,
    /// Snapshot id (prefix) or `latest`
    #[arg(long, default_value = "latest")]
    snapshot: String,
}

pub fn run(ctx: &Ctx, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    let selected = super::selected(&loaded.config, &args.specs)?;
    let mut repo = super::open_locked(&loaded.config, lifeboat_repo::LockKind::Shared)?;
    let now = super::now();
    let run_id = super::new_run_id(&now);
    let mut reports: Vec<VerifyReport> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for (app, source) in selected {
        match lifeboat_engine::verify_source(&mut repo, app, source, &args.snapshot, &run_id, &now)
        {
            Ok(report) => {
                if !ctx.json {
                    print_report(&report, ctx.quiet);
                }
                reports.push(report);
            }
            Err(e) if e.is_repository_problem() => return Err(e.into()),
            Err(e @ EngineError::Usage(_)) => return Err(e.into()),
            Err(e) => {
                eprintln!("FAILED: {e}");
                errors.push(e.to_string());
            }
        }
    }
    if ctx.json {
        crate::output::json(&serde_json::json!({ "reports": reports, "errors": errors }))?;
    }
    let ok = errors.is_empty() && reports.iter().all(|r| r.ok);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::FAILED)
    })
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
            eprintln!("  ✗ {p}");
        }
    }
}
