//! What the repository tests share: lifeboat's options for a local test repository,
//! and the same repository opened through rustic_core directly (as restic, a crashed
//! lifeboat or a tamperer would leave it).
#![allow(dead_code)]
#![allow(clippy::unwrap_used)] // test support: a panic is the failure report

use lifeboat_core::Secret;
use lifeboat_repo::RepoOptions;
use rustic_core::{Credentials, Repository, RepositoryOptions};
use std::path::{Path, PathBuf};

pub const PASSWORD: &str = "repository tests";

pub fn options(repo: &Path, state: Option<PathBuf>) -> RepoOptions {
    RepoOptions {
        url: repo.display().to_string(),
        password: Secret::new(PASSWORD.to_string()),
        options: Default::default(),
        cache_dir: None,
        state_dir: state,
        lock_wait: std::time::Duration::from_secs(5),
    }
}

pub fn rustic(repo: &Path) -> Repository<rustic_core::OpenStatus> {
    let backends = rustic_backend::BackendOptions::default()
        .repository(repo.to_str().unwrap())
        .to_backends()
        .unwrap();
    let mut opts = RepositoryOptions::default();
    opts.no_cache = true;
    Repository::new(&opts, &backends)
        .unwrap()
        .open(&Credentials::password(PASSWORD))
        .unwrap()
}
