//! `lifeboat restore SPEC …`: one source (`APP/SOURCE`) or a whole app (`APP`, from
//! one backup set, in `restore_after` order, between its restore hooks).

use crate::exit::UsageError;
use crate::Ctx;
use lifeboat_core::{AppSpec, Config, Selector};
use lifeboat_engine::{AppRestoreOptions, RestoreOptions, RestoreReport};
use std::process::ExitCode;

pub(crate) mod at;
mod print;

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// APP (every source, from one backup set) or APP/SOURCE
    spec: String,
    /// Snapshot id (prefix) or `latest`; for an APP, a run id (prefix) or a snapshot id of
    /// the set
    #[arg(long, default_value = "latest")]
    snapshot: String,
    /// The newest backup (set) at or before this time: 2026-11-20 (that whole day),
    /// 2026-11-20T10:00, or RFC 3339; in the configured timezone
    #[arg(long, value_name = "DATE")]
    at: Option<String>,
    /// The newest backup (set) whose id, run id, host, time or a tag holds TEXT
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    /// Restore into another target (a postgres URL, a directory); for an APP,
    /// SOURCE=TARGET, repeatable
    #[arg(long, value_name = "TARGET")]
    to: Vec<String>,
    /// APP: restore only these sources (comma-separated or repeated)
    #[arg(long, value_name = "SOURCE", value_delimiter = ',')]
    only: Vec<String>,
    /// APP: leave these sources out (comma-separated or repeated)
    #[arg(long, value_name = "SOURCE", value_delimiter = ',')]
    skip: Vec<String>,
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
    /// Empty each target first, so that it ends equal to the backup (objects not in the
    /// backup are gone): postgres and mysql drop the database and create it afresh, redis
    /// is flushed, files and buckets lose what the backup does not have (paths the source
    /// excludes are kept)
    #[arg(long)]
    clean: bool,
    /// Print what would happen and change nothing
    #[arg(long)]
    plan: bool,
    /// Read the [[copy_to]] repository called NAME instead of [repository] (the primary is lost)
    #[arg(long, value_name = "NAME")]
    from: Option<String>,
}

pub fn run(ctx: &Ctx, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config_from(ctx, args.from.as_deref())?;
    let config = &loaded.config;
    let selector = Selector::parse(&args.spec)?;
    let base = base_options(config, &args)?;
    let pairs = super::selected(config, std::slice::from_ref(&args.spec))?;
    let Some((app, _)) = pairs.first() else {
        return Err(UsageError(format!("`{}` names no source", args.spec)).into());
    };
    if selector.source.is_none() {
        let opts = app_options(app, base, &args)?;
        return restore_app(ctx, config, app, &opts);
    }
    if !args.only.is_empty() || !args.skip.is_empty() {
        return Err(UsageError("--only and --skip choose sources of an APP".into()).into());
    }
    let [(app, source)] = pairs[..] else {
        return Err(UsageError(format!("`{}` names several sources", args.spec)).into());
    };
    let opts = RestoreOptions {
        to: single_target(&source.name, &args.to)?,
        ..base
    };
    let mut repo = super::open_locked(ctx, config, lifeboat_repo::LockKind::Shared)?;
    let engine = crate::wire::quiet_engine(ctx, config);
    let (run_id, now) = engine.new_run();
    let report = engine.restore_source(&mut repo, app, source, &opts, &run_id, &now)?;
    if ctx.json {
        crate::output::json(&report)?;
    } else if !ctx.quiet {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn base_options(config: &Config, args: &RestoreArgs) -> anyhow::Result<RestoreOptions> {
    let at = match &args.at {
        Some(text) => Some(at::parse(text, &config.time_zone()).map_err(UsageError)?),
        None => None,
    };
    Ok(RestoreOptions {
        snapshot: args.snapshot.clone(),
        at,
        filter: args.filter.clone(),
        to: None,
        force: args.force,
        no_safety_backup: args.no_safety_backup,
        delete: args.delete || args.clean || args.delete_excluded,
        delete_excluded: args.delete_excluded,
        plan_only: args.plan,
    })
}

/// `--to TARGET`, or `--to SOURCE=TARGET` naming this source.
fn single_target(source: &str, to: &[String]) -> anyhow::Result<Option<String>> {
    match to {
        [] => Ok(None),
        [one] => Ok(Some(match one.split_once('=') {
            Some((name, target)) if name == source => target.to_string(),
            _ => one.clone(),
        })),
        _ => Err(UsageError("one source restores into one --to target".into()).into()),
    }
}

/// The options of a whole-app restore: each `--to` must be SOURCE=TARGET.
fn app_options(
    app: &AppSpec,
    base: RestoreOptions,
    args: &RestoreArgs,
) -> anyhow::Result<AppRestoreOptions> {
    let mut to = Vec::new();
    for given in &args.to {
        let pair = given
            .split_once('=')
            .filter(|(name, _)| app.sources.iter().any(|s| s.name == *name));
        let Some((name, target)) = pair else {
            let names: Vec<&str> = app.sources.iter().map(|s| s.name.as_str()).collect();
            return Err(UsageError(format!(
                "--to `{given}`: restoring app `{}` takes --to SOURCE=TARGET, SOURCE one of {}",
                app.name,
                names.join(", ")
            ))
            .into());
        };
        if to.iter().any(|(n, _)| n == name) {
            return Err(UsageError(format!("--to names source `{name}` twice")).into());
        }
        to.push((name.to_string(), target.to_string()));
    }
    Ok(AppRestoreOptions {
        base,
        to,
        only: args.only.clone(),
        skip: args.skip.clone(),
    })
}

fn restore_app(
    ctx: &Ctx,
    config: &Config,
    app: &AppSpec,
    opts: &AppRestoreOptions,
) -> anyhow::Result<ExitCode> {
    let mut repo = super::open_locked(ctx, config, lifeboat_repo::LockKind::Shared)?;
    let engine = crate::wire::quiet_engine(ctx, config);
    let (run_id, now) = engine.new_run();
    let report = engine.restore_app(&mut repo, app, opts, &run_id, &now)?;
    if ctx.json {
        crate::output::json(&report)?;
    } else {
        print::app_report(&report, ctx.quiet);
    }
    Ok(match report.error_kind {
        None => ExitCode::SUCCESS,
        Some(kind) => ExitCode::from(crate::exit::code_of_kind(kind)),
    })
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
