//! Backing up with `mariadb-dump`/`mysqldump --single-transaction`: a preflight query
//! that fails early with a clear message, then the dump's stdout streamed through a
//! row counter, so the recorded counts are exactly those of the dumped data.

use super::conn::{
    check_db_name, command, dump_tool, query, quote_ident, sql_string, tool_version, MysqlTarget,
    OptionFile, Tool, COMMON_ARGS,
};
use super::count::{CountingReader, RowCounter};
use super::Databases;
use crate::dump::{Dump, DumpFacts};
use crate::process::{Pipes, Running};
use crate::SourceError;
use lifeboat_core::MysqlDatabase;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// Dump options: one consistent InnoDB snapshot, everything that is not row data
/// too, binary as hex (plain ASCII survives any client charset), rows streamed
/// rather than buffered, no tablespace statements (they need the PROCESS privilege
/// and do not restore elsewhere).
const DUMP_ARGS: [&str; 8] = [
    "--single-transaction",
    "--routines",
    "--triggers",
    "--events",
    "--hex-blob",
    "--quick",
    "--no-tablespaces",
    "--skip-dump-date",
];

/// What one backup dumps, resolved from the target and [`Databases`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selection {
    /// One database, without `CREATE DATABASE`/`USE`, so it restores into any name.
    Single(String),
    /// These databases, each with `CREATE DATABASE IF NOT EXISTS` and `USE`.
    List(Vec<String>),
    All,
}

impl Selection {
    fn resolve(target: &MysqlTarget, databases: &Databases) -> Result<Self, SourceError> {
        let selection = match databases {
            Databases::FromUrl => Selection::Single(target.dbname.clone().ok_or_else(|| {
                SourceError::Invalid(format!(
                    "{} names no database; add /DB or set databases",
                    target.url()
                ))
            })?),
            Databases::List(names) if names.is_empty() => {
                return Err(SourceError::Invalid("databases is an empty list".into()))
            }
            Databases::List(names) => Selection::List(names.clone()),
            Databases::All => Selection::All,
        };
        match &selection {
            Selection::Single(db) => check_db_name(db)?,
            Selection::List(names) => names.iter().try_for_each(|n| check_db_name(n))?,
            Selection::All => {}
        }
        Ok(selection)
    }

    fn file_name(&self) -> String {
        match self {
            Selection::Single(db) => format!("{db}.sql"),
            Selection::List(_) => "databases.sql".into(),
            Selection::All => "all-databases.sql".into(),
        }
    }

    fn args(&self, cmd: &mut Command) {
        match self {
            Selection::Single(db) => cmd.arg(db),
            Selection::List(names) => cmd.arg("--databases").args(names),
            Selection::All => cmd.arg("--all-databases"),
        };
    }

    /// The database unqualified tables belong to before any `USE`.
    fn default_db(&self) -> Option<String> {
        match self {
            Selection::Single(db) => Some(db.clone()),
            _ => None,
        }
    }
}

/// Connects once before dumping: a wrong password, an unreachable server or a
/// missing database fails here, before any byte is stored. Returns the server's
/// version for the manifest.
fn preflight(target: &MysqlTarget, selection: &Selection) -> Result<String, SourceError> {
    let server = target.without_db();
    let wanted: Vec<&String> = match selection {
        Selection::Single(db) => vec![db],
        Selection::List(names) => names.iter().collect(),
        Selection::All => Vec::new(),
    };
    let mut sql = String::from("SELECT VERSION(), @@version_comment;\n");
    if !wanted.is_empty() {
        let names: Vec<String> = wanted.iter().map(|n| sql_string(n)).collect();
        sql.push_str(&format!(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ({});\n",
            names.join(", ")
        ));
    }
    let rows = query(&server, &sql)?;
    let mut rows = rows.into_iter();
    let version = match rows.next().as_deref() {
        Some([version, comment]) => format!("{version} ({comment})"),
        Some([version, ..]) => version.clone(),
        _ => {
            return Err(SourceError::Query(format!(
                "reading the server version of {}",
                server.url()
            )))
        }
    };
    let present: Vec<String> = rows.filter_map(|r| r.into_iter().next()).collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|n| !present.contains(n))
        .map(|n| quote_ident(n))
        .collect();
    if !missing.is_empty() {
        return Err(SourceError::Query(format!(
            "{}: no database {} on the server",
            server.url(),
            missing.join(", ")
        )));
    }
    Ok(version)
}

