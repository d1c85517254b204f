//! `lifeboat init`: create the repository.

use crate::Ctx;
use std::process::ExitCode;

pub fn run(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    let opts = super::repo_options(&loaded.config);
    lifeboat_repo::Repo::init(&opts)?;
    if ctx.json {
        crate::output::json(&serde_json::json!({ "initialized": opts.url }))?;
    } else if !ctx.quiet {
        println!("created repository at {}", opts.url);
    }
    Ok(ExitCode::SUCCESS)
}
