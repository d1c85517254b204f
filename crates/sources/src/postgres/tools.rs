//! Finding PostgreSQL client tools whose major version can handle the server's.

use crate::process::{run_to_end, PROBE_TIMEOUT};
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

/// Every distinct `name` binary: Debian's per-version directories, then `PATH`. Debian's
/// `pg_wrapper` (what `/usr/bin/pg_dump` links to) is left out: it only dispatches to one
/// of those directories, and it is a Perl script whose start costs ~30 ms per probe.
fn candidates(name: &str) -> Vec<PathBuf> {
    let versioned = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name));
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|d| d.join(name)).collect())
        .unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    versioned
        .chain(on_path)
        .filter(|p| p.is_file())
        .filter(|p| {
            let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            !real.ends_with("postgresql-common/pg_wrapper") && seen.insert(real)
        })
        .collect()
}

fn probe(path: &Path) -> Option<PgTool> {
    let mut cmd = Command::new(path);
    cmd.arg("--version");
    let what = format!("{} --version", path.display());
    let out = run_to_end(&what, &mut cmd, None, Some(PROBE_TIMEOUT)).ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major = parse_major(&version)?;
    Some(PgTool {
        path: path.to_path_buf(),
        major,
        version,
    })
}

/// Every installed `name` with its version, newest first. The probes run at once: each
/// is a process start, and a backup waits for them before its dump can begin.
pub fn installed_tools(name: &str) -> Vec<PgTool> {
    let paths = candidates(name);
    let mut tools: Vec<PgTool> = std::thread::scope(|s| {
        let probes: Vec<_> = paths.iter().map(|p| s.spawn(|| probe(p))).collect();
        probes
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    });
    tools.sort_by_key(|t| std::cmp::Reverse(t.major));
    tools
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
    pick_tool(name, &installed_tools(name), min_major)
}

/// The newest of `tools` (newest first) if it can handle a `min_major` server.
pub fn pick_tool(name: &str, tools: &[PgTool], min_major: u32) -> Result<PgTool, SourceError> {
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
    fn each_installed_pg_dump_is_probed_once_and_never_through_debians_wrapper() {
        let tools = installed_tools("pg_dump");
        assert!(
            !tools.is_empty(),
            "install the Debian package postgresql-client"
        );
        let real: Vec<PathBuf> = tools
            .iter()
            .map(|t| std::fs::canonicalize(&t.path).unwrap())
            .collect();
        let distinct: std::collections::HashSet<_> = real.iter().collect();
        assert_eq!(distinct.len(), real.len(), "{real:?}");
        assert!(real
            .iter()
            .all(|p| !p.ends_with("postgresql-common/pg_wrapper")));
        assert!(tools.windows(2).all(|w| w[0].major >= w[1].major));
    }

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
