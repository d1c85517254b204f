//! `lifeboat check [--read-data]`: repository integrity.

use crate::Ctx;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Also read and verify every pack's content (slow: reads the whole repository)
    #[arg(long)]
    read_data: bool,
    /// Use the [[copy_to]] repository called NAME instead of [repository]
    #[arg(long, value_name = "NAME")]
    from: Option<String>,
}

pub fn run(ctx: &Ctx, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config_from(ctx, args.from.as_deref())?;
    let repo = super::open_locked(ctx, &loaded.config, lifeboat_repo::LockKind::Exclusive)?;
    let report = repo.check(args.read_data)?;
    if ctx.json {
        crate::output::json(&report)?;
    } else {
        for finding in &report.findings {
            eprintln!("{finding}");
        }
        if report.ok && !ctx.quiet {
            println!("no errors were found in {}", repo.url());
        }
    }
    if report.ok {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "error: the repository at {} is damaged (see above)",
            repo.url()
        );
        Ok(ExitCode::from(crate::exit::REPOSITORY))
    }
}
