//! Server-wide PostgreSQL backups: `pg_dumpall --globals-only` (roles, tablespaces) and
//! every non-template database, each from its own exported snapshot.

use super::backup::{server_major, start_backup};
use super::conn::{describe, PgTarget};
use super::restore::{start_fed, PgRestore};
use super::tools::find_tool;
use crate::dump::{Dump, DumpFacts};
use crate::dump_lazy::lazy;
use crate::process::{Pipes, Running};
use crate::SourceError;
use std::process::Command;

/// File name of the globals in a snapshot.
pub const GLOBALS_FILE: &str = "globals.sql";

/// The databases `pg_dumpall` would dump: all that accept connections, but templates.
pub fn list_databases(target: &PgTarget) -> Result<Vec<String>, SourceError> {
    let rows = target
        .connect()?
        .query(
            "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1",
            &[],
        )
        .map_err(|e| SourceError::Query(format!("listing databases: {}", describe(&e))))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// `pg_dumpall --globals-only` as a stream.
pub fn start_globals(target: &PgTarget) -> Result<Dump, SourceError> {
    let (major, _) = server_major(&mut target.connect()?)?;
    let tool = find_tool("pg_dumpall", major)?;
    let mut cmd = Command::new(&tool.path);
    cmd.args(["--globals-only", "--database", &target.dbname]);
    let passfile = target.configure(&mut cmd)?;
    let mut running = Running::spawn("pg_dumpall", &mut cmd, Pipes::Stdout)?;
    let stdout = running
        .take_stdout()
        .ok_or_else(|| SourceError::Invalid("pg_dumpall has no stdout".into()))?;
    Ok(Dump {
        name: GLOBALS_FILE.to_string(),
        stream: Box::new(stdout),
        hash: true,
        running: true,
        finish: Box::new(move || {
            let _keep = passfile;
            running.finish().map(|_| DumpFacts {
                tables: Vec::new(),
                tool_versions: vec![tool.version],
            })
        }),
    })
}

/// The dumps of a server-wide backup: globals (when asked) and then either the target's
/// own database or, with `all`, every database. Database dumps start lazily; their
/// table names are prefixed `DB:` when there are several.
pub fn start_cluster(
    target: &PgTarget,
    globals: bool,
    all: bool,
) -> Result<Vec<Dump>, SourceError> {
    let databases = if all {
        list_databases(target)?
    } else {
        vec![target.dbname.clone()]
    };
    if let Some(bad) = databases.iter().find(|d| d.contains('/')) {
        return Err(SourceError::Invalid(format!(
            "database name `{bad}` contains `/`; it cannot be a file name"
        )));
    }
    let mut dumps = Vec::new();
    if globals || all {
        dumps.push(start_globals(target)?);
    }
    for db in databases {
        let target = target.with_db(&db);
        let name = format!("{db}.pgdump");
        let prefix = all.then(|| format!("{db}:"));
        dumps.push(lazy(
            name,
            false,
            Box::new(move || prefixed(start_backup(&target)?, prefix)),
        ));
    }
    Ok(dumps)
}

fn prefixed(mut dump: Dump, prefix: Option<String>) -> Result<Dump, SourceError> {
    if let Some(prefix) = prefix {
        let finish = dump.finish;
        dump.finish = Box::new(move || {
            let mut facts = finish()?;
            for t in &mut facts.tables {
                t.table = format!("{prefix}{}", t.table);
            }
            Ok(facts)
        });
    }
    Ok(dump)
}

/// Starts `psql` on the maintenance database, to be fed the globals. Roles that exist
/// already make psql report errors and go on (pg_dumpall's own advice for restoring
/// globals); a failure to run at all is still an error.
pub fn start_globals_restore(target: &PgTarget) -> Result<PgRestore, SourceError> {
    let (major, _) = server_major(&mut target.connect()?)?;
    let tool = find_tool("psql", major)?;
    let mut cmd = Command::new(&tool.path);
    cmd.args(["--quiet", "--no-psqlrc", "--dbname", &target.dbname]);
    let passfile = target.configure(&mut cmd)?;
    start_fed("psql", &mut cmd, passfile, tool.version)
}
