//! What verification asks of a restored PostgreSQL database: its row counts, the
//! answers to the user's `verify_sql`, and a parallel restore from a spooled file.

use super::backup::count_rows;
use super::conn::{describe, PgTarget};
use super::database::DatabaseSpec;
use crate::SourceError;
use lifeboat_core::TableCount;
use std::path::Path;

/// Exact row counts of every user table, named as the backup's manifest names them.
pub fn table_counts(target: &PgTarget) -> Result<Vec<TableCount>, SourceError> {
    count_rows(&mut target.connect()?)
}

/// Runs one `verify_sql` statement; it must return a single true value.
pub fn check_sql(target: &PgTarget, sql: &str) -> Result<bool, SourceError> {
    let mut client = target.connect()?;
    let rows = client
        .simple_query(sql)
        .map_err(|e| SourceError::Query(format!("`{sql}`: {}", describe(&e))))?;
    let value = rows.iter().find_map(|m| match m {
        postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_string)),
        _ => None,
    });
    Ok(matches!(
        value.flatten().as_deref(),
        Some("t" | "true" | "1")
    ))
}

/// Restores `file` into a throwaway database with `jobs` parallel jobs: no owners or
/// grants (the scratch server has not the roles), nothing to clean.
pub fn restore_file(
    target: &PgTarget,
    file: &Path,
    jobs: u32,
    major: u32,
) -> Result<(), SourceError> {
    super::restore::restore_file(target, file, jobs, major, &["--no-owner", "--no-acl"], 0)
}

/// Creates database `target.dbname` on its server as the archive `file` says
/// (encoding, locale): a SQL_ASCII or LATIN1 dump does not fit a UTF8 database.
pub fn create_database(target: &PgTarget, file: &Path) -> Result<(), SourceError> {
    let mut f = std::fs::File::open(file)
        .map_err(SourceError::io(format!("reading {}", file.display())))?;
    match DatabaseSpec::read(&mut f) {
        Ok(spec) => super::restore::create_as_archived(target, &spec),
        Err(why) => {
            tracing::warn!("creating the scratch database with the server's defaults: {why}");
            super::restore::create_database(target)
        }
    }
}

/// Whether database `target.dbname` exists on its server.
pub fn database_exists(target: &PgTarget) -> Result<bool, SourceError> {
    super::restore::prepare_target(target).map(|s| s != super::TargetState::Missing)
}

/// Runs an SQL file (globals) with psql; errors for objects that already exist are
/// reported by psql and skipped, as pg_dumpall advises.
pub fn run_sql_file(target: &PgTarget, file: &Path) -> Result<(), SourceError> {
    let mut restore = super::cluster::start_globals_restore(target)?;
    let mut input = restore.input()?;
    let mut f = std::fs::File::open(file)
        .map_err(SourceError::io(format!("reading {}", file.display())))?;
    std::io::copy(&mut f, &mut input).map_err(SourceError::io("feeding psql"))?;
    drop(input);
    restore.finish()
}
