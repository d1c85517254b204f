//! `lifeboat dump SPEC [--snapshot ID]`: the stored dump on stdout.

use crate::exit::UsageError;
use crate::Ctx;
use lifeboat_engine::dump::DumpWhat;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// APP/SOURCE
    spec: String,
    /// Snapshot id (prefix) or `latest`
    #[arg(long, default_value = "latest")]
    snapshot: String,
    /// Write the backup's manifest (JSON) instead of its data
    #[arg(long)]
    manifest: bool,
    /// The payload file to write, when the backup holds several (e.g. `globals.sql`,
    /// `shop.pgdump`; `dump --manifest` lists them)
    #[arg(long, value_name = "NAME", conflicts_with = "manifest")]
    file: Option<String>,
}

pub fn run(ctx: &Ctx, args: DumpArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    let pairs = super::selected(&loaded.config, std::slice::from_ref(&args.spec))?;
    let [(app, source)] = pairs[..] else {
        return Err(UsageError(format!(
            "`{}` names {} sources; dump needs exactly one APP/SOURCE",
            args.spec,
            pairs.len()
        ))
        .into());
    };
    let mut repo = super::open_locked(ctx, &loaded.config, lifeboat_repo::LockKind::Shared)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let what = if args.manifest {
        DumpWhat::Manifest
    } else {
        DumpWhat::Payload
    };
    lifeboat_engine::dump::dump(
        &mut repo,
        &app.name,
        &source.name,
        &args.snapshot,
        what,
        args.file.as_deref(),
        &mut out,
    )?;
    Ok(ExitCode::SUCCESS)
}
