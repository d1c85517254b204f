//! `lifeboat list [SPEC…] [--runs]`: the backups in the repository.

use crate::output::{bytes, table};
use crate::Ctx;
use lifeboat_core::{Config, Selector};
use lifeboat_repo::SnapshotInfo;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// APP or APP/SOURCE (all when none)
    specs: Vec<String>,
    /// Group backups by run (backup set)
    #[arg(long)]
    runs: bool,
    /// Read the [[copy_to]] repository called NAME instead of [repository] (the primary is lost)
    #[arg(long, value_name = "NAME")]
    from: Option<String>,
}

fn matches(info: &SnapshotInfo, selectors: &[Selector]) -> bool {
    selectors.is_empty()
        || selectors
            .iter()
            .any(|s| s.app == info.app && s.source.as_deref().is_none_or(|n| n == info.source))
}

pub fn run(ctx: &Ctx, args: ListArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config_from(ctx, args.from.as_deref())?;
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
        crate::output::json(&runs_json(&loaded.config, &snapshots))?;
    } else if ctx.json {
        crate::output::json(&snapshots)?;
    } else if args.runs {
        print_runs(&loaded.config, &snapshots);
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

/// What a run is: a complete backup set of its app (every configured source has a
/// backup in it), an incomplete one (which sources lack one), or a safety set.
fn completeness(config: &Config, members: &[&SnapshotInfo]) -> (Option<bool>, String) {
    if members.iter().any(|s| s.pre_restore) {
        return (None, "safety set (taken before a restore)".into());
    }
    // One `backup` of several apps is one run: each app's sources count in its own.
    let mut apps: Vec<&str> = members.iter().map(|s| s.app.as_str()).collect();
    apps.sort_unstable();
    apps.dedup();
    let configured: Vec<_> = config
        .apps
        .iter()
        .filter(|a| apps.contains(&a.name.as_str()))
        .collect();
    if configured.is_empty() {
        return (None, "app not in the configuration".into());
    }
    let has = |app: &str, source: &str| members.iter().any(|s| s.app == app && s.source == source);
    let missing: Vec<String> = configured
        .iter()
        .flat_map(|app| {
            let lacking = app.sources.iter().filter(|src| !has(&app.name, &src.name));
            lacking.map(|src| match apps.len() {
                1 => src.name.clone(),
                _ => format!("{}/{}", app.name, src.name),
            })
        })
        .collect();
    match missing.as_slice() {
        [] => (Some(true), "complete".into()),
        _ => (
            Some(false),
            format!("incomplete: no backup of {}", missing.join(", ")),
        ),
    }
}

fn runs_json(config: &Config, snapshots: &[SnapshotInfo]) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = runs(snapshots)
        .into_iter()
        .map(|(run, members)| {
            let (complete, state) = completeness(config, &members);
            serde_json::json!({
                "run_id": run,
                "time": members.first().map(|s| s.time.clone()),
                "size": members.iter().map(|s| s.size).sum::<u64>(),
                "complete": complete,
                "state": state,
                "backups": members,
            })
        })
        .collect();
    serde_json::Value::Array(runs)
}

fn print_runs(config: &Config, snapshots: &[SnapshotInfo]) {
    for (run, members) in runs(snapshots) {
        let total: u64 = members.iter().map(|s| s.size).sum();
        let (_, state) = completeness(config, &members);
        println!(
            "run {run}  ({} backups, {}, {state})",
            members.len(),
            bytes(total)
        );
        table(&HEADER, &members.iter().map(|s| row(s)).collect::<Vec<_>>());
        println!();
    }
}
