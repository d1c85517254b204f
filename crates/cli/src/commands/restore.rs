//! `lifeboat restore SPEC …`: restore one source (whole apps come with restore plans).

use crate::exit::UsageError;
use crate::Ctx;
use lifeboat_engine::{RestoreOptions, RestoreReport};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// APP/SOURCE
    spec: String,
    /// Snapshot id (prefix) or `latest`
    #[arg(long, default_value = "latest")]
    snapshot: String,
    /// Restore into another target (a postgres URL, a directory)
    #[arg(long, value_name = "TARGET")]
    to: Option<String>,
    /// Overwrite a target that holds data (after a safety backup)
    #[arg(long)]
    force: bool,
    /// Skip the safety backup of the target
    #[arg(long)]
    no_safety_backup: bool,
    /// files: remove files that are not in the backup (paths the source excludes are kept)
    #[arg(long)]
    delete: bool,
    /// files: with --delete, remove excluded paths too
    #[arg(long)]
    delete_excluded: bool,
    /// Empty the target first (files: same as --delete; postgres: drop the database
    /// and create it afresh as the backup says, so objects not in the backup are gone;
    /// without it postgres replaces the backup's objects and keeps others)
    #[arg(long)]
    clean: bool,
    /// Print what would happen and change nothing
    #[arg(long)]
    plan: bool,
}

pub fn run(ctx: &Ctx, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    let pairs = super::selected(&loaded.config, std::slice::from_ref(&args.spec))?;
    let [(app, source)] = pairs[..] else {
        return Err(UsageError(format!(
            "`{}` names {} sources; this version restores one APP/SOURCE at a time",
            args.spec,
            pairs.len()
        ))
        .into());
    };
    let opts = RestoreOptions {
        snapshot: args.snapshot,
        to: args.to,
        force: args.force,
        no_safety_backup: args.no_safety_backup,
        delete: args.delete || args.clean || args.delete_excluded,
        delete_excluded: args.delete_excluded,
        plan_only: args.plan,
    };
    let mut repo = super::open_locked(ctx, &loaded.config, lifeboat_repo::LockKind::Shared)?;
    let engine = crate::wire::quiet_engine(ctx, &loaded.config);
    let (run_id, now) = engine.new_run();
    let report = engine.restore_source(&mut repo, app, source, &opts, &run_id, &now)?;
    if ctx.json {
        crate::output::json(&report)?;
    } else if !ctx.quiet {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &RestoreReport) {
    let verb = if r.done { "restored" } else { "plan for" };
    println!(
        "{verb} {}/{} from snapshot {} ({}) into {}",
        r.app,
        r.source,
        &r.snapshot[..8.min(r.snapshot.len())],
        r.snapshot_time,
        r.target
    );
    for step in &r.steps {
        println!("  - {step}");
    }
    if let Some(id) = &r.safety_snapshot {
        println!(
            "safety backup of the previous state: snapshot {}",
            &id[..8.min(id.len())]
        );
    }
}
