//! Restoring one source: pick the backup, check the target, refuse to overwrite data
//! without `--force`, take a safety backup of the target first, then restore.

use crate::backup::{backup_source, Purpose};
use crate::select::pick_of_kind;
use crate::EngineError;
use lifeboat_core::layout::payload_root;
use lifeboat_core::{
    AppSpec, BucketSettings, FilesSettings, MysqlDatabases, MysqlSettings, PostgresSettings,
    RedisRestoreMode, RedisSettings, SourceKind, SourceSpec,
};
use lifeboat_repo::{Repo, RepoReader, TreeRestoreOptions};
use lifeboat_sources::bucket::{self, BucketTarget};
use lifeboat_sources::mysql::{self, MysqlTarget};
use lifeboat_sources::postgres::{
    self as pg, cluster, prepare_target, start_restore, DatabaseSpec, PgTarget, TargetState,
};
use lifeboat_sources::redis::{self, RedisTarget};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// `latest` or a snapshot id (prefix).
    pub snapshot: String,
    /// Another target than the source's own (`--to`).
    pub to: Option<String>,
    pub force: bool,
    pub no_safety_backup: bool,
    /// files: remove what the backup does not have (`--delete`, `--clean`), except
    /// what the source's excludes match.
    pub delete: bool,
    /// files: with `delete`, remove excluded paths too (`--delete-excluded`).
    pub delete_excluded: bool,
    /// Only say what would happen.
    pub plan_only: bool,
}

/// What a restore did (or, with `plan_only`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub app: String,
    pub source: String,
    pub snapshot: String,
    pub snapshot_time: String,
    pub target: String,
    pub target_holds_data: bool,
    pub safety_snapshot: Option<String>,
    pub steps: Vec<String>,
    pub done: bool,
}

/// Restores `app/source` per `opts`. `run_id` and `now` label the safety backup.
pub fn restore_source(
    repo: &mut Repo,
    app: &AppSpec,
    source: &SourceSpec,
    opts: &RestoreOptions,
    run_id: &str,
    now: &jiff::Zoned,
) -> Result<RestoreReport, EngineError> {
    let spec = format!("{}/{}", app.name, source.name);
    let snapshots = repo.list()?;
    let chosen = pick_of_kind(
        &snapshots,
        &app.name,
        &source.name,
        source.kind.name(),
        &opts.snapshot,
    )?
    .clone();
    let target =
        Target::resolve(source, opts.to.as_deref()).map_err(|m| EngineError::failed(&spec, m))?;
    let holds_data = target
        .holds_data()
        .map_err(|m| EngineError::failed(&spec, m))?;
    let mut report = RestoreReport {
        app: app.name.clone(),
        source: source.name.clone(),
        snapshot: chosen.id.clone(),
        snapshot_time: chosen.display_time(),
        target: target.describe(),
        target_holds_data: holds_data,
        safety_snapshot: None,
        steps: Vec::new(),
        done: false,
    };
    let safety = holds_data && !opts.no_safety_backup;
    report.steps = target.plan(chosen.short_id(), holds_data, safety, opts);
    if let Target::Files { dir, settings } = &target {
        if opts.force || !holds_data {
            let root = payload_root(&app.name, &source.name);
            let removals = repo
                .reader()?
                .plan_tree(&chosen.id, &root, dir, &tree_options(settings, opts))
                .map_err(|e| EngineError::failed(&spec, e.to_string()))?;
            report
                .steps
                .extend(removals.iter().filter_map(|r| r.describe(dir)));
        }
    }
    if opts.plan_only {
        return Ok(report);
    }
    if holds_data && !opts.force {
        return Err(EngineError::failed(
            &spec,
            format!("{} holds data; restoring would overwrite it. Re-run with --force (a safety backup is taken first)", report.target),
        ));
    }
    if safety {
        let safety_source = SourceSpec {
            kind: target.as_kind(source),
            ..source.clone()
        };
        let stored = backup_source(repo, app, &safety_source, run_id, now, Purpose::PreRestore)
            .map_err(|e| {
                EngineError::failed(
                    &spec,
                    format!(
                        "safety backup of {} failed, nothing was changed: {e}",
                        report.target
                    ),
                )
            })?;
        report.safety_snapshot = Some(stored.snapshot.id);
    }
    let reader = repo.reader()?;
    // From here an interruption leaves the target changed: the signal handler says so.
    let _in_progress = lifeboat_sources::interrupt::in_progress(partial_state(&report));
    target
        .restore(
            &reader,
            &chosen.id,
            &payload_root(&app.name, &source.name),
            opts,
        )
        .map_err(|m| EngineError::failed(&spec, restore_failure(&report, &m)))?;
    report.done = true;
    Ok(report)
}

