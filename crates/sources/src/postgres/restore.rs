//! Restoring a custom-format dump with `pg_restore --clean --if-exists` into a database
//! made ready first: created as the archive's DATABASE entry says when missing (or
//! dropped and recreated so with `clean`), its properties applied afterwards.

use super::backup::server_major;
use super::conn::{describe, quote_ident, PgTarget};
use super::database::DatabaseSpec;
use super::tools::find_tool;
use crate::process::{Feeder, Pipes, Running};
use crate::SourceError;
use std::io::Write;
use std::process::Command;

/// What a restore would overwrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Missing,
    Empty,
    HoldsData,
}

/// Relations a user put there: anything outside the system schemas.
const USER_RELATIONS_SQL: &str = "SELECT count(*) FROM pg_class c \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
    AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'";

/// A connection to another database of the target's server than the target itself
/// (which may be dropped): `postgres`, else `template1`.
fn maintenance(target: &PgTarget) -> Result<postgres::Client, SourceError> {
    let (first, second) = if target.dbname == "postgres" {
        ("template1", "postgres")
    } else {
        ("postgres", "template1")
    };
    target
        .with_db(first)
        .connect()
        .or_else(|_| target.with_db(second).connect())
}

/// Finds out whether the target database exists and holds data.
pub fn prepare_target(target: &PgTarget) -> Result<TargetState, SourceError> {
    if target_encoding(target)?.is_none() {
        return Ok(TargetState::Missing);
    }
    let mut client = target.connect()?;
    let n: i64 = client
        .query_one(USER_RELATIONS_SQL, &[])
        .map_err(|e| SourceError::Query(describe(&e)))?
        .get(0);
    Ok(if n > 0 {
        TargetState::HoldsData
    } else {
        TargetState::Empty
    })
}

/// The target database's encoding, `None` when it does not exist.
fn target_encoding(target: &PgTarget) -> Result<Option<String>, SourceError> {
    maintenance(target)?
        .query_opt(
            "SELECT pg_encoding_to_char(encoding)::text FROM pg_database WHERE datname = $1",
            &[&target.dbname],
        )
        .map(|row| row.map(|r| r.get(0)))
        .map_err(|e| SourceError::Query(describe(&e)))
}

/// Creates database `target.dbname` with the server's defaults (a scratch database
/// whose archive says nothing about it).
pub(crate) fn create_database(target: &PgTarget) -> Result<(), SourceError> {
    run_admin(
        target,
        &format!("CREATE DATABASE {}", quote_ident(&target.dbname)),
        "creating",
    )
}

fn run_admin(target: &PgTarget, sql: &str, doing: &str) -> Result<(), SourceError> {
    maintenance(target)?.batch_execute(sql).map_err(|e| {
        SourceError::Query(format!(
            "{doing} database {}: {}",
            target.dbname,
            describe(&e)
        ))
    })
}

/// Creates `target.dbname` as the archive's DATABASE entry says (encoding, locale,
/// template0), under the target's name.
pub fn create_as_archived(target: &PgTarget, spec: &DatabaseSpec) -> Result<(), SourceError> {
    run_admin(target, &spec.create_sql(&target.dbname), "creating")
}

/// Drops `target.dbname`, ending its sessions first (they would block the drop).
fn drop_database(target: &PgTarget) -> Result<(), SourceError> {
    let mut admin = maintenance(target)?;
    let (major, _) = server_major(&mut admin)?;
    let name = quote_ident(&target.dbname);
    let sql = if major >= 13 {
        format!("DROP DATABASE {name} WITH (FORCE)")
    } else {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&target.dbname],
            )
            .map_err(|e| SourceError::Query(describe(&e)))?;
        format!("DROP DATABASE {name}")
    };
    admin.batch_execute(&sql).map_err(|e| {
        SourceError::Query(format!(
            "dropping database {}: {}",
            target.dbname,
            describe(&e)
        ))
    })
}

/// Makes the target database ready for pg_restore. Missing, or present with `clean`:
/// (re)created as the archive says, and `true` returned (its properties are then
/// applied with [`apply_database_settings`] after the restore). Present without
/// `clean`: kept, but refused when its encoding differs from the archive's (the data
/// would be converted or rejected, not restored as it was).
pub fn ready_database(
    target: &PgTarget,
    spec: &DatabaseSpec,
    clean: bool,
) -> Result<bool, SourceError> {
    match target_encoding(target)? {
        None => create_as_archived(target, spec).map(|()| true),
        Some(_) if clean => {
            drop_database(target)?;
            create_as_archived(target, spec).map(|()| true)
        }
        Some(enc) if enc != spec.encoding => Err(SourceError::Invalid(format!(
            "{} has encoding {enc} but the backup is of a {} database; its data would not be \
             restored as it was. Restore with --clean (the database is recreated as the backup \
             says) or into a new database with --to",
            target.url(),
            spec.encoding
        ))),
        Some(_) => Ok(false),
    }
}