/// The default character set and collation of every database `databases` selects
/// (recorded in the manifest: a one-database dump does not carry them).
pub fn database_defaults(
    target: &MysqlTarget,
    databases: &Databases,
) -> Result<Vec<MysqlDatabase>, SourceError> {
    let filter = match Selection::resolve(target, databases)? {
        Selection::Single(db) => format!(" WHERE SCHEMA_NAME = {}", sql_string(&db)),
        Selection::List(names) => {
            let names: Vec<String> = names.iter().map(|n| sql_string(n)).collect();
            format!(" WHERE SCHEMA_NAME IN ({})", names.join(", "))
        }
        Selection::All => String::new(),
    };
    let sql = format!(
        "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
         FROM information_schema.SCHEMATA{filter} ORDER BY SCHEMA_NAME"
    );
    Ok(query(&target.without_db(), &sql)?
        .into_iter()
        .filter_map(|row| match <[String; 3]>::try_from(row) {
            Ok([name, charset, collation]) => Some(MysqlDatabase {
                name,
                charset,
                collation,
            }),
            Err(_) => None,
        })
        .collect())
}

fn dump_command(tool: &Tool, options: &OptionFile, selection: &Selection) -> Command {
    let mut cmd = command(&tool.path, options);
    cmd.args(COMMON_ARGS).args(DUMP_ARGS);
    selection.args(&mut cmd);
    cmd
}

/// Owns everything the running dump needs until it is checked.
struct MysqlFinisher {
    dump: Running,
    tool: &'static str,
    counter: Arc<Mutex<RowCounter>>,
    versions: Vec<String>,
    _options: OptionFile,
}

/// Starts dumping `databases` of `target`. Fails early (no stream) when the server
/// is unreachable, the credentials are wrong, a database is missing or no client
/// tools are installed.
pub fn start_backup(target: &MysqlTarget, databases: &Databases) -> Result<Dump, SourceError> {
    let selection = Selection::resolve(target, databases)?;
    let tool = dump_tool()?;
    let server_version = preflight(target, &selection)?;
    let tool_version = tool_version(&tool)?;
    let options = target.without_db().option_file()?;
    let mut dump = Running::spawn(
        tool.name,
        &mut dump_command(&tool, &options, &selection),
        Pipes::Stdout,
    )?;
    let stdout = dump
        .take_stdout()
        .ok_or_else(|| SourceError::Invalid(format!("{} has no stdout", tool.name)))?;
    let counter = Arc::new(Mutex::new(RowCounter::new(selection.default_db())));
    let finisher = MysqlFinisher {
        dump,
        tool: tool.name,
        counter: counter.clone(),
        versions: vec![tool_version, server_version],
        _options: options,
    };
    Ok(Dump {
        name: selection.file_name(),
        stream: Box::new(CountingReader::new(stdout, counter)),
        hash: false,
        running: true,
        finish: Box::new(move || finisher.finish()),
    })
}

impl MysqlFinisher {
    fn finish(self) -> Result<DumpFacts, SourceError> {
        self.dump.finish()?;
        let counted = self
            .counter
            .lock()
            .map_err(|_| SourceError::Invalid("the row counter failed".into()))?
            .counted();
        if !counted.eof {
            return Err(SourceError::Invalid(format!(
                "the {} stream was not read to its end",
                self.tool
            )));
        }
        // A dump tool that exits 0 always writes this trailer; without it the
        // stream was cut somewhere between the tool and us.
        if !counted.completed {
            return Err(SourceError::Invalid(format!(
                "the {} output ends without its \"-- Dump completed\" line: the dump is incomplete",
                self.tool
            )));
        }
        Ok(DumpFacts {
            tables: counted
                .tables
                .into_iter()
                .filter(|t| !super::is_server_maintained(&t.table))
                .collect(),
            tool_versions: self.versions,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn target(url: &str) -> MysqlTarget {
        MysqlTarget::parse(url, None).unwrap()
    }

    #[test]
    fn selections_name_their_files_and_arguments() {
        let t = target("mysql://u@h/shop");
        let single = Selection::resolve(&t, &Databases::FromUrl).unwrap();
        assert_eq!(
            (single.file_name(), single.default_db()),
            ("shop.sql".into(), Some("shop".into()))
        );
        let list = Selection::resolve(&t, &Databases::List(vec!["a".into(), "b".into()])).unwrap();
        assert_eq!(
            (list.file_name(), list.default_db()),
            ("databases.sql".into(), None)
        );
        let all = Selection::resolve(&t, &Databases::All).unwrap();
        assert_eq!(all.file_name(), "all-databases.sql");
        let mut cmd = Command::new("x");
        list.args(&mut cmd);
        assert_eq!(
            cmd.get_args().collect::<Vec<_>>(),
            ["--databases", "a", "b"]
        );
        assert!(Selection::resolve(&target("mysql://u@h"), &Databases::FromUrl).is_err());
        assert!(Selection::resolve(&t, &Databases::List(vec![])).is_err());
        assert!(Selection::resolve(&t, &Databases::List(vec!["--all-databases".into()])).is_err());
    }
}
