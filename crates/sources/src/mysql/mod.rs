//! The `mysql` kind (MySQL and MariaDB): `mariadb-dump --single-transaction` streamed
//! as SQL text with per-table row counts taken from that very stream, and restores
//! through the stock client into the target database (created when missing).

pub mod adapter;
mod backup;
mod conn;
mod count;
mod rename;
mod restore;
mod restore_target;

pub use crate::postgres::TargetState;
pub use backup::{database_defaults, start_backup};
pub use conn::{query, MysqlTarget};
pub use rename::RenameProblem;
pub use restore::{
    drop_databases, prepare_target, renaming, start_restore, user_databases, LoadPlan, MysqlRestore,
};

use crate::SourceError;
use conn::{quote_ident, sql_string};
use lifeboat_core::TableCount;

/// Which databases a backup dumps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Databases {
    /// The one database named in the url; the dump restores into any database.
    FromUrl,
    /// These databases; the dump creates and selects each by name.
    List(Vec<String>),
    /// Every database on the server, the `mysql` system database included.
    All,
}

/// Tables of the `mysql` system database that the server itself fills (index and
/// table statistics, replication positions, general and slow logs): a restored
/// server rewrites them, so their row counts are neither recorded nor compared.
const SERVER_MAINTAINED: [&str; 6] = [
    "mysql.innodb_index_stats",
    "mysql.innodb_table_stats",
    "mysql.gtid_slave_pos",
    "mysql.transaction_registry",
    "mysql.general_log",
    "mysql.slow_log",
];

/// Whether `db.table` is one of [`SERVER_MAINTAINED`].
pub fn is_server_maintained(table: &str) -> bool {
    SERVER_MAINTAINED.contains(&table)
}

/// Exact row counts of every table in `databases`, keyed `db.table` and sorted like
/// the counts a backup records (for verification).
pub fn table_counts(
    target: &MysqlTarget,
    databases: &[String],
) -> Result<Vec<TableCount>, SourceError> {
    if databases.is_empty() {
        return Ok(Vec::new());
    }
    let server = target.without_db();
    let names: Vec<String> = databases.iter().map(|d| sql_string(d)).collect();
    let list = format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({}) \
         AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')",
        names.join(", ")
    );
    let tables: Vec<(String, String)> = query(&server, &list)?
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [db, table] => Some((db.clone(), table.clone())),
            _ => None,
        })
        .collect();
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    // One statement per table in one session: the answers come back in order.
    let sql: String = tables
        .iter()
        .map(|(db, t)| {
            format!(
                "SELECT COUNT(*) FROM {}.{};\n",
                quote_ident(db),
                quote_ident(t)
            )
        })
        .collect();
    let counts = query(&server, &sql)?;
    if counts.len() != tables.len() {
        return Err(SourceError::Query(format!(
            "{}: expected {} counts, got {}",
            server.url(),
            tables.len(),
            counts.len()
        )));
    }
    let mut out = Vec::with_capacity(tables.len());
    for ((db, table), row) in tables.into_iter().zip(counts) {
        let rows = row.first().and_then(|n| n.parse().ok()).ok_or_else(|| {
            SourceError::Query(format!("{}: no count for {db}.{table}", server.url()))
        })?;
        out.push(TableCount {
            table: format!("{db}.{table}"),
            rows,
        });
    }
    out.retain(|t| !is_server_maintained(&t.table));
    out.sort_by(|a, b| a.table.cmp(&b.table));
    Ok(out)
}