/// After a restore into a database created by [`ready_database`]: its owner, `ALTER
/// DATABASE … SET` properties, comment, security labels and privileges as archived
/// (owner and privileges not with `no_owner`). Applied last: a property such as
/// `ALLOW_CONNECTIONS false` or `default_transaction_read_only` would stop pg_restore.
pub fn apply_database_settings(
    target: &PgTarget,
    spec: &DatabaseSpec,
    no_owner: bool,
) -> Result<(), SourceError> {
    let sql = spec.settings_sql(&target.dbname, no_owner);
    if sql.is_empty() {
        return Ok(());
    }
    let (major, _) = server_major(&mut target.connect()?)?;
    let tool = find_tool("psql", major)?;
    let mut cmd = Command::new(&tool.path);
    cmd.args([
        "--quiet",
        "--no-psqlrc",
        "--set",
        "ON_ERROR_STOP=1",
        "--dbname",
        &target.dbname,
    ]);
    let _passfile = target.configure(&mut cmd)?;
    let mut running = Running::spawn("psql", &mut cmd, Pipes::Stdin)?;
    if let Some(mut stdin) = running.take_stdin() {
        // A write error means psql stopped; its exit status says why.
        let _ = stdin.write_all(&sql);
    }
    running.finish().map(drop).map_err(|e| {
        SourceError::Invalid(format!(
            "applying the database's properties to {}: {e}",
            target.url()
        ))
    })
}

/// What a restoring child needs kept alive: the passfile's directory, and its
/// registration for termination on interruption.
pub struct PgGuard {
    _passfile: Option<tempfile::TempDir>,
}

/// A restore in progress: write the dump into `input`, then call `finish`.
pub type PgRestore = Feeder<PgGuard>;

/// Starts `tool` fed on stdin (like every child, it is terminated on interruption:
/// see `process::stop_running_children`).
pub(crate) fn start_fed(
    name: &str,
    cmd: &mut Command,
    passfile: Option<tempfile::TempDir>,
    version: String,
) -> Result<PgRestore, SourceError> {
    let running = Running::spawn(name, cmd, Pipes::Stdin)?;
    let guard = PgGuard {
        _passfile: passfile,
    };
    Ok(Feeder::new(running, guard, version))
}

/// The flags of a restore over or into `target`: drop what the backup has first, stop
/// at the first error, and with `no_owner` neither owners nor privileges.
fn restore_flags(no_owner: bool) -> Vec<&'static str> {
    let mut flags = vec!["--clean", "--if-exists", "--exit-on-error"];
    if no_owner {
        flags.extend(["--no-owner", "--no-acl"]);
    }
    flags
}

/// Starts `pg_restore` streaming into `target`, which [`ready_database`] made ready.
/// Watch it with a [`super::LockWatch`].
pub fn start_restore(target: &PgTarget, no_owner: bool) -> Result<PgRestore, SourceError> {
    let (major, _) = server_major(&mut target.connect()?)?;
    let tool = find_tool("pg_restore", major)?;
    let mut cmd = Command::new(&tool.path);
    cmd.args(restore_flags(no_owner))
        .args(["--dbname", &target.dbname]);
    super::locks::tag(&mut cmd);
    let passfile = target.configure(&mut cmd)?;
    start_fed("pg_restore", &mut cmd, passfile, tool.version)
}

/// `pg_restore --jobs` needs a seekable file: restores `file` into `target` (which must
/// exist) with `jobs` parallel jobs and the given extra flags, cancelling a wait for a
/// lock after `lock_timeout` seconds (0: no limit).
pub fn restore_file(
    target: &PgTarget,
    file: &std::path::Path,
    jobs: u32,
    major: u32,
    flags: &[&str],
    lock_timeout: u32,
) -> Result<(), SourceError> {
    let tool = find_tool("pg_restore", major)?;
    if jobs > 1 {
        // Without offsets every job scans the archive for its table; still correct.
        if let Err(why) = super::offsets::set_data_offsets(file) {
            tracing::warn!("pg_restore --jobs will scan for each table's data: {why}");
        }
    }
    let mut cmd = Command::new(&tool.path);
    cmd.args(flags)
        .args([
            "--jobs",
            &jobs.max(1).to_string(),
            "--dbname",
            &target.dbname,
        ])
        .arg(file);
    super::locks::tag(&mut cmd);
    let _passfile = target.configure(&mut cmd)?;
    let running = Running::spawn("pg_restore", &mut cmd, Pipes::None)?;
    let watch = super::LockWatch::start(target, lock_timeout);
    watch.judge(running.finish().map(drop))
}

/// Restores a spooled dump with `pg_restore --clean --if-exists --jobs` into `target`,
/// which [`ready_database`] made ready.
pub fn restore_spooled(
    target: &PgTarget,
    file: &std::path::Path,
    jobs: u32,
    no_owner: bool,
    lock_timeout: u32,
) -> Result<(), SourceError> {
    let (major, _) = server_major(&mut target.connect()?)?;
    restore_file(
        target,
        file,
        jobs,
        major,
        &restore_flags(no_owner),
        lock_timeout,
    )
}
