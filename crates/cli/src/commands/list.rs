//! `lifeboat list [SPEC…] [--runs]`: the backups in the repository.

use crate::output::{bytes, table};
use crate::Ctx;
use lifeboat_core::Selector;
use lifeboat_repo::SnapshotInfo;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// APP or APP/SOURCE (all when none)
    specs: Vec<String>,
    /// Group backups by run (backup set)
    #[arg(long)]
    runs: bool,
}

fn matches(info: &SnapshotInfo, selectors: &[Selector]) -> bool {
    selectors.is_empty()
        || selectors
            .iter()
            .any(|s| s.app == info.app && s.source.as_deref().is_none_or(|n| n == info.source))
}

pub fn run(ctx: &Ctx, args: ListArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    let selectors = args
        .specs
        .iter()
        .map(|s| Selector::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut repo = super::open_repo(&loaded.config)?;
    let snapshots: Vec<SnapshotInfo> = repo
        .list()?
        .into_iter()
        .filter(|s| matches(s, &selectors))
        .collect();
    if ctx.json {
        crate::output::json(&snapshots)?;
    } else if args.runs {
        print_runs(&snapshots);
    } else {
        print_table(&snapshots);
    }
    Ok(ExitCode::SUCCESS)
}

fn row(s: &SnapshotInfo) -> Vec<String> {
    let spec = format!("{}/{}", s.app, s.source);
    let name = if s.pre_restore {
        format!("{spec} (pre-restore)")
    } else {
        spec
    };
    let verified = match s.verified {
        Some(true) => "✓",
        Some(false) => "✗",
        None => "–",
    };
    vec![
        name,
        s.time.clone(),
        s.run_id.clone(),
        s.short_id().to_string(),
        bytes(s.size),
        bytes(s.added),
        verified.into(),
    ]
}

const HEADER: [&str; 7] = [
    "APP/SOURCE",
    "TIME",
    "RUN",
    "SNAPSHOT",
    "SIZE",
    "ADDED",
    "VERIFIED",
];

fn print_table(snapshots: &[SnapshotInfo]) {
    table(&HEADER, &snapshots.iter().map(row).collect::<Vec<_>>());
}

fn print_runs(snapshots: &[SnapshotInfo]) {
    let mut runs: Vec<&str> = snapshots.iter().map(|s| s.run_id.as_str()).collect();
    runs.dedup();
    for run in runs {
        let members: Vec<&SnapshotInfo> = snapshots.iter().filter(|s| s.run_id == run).collect();
        let total: u64 = members.iter().map(|s| s.size).sum();
        println!("run {run}  ({} backups, {})", members.len(), bytes(total));
        table(&HEADER, &members.iter().map(|s| row(s)).collect::<Vec<_>>());
        println!();
    }
}
