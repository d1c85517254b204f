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
    if ctx.json && args.runs {
        crate::output::json(&runs_json(&snapshots))?;
    } else if ctx.json {
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
        s.display_time(),
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

/// Run ids in order of their first backup, each with its backups.
fn runs(snapshots: &[SnapshotInfo]) -> Vec<(&str, Vec<&SnapshotInfo>)> {
    let mut runs: Vec<(&str, Vec<&SnapshotInfo>)> = Vec::new();
    for s in snapshots {
        match runs.iter_mut().find(|(id, _)| *id == s.run_id) {
            Some((_, members)) => members.push(s),
            None => runs.push((s.run_id.as_str(), vec![s])),
        }
    }
    runs
}

fn runs_json(snapshots: &[SnapshotInfo]) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = runs(snapshots)
        .into_iter()
        .map(|(run, members)| {
            serde_json::json!({
                "run_id": run,
                "time": members.first().map(|s| s.time.clone()),
                "size": members.iter().map(|s| s.size).sum::<u64>(),
                "backups": members,
            })
        })
        .collect();
    serde_json::Value::Array(runs)
}

fn print_runs(snapshots: &[SnapshotInfo]) {
    for (run, members) in runs(snapshots) {
        let total: u64 = members.iter().map(|s| s.size).sum();
        println!("run {run}  ({} backups, {})", members.len(), bytes(total));
        table(&HEADER, &members.iter().map(|s| row(s)).collect::<Vec<_>>());
        println!();
    }
}
