//! The `sqlite` kind: a consistent copy through SQLite's online backup API (safe while
//! the application writes), its row counts and `PRAGMA integrity_check`; restore
//! replaces the file atomically (write beside, fsync, rename, fsync the directory).

pub mod adapter;

use crate::dump::{Dump, DumpFacts};
use crate::SourceError;
use lifeboat_core::TableCount;
use rusqlite::{Connection, OpenFlags};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn sql_error<'a>(
    context: &str,
    path: &'a Path,
) -> impl FnOnce(rusqlite::Error) -> SourceError + 'a {
    let context = context.to_string();
    move |e| SourceError::Query(format!("{context} {}: {e}", path.display()))
}

/// Row counts of every table and the integrity check of the database at `path`.
pub fn facts(path: &Path) -> Result<(Vec<TableCount>, String), SourceError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sql_error("opening", path))?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(sql_error("checking", path))?;
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(sql_error("listing tables of", path))?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(sql_error("listing tables of", path))?;
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        let sql = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
        let rows: i64 = conn
            .query_row(&sql, [], |r| r.get(0))
            .map_err(sql_error("counting rows of", path))?;
        tables.push(TableCount {
            table: name,
            rows: rows.unsigned_abs(),
        });
    }
    Ok((tables, integrity))
}

/// Copies the live database into a temp file with the online backup API, in one step
/// (all pages at once) so
/// the copy is one consistent state even while another process writes.
fn online_copy(path: &Path) -> Result<tempfile::NamedTempFile, SourceError> {
    if !path.is_file() {
        return Err(SourceError::Invalid(format!(
            "{} is not a file",
            path.display()
        )));
    }
    let src = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sql_error("opening", path))?;
    src.busy_timeout(Duration::from_secs(60))
        .map_err(sql_error("opening", path))?;
    let copy = tempfile::Builder::new()
        .prefix("lifeboat-sqlite-")
        .tempfile()
        .map_err(SourceError::io("creating a temp file for the sqlite copy"))?;
    let mut dst = Connection::open(copy.path()).map_err(sql_error("creating", copy.path()))?;
    let backup =
        rusqlite::backup::Backup::new(&src, &mut dst).map_err(sql_error("backing up", path))?;
    backup
        .run_to_completion(i32::MAX, Duration::from_millis(50), None)
        .map_err(sql_error("backing up", path))?;
    drop(backup);
    drop(dst);
    Ok(copy)
}

/// Takes the copy and streams it; the facts come from the copy, so they are the
/// facts of exactly what is stored.
pub fn start_backup(path: &Path) -> Result<Dump, SourceError> {
    let copy = online_copy(path)?;
    let (tables, integrity) = facts(copy.path())?;
    if integrity != "ok" {
        return Err(SourceError::Invalid(format!(
            "{}: integrity_check: {integrity}",
            path.display()
        )));
    }
    // The open handle keeps the data readable after the temp file's name is gone.
    let file = copy
        .reopen()
        .map_err(SourceError::io("reading the sqlite copy"))?;
    drop(copy);
    let version = format!("sqlite {}", rusqlite::version());
    let name = path.file_name().map_or_else(
        || "db.sqlite".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(Dump {
        name,
        stream: Box::new(file),
        hash: true,
        running: false,
        finish: Box::new(move || {
            Ok(DumpFacts {
                tables,
                tool_versions: vec![version],
            })
        }),
    })
}

/// Whether a restore to `path` would overwrite data.
pub fn holds_data(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

/// The file written beside the target before it replaces it.
fn beside(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lifeboat-restore");
    path.with_file_name(name)
}

/// Files SQLite keeps beside a database: its write-ahead log, the WAL's shared-memory
/// index and the rollback journal. They belong to that one file: left beside a
/// restored one, SQLite would replay the old WAL (or roll back the old journal) onto it.
const SIDECARS: [&str; 3] = ["-wal", "-shm", "-journal"];

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Restores into `path`: `fill` writes the database beside it; then fsync, integrity
/// check, and a rename over the target (atomic: readers see the old or the new
/// database, never a mix). The old file's WAL, shm and journal go with it: moved
/// aside before the rename (and put back if it fails), removed after it. The caller
/// takes the safety backup first, through SQLite, so it holds the WAL's content.
pub fn restore_with<E: std::fmt::Display>(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), SourceError> {
    let tmp = beside(path);
    let result = write_checked(fill, &tmp).and_then(|()| replace(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn replace(tmp: &Path, path: &Path) -> Result<(), SourceError> {
    let mut aside = Vec::new();
    for suffix in SIDECARS {
        let old = sidecar(path, suffix);
        if old.symlink_metadata().is_err() {
            continue;
        }
        let moved = sidecar(path, &format!("{suffix}.lifeboat-old"));
        if let Err(e) = std::fs::rename(&old, &moved) {
            put_back(&aside);
            return Err(SourceError::io(format!("moving {} aside", old.display()))(
                e,
            ));
        }
        aside.push((old, moved));
    }
    if let Err(e) = std::fs::rename(tmp, path) {
        put_back(&aside);
        return Err(SourceError::io(format!("replacing {}", path.display()))(e));
    }
    for (_, moved) in &aside {
        let _ = std::fs::remove_file(moved);
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(SourceError::io("syncing the directory"))
}

fn put_back(aside: &[(PathBuf, PathBuf)]) {
    for (old, moved) in aside {
        let _ = std::fs::rename(moved, old);
    }
}

/// Removes the WAL and shm that checking a WAL-mode copy leaves beside it (we only
/// read it, so they hold nothing).
fn remove_sidecars(path: &Path) {
    for suffix in SIDECARS {
        let _ = std::fs::remove_file(sidecar(path, suffix));
    }
}

fn write_checked<E: std::fmt::Display>(
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
    tmp: &Path,
) -> Result<(), SourceError> {
    let mut file = std::fs::File::create(tmp)
        .map_err(SourceError::io(format!("creating {}", tmp.display())))?;
    fill(&mut file).map_err(|e| SourceError::Invalid(format!("writing {}: {e}", tmp.display())))?;
    file.flush()
        .and_then(|()| file.sync_all())
        .map_err(SourceError::io(format!("syncing {}", tmp.display())))?;
    let checked = facts(tmp);
    remove_sidecars(tmp);
    let (_, integrity) = checked?;
    if integrity == "ok" {
        Ok(())
    } else {
        Err(SourceError::Invalid(format!(
            "the restored database fails integrity_check: {integrity}"
        )))
    }
}
