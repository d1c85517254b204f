//! Restoring an SQL dump by feeding it to the stock client (`mariadb`/`mysql`), as a
//! user would by hand, creating the target database when it is missing.

use super::conn::{
    client_tool, command, query, query_one, quote_ident, sql_string, tool_version, MysqlTarget,
    OptionFile, CLIENT_ARGS, COMMON_ARGS,
};
use super::rename::{RenameProblem, RenameWriter};
use crate::postgres::TargetState;
use crate::process::{Feeder, Pipes, Running};
use crate::SourceError;
use lifeboat_core::MysqlDatabase;
use std::io::Write;

/// Databases every server has; a restore of all databases does not count them as
/// holding data.
const SYSTEM_SCHEMAS: &str = "'mysql', 'information_schema', 'performance_schema', 'sys'";

/// Finds out whether the target database exists and holds tables or views. Without
/// a database in the target (a restore of several or all databases), the server
/// holds data when any non-system database has a table.
pub fn prepare_target(target: &MysqlTarget) -> Result<TargetState, SourceError> {
    let server = target.without_db();
    let Some(db) = &target.dbname else {
        let sql = format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA NOT IN ({SYSTEM_SCHEMAS})");
        let tables = count(&server, &sql)?;
        return Ok(if tables > 0 {
            TargetState::HoldsData
        } else {
            TargetState::Empty
        });
    };
    let name = sql_string(db);
    let sql = format!(
        "SELECT (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {name}), \
         (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {name})"
    );
    let row = query(&server, &sql)?.into_iter().next().unwrap_or_default();
    let number = |i: usize| row.get(i).and_then(|v| v.parse::<u64>().ok());
    match (number(0), number(1)) {
        (Some(0), _) => Ok(TargetState::Missing),
        (Some(_), Some(0)) => Ok(TargetState::Empty),
        (Some(_), Some(_)) => Ok(TargetState::HoldsData),
        _ => Err(SourceError::Query(format!(
            "{}: unexpected answer {row:?}",
            target.url()
        ))),
    }
}

/// The non-system databases of the server (a `--clean` restore of all databases
/// drops them all, so that the server ends as the backup has it).
pub fn user_databases(target: &MysqlTarget) -> Result<Vec<String>, SourceError> {
    let sql = format!(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ({SYSTEM_SCHEMAS}) ORDER BY 1"
    );
    let rows = query(&target.without_db(), &sql)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect())
}

/// `DROP DATABASE IF EXISTS` each of `names` (`--clean`: objects not in the backup go
/// with them; the restore then creates each afresh).
pub fn drop_databases(target: &MysqlTarget, names: &[String]) -> Result<(), SourceError> {
    for name in names {
        let sql = format!("DROP DATABASE IF EXISTS {}", quote_ident(name));
        query(&target.without_db(), &sql).map_err(|e| match e {
            SourceError::Query(why) => {
                SourceError::Query(format!("dropping database {name}: {why}"))
            }
            other => other,
        })?;
    }
    Ok(())
}

fn count(target: &MysqlTarget, sql: &str) -> Result<u64, SourceError> {
    let text = query_one(target, sql, "counting tables")?;
    text.parse().map_err(|_| {
        SourceError::Query(format!("{}: expected a number, got {text:?}", target.url()))
    })
}

/// A restore in progress: write the dump into `input`, then call `finish` (the first
/// failing statement stops the restore; its message is in the error). Keeps the 0600
/// option file until the client is done.
pub type MysqlRestore = Feeder<OptionFile>;

/// How a dump is loaded into the target's database.
#[derive(Debug, Clone, Default)]
pub struct LoadPlan {
    /// The source database's defaults, for a target database the restore creates.
    pub create_like: Option<MysqlDatabase>,
    /// The dump creates and selects its database itself (`CREATE DATABASE IF NOT
    /// EXISTS` + `USE`, renamed by a [`RenameWriter`]): nothing to create first.
    pub dump_creates: bool,
}

/// Starts the client reading a dump into `target`, creating its database first when
/// `state` says it is missing (with the source database's character set and
/// collation, when known). Connection problems (unreachable server, wrong
/// credentials) fail here, before any byte of the dump is read.
pub fn start_restore(
    target: &MysqlTarget,
    state: TargetState,
    plan: &LoadPlan,
) -> Result<MysqlRestore, SourceError> {
    let tool = client_tool()?;
    match (&target.dbname, state) {
        (Some(db), TargetState::Missing) if !plan.dump_creates => {
            create_database(target, db, plan.create_like.as_ref())?;
        }
        // Connects once, so that errors name the server rather than a broken pipe.
        _ if plan.dump_creates => drop(query(&target.without_db(), "SELECT 1")?),
        _ => drop(query(target, "SELECT 1")?),
    }
    let options = target.without_db().option_file()?;
    let mut cmd = command(&tool.path, &options);
    cmd.args(COMMON_ARGS).args(CLIENT_ARGS);
    match &target.dbname {
        Some(db) if !plan.dump_creates => drop(cmd.arg(format!("--database={db}"))),
        _ => {}
    }
    let tool_version = tool_version(&tool)?;
    let running = Running::spawn(tool.name, &mut cmd, Pipes::Stdin)?;
    Ok(Feeder::new(running, options, tool_version))
}

/// `CREATE DATABASE`, with `like`'s character set and collation when given.
fn create_database(
    target: &MysqlTarget,
    db: &str,
    like: Option<&MysqlDatabase>,
) -> Result<(), SourceError> {
    let mut sql = format!("CREATE DATABASE {}", quote_ident(db));
    if let Some(like) = like {
        let names = [&like.charset, &like.collation];
        // Names from information_schema; anything else is not spliced into SQL.
        if names
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            sql.push_str(&format!(
                " CHARACTER SET {} COLLATE {}",
                like.charset, like.collation
            ));
        }
    }
    query(&target.without_db(), &sql)
        .map(drop)
        .map_err(|e| match e {
            SourceError::Query(why) => SourceError::Query(format!("creating database {db}: {why}")),
            other => other,
        })
}

/// The dump's database `from` loaded as `to`: wraps the client's input; the problem
/// slot says why the stream was refused (a dump of several databases).
pub fn renaming(
    input: Box<dyn Write + Send>,
    from: &str,
    to: &str,
) -> (Box<dyn Write + Send>, RenameProblem) {
    let (writer, problem) = RenameWriter::new(input, from, to);
    (Box::new(writer), problem)
}
