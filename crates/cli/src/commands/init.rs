//! `lifeboat init`: create the repository and the `[[copy_to]]` ones. Those that exist
//! already are left as they are (a copy_to added later is created by a second `init`);
//! when every one exists, it fails as creating an existing repository does. Copies
//! take the primary's chunker parameters.

use crate::Ctx;
use lifeboat_repo::{Repo, RepoError};
use std::process::ExitCode;

pub fn run(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    let config = &loaded.config;
    let mut created = Vec::new();
    let mut existing = None;
    let mut outcome = |opts: &lifeboat_repo::RepoOptions, made: Result<Repo, RepoError>| match made
    {
        Ok(repo) => {
            created.push(opts.url.clone());
            Ok(Some(repo))
        }
        Err(e @ RepoError::AlreadyExists { .. }) => {
            if !ctx.quiet && !ctx.json {
                eprintln!("{e}: left as it is");
            }
            existing.get_or_insert(e);
            Ok(None)
        }
        Err(e) => Err(e),
    };
    let primary_opts = super::spec_options(&config.repository);
    let primary = outcome(&primary_opts, Repo::init(&primary_opts))?;
    if !config.copy_to.is_empty() {
        // Each copy cuts chunks as the primary does (restic's --copy-chunker-params).
        let params = match &primary {
            Some(repo) => repo.chunker_params()?,
            None => Repo::open(&primary_opts)?.chunker_params()?,
        };
        for copy in &config.copy_to {
            let opts = super::spec_options(&copy.repository);
            outcome(&opts, Repo::init_with_chunker(&opts, &params))?;
        }
    }
    if let (true, Some(e)) = (created.is_empty(), existing) {
        return Err(e.into());
    }
    if ctx.json {
        crate::output::json(&serde_json::json!({ "initialized": created }))?;
    } else if !ctx.quiet {
        for url in &created {
            println!("created repository at {url}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
