//! `lifeboat config`: the resolved configuration with every secret masked.

use crate::Ctx;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// Only validate; print nothing on success
    #[arg(long)]
    check: bool,
}

pub fn run(ctx: &Ctx, args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    if args.check {
        if !ctx.quiet && !ctx.json {
            eprintln!("{}: ok", loaded.path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if ctx.json {
        crate::output::json(&loaded.config)?;
    } else {
        // Secret's serde form is `****`, so TOML output cannot leak one.
        let value = serde_json::to_value(&loaded.config)?;
        println!("# {}", loaded.path.display());
        println!("{}", toml::to_string_pretty(&value)?);
    }
    Ok(ExitCode::SUCCESS)
}
