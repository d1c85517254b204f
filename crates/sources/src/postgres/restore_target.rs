//! Restoring a `postgres` backup: each database made ready as the archive's DATABASE
//! entry says, globals first, then pg_restore (in parallel from a spooled file, or
//! streamed), lock waits bounded by `lock_timeout`.

use super::adapter::{default_jobs, DEFAULT_LOCK_TIMEOUT};
use super::{cluster, prepare_target, start_restore, DatabaseSpec, PgTarget, TargetState};
use crate::payload::{self, feed};
use lifeboat_core::ports::{RestoreTarget, SnapshotReader, SnapshotRef};
use lifeboat_core::{CancelToken, Context, Error, PostgresSettings, RestoreOptions, SourceKind};

pub struct PgRestoreTarget {
    pub target: PgTarget,
    pub settings: PostgresSettings,
}

impl RestoreTarget for PgRestoreTarget {
    fn describe(&self) -> String {
        self.target.url()
    }

    fn holds_data(&self) -> Result<bool, Error> {
        let target = &self.target;
        if self.settings.all_databases {
            for db in cluster::list_databases(target)? {
                if prepare_target(&target.with_db(&db))? == TargetState::HoldsData {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        Ok(prepare_target(target)? == TargetState::HoldsData)
    }

    fn plan(&self, snapshot: &str, opts: &RestoreOptions) -> Vec<String> {
        plan(&self.target, &self.settings, snapshot, opts.delete)
    }

    fn safety_kind(&self) -> SourceKind {
        SourceKind::Postgres(PostgresSettings {
            url: self.target.url(),
            ..self.settings.clone()
        })
    }

    fn restore(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        opts: &RestoreOptions,
        _cancel: &CancelToken,
    ) -> Result<(), Error> {
        restore(reader, snap, &self.target, &self.settings, opts.delete)
    }
}

/// The steps of a postgres restore: how each database is made ready, then pg_restore.
fn plan(t: &PgTarget, settings: &PostgresSettings, snapshot: &str, clean: bool) -> Vec<String> {
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
fn restore(
    reader: &dyn SnapshotReader,
    snap: SnapshotRef<'_>,
    target: &PgTarget,
    settings: &PostgresSettings,
    clean: bool,
) -> Result<(), Error> {
    let manifest = reader.manifest(snap.id)?;
    let (globals, dumps): (Vec<String>, Vec<String>) = manifest
        .files
        .iter()
        .cloned()
        .partition(|f| f == cluster::GLOBALS_FILE);
    if !globals.is_empty() {
        let mut restore = cluster::start_globals_restore(&target.with_db("postgres"))?;
        let input = restore.input()?;
        feed(reader, snap, &globals, input, || restore.finish()).context("globals")?;
    }
    if dumps.len() > 1 && !settings.all_databases {
        return Err(Error::source(
            "the backup holds several databases; restore it with `databases = \"all\"`",
        ));
    }
    for file in &dumps {
        let db_target = if settings.all_databases {
            target.with_db(file.strip_suffix(".pgdump").unwrap_or(file))
        } else {
            target.clone()
        };
        restore_database(reader, snap, file, &db_target, settings, clean)
            .context(db_target.dbname.clone())?;
    }
    Ok(())
}

/// One database: made ready as the archive's DATABASE entry says, restored, then given
/// the archive's database properties when it was created here. With several jobs the
/// dump is spooled to a temp file first (pg_restore --jobs needs to seek), otherwise it
/// streams straight from the repository.
fn restore_database(
    reader: &dyn SnapshotReader,
    snap: SnapshotRef<'_>,
    file: &str,
    target: &PgTarget,
    settings: &PostgresSettings,
    clean: bool,
) -> Result<(), Error> {
    let jobs = settings.jobs.unwrap_or_else(default_jobs);
    let lock_timeout = settings.lock_timeout.unwrap_or(DEFAULT_LOCK_TIMEOUT);
    let no_owner = settings.no_owner;
    let spec = if jobs > 1 {
        let dir = payload::temp_dir("restore")?;
        let spool = dir.path().join(file);
        payload::spool(reader, snap, file, &spool)?;
        let mut head = std::fs::File::open(&spool).context("reading the spooled dump")?;
        let spec = DatabaseSpec::read(&mut head)?;
        let created = super::ready_database(target, &spec, clean)?;
        super::restore_spooled(target, &spool, jobs, no_owner, lock_timeout)?;
        created.then_some(spec)
    } else {
        let spec = archive_spec(reader, snap, file)?;
        let created = super::ready_database(target, &spec, clean)?;
        let mut restore = start_restore(target, no_owner)?;
        let input = restore.input()?;
        let watch = super::LockWatch::start(target, lock_timeout);
        feed(reader, snap, &[file.to_string()], input, || {
            watch.judge(restore.finish())
        })?;
        created.then_some(spec)
    };
    match spec {
        Some(spec) => Ok(super::apply_database_settings(target, &spec, no_owner)?),
        None => Ok(()),
    }
}

/// What the archive `file` says of its database, from its table of contents (the
/// stream stops being read once that is complete).
fn archive_spec(
    reader: &dyn SnapshotReader,
    snap: SnapshotRef<'_>,
    file: &str,
) -> Result<DatabaseSpec, Error> {
    let mut sink = super::HeadSink::default();
    let read = reader.dump(snap, file, &mut sink);
    if let (false, Err(e)) = (sink.complete(), read) {
        return Err(e.context("reading the backup"));
    }
    Ok(sink.finish()?)
}
