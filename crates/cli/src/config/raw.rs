//! The configuration file as written: serde structs that reject unknown keys and
//! remember where each value stands. Never used beyond validation.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub repository: S<RawRepository>,
    #[serde(default)]
    pub defaults: Option<S<RawDefaults>>,
    #[serde(default)]
    pub copy_to: Vec<S<RawCopyTo>>,
    #[serde(default)]
    pub app: Vec<S<RawApp>>,
    #[serde(default)]
    pub notify: Vec<S<RawNotify>>,
    pub daemon: Option<S<RawDaemon>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    pub listen: Option<S<String>>,
    pub token_env: Option<S<String>>,
    pub max_parallel: Option<S<u32>>,
    pub catch_up: Option<S<bool>>,
    pub shutdown_grace: Option<S<String>>,
}

/// The schedule keys of `[defaults]` and of an app (serde's `flatten` would lose
/// their positions, so both tables list them and lend them out through this).
pub struct RawSchedules<'r> {
    pub schedule: &'r Option<S<String>>,
    pub every: &'r Option<S<String>>,
    pub verify_schedule: &'r Option<S<String>>,
    pub prune_schedule: &'r Option<S<String>>,
}

macro_rules! schedules_of {
    ($t:ty) => {
        impl $t {
            pub fn schedules(&self) -> RawSchedules<'_> {
                RawSchedules {
                    schedule: &self.schedule,
                    every: &self.every,
                    verify_schedule: &self.verify_schedule,
                    prune_schedule: &self.prune_schedule,
                }
            }
        }
    };
}
schedules_of!(RawDefaults);
schedules_of!(RawApp);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRepository {
    pub url: S<String>,
    pub password_env: Option<S<String>>,
    pub password_file: Option<S<String>>,
    #[serde(default)]
    pub options: BTreeMap<String, S<String>>,
    /// Backend options whose values come from environment variables (option name ->
    /// variable name): how credentials reach a backend.
    #[serde(default)]
    pub options_env: BTreeMap<String, S<String>>,
    /// Backend options whose values are read from files (option name -> path).
    #[serde(default)]
    pub options_file: BTreeMap<String, S<String>>,
    pub lock_wait: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCopyTo {
    pub name: S<String>,
    pub url: S<String>,
    pub password_env: Option<S<String>>,
    pub password_file: Option<S<String>>,
    #[serde(default)]
    pub options: BTreeMap<String, S<String>>,
    #[serde(default)]
    pub options_env: BTreeMap<String, S<String>>,
    #[serde(default)]
    pub options_file: BTreeMap<String, S<String>>,
    pub lock_wait: Option<S<String>>,
    pub retention: Option<S<RawRetention>>,
}

/// The keys `[repository]` and `[[copy_to]]` share: how to reach a repository.
pub struct RawRepoFields<'r> {
    pub url: &'r S<String>,
    pub password_env: &'r Option<S<String>>,
    pub password_file: &'r Option<S<String>>,
    pub options: &'r BTreeMap<String, S<String>>,
    pub options_env: &'r BTreeMap<String, S<String>>,
    pub options_file: &'r BTreeMap<String, S<String>>,
    pub lock_wait: &'r Option<S<String>>,
}

macro_rules! repo_fields_of {
    ($t:ty) => {
        impl $t {
            pub fn fields(&self) -> RawRepoFields<'_> {
                RawRepoFields {
                    url: &self.url,
                    password_env: &self.password_env,
                    password_file: &self.password_file,
                    options: &self.options,
                    options_env: &self.options_env,
                    options_file: &self.options_file,
                    lock_wait: &self.lock_wait,
                }
            }
        }
    };
}
repo_fields_of!(RawRepository);
repo_fields_of!(RawCopyTo);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    pub schedule: Option<S<String>>,
    pub every: Option<S<String>>,
    pub verify_schedule: Option<S<String>>,
    pub prune_schedule: Option<S<String>>,
    pub retention: Option<S<RawRetention>>,
    pub timezone: Option<S<String>>,
    pub hook_timeout: Option<S<String>>,
    pub max_parallel: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub strategy: S<String>,
    pub keep: Option<S<u32>>,
    pub daily: Option<S<u32>>,
    pub weekly: Option<S<u32>>,
    pub monthly: Option<S<u32>>,
    pub keep_last: Option<S<u32>>,
    pub keep_hourly: Option<S<u32>>,
    pub keep_daily: Option<S<u32>>,
    pub keep_weekly: Option<S<u32>>,
    pub keep_monthly: Option<S<u32>>,
    pub keep_yearly: Option<S<u32>>,
    pub keep_within: Option<S<String>>,
    /// How long `pre-restore` safety backups stay (default `"30d"`).
    pub keep_pre_restore: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    pub name: S<String>,
    #[serde(default)]
    pub before_backup: Vec<String>,
    #[serde(default)]
    pub after_backup: Vec<String>,
    #[serde(default)]
    pub before_restore: Vec<String>,
    #[serde(default)]
    pub after_restore: Vec<String>,
    pub hook_timeout: Option<S<String>>,
    pub max_parallel: Option<S<u32>>,
    pub schedule: Option<S<String>>,
    pub every: Option<S<String>>,
    pub verify_schedule: Option<S<String>>,
    pub prune_schedule: Option<S<String>>,
    pub retention: Option<S<RawRetention>>,
    #[serde(default)]
    pub source: Vec<S<RawSource>>,
}

/// Every key any kind accepts; validation checks which belong to the chosen kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub name: S<String>,
    pub kind: S<String>,
    #[serde(default)]
    pub restore_after: Vec<S<String>>,
    pub schedule: Option<S<String>>,
    pub retention: Option<S<RawRetention>>,
    pub verify_sql: Option<S<Vec<String>>>,
    pub url: Option<S<String>>,
    pub password_env: Option<S<String>>,
    pub password_file: Option<S<String>>,
    pub globals: Option<S<bool>>,
    pub databases: Option<S<toml::Value>>,
    pub jobs: Option<S<u32>>,
    pub no_owner: Option<S<bool>>,
    pub lock_timeout: Option<S<u32>>,
    pub path: Option<S<String>>,
    pub exclude: Option<S<Vec<String>>>,
    pub restore_mode: Option<S<String>>,
    pub data_dir: Option<S<String>>,
    pub flush: Option<S<bool>>,
    pub backup_command: Option<S<String>>,
    pub restore_command: Option<S<String>>,
    pub filename: Option<S<String>>,
    pub endpoint: Option<S<String>>,
    pub region: Option<S<String>>,
    pub access_key_env: Option<S<String>>,
    pub secret_key_env: Option<S<String>>,
}

/// Every key either kind accepts; validation checks which belong to the chosen kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub kind: S<String>,
    pub url: Option<S<String>>,
    pub url_env: Option<S<String>>,
    pub url_file: Option<S<String>>,
    pub format: Option<S<String>>,
    pub on: Option<S<Vec<S<String>>>>,
    pub environment: Option<S<String>>,
    pub app: Option<S<String>>,
}
