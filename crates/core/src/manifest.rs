//! The manifest stored in every snapshot: what was dumped, with which tools, and the
//! facts a later verification compares against.

use serde::{Deserialize, Serialize};

/// Manifest format version; bump on incompatible changes.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub lifeboat_version: String,
    pub app: String,
    pub source: String,
    pub kind: String,
    pub run_id: String,
    /// Where the data came from, secrets removed (a URL without password, a path).
    pub origin: String,
    /// Payload files in the snapshot, relative to the payload root.
    pub files: Vec<String>,
    /// `pg_dump (PostgreSQL) 15.18`, …
    pub tool_versions: Vec<String>,
    pub started_at: String,
    pub duration_ms: u64,
    pub facts: Facts,
    /// Set on safety backups: `pre-restore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The app's configuration (TOML, secrets as references) as it was at this backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

/// Facts recorded at backup time, for verification.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// Exact row count per table (`schema.table`), from the snapshot the dump used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableCount>,
    /// Regular files stored (files kind) or payload files (stream kinds).
    pub file_count: u64,
    /// Bytes stored (before dedup/compression).
    pub total_bytes: u64,
    /// sha256 per payload file of stream kinds, hex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sha256: Vec<(String, String)>,
    /// mysql: each dumped database's default character set and collation, so that a
    /// restore that creates the database creates it alike.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mysql_databases: Vec<MysqlDatabase>,
    /// redis: how many of each logical database's keys (`db0`, …) had an expiry; those
    /// may be gone by the time a backup is verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expiring_keys: Vec<TableCount>,
}

/// A MySQL/MariaDB database's name and defaults, as `information_schema.SCHEMATA` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MysqlDatabase {
    pub name: String,
    pub charset: String,
    pub collation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCount {
    pub table: String,
    pub rows: u64,
}

impl Manifest {
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
