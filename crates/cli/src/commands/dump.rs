//! `lifeboat dump SPEC [--snapshot ID]`: the stored dump on stdout.

use crate::exit::UsageError;
use crate::Ctx;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// APP/SOURCE
    spec: String,
    /// Snapshot id (prefix) or `latest`
    #[arg(long, default_value = "latest")]
    snapshot: String,
}

pub fn run(ctx: &Ctx, args: DumpArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    let pairs = super::selected(&loaded.config, std::slice::from_ref(&args.spec))?;
    let [(app, source)] = pairs[..] else {
        return Err(UsageError(format!("`{}` names {} sources; dump needs exactly one APP/SOURCE", args.spec, pairs.len())).into());
    };
    let mut repo = super::open_repo(&loaded.config)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    lifeboat_engine::dump::dump(&mut repo, &app.name, &source.name, &args.snapshot, &mut out)?;
    Ok(ExitCode::SUCCESS)
}
