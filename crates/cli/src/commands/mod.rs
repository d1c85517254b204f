//! One module per command; this one holds what they share: loading the
//! configuration, opening the repository, choosing sources, naming runs.

pub mod backup;
pub mod check;
pub mod completions;
pub mod config;
pub mod copy;
pub mod daemon;
pub mod dump;
pub mod init;
pub mod list;
pub mod man;
pub mod prune;
pub mod recover;
pub mod restore;
pub mod status;
pub mod unlock;
pub mod verify;

use crate::config::Loaded;
use crate::Ctx;
use lifeboat_core::selector::select;
use lifeboat_core::{AppSpec, Config, Selector, SourceSpec};
use lifeboat_repo::{LockKind, Repo, RepoOptions};
use std::path::PathBuf;

/// Loads and validates the configuration, printing its warnings.
pub fn load_config(ctx: &Ctx) -> anyhow::Result<Loaded> {
    let loaded = crate::config::load(&ctx.config_path)?;
    crate::exit::mask_secrets(lifeboat_core::Redactor::new(
        crate::notify::summary::secrets_of(&loaded.config),
    ));
    if !ctx.quiet {
        for w in &loaded.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(loaded)
}

/// [`load_config`], reading the `[[copy_to]]` called `from` as the repository when
/// given: everything the command does, safety backups of a restore included, happens
/// there (the primary is lost or unreachable).
pub fn load_config_from(ctx: &Ctx, from: Option<&str>) -> anyhow::Result<Loaded> {
    let mut loaded = load_config(ctx)?;
    if let Some(name) = from {
        let copy = copy::targets(&loaded.config, Some(name))?;
        loaded.config.repository = copy[0].repository.clone();
    }
    Ok(loaded)
}

/// `--cache-dir`, set once by `main` before any command runs. A process-wide value
/// rather than a parameter because every way of opening a repository (the primary,
/// `--from`, each `[[copy_to]]`) goes through [`options_for`], and all of them must
/// agree on it.
static CACHE_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Makes `dir` the cache of every repository this process opens (`--cache-dir`).
pub fn set_cache_dir(dir: PathBuf) {
    let _ = CACHE_DIR.set(dir);
}

/// `--cache-dir`, else `$XDG_CACHE_HOME/lifeboat`, else `~/.cache/lifeboat`.
fn lifeboat_cache() -> Option<PathBuf> {
    if let Some(dir) = CACHE_DIR.get() {
        return Some(dir.clone());
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("lifeboat"))
}

fn cache_dir(url: &str) -> Option<PathBuf> {
    // A local repository needs no cache; remote ones (s3://, sftp://, ftp://,
    // rest:http://) get rustic's cache under ours, in a dir per repository id.
    if !url.contains("://") {
        return None;
    }
    lifeboat_cache()
}

pub fn repo_options(config: &Config) -> RepoOptions {
    spec_options(&config.repository)
}

/// How to open a configured repository (`[repository]` or a `[[copy_to]]`).
pub fn spec_options(r: &lifeboat_core::RepositorySpec) -> RepoOptions {
    let options = r
        .options
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().clone()));
    RepoOptions {
        lock_wait: std::time::Duration::from_secs(r.lock_wait_secs),
        ..options_for(&r.url, r.password.clone(), options.collect())
    }
}

/// How to open the repository at `url`, with lifeboat's cache and state dirs.
pub fn options_for(
    url: &str,
    password: lifeboat_core::Secret<String>,
    options: Vec<(String, String)>,
) -> RepoOptions {
    RepoOptions {
        url: url.to_string(),
        password,
        options: options.into_iter().collect(),
        cache_dir: cache_dir(url),
        // Local repositories too: what it saves (reading every snapshot's tree on each
        // `list`) costs as much on a local disk as remotely.
        state_dir: lifeboat_cache(),
        lock_wait: std::time::Duration::from_secs(lifeboat_core::model::DEFAULT_LOCK_WAIT_SECS),
    }
}

/// Opens the repository without a lock (list, init checks, unlock).
pub fn open_repo(config: &Config) -> anyhow::Result<Repo> {
    Ok(Repo::open(&repo_options(config))?)
}

/// Opens the repository and takes a `kind` lock that lasts as long as the handle, as
/// restic's commands do: a shared one to read or add, an exclusive one to check or
/// remove data.
pub fn open_locked(ctx: &Ctx, config: &Config, kind: LockKind) -> anyhow::Result<Repo> {
    let mut repo = Repo::open(&repo_options(config))?;
    repo.set_cancel(&ctx.cancel);
    repo.hold_lock(kind)?;
    Ok(repo)
}

/// Parses spec strings and resolves them against the configuration.
pub fn selected<'c>(
    config: &'c Config,
    specs: &[String],
) -> anyhow::Result<Vec<(&'c AppSpec, &'c SourceSpec)>> {
    let selectors = specs
        .iter()
        .map(|s| Selector::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(select(config, &selectors)?)
}
