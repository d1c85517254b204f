//! The validated configuration: repository, apps and their sources, as the engine uses them.

use crate::schedule::Schedule;
use crate::secret::Secret;
use serde::Serialize;
use std::path::PathBuf;

/// The whole validated configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub repository: RepositorySpec,
    pub apps: Vec<AppSpec>,
    /// `[defaults] timezone` (IANA name, validated): the days, weeks and months of
    /// retention (and of schedules). Default `UTC`.
    pub timezone: String,
    /// `[daemon]`: how `lifeboat daemon` runs the schedules.
    pub daemon: DaemonSpec,
    /// `[[notify]]`: webhooks and dead-man's switches told about runs.
    pub notify: Vec<crate::notify::NotifySpec>,
    /// `[[copy_to]]`: offsite repositories that receive every new backup.
    pub copy_to: Vec<CopySpec>,
}

/// `[[copy_to]]`: a repository that receives a copy of every new backup (3-2-1).
#[derive(Debug, Clone, Serialize)]
pub struct CopySpec {
    /// `name`: what `--to` and `--from` call it.
    pub name: String,
    pub repository: RepositorySpec,
    /// `retention`: applied to every source's copies; `None` applies each source's own.
    #[serde(skip)]
    pub retention: Option<crate::Retention>,
}

/// `[daemon]`.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonSpec {
    /// `listen`: the HTTP address (`--listen` overrides it).
    pub listen: Option<String>,
    /// `token_env`: the variable holding the bearer token for `/api/*` and `/metrics`.
    pub token_env: Option<String>,
    /// `max_parallel`: app runs at the same time (default 2).
    pub max_parallel: usize,
    /// `catch_up`: at start, run a backup missed while the daemon was down (default true).
    pub catch_up: bool,
    /// `shutdown_grace`: how long running dumps may go on after SIGTERM (default 30 s).
    pub shutdown_grace_secs: u64,
}

impl Default for DaemonSpec {
    fn default() -> Self {
        Self {
            listen: None,
            token_env: None,
            max_parallel: 2,
            catch_up: true,
            shutdown_grace_secs: 30,
        }
    }
}

/// When an app's work runs under the daemon: its own keys, else `[defaults]`'s.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Schedules {
    /// `schedule` (cron) or `every`: backups.
    pub backup: Option<Schedule>,
    /// `verify_schedule`: verification of each source's latest backup.
    pub verify: Option<Schedule>,
    /// `prune_schedule`: retention and space reclaim; none means after each backup.
    pub prune: Option<Schedule>,
}

/// Where backups live and how to open it.
#[derive(Debug, Clone, Serialize)]
pub struct RepositorySpec {
    /// As written by the user (local path, `s3://…`, `sftp://…`).
    pub url: String,
    pub password: Secret<String>,
    /// Backend options (endpoint, region, …). Those named in [`SECRET_OPTIONS`] come
    /// from `options_env`/`options_file` (the file may not hold them) and are masked.
    pub options: Vec<(String, Secret<String>)>,
    /// How long to wait for a conflicting lock (another host's prune, a restic check)
    /// before failing; `lock_wait`, default 5 minutes.
    pub lock_wait_secs: u64,
}

/// Backend options that hold a credential: never written in the configuration
/// itself, always masked in output.
pub const SECRET_OPTIONS: &[&str] = &[
    "secret_access_key",
    "access_key_id",
    "password",
    "session_token",
];

/// The values of `options` that are credentials.
fn secret_options(options: &[(String, Secret<String>)]) -> impl Iterator<Item = String> + '_ {
    options
        .iter()
        .filter(|(k, _)| SECRET_OPTIONS.contains(&k.as_str()))
        .map(|(_, v)| v.expose().clone())
}

/// Default of an app's `max_parallel`: sources dumped at the same time.
pub const DEFAULT_MAX_PARALLEL_SOURCES: usize = 2;

/// Default of `[repository] lock_wait`.
pub const DEFAULT_LOCK_WAIT_SECS: u64 = 300;

/// One application whose state is backed up together.
#[derive(Debug, Clone, Serialize)]
pub struct AppSpec {
    pub name: String,
    pub before_backup: Vec<String>,
    pub after_backup: Vec<String>,
    pub before_restore: Vec<String>,
    pub after_restore: Vec<String>,
    /// `hook_timeout`: how long one hook command may run (default 5 minutes).
    pub hook_timeout_secs: u64,
    /// `max_parallel`: sources of this app dumped at the same time (default 2).
    pub max_parallel: usize,
    pub schedules: Schedules,
    pub sources: Vec<SourceSpec>,
    /// The app's part of the configuration file as TOML (secrets only as `*_env`/`*_file`
    /// references, paths absolute), stored in the manifest of every backup so that
    /// `lifeboat recover` can write a configuration on a new host.
    #[serde(skip)]
    pub stored_config: Option<String>,
}

/// One stateful part of an app.
#[derive(Debug, Clone, Serialize)]
pub struct SourceSpec {
    pub name: String,
    pub restore_after: Vec<String>,
    /// Statements that must each return true on a verification restore.
    pub verify_sql: Vec<String>,
    pub kind: SourceKind,
    /// Which backups to keep: the source's `retention`, else its app's, else
    /// `[defaults]`'s; none keeps every backup.
    #[serde(skip)]
    pub retention: Option<crate::Retention>,
    /// The source's own backup `schedule`: it then runs apart from its app's.
    pub schedule: Option<Schedule>,
}