fn restore_failure(report: &RestoreReport, message: &str) -> String {
    format!("restore failed: {message}; {}", partial_state(report))
}

/// What a restore cut short leaves: "TARGET may be partly restored; …".
fn partial_state(report: &RestoreReport) -> String {
    match &report.safety_snapshot {
        Some(id) => format!(
            "{} may be partly restored; its previous state is in safety backup {}",
            report.target,
            &id[..8.min(id.len())]
        ),
        None if report.target_holds_data => format!("{} may be partly restored", report.target),
        None => format!("{} may hold a partial restore", report.target),
    }
}

/// Where a restore writes.
enum Target {
    Postgres {
        target: PgTarget,
        settings: PostgresSettings,
    },
    Files {
        dir: PathBuf,
        settings: FilesSettings,
    },
    /// A shell command fed the stream; what it writes to is beyond lifeboat's sight.
    Command {
        command: String,
    },
    Sqlite {
        path: PathBuf,
    },
    Mysql {
        target: MysqlTarget,
        settings: MysqlSettings,
    },
    RedisOnline {
        target: RedisTarget,
        settings: RedisSettings,
    },
    RedisOffline {
        dir: PathBuf,
    },
    Bucket {
        target: BucketTarget,
        settings: BucketSettings,
    },
}

impl Target {
    fn resolve(source: &SourceSpec, to: Option<&str>) -> Result<Target, String> {
        match &source.kind {
            SourceKind::Postgres(pg) => {
                let url = to.unwrap_or(&pg.url);
                let target =
                    PgTarget::parse(url, pg.password.clone()).map_err(|e| e.to_string())?;
                Ok(Target::Postgres {
                    target,
                    settings: pg.clone(),
                })
            }
            SourceKind::Files(files) => {
                let dir = to.map_or_else(|| files.path.clone(), PathBuf::from);
                Ok(Target::Files {
                    dir,
                    settings: files.clone(),
                })
            }
            SourceKind::Mysql(my) => {
                let target = MysqlTarget::parse(to.unwrap_or(&my.url), my.password.clone())
                    .map_err(|e| e.to_string())?;
                let target = mysql_target(target, &my.databases, to.is_some())?;
                Ok(Target::Mysql {
                    target,
                    settings: my.clone(),
                })
            }
            SourceKind::Bucket(b) => {
                let target = crate::backup::bucket_target(b).map_err(|e| e.to_string())?;
                let target = match to {
                    Some(url) => target.with_url(url).map_err(|e| e.to_string())?,
                    None => target,
                };
                Ok(Target::Bucket {
                    target,
                    settings: b.clone(),
                })
            }
            SourceKind::Redis(rd) if rd.restore_mode == RedisRestoreMode::Offline => {
                let dir = to
                    .map(PathBuf::from)
                    .or_else(|| rd.data_dir.clone())
                    .ok_or("no data_dir configured; give one with --to DIR")?;
                Ok(Target::RedisOffline { dir })
            }
            SourceKind::Redis(rd) => {
                let target = RedisTarget::parse(to.unwrap_or(&rd.url), rd.password.clone())
                    .map_err(|e| e.to_string())?;
                Ok(Target::RedisOnline {
                    target,
                    settings: rd.clone(),
                })
            }
            SourceKind::Sqlite(db) => Ok(Target::Sqlite {
                path: to.map_or_else(|| db.path.clone(), PathBuf::from),
            }),
            SourceKind::Command(cmd) => {
                let command = to
                    .map(str::to_string)
                    .or_else(|| cmd.restore_command.clone())
                    .ok_or("no restore_command configured; give one with --to 'COMMAND'")?;
                Ok(Target::Command { command })
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Target::Postgres { target, .. } => target.url(),
            Target::Files { dir, .. } => dir.display().to_string(),
            Target::Command { command } => format!("`{command}`"),
            Target::Sqlite { path } => path.display().to_string(),
            Target::Mysql { target, settings } => match (&target.dbname, &settings.databases) {
                (None, MysqlDatabases::List(names)) => {
                    format!("{} (databases {})", target.url(), names.join(", "))
                }
                (None, _) => format!("{} (all databases)", target.url()),
                (Some(_), _) => target.url(),
            },
            Target::RedisOnline { target, .. } => target.url(),
            Target::RedisOffline { dir } => dir.join("dump.rdb").display().to_string(),
            Target::Bucket { target, .. } => target.url(),
        }
    }

    fn holds_data(&self) -> Result<bool, String> {
        match self {
            Target::Postgres { target, settings } if settings.all_databases => {
                let dbs = cluster::list_databases(target).map_err(|e| e.to_string())?;
                let states: Result<Vec<_>, _> = dbs
                    .iter()
                    .map(|db| prepare_target(&target.with_db(db)))
                    .collect();
                Ok(states
                    .map_err(|e| e.to_string())?
                    .contains(&TargetState::HoldsData))
            }
            Target::Postgres { target, .. } => prepare_target(target)
                .map(|s| s == TargetState::HoldsData)
                .map_err(|e| e.to_string()),
            Target::Files { dir, .. } => {
                lifeboat_sources::files::holds_data(dir).map_err(|e| e.to_string())
            }
            // Nothing to inspect: the command decides what it overwrites.
            Target::Command { .. } => Ok(false),
            Target::Sqlite { path } => Ok(lifeboat_sources::sqlite::holds_data(path)),
            Target::Mysql { target, settings } => mysql_holds_data(target, settings),
            Target::RedisOnline { target, .. } => redis::target_key_count(target)
                .map(|n| n > 0)
                .map_err(|e| e.to_string()),
            Target::RedisOffline { dir } => Ok(dir.join("dump.rdb").exists()),
            Target::Bucket { target, .. } => bucket::holds_data(target).map_err(|e| e.to_string()),
        }
    }

    /// The source kind that backs up this target (for the safety backup).
    fn as_kind(&self, source: &SourceSpec) -> SourceKind {
        match self {
            Target::Command { .. } => source.kind.clone(),
            Target::Sqlite { path } => {
                SourceKind::Sqlite(lifeboat_core::SqliteSettings { path: path.clone() })
            }
            // The database the restore writes to, whatever the source dumps.
            Target::Mysql { target, settings } => SourceKind::Mysql(MysqlSettings {
                url: target.url(),
                databases: match target.dbname {
                    Some(_) => MysqlDatabases::Url,
                    None => settings.databases.clone(),
                },
                ..settings.clone()
            }),
            Target::RedisOnline { target, settings } => SourceKind::Redis(RedisSettings {
                url: target.url(),
                ..settings.clone()
            }),
            Target::Bucket { target, settings } => SourceKind::Bucket(BucketSettings {
                url: target.url(),
                ..settings.clone()
            }),
            // A stopped server's data: keep its whole data dir as files.
            Target::RedisOffline { dir } => SourceKind::Files(FilesSettings {
                path: dir.clone(),
                exclude: Vec::new(),
            }),
            Target::Postgres { target, settings } => SourceKind::Postgres(PostgresSettings {
                url: target.url(),
                ..settings.clone()
            }),
            Target::Files { dir, settings } => SourceKind::Files(FilesSettings {
                path: dir.clone(),
                ..settings.clone()
            }),
        }
    }

    fn plan(
        &self,
        snapshot: &str,
        holds_data: bool,
        safety: bool,
        opts: &RestoreOptions,
    ) -> Vec<String> {
        let mut steps = Vec::new();
        let target = self.describe();
        if holds_data && !opts.force {
            steps.push(format!(
                "refuse: {target} holds data and --force was not given"
            ));
            return steps;
        }
        if safety {
            steps.push(format!("back up {target} as it is now (tag pre-restore)"));
        }
        match self {
            Target::Postgres {
                target: t,
                settings,
            } => steps.extend(postgres_plan(t, settings, snapshot, opts.delete)),
            Target::Files { .. } => {
                let delete = match (opts.delete, opts.delete_excluded) {
                    (true, false) => ", deleting files not in the backup (excluded paths are kept)",
                    (true, true) => ", deleting files not in the backup, excluded paths too",
                    (false, _) => "",
                };
                steps.push(format!("restore snapshot {snapshot} into {target}{delete}"));
            }
            Target::Command { .. } => {
                steps.push(format!("feed snapshot {snapshot} to {target} on stdin"))
            }
            Target::Sqlite { .. } => steps.push(format!(
                "write snapshot {snapshot} beside {target}, check integrity, rename over it"
            )),
            Target::Mysql {
                target: t,
                settings,
            } => {
                let what = match (&settings.databases, &t.dbname) {
                    (MysqlDatabases::List(names), Some(db)) if names.first() != Some(db) => {
                        format!(
                            "database {} of snapshot {snapshot} as {db}",
                            names.join(", ")
                        )
                    }
                    _ => format!("snapshot {snapshot}"),
                };
                steps.push(format!("load {what} into {target} with the mysql client (database created when missing)"))
            }
            Target::RedisOnline { settings, .. } => {
                let how = if settings.flush {
                    "FLUSHALL, then load"
                } else {
                    "merge:"
                };
                steps.push(format!("{how} snapshot {snapshot} into {target} key by key (DUMP/RESTORE), no restart, no config change"))
            }
            Target::RedisOffline { .. } => steps.push(format!(
                "write snapshot {snapshot} as {target} (atomic rename); the server must be stopped"
            )),
            Target::Bucket { .. } => {
                let clean = if opts.delete {
                    "delete every object under the prefix, then "
                } else {
                    ""
                };
                steps.push(format!("{clean}upload every object of snapshot {snapshot} to {target}, content types kept"))
            }
        }
        steps
    }

    fn restore(
        &self,
        reader: &RepoReader<'_>,
        id: &str,
        root: &str,
        opts: &RestoreOptions,
    ) -> Result<(), String> {
        match self {
            Target::Postgres { target, settings } => {
                restore_postgres(reader, id, root, target, settings, opts.delete)
            }
            Target::Files { dir, settings } => reader
                .restore_tree(id, root, dir, &tree_options(settings, opts))
                .map_err(|e| e.to_string()),
            Target::Command { command } => restore_command(reader, id, root, command),
            Target::Sqlite { path } => restore_sqlite(reader, id, root, path),
            Target::Mysql { target, settings } => restore_mysql(reader, id, root, target, settings),
            Target::RedisOnline { target, settings } => {
                restore_redis_online(reader, id, root, target, settings.flush)
            }
            Target::RedisOffline { dir } => restore_redis_offline(reader, id, root, dir),
            Target::Bucket { target, .. } => restore_bucket(reader, id, root, target, opts.delete),
        }
    }
}

/// How a files restore treats the target's extra entries: the source's excludes
/// protect paths from `--delete` unless `--delete-excluded`.
fn tree_options(settings: &FilesSettings, opts: &RestoreOptions) -> TreeRestoreOptions {
    TreeRestoreOptions {
        delete: opts.delete || opts.delete_excluded,
        delete_excluded: opts.delete_excluded,
        exclude: settings.exclude.clone(),
    }
}

/// Feeds payload files of the backup into a consumer's stdin, then waits for it: the
/// consumer's own error explains a broken pipe better than the pipe does.
pub(crate) fn feed(
    reader: &RepoReader<'_>,
    id: &str,
    root: &str,
    files: &[String],
    mut input: Box<dyn Write + Send>,
    finish: impl FnOnce() -> Result<(), lifeboat_sources::SourceError>,
) -> Result<(), String> {
    if files.is_empty() {
        return Err("the backup holds no dump file".into());
    }
    let fed = files
        .iter()
        .try_for_each(|f| reader.dump(id, root, f, &mut input));
    drop(input);
    finish().map_err(|e| e.to_string())?;
    fed.map_err(|e| format!("reading the backup: {e}"))
}

/// Where a mysql restore writes: the database in the url or `--to` for a one-database
/// source; for `databases = [one]` that database (or the one `--to` names, which it is
/// then loaded as); for several or all databases the server, and a `--to` naming one
/// database is refused: the dump would write to databases the user did not name.
fn mysql_target(
    target: MysqlTarget,
    databases: &MysqlDatabases,
    to_given: bool,
) -> Result<MysqlTarget, String> {
    match databases {
        MysqlDatabases::Url => Ok(target),
        MysqlDatabases::List(names) => match (names.as_slice(), &target.dbname) {
            ([_], Some(_)) if to_given => Ok(target),
            ([one], _) => Ok(target.with_db(one)),
            (_, Some(db)) if to_given => Err(several_databases(&target, db)),
            _ => Ok(target.without_db()),
        },
        MysqlDatabases::All => match &target.dbname {
            Some(db) if to_given => Err(several_databases(&target, db)),
            _ => Ok(target.without_db()),
        },
    }
}

fn several_databases(target: &MysqlTarget, db: &str) -> String {
    format!(
        "the backup holds several databases, which restore only under their own names; \
         refusing to load them into database {db}: give --to {} (without a database)",
        target.without_db().url()
    )
}

/// A database target holds data when it has tables; without one, when any of the
/// listed databases has (or, for all databases, any non-system database).
fn mysql_holds_data(target: &MysqlTarget, settings: &MysqlSettings) -> Result<bool, String> {
    let holds = |t: &MysqlTarget| {
        mysql::prepare_target(t)
            .map(|s| s == TargetState::HoldsData)
            .map_err(|e| e.to_string())
    };
    match (&target.dbname, &settings.databases) {
        (None, MysqlDatabases::List(names)) => {
            for name in names {
                if holds(&target.with_db(name))? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        _ => holds(target),
    }
}

fn restore_mysql(
    reader: &RepoReader<'_>,
    id: &str,
    root: &str,
    target: &MysqlTarget,
    settings: &MysqlSettings,
) -> Result<(), String> {
    let manifest = reader.manifest(id).map_err(|e| e.to_string())?;
    let (plan, rename) = mysql_load(&manifest, target, settings)?;
    let state = mysql::prepare_target(target).map_err(|e| e.to_string())?;
    let mut restore = mysql::start_restore(target, state, &plan).map_err(|e| e.to_string())?;
    let input = restore.input().map_err(|e| e.to_string())?;
    let (input, problem) = match &rename {
        Some((from, to)) => {
            let (input, problem) = mysql::renaming(input, from, to);
            (input, Some(problem))
        }
        None => (input, None),
    };
    let fed = feed(reader, id, root, &manifest.files, input, || {
        restore.finish()
    });
    let refused = problem.and_then(|p| p.lock().ok().and_then(|why| why.clone()));
    match refused {
        Some(why) => Err(why),
        None => fed,
    }
}

/// How the snapshot's dump loads into `target`'s database, and which database of the
/// dump is renamed to it (`from`, `to`). A dump of several databases into one
/// database is refused.
fn mysql_load(
    manifest: &lifeboat_core::Manifest,
    target: &MysqlTarget,
    settings: &MysqlSettings,
) -> Result<(mysql::LoadPlan, Option<(String, String)>), String> {
    let file = manifest
        .files
        .first()
        .ok_or("the backup holds no dump file")?;
    let like = |name: &str| {
        let recorded = &manifest.facts.mysql_databases;
        recorded.iter().find(|d| d.name == name).cloned()
    };
    let Some(db) = &target.dbname else {
        if file == "databases.sql" || file == "all-databases.sql" {
            return Ok((mysql::LoadPlan::default(), None));
        }
        return Err(format!(
            "the backup is a dump of one database ({file}); name the database to load it into: --to {}/DB",
            target.url()
        ));
    };
    if file == "all-databases.sql" {
        return Err(several_databases(target, db));
    }
    if file == "databases.sql" {
        let names = dumped_databases(manifest, settings);
        let [one] = names.as_slice() else {
            return Err(several_databases(target, db));
        };
        let plan = mysql::LoadPlan {
            create_like: like(one),
            dump_creates: true,
        };
        return Ok((plan, Some((one.clone(), db.clone()))));
    }
    // A one-database dump names its database only in `ALTER DATABASE` lines (around
    // routines created under another collation): those are renamed too.
    let from = MysqlTarget::parse(&manifest.origin, None)
        .ok()
        .and_then(|t| t.dbname)
        .or_else(|| file.strip_suffix(".sql").map(str::to_string))
        .unwrap_or_default();
    let plan = mysql::LoadPlan {
        create_like: like(&from),
        dump_creates: false,
    };
    let rename = (!from.is_empty() && from != *db).then(|| (from, db.clone()));
    Ok((plan, rename))
}

/// The databases a `databases.sql` dump holds: recorded in the manifest, or (older
/// manifests) the configured list, or the databases of its tables.
fn dumped_databases(manifest: &lifeboat_core::Manifest, settings: &MysqlSettings) -> Vec<String> {
    let recorded = &manifest.facts.mysql_databases;
    if !recorded.is_empty() {
        return recorded.iter().map(|d| d.name.clone()).collect();
    }
    if let MysqlDatabases::List(names) = &settings.databases {
        return names.clone();
    }
    let mut names: Vec<String> = manifest
        .facts
        .tables
        .iter()
        .filter_map(|t| t.table.split_once('.').map(|(d, _)| d.to_string()))
        .collect();
    names.dedup();
    names
}

/// The RDB of a backup in a temp file (a throwaway server loads it from disk).
pub(crate) fn spool_rdb(
    reader: &RepoReader<'_>,
    id: &str,
    root: &str,
) -> Result<tempfile::TempDir, String> {
    let manifest = reader.manifest(id).map_err(|e| e.to_string())?;
    let file = manifest
        .files
        .first()
        .ok_or("the backup holds no dump.rdb")?;
    let dir = tempfile::Builder::new()
        .prefix("lifeboat-rdb-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let mut out = std::fs::File::create(dir.path().join("dump.rdb")).map_err(|e| e.to_string())?;
    reader
        .dump(id, root, file, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(dir)
}

fn restore_redis_online(
    reader: &RepoReader<'_>,
    id: &str,
    root: &str,
    target: &RedisTarget,
    flush: bool,
) -> Result<(), String> {
    let dir = spool_rdb(reader, id, root)?;
    redis::restore_online(&dir.path().join("dump.rdb"), target, flush)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn restore_redis_offline(
    reader: &RepoReader<'_>,
    id: &str,
    root: &str,
    data_dir: &std::path::Path,
) -> Result<(), String> {
    let dir = spool_rdb(reader, id, root)?;
    let mut rdb = std::fs::File::open(dir.path().join("dump.rdb")).map_err(|e| e.to_string())?;
    redis::restore_offline(&mut rdb, data_dir).map_err(|e| e.to_string())
}

/// Uploads every object of the backup (streamed through a pipe, one at a time), after
/// emptying the prefix with `--clean`/`--delete`.
fn restore_bucket(
    reader: &RepoReader<'_>,
    id: &str,
    root: &str,
    target: &BucketTarget,
    clean: bool,
) -> Result<(), String> {
    let files = reader.manifest(id).map_err(|e| e.to_string())?.files;
    let mut listing = Vec::new();
    let read = if files.iter().any(|f| f == bucket::METADATA_PATH) {
        reader.dump_path(id, bucket::METADATA_PATH, &mut listing)
    } else {
        reader.dump(id, root, bucket::LEGACY_METADATA_NAME, &mut listing)
    };
    read.map_err(|e| e.to_string())?;
    let objects = bucket::parse_metadata(&listing).map_err(|e| e.to_string())?;
    if clean {
        bucket::delete_prefix(target).map_err(|e| e.to_string())?;
    }
    for object in &objects {
        let (mut rx, mut tx) = std::io::pipe().map_err(|e| e.to_string())?;
        let (target, info) = (target.clone(), object.clone());
        let upload = std::thread::spawn(move || {
            bucket::put_object(
                &target,
                &info.key,
                &mut rx,
                info.size,
                info.content_type.as_deref(),
            )
        });
        let fed = reader.dump(id, root, &object.key, &mut tx);
        drop(tx);
        let uploaded = upload
            .join()
            .map_err(|_| format!("{}: upload thread failed", object.key))?;
        // A read error explains an upload cut short; an upload error explains a broken pipe.
        match (fed, uploaded) {
            (Err(e), _) if !e.to_string().contains("Broken pipe") => {
                return Err(format!("{}: reading the backup: {e}", object.key))
            }
            (_, Err(e)) => return Err(format!("{}: {e}", object.key)),
            (Err(e), Ok(())) => return Err(format!("{}: reading the backup: {e}", object.key)),
            (Ok(()), Ok(())) => {}
        }
    }
    Ok(())
}

fn restore_sqlite(
    reader: &RepoReader<'_>,
    id: &str,
    root: &str,
    path: &std::path::Path,
) -> Result<(), String> {
    let manifest = reader.manifest(id).map_err(|e| e.to_string())?;
    let file = manifest
        .files
        .first()
        .ok_or("the backup holds no database file")?;
    lifeboat_sources::sqlite::restore_with(path, |out| {
        reader.dump(id, root, file, out).map_err(|e| e.to_string())
    })
    .map_err(|e| e.to_string())
}

fn restore_command(
    reader: &RepoReader<'_>,
    id: &str,
    root: &str,
    command: &str,
) -> Result<(), String> {
    let manifest = reader.manifest(id).map_err(|e| e.to_string())?;
    let mut restore =
        lifeboat_sources::command::start_restore(command).map_err(|e| e.to_string())?;
    let input = restore.input().map_err(|e| e.to_string())?;
    feed(reader, id, root, &manifest.files, input, || {
        restore.finish()
    })
}

/// Seconds a postgres restore waits for each lock when the source sets no
/// `lock_timeout`: long enough for a short transaction, short of looking hung.
pub(crate) const DEFAULT_LOCK_TIMEOUT: u32 = 60;

/// The steps of a postgres restore: how each database is made ready, then pg_restore.
fn postgres_plan(
    t: &PgTarget,
    settings: &PostgresSettings,
    snapshot: &str,
    clean: bool,
) -> Vec<String> {
    let props = if settings.no_owner {
        "encoding, locale, settings, comment; no owner or privileges (no_owner)"
    } else {
        "encoding, locale, owner, settings, comment, privileges"
    };
    let databases = if settings.all_databases {
        "each database of the backup".to_string()
    } else {
        format!("database {}", t.dbname)
    };
    let mut steps = Vec::new();
    let missing =
        !settings.all_databases && prepare_target(t).is_ok_and(|s| s == TargetState::Missing);
    if missing {
        steps.push(format!(
            "create {databases} as the backup's DATABASE entry says ({props})"
        ));
    } else if clean {
        steps.push(format!(
            "--clean: drop {databases} (ending its sessions) and create it empty as the backup's DATABASE entry says ({props}); objects not in the backup are gone"
        ));
    } else {
        steps.push(format!(
            "keep {databases} (created as the backup says when missing): objects of the backup are replaced, other objects and the database's own settings are kept (--clean empties it first)"
        ));
    }
    let owner = if settings.no_owner { " --no-owner" } else { "" };
    let jobs = settings.jobs.unwrap_or_else(default_jobs);
    let wait = match settings.lock_timeout.unwrap_or(DEFAULT_LOCK_TIMEOUT) {
        0 => "waiting for locks without limit".to_string(),
        n => format!("waiting at most {n} s for each lock (lock_timeout)"),
    };
    steps.push(format!(
        "pg_restore --clean --if-exists --exit-on-error --jobs {jobs}{owner} snapshot {snapshot} into {}, {wait}",
        t.url()
    ));
    steps
}

/// Restores globals first (when the backup has them), then every database dump: into
/// the target database, or with `all_databases` into databases of the same names on
/// the target server. With `clean` each database is dropped and created afresh.
fn restore_postgres(
    reader: &RepoReader<'_>,
    id: &str,
    root: &str,
    target: &PgTarget,
    settings: &PostgresSettings,
    clean: bool,
) -> Result<(), String> {
    let manifest = reader.manifest(id).map_err(|e| e.to_string())?;
    let (globals, dumps): (Vec<String>, Vec<String>) = manifest
        .files
        .iter()
        .cloned()
        .partition(|f| f == cluster::GLOBALS_FILE);
    if !globals.is_empty() {
        let mut restore = cluster::start_globals_restore(&target.with_db("postgres"))
            .map_err(|e| e.to_string())?;
        let input = restore.input().map_err(|e| e.to_string())?;
        feed(reader, id, root, &globals, input, || restore.finish())
            .map_err(|e| format!("globals: {e}"))?;
    }
    if dumps.len() > 1 && !settings.all_databases {
        return Err(
            "the backup holds several databases; restore it with `databases = \"all\"`".into(),
        );
    }
    for file in &dumps {
        let db_target = if settings.all_databases {
            target.with_db(file.strip_suffix(".pgdump").unwrap_or(file))
        } else {
            target.clone()
        };
        restore_database(reader, id, root, file, &db_target, settings, clean)
            .map_err(|e| format!("{}: {e}", db_target.dbname))?;
    }
    Ok(())
}

/// Parallel restore jobs when the source sets none: the machine's cores, at most 4.
pub(crate) fn default_jobs() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1).min(4))
}

/// One database: made ready as the archive's DATABASE entry says, restored, then given
/// the archive's database properties when it was created here. With several jobs the
/// dump is spooled to a temp file first (pg_restore --jobs needs to seek), otherwise it
/// streams straight from the repository.
fn restore_database(
    reader: &RepoReader<'_>,
    id: &str,
    root: &str,
    file: &str,
    target: &PgTarget,
    settings: &PostgresSettings,
    clean: bool,
) -> Result<(), String> {
    let jobs = settings.jobs.unwrap_or_else(default_jobs);
    let lock_timeout = settings.lock_timeout.unwrap_or(DEFAULT_LOCK_TIMEOUT);
    let no_owner = settings.no_owner;
    let spec = if jobs > 1 {
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-restore-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let spool = dir.path().join(file);
        let mut out = std::fs::File::create(&spool)
            .map_err(|e| format!("spooling to {}: {e}", spool.display()))?;
        reader
            .dump(id, root, file, &mut out)
            .map_err(|e| format!("spooling to {}: {e}", spool.display()))?;
        drop(out);
        let mut head = std::fs::File::open(&spool).map_err(|e| e.to_string())?;
        let spec = DatabaseSpec::read(&mut head).map_err(|e| e.to_string())?;
        let created = pg::ready_database(target, &spec, clean).map_err(|e| e.to_string())?;
        pg::restore_spooled(target, &spool, jobs, no_owner, lock_timeout)
            .map_err(|e| e.to_string())?;
        created.then_some(spec)
    } else {
        let spec = archive_spec(reader, id, root, file)?;
        let created = pg::ready_database(target, &spec, clean).map_err(|e| e.to_string())?;
        let mut restore = start_restore(target, no_owner).map_err(|e| e.to_string())?;
        let input = restore.input().map_err(|e| e.to_string())?;
        let watch = pg::LockWatch::start(target, lock_timeout);
        feed(reader, id, root, &[file.to_string()], input, || {
            watch.judge(restore.finish())
        })?;
        created.then_some(spec)
    };
    match spec {
        Some(spec) => {
            pg::apply_database_settings(target, &spec, no_owner).map_err(|e| e.to_string())
        }
        None => Ok(()),
    }
}

/// What the archive `file` says of its database, from its table of contents (the
/// stream stops being read once that is complete).
fn archive_spec(
    reader: &RepoReader<'_>,
    id: &str,
    root: &str,
    file: &str,
) -> Result<DatabaseSpec, String> {
    let mut sink = pg::HeadSink::default();
    let read = reader.dump(id, root, file, &mut sink);
    if let (false, Err(e)) = (sink.complete(), read) {
        return Err(format!("reading the backup: {e}"));
    }
    sink.finish().map_err(|e| e.to_string())
}
