//! Finding PostgreSQL client tools whose major version can handle the server's.

use crate::SourceError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A pg_* binary and the version it reports.
#[derive(Debug, Clone)]
pub struct PgTool {
    pub path: PathBuf,
    pub major: u32,
    /// As the tool prints it: `pg_dump (PostgreSQL) 15.18`.
    pub version: String,
}

fn candidates(name: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.is_file())
        .collect();
    if let Some(path) = std::env::var_os("PATH") {
        found.extend(
            std::env::split_paths(&path)
                .map(|d| d.join(name))
                .filter(|p| p.is_file()),
        );
    }
    found
}

fn probe(path: &Path) -> Option<PgTool> {
    let out = Command::new(path).arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major = parse_major(&version)?;
    Some(PgTool {
        path: path.to_path_buf(),
        major,
        version,
    })
}

/// The major version in `pg_dump (PostgreSQL) 15.18` or `… 9.6.24`.
pub fn parse_major(version: &str) -> Option<u32> {
    let number = version
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = number.split('.');
    let digits = |s: &str| {
        s.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
    };
    let first: u32 = digits(parts.next()?).parse().ok()?;
    if first < 10 {
        let second: u32 = digits(parts.next()?).parse().ok()?;
        return Some(first * 10 + second);
    }
    Some(first)
}

/// The newest `name` whose major version is at least `min_major` (the server's).
pub fn find_tool(name: &str, min_major: u32) -> Result<PgTool, SourceError> {
    let mut tools: Vec<PgTool> = candidates(name).iter().filter_map(|p| probe(p)).collect();
    tools.sort_by_key(|t| std::cmp::Reverse(t.major));
    match tools.first() {
        Some(t) if t.major >= min_major => Ok(t.clone()),
        Some(_) => Err(SourceError::MissingTool {
            tool: name.to_string(),
            hint: format!(
                "the server is PostgreSQL {min_major} but only {} found; install postgresql-client-{min_major} or newer",
                tools.iter().map(|t| format!("{} ({})", t.version, t.path.display())).collect::<Vec<_>>().join(", ")
            ),
        }),
        None => Err(SourceError::MissingTool {
            tool: name.to_string(),
            hint: format!("install the Debian package postgresql-client (major version {min_major} or newer)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_major_versions() {
        assert_eq!(parse_major("pg_dump (PostgreSQL) 15.18"), Some(15));
        assert_eq!(
            parse_major("pg_dump (PostgreSQL) 17.2 (Debian 17.2-1)"),
            Some(17)
        );
        assert_eq!(parse_major("pg_dump (PostgreSQL) 9.6.24"), Some(96));
        assert_eq!(parse_major("PostgreSQL 16beta1"), Some(16));
        assert_eq!(parse_major("nothing"), None);
    }
}
