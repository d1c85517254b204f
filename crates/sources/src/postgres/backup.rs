//! Backing up one database: export a snapshot in a REPEATABLE READ transaction, run
//! `pg_dump --snapshot` against it, and count every table's rows of exactly that
//! snapshot: from the archive as it streams (free), or with SQL in the same snapshot
//! when the archive format is one the counter does not know.

use super::archive::{CountingReader, RowCounter};
use super::conn::{describe, quote_ident, PgTarget};
use super::tools::{installed_tools, pick_tool, PgTool};
use crate::dump::{Dump, DumpFacts};
use crate::process::{Pipes, Running};
use crate::SourceError;
use lifeboat_core::TableCount;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

struct PgFinisher {
    dump: Running,
    /// Holds the exported snapshot open until the dump is done.
    client: postgres::Client,
    counter: Arc<Mutex<RowCounter>>,
    versions: Vec<String>,
    _passfile: Option<tempfile::TempDir>,
}

/// Tables whose rows pg_dump writes: ordinary tables outside system schemas that no
/// extension owns.
const TABLES_SQL: &str = "SELECT n.nspname, c.relname FROM pg_class c \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
    AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' \
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
      AND d.objid = c.oid AND d.deptype = 'e') \
    ORDER BY 1, 2";

/// The server's major version, in the numbering of [`super::tools::parse_major`].
pub(crate) fn server_major(client: &mut postgres::Client) -> Result<(u32, String), SourceError> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int, version()",
            &[],
        )
        .map_err(|e| SourceError::Query(format!("reading the server version: {}", describe(&e))))?;
    let num: i32 = row.get(0);
    let num = u32::try_from(num).unwrap_or_default();
    let major = if num >= 100_000 {
        num / 10_000
    } else {
        num / 1_000 * 10 + num / 100 % 10
    };
    let text: String = row.get(1);
    Ok((
        major,
        text.split(',').next().unwrap_or_default().to_string(),
    ))
}

fn export_snapshot(client: &mut postgres::Client) -> Result<String, SourceError> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .and_then(|_| client.query_one("SELECT pg_export_snapshot()", &[]))
        .map(|row| row.get(0))
        .map_err(|e| SourceError::Query(format!("exporting a snapshot: {}", describe(&e))))
}

pub(crate) fn count_rows(client: &mut postgres::Client) -> Result<Vec<TableCount>, SourceError> {
    let q = |e: postgres::Error| SourceError::Query(format!("counting rows: {}", describe(&e)));
    let tables = client.query(TABLES_SQL, &[]).map_err(q)?;
    let mut counts = Vec::with_capacity(tables.len());
    for row in tables {
        let (schema, table): (String, String) = (row.get(0), row.get(1));
        let sql = format!(
            "SELECT count(*) FROM {}.{}",
            quote_ident(&schema),
            quote_ident(&table)
        );
        let rows: i64 = client.query_one(&sql, &[]).map_err(q)?.get(0);
        counts.push(TableCount {
            table: format!("{schema}.{table}"),
            rows: rows.unsigned_abs(),
        });
    }
    Ok(counts)
}

fn dump_command(tool: &PgTool, target: &PgTarget, snapshot: &str) -> Command {
    let mut cmd = Command::new(&tool.path);
    cmd.args([
        "--format=custom",
        "--compress=0",
        "--snapshot",
        snapshot,
        "--dbname",
        &target.dbname,
    ]);
    cmd
}

/// Starts dumping `target`. Fails early (no stream) when the server is unreachable or
/// no suitable pg_dump is installed.
pub fn start_backup(target: &PgTarget) -> Result<Dump, SourceError> {
    // Finding pg_dump starts processes; it runs while the connection is made.
    let (tools, connected) = std::thread::scope(|s| {
        let tools = s.spawn(|| installed_tools("pg_dump"));
        let connected = target
            .connect()
            .and_then(|mut client| server_major(&mut client).map(|v| (client, v)));
        (tools.join(), connected)
    });
    let (mut client, (major, server_version)) = connected?;
    let tools =
        tools.map_err(|_| SourceError::Invalid("probing pg_dump versions failed".into()))?;
    let tool = pick_tool("pg_dump", &tools, major)?;
    let snapshot = export_snapshot(&mut client)?;
    let mut cmd = dump_command(&tool, target, &snapshot);
    let passfile = target.configure(&mut cmd)?;
    let mut dump = Running::spawn("pg_dump", &mut cmd, Pipes::Stdout)?;
    let stdout = dump
        .take_stdout()
        .ok_or_else(|| SourceError::Invalid("pg_dump has no stdout".into()))?;
    let counter = Arc::new(Mutex::new(RowCounter::default()));
    let finisher = PgFinisher {
        dump,
        client,
        counter: counter.clone(),
        versions: vec![tool.version, server_version],
        _passfile: passfile,
    };
    Ok(Dump {
        name: format!("{}.pgdump", target.dbname),
        stream: Box::new(CountingReader::new(stdout, counter)),
        hash: false,
        running: true,
        finish: Box::new(move || finisher.finish()),
    })
}

impl PgFinisher {
    fn finish(mut self) -> Result<DumpFacts, SourceError> {
        self.dump.finish()?;
        let counter =
            std::mem::take(&mut *self.counter.lock().unwrap_or_else(PoisonError::into_inner));
        let tables = match counter.finish() {
            Ok(tables) => tables,
            Err(why) => {
                // Still inside the exported snapshot: these are the dumped rows too.
                tracing::warn!("counting rows with SQL instead of from the archive: {why}");
                count_rows(&mut self.client)?
            }
        };
        // Read-only: the commit only ends the snapshot.
        self.client.batch_execute("COMMIT").map_err(|e| {
            SourceError::Query(format!("ending the snapshot transaction: {}", describe(&e)))
        })?;
        Ok(DumpFacts {
            tables,
            tool_versions: self.versions,
        })
    }
}