/// The kind of a source with the settings of that kind.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SourceKind {
    Postgres(PostgresSettings),
    Files(FilesSettings),
    Command(CommandSettings),
    Sqlite(SqliteSettings),
    Mysql(MysqlSettings),
    Redis(RedisSettings),
    Bucket(BucketSettings),
}

impl SourceKind {
    /// The secrets of this kind's settings.
    pub fn secrets(&self) -> Vec<&Secret<String>> {
        let held = match self {
            SourceKind::Postgres(p) => vec![&p.password],
            SourceKind::Mysql(m) => vec![&m.password],
            SourceKind::Redis(r) => vec![&r.password],
            SourceKind::Bucket(b) => vec![&b.access_key, &b.secret_key],
            SourceKind::Files(_) | SourceKind::Command(_) | SourceKind::Sqlite(_) => Vec::new(),
        };
        held.into_iter().flatten().collect()
    }

    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Postgres(_) => "postgres",
            SourceKind::Files(_) => "files",
            SourceKind::Command(_) => "command",
            SourceKind::Sqlite(_) => "sqlite",
            SourceKind::Mysql(_) => "mysql",
            SourceKind::Redis(_) => "redis",
            SourceKind::Bucket(_) => "bucket",
        }
    }
}

/// `kind = "postgres"`.
#[derive(Debug, Clone, Serialize)]
pub struct PostgresSettings {
    /// `postgres://USER@HOST:PORT/DB`, never with a password in it.
    pub url: String,
    pub password: Option<Secret<String>>,
    pub no_owner: bool,
    pub jobs: Option<u32>,
    /// Also `pg_dumpall --globals-only` (roles, tablespaces), restored first.
    pub globals: bool,
    /// Every non-template database of the server, plus globals.
    pub all_databases: bool,
    /// Seconds a restore waits for each lock before it fails naming the holder
    /// (`None`: the default; 0: forever).
    pub lock_timeout: Option<u32>,
}

/// `kind = "files"`.
#[derive(Debug, Clone, Serialize)]
pub struct FilesSettings {
    pub path: PathBuf,
    /// gitignore-style globs, relative to `path`.
    pub exclude: Vec<String>,
}

/// `kind = "command"`.
#[derive(Debug, Clone, Serialize)]
pub struct CommandSettings {
    /// Run with `sh -c`; its stdout is the backup.
    pub backup_command: String,
    /// Run with `sh -c`, fed the backup on stdin.
    pub restore_command: Option<String>,
    /// File name of the output in the snapshot.
    pub filename: String,
}

/// `kind = "sqlite"`.
#[derive(Debug, Clone, Serialize)]
pub struct SqliteSettings {
    /// The database file.
    pub path: PathBuf,
}

/// `kind = "mysql"` (MySQL and MariaDB).
#[derive(Debug, Clone, Serialize)]
pub struct MysqlSettings {
    /// `mysql://USER@HOST:PORT/DB` (the database may be left out with `databases`).
    pub url: String,
    pub password: Option<Secret<String>>,
    pub databases: MysqlDatabases,
}

/// Which databases a `mysql` source dumps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MysqlDatabases {
    /// The one named in the url.
    Url,
    List(Vec<String>),
    All,
}

/// `kind = "redis"`.
#[derive(Debug, Clone, Serialize)]
pub struct RedisSettings {
    /// `redis://[USER@]HOST:PORT`.
    pub url: String,
    pub password: Option<Secret<String>>,
    pub restore_mode: RedisRestoreMode,
    /// Offline restores write `dump.rdb` here.
    pub data_dir: Option<PathBuf>,
    /// Online restores: empty the target first (it ends equal to the backup) or merge.
    pub flush: bool,
}

/// How a `redis` source is restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisRestoreMode {
    /// Into a running server, key by key, without restarting it.
    Online,
    /// `dump.rdb` into the data dir of a stopped server.
    Offline,
}

/// `kind = "bucket"`: every object under a prefix of an S3-compatible bucket.
#[derive(Debug, Clone, Serialize)]
pub struct BucketSettings {
    /// `s3://BUCKET/PREFIX`.
    pub url: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key: Option<Secret<String>>,
    pub secret_key: Option<Secret<String>>,
}

impl Config {
    /// Every secret value the configuration holds (passwords, keys, backend options,
    /// notification URLs): what must never reach a log, a payload or a hook.
    pub fn secret_values(&self) -> Vec<String> {
        let repo = &self.repository;
        let mut secrets = vec![repo.password.expose().clone()];
        secrets.extend(secret_options(&repo.options));
        for source in self.apps.iter().flat_map(|a| &a.sources) {
            secrets.extend(
                source
                    .kind
                    .secrets()
                    .into_iter()
                    .map(|s| s.expose().clone()),
            );
        }
        secrets.extend(self.notify.iter().map(|n| n.url().expose().clone()));
        for copy in &self.copy_to {
            let repo = &copy.repository;
            secrets.push(repo.password.expose().clone());
            secrets.extend(secret_options(&repo.options));
        }
        secrets.retain(|s| !s.is_empty());
        secrets
    }

    /// The `[[copy_to]]` repository called `name`.
    pub fn copy(&self, name: &str) -> Option<&CopySpec> {
        self.copy_to.iter().find(|c| c.name == name)
    }

    pub fn app(&self, name: &str) -> Option<&AppSpec> {
        self.apps.iter().find(|a| a.name == name)
    }

    /// The configured time zone (validated when the config was loaded; UTC otherwise).
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.timezone).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

impl AppSpec {
    pub fn source(&self, name: &str) -> Option<&SourceSpec> {
        self.sources.iter().find(|s| s.name == name)
    }
}
