//! `lifeboat unlock [--remove-all] [--from COPY]`: remove stale repository locks (restic's lock
//! files, so locks left by a crashed restic count too).

use crate::Ctx;
use lifeboat_repo::FoundLock;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct UnlockArgs {
    /// Remove every lock, also those of running processes (only when you know none runs)
    #[arg(long)]
    remove_all: bool,
    /// Use the [[copy_to]] repository called NAME instead of [repository]
    #[arg(long, value_name = "NAME")]
    from: Option<String>,
}

pub fn run(ctx: &Ctx, args: UnlockArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config_from(ctx, args.from.as_deref())?;
    let repo = super::open_repo(&loaded.config)?;
    let removed = repo.unlock(args.remove_all)?;
    let kept: Vec<FoundLock> = if args.remove_all {
        Vec::new()
    } else {
        repo.locks()?
    };
    if ctx.json {
        let row = |l: &FoundLock| {
            serde_json::json!({
                "id": l.id,
                "holder": l.info.describe(),
                "exclusive": l.info.exclusive,
                "stale": l.stale.map(|s| s.to_string()),
            })
        };
        crate::output::json(&serde_json::json!({
            "removed": removed.iter().map(row).collect::<Vec<_>>(),
            "kept": kept.iter().map(row).collect::<Vec<_>>(),
        }))?;
    } else if !ctx.quiet {
        for l in &removed {
            let why = l
                .stale
                .map_or_else(|| "--remove-all".to_string(), |s| s.to_string());
            println!("removed lock {} ({why}): {}", &l.id[..8], l.info.describe());
        }
        for l in &kept {
            println!("kept lock {} (live): {}", &l.id[..8], l.info.describe());
        }
        if removed.is_empty() && kept.is_empty() {
            println!("no locks in {}", repo.url());
        }
    }
    Ok(ExitCode::SUCCESS)
}
