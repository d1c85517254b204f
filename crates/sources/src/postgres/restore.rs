//! Restoring a custom-format dump with `pg_restore --clean --if-exists`, creating the
//! database when missing.

use super::backup::server_major;
use super::conn::{describe, quote_ident, PgTarget};
use super::tools::find_tool;
use crate::process::{Feeder, Pipes, Running};
use crate::SourceError;
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

fn maintenance(target: &PgTarget) -> Result<postgres::Client, SourceError> {
    target
        .with_db("postgres")
        .connect()
        .or_else(|_| target.with_db("template1").connect())
}

/// Finds out whether the target database exists and holds data.
pub fn prepare_target(target: &PgTarget) -> Result<TargetState, SourceError> {
    let mut admin = maintenance(target)?;
    let exists = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&target.dbname],
        )
        .map_err(|e| SourceError::Query(describe(&e)))?
        .is_some();
    if !exists {
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

pub(crate) fn create_database(target: &PgTarget) -> Result<(), SourceError> {
    let mut admin = maintenance(target)?;
    admin
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&target.dbname)))
        .map_err(|e| {
            SourceError::Query(format!(
                "creating database {}: {}",
                target.dbname,
                describe(&e)
            ))
        })
}

/// A restore in progress: write the dump into `input`, then call `finish`. Keeps the
/// passfile's directory until pg_restore is done.
pub type PgRestore = Feeder<Option<tempfile::TempDir>>;

/// Starts `pg_restore` into `target`, creating the database first when `state` says
/// it is missing.
pub fn start_restore(
    target: &PgTarget,
    state: TargetState,
    no_owner: bool,
) -> Result<PgRestore, SourceError> {
    if state == TargetState::Missing {
        create_database(target)?;
    }
    let (major, _) = server_major(&mut target.connect()?)?;
    let tool = find_tool("pg_restore", major)?;
    let mut cmd = Command::new(&tool.path);
    cmd.args(["--clean", "--if-exists", "--dbname", &target.dbname]);
    if no_owner {
        cmd.args(["--no-owner", "--no-acl"]);
    }
    let passfile = target.configure(&mut cmd)?;
    let running = Running::spawn("pg_restore", &mut cmd, Pipes::Stdin)?;
    Ok(Feeder::new(running, passfile, tool.version))
}

/// `pg_restore --jobs` needs a seekable file: restores `file` into `target` (which must
/// exist) with `jobs` parallel jobs and the given extra flags.
pub fn restore_file(
    target: &PgTarget,
    file: &std::path::Path,
    jobs: u32,
    major: u32,
    flags: &[&str],
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
    let _passfile = target.configure(&mut cmd)?;
    Running::spawn("pg_restore", &mut cmd, Pipes::None)?
        .finish()
        .map(drop)
}

/// Restores a spooled dump with `pg_restore --clean --if-exists --jobs`, creating the
/// database when `state` says it is missing.
pub fn restore_spooled(
    target: &PgTarget,
    state: TargetState,
    file: &std::path::Path,
    jobs: u32,
    no_owner: bool,
) -> Result<(), SourceError> {
    if state == TargetState::Missing {
        create_database(target)?;
    }
    let (major, _) = server_major(&mut target.connect()?)?;
    let mut flags = vec!["--clean", "--if-exists"];
    if no_owner {
        flags.extend(["--no-owner", "--no-acl"]);
    }
    restore_file(target, file, jobs, major, &flags)
}
