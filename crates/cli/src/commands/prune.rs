//! `lifeboat prune [SPEC…] [--dry-run]`: apply each source's retention, then reclaim
//! space (under an exclusive lock, as `restic forget --prune` does).

use crate::output::bytes;
use crate::Ctx;
use lifeboat_engine::{PruneReport, SourceRetention};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// APP or APP/SOURCE (all when none)
    specs: Vec<String>,
    /// Print every backup with keep/remove and the rule that decided it; change nothing
    #[arg(long)]
    dry_run: bool,
}

pub fn run(ctx: &Ctx, args: PruneArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    let selected = super::selected(&loaded.config, &args.specs)?;
    let kind = if args.dry_run {
        lifeboat_repo::LockKind::Shared
    } else {
        lifeboat_repo::LockKind::Exclusive
    };
    let mut repo = super::open_locked(ctx, &loaded.config, kind)?;
    let engine = crate::wire::quiet_engine(ctx, &loaded.config);
    let report = engine.prune(&mut repo, &selected, args.dry_run)?;
    if ctx.json {
        crate::output::json(&report)?;
    } else {
        print_report(&report, &loaded.config.time_zone(), ctx.quiet);
    }
    Ok(ExitCode::SUCCESS)
}

/// Every decision with its rule (on a dry run, or without `-q`), then what was reclaimed.
pub fn print_report(report: &PruneReport, tz: &jiff::tz::TimeZone, quiet: bool) {
    if !quiet || report.dry_run {
        for source in &report.sources {
            print_source(source, tz);
        }
    }
    let verb = if report.dry_run {
        "would forget"
    } else {
        "forgot"
    };
    if !quiet {
        println!("{verb} {} snapshot(s)", report.forgotten.len());
    }
    if let (Some(r), false) = (&report.reclaimed, quiet) {
        println!(
            "reclaimed: {} of unused data taken out of the index ({} pack(s) marked for deletion, {} repacked); \
             {} pack(s) marked earlier deleted now, {} wait for their 23 h grace period",
            bytes(r.removed_bytes),
            r.marked_packs,
            r.repacked_packs,
            r.deleted_marked_packs,
            r.waiting_marked_packs
        );
    }
}

fn print_source(source: &SourceRetention, tz: &jiff::tz::TimeZone) {
    println!("{}/{}:", source.app, source.source);
    if let Some(note) = &source.note {
        println!("  {note}");
    }
    for d in &source.decisions {
        let time = d.time.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S %Z");
        let verdict = if d.keep { "keep  " } else { "remove" };
        let role = match &d.role {
            lifeboat_core::retention::Role::Backup => "",
            lifeboat_core::retention::Role::PreRestore => " (pre-restore)",
            lifeboat_core::retention::Role::Verification { .. } => " (verification)",
        };
        println!(
            "  {verdict} {} {time}{role}  {}",
            &d.id[..8.min(d.id.len())],
            d.reason
        );
    }
}
