//! `lifeboat verify [SPEC…] [--snapshot ID]`: prove backups restore.

use crate::Ctx;
use lifeboat_engine::VerifyReport;
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
    let mut repo = super::open_locked(ctx, &loaded.config, lifeboat_repo::LockKind::Shared)?;
    let engine = crate::wire::quiet_engine(ctx, &loaded.config);
    let run = engine.verify_all(
        &mut repo,
        &selected,
        &args.snapshot,
        &mut |done| match done {
            Ok(report) if !ctx.json => print_report(report, ctx.quiet),
            Ok(_) => {}
            Err(e) => eprintln!("FAILED: {e}"),
        },
    )?;
    if ctx.json {
        crate::output::json(&run)?;
    }
    Ok(if run.ok() {
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
