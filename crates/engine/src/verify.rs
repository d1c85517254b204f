//! `verify`: prove that a backup restores. Restore it into throwaway servers or temp
//! dirs, compare with the facts its manifest recorded at backup time, run the source's
//! `verify_sql`, throw everything away, and record the result in the repository.

use crate::select::pick_of_kind;
use crate::EngineError;
use lifeboat_core::layout::{self, payload_root, TAG_VERIFY};
use lifeboat_core::manifest::MANIFEST_VERSION;
use lifeboat_core::{AppSpec, Facts, Manifest, SourceKind, SourceSpec, TableCount};
use lifeboat_repo::{Repo, RepoReader, SnapshotMeta, StreamEntry};
use lifeboat_sources::mysql::{self, MysqlTarget};
use lifeboat_sources::postgres::{cluster, parse_major, verify as pgv};
use lifeboat_sources::redis;
use lifeboat_sources::scratch::mariadb::ScratchMariaDb;
use lifeboat_sources::scratch::postgres::ScratchPostgres;
use lifeboat_sources::scratch::redis::ScratchRedis;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// The outcome of verifying one backup.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct VerifyReport {
    pub app: String,
    pub source: String,
    pub kind: String,
    pub snapshot: String,
    pub ok: bool,
    pub verified_at: String,
    pub duration_ms: u64,
    /// What was checked and held.
    pub checks: Vec<String>,
    /// What differed: expected vs found.
    pub problems: Vec<String>,
}

/// Verifies the backup of `app/source` chosen by `snapshot` and records the result.
pub fn verify_source(
    repo: &mut Repo,
    app: &AppSpec,
    source: &SourceSpec,
    snapshot: &str,
    run_id: &str,
    now: &jiff::Zoned,
) -> Result<VerifyReport, EngineError> {
    let spec = format!("{}/{}", app.name, source.name);
    let snapshots = repo.list()?;
    let chosen = pick_of_kind(
        &snapshots,
        &app.name,
        &source.name,
        source.kind.name(),
        snapshot,
    )?
    .clone();
    let started = Instant::now();
    let mut report = VerifyReport {
        app: app.name.clone(),
        source: source.name.clone(),
        kind: source.kind.name().to_string(),
        snapshot: chosen.id.clone(),
        ok: false,
        verified_at: now.timestamp().to_string(),
        duration_ms: 0,
        checks: Vec::new(),
        problems: Vec::new(),
    };
    {
        let reader = repo.reader()?;
        let manifest = reader.manifest(&chosen.id)?;
        let root = payload_root(&app.name, &source.name);
        let ctx = Checked {
            reader: &reader,
            id: &chosen.id,
            root: &root,
            manifest: &manifest,
        };
        let outcome = match &source.kind {
            SourceKind::Postgres(pg) => ctx.postgres(
                pg.jobs.unwrap_or_else(crate::restore::default_jobs),
                &source.verify_sql,
                &mut report,
            ),
            SourceKind::Files(_) => ctx.files(&mut report),
            SourceKind::Command(_) => ctx.stream(&mut report),
            SourceKind::Sqlite(_) => ctx.sqlite(&mut report),
            SourceKind::Mysql(_) => ctx.mysql(&source.verify_sql, &mut report),
            SourceKind::Redis(_) => ctx.redis(&mut report),
            SourceKind::Bucket(_) => ctx.stream(&mut report),
        };
        if let Err(message) = outcome {
            report.problems.push(message);
        }
    }
    report.ok = report.problems.is_empty() && !report.checks.is_empty();
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    record(repo, &report, run_id, now)
        .map_err(|e| EngineError::failed(&spec, format!("recording the result: {e}")))?;
    Ok(report)
}

/// Stores the report as a small snapshot tagged `lifeboat-verify` and `verifies=ID`.
fn record(
    repo: &mut Repo,
    report: &VerifyReport,
    run_id: &str,
    now: &jiff::Zoned,
) -> Result<(), EngineError> {
    let json = serde_json::to_vec_pretty(report).unwrap_or_default();
    let tags = vec![
        TAG_VERIFY.to_string(),
        format!("app={}", report.app),
        format!("source={}", report.source),
        format!("verifies={}", report.snapshot),
        format!("result={}", if report.ok { "pass" } else { "fail" }),
        format!("run={run_id}"),
        layout::PURPOSE_VERIFY.to_string(),
    ];
    let meta = SnapshotMeta {
        root: format!("{}/verify", payload_root(&report.app, &report.source)),
        tags,
        time: now.clone(),
    };
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        lifeboat_version: env!("CARGO_PKG_VERSION").to_string(),
        app: report.app.clone(),
        source: report.source.clone(),
        kind: "verify".into(),
        run_id: run_id.to_string(),
        origin: report.snapshot.clone(),
        files: vec!["verify.json".into()],
        tool_versions: Vec::new(),
        started_at: report.verified_at.clone(),
        duration_ms: report.duration_ms,
        facts: Facts::default(),
        purpose: Some("verify".into()),
    };
    let entry = StreamEntry {
        name: "verify.json".into(),
        reader: Box::new(std::io::Cursor::new(json)),
        hash: false,
    };
    repo.store_streams(
        &meta,
        vec![entry],
        Box::new(move |_| Ok(manifest.to_json())),
    )?;
    Ok(())
}

/// One backup under verification.
struct Checked<'a, 'r> {
    reader: &'a RepoReader<'r>,
    id: &'a str,
    root: &'a str,
    manifest: &'a Manifest,
}

impl Checked<'_, '_> {
    fn postgres(
        &self,
        jobs: u32,
        verify_sql: &[String],
        report: &mut VerifyReport,
    ) -> Result<(), String> {
        let major = self
            .manifest
            .tool_versions
            .iter()
            .find(|v| v.starts_with("PostgreSQL"))
            .and_then(|v| parse_major(v))
            .unwrap_or(0);
        let server = ScratchPostgres::start(major).map_err(|e| e.to_string())?;
        let (globals, dumps): (Vec<&String>, Vec<&String>) = self
            .manifest
            .files
            .iter()
            .partition(|f| *f == cluster::GLOBALS_FILE);
        if dumps.is_empty() {
            return Err("the backup holds no database dump".into());
        }
        for file in globals {
            let spool = server.dir().join(file);
            self.spool(file, &spool)?;
            pgv::run_sql_file(&server.target("postgres"), &spool)
                .map_err(|e| format!("restoring globals: {e}"))?;
            report.checks.push("globals restored with psql".into());
        }
        let several = dumps.len() > 1;
        let mut found = Vec::new();
        let mut first = None;
        for file in dumps {
            let db = if several {
                file.strip_suffix(".pgdump").unwrap_or(file)
            } else {
                "lifeboat_verify"
            };
            let target = server.target(db);
            let spool = server.dir().join("backup.pgdump");
            self.spool(file, &spool)?;
            if !pgv::database_exists(&target).map_err(|e| e.to_string())? {
                pgv::create_database(&target, &spool).map_err(|e| e.to_string())?;
            }
            pgv::restore_file(&target, &spool, jobs, major).map_err(|e| {
                format!("pg_restore of {file} into a throwaway PostgreSQL {major} failed: {e}")
            })?;
            std::fs::remove_file(&spool).map_err(|e| e.to_string())?;
            report.checks.push(format!(
                "{file}: pg_restore --jobs {jobs} into a throwaway PostgreSQL {major} succeeded"
            ));
            let prefix = if several {
                format!("{db}:")
            } else {
                String::new()
            };
            let counts = pgv::table_counts(&target).map_err(|e| e.to_string())?;
            found.extend(counts.into_iter().map(|t| TableCount {
                table: format!("{prefix}{}", t.table),
                rows: t.rows,
            }));
            first.get_or_insert(target);
        }
        compare_tables(&self.manifest.facts.tables, &found, report);
        if let Some(target) = first {
            run_verify_sql(verify_sql, report, |sql| pgv::check_sql(&target, sql));
        }
        Ok(())
    }

    fn spool(&self, file: &str, to: &Path) -> Result<(), String> {
        let mut out =
            std::fs::File::create(to).map_err(|e| format!("spooling to {}: {e}", to.display()))?;
        self.reader
            .dump(self.id, self.root, file, &mut out)
            .map_err(|e| e.to_string())?;
        out.sync_data().map_err(|e| e.to_string())
    }

    fn files(&self, report: &mut VerifyReport) -> Result<(), String> {
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-verify-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        self.reader
            .restore_tree(
                self.id,
                self.root,
                dir.path(),
                &lifeboat_repo::TreeRestoreOptions::default(),
            )
            .map_err(|e| e.to_string())?;
        let (count, bytes) = count_files(dir.path()).map_err(|e| e.to_string())?;
        let facts = &self.manifest.facts;
        expect(report, "files", facts.file_count, count);
        expect(report, "bytes", facts.total_bytes, bytes);
        Ok(())
    }

    fn mysql(&self, verify_sql: &[String], report: &mut VerifyReport) -> Result<(), String> {
        let server = ScratchMariaDb::start().map_err(|e| e.to_string())?;
        // A one-database dump names no database: restore it under its original name, so
        // that its tables are counted under the names the manifest recorded.
        let origin_db = MysqlTarget::parse(&self.manifest.origin, None)
            .ok()
            .and_then(|t| t.dbname);
        let multi = self
            .manifest
            .files
            .first()
            .is_some_and(|f| f == "databases.sql" || f == "all-databases.sql");
        let target = match (&origin_db, multi) {
            (Some(db), false) => server.target(db),
            _ => server.root(),
        };
        let state = mysql::prepare_target(&target).map_err(|e| e.to_string())?;
        let plan = mysql::LoadPlan {
            create_like: origin_db.as_ref().and_then(|db| {
                let recorded = &self.manifest.facts.mysql_databases;
                recorded.iter().find(|d| d.name == *db).cloned()
            }),
            dump_creates: false,
        };
        let mut restore = mysql::start_restore(&target, state, &plan).map_err(|e| e.to_string())?;
        let input = restore.input().map_err(|e| e.to_string())?;
        crate::restore::feed(
            self.reader,
            self.id,
            self.root,
            &self.manifest.files,
            input,
            || restore.finish(),
        )
        .map_err(|e| format!("restoring into a throwaway MariaDB failed: {e}"))?;
        report
            .checks
            .push("restored into a throwaway MariaDB".into());
        let mut databases: Vec<String> = self
            .manifest
            .facts
            .tables
            .iter()
            .filter_map(|t| t.table.split_once('.').map(|(d, _)| d.to_string()))
            .collect();
        databases.dedup();
        let found = mysql::table_counts(&target, &databases).map_err(|e| e.to_string())?;
        // Older manifests recorded the tables the server fills itself, too.
        let expected: Vec<TableCount> = (self.manifest.facts.tables.iter())
            .filter(|t| !mysql::is_server_maintained(&t.table))
            .cloned()
            .collect();
        compare_tables(&expected, &found, report);
        run_verify_sql(verify_sql, report, |sql| {
            let rows = mysql::query(&target, sql)?;
            Ok(rows
                .first()
                .and_then(|r| r.first())
                .is_some_and(|v| v == "1"))
        });
        Ok(())
    }

    fn redis(&self, report: &mut VerifyReport) -> Result<(), String> {
        let dir = crate::restore::spool_rdb(self.reader, self.id, self.root)?;
        // Keys whose expiry passed since the backup are still in the RDB: counted too.
        let server = ScratchRedis::start_keeping_expired(&dir.path().join("dump.rdb"))
            .map_err(|e| e.to_string())?;
        report
            .checks
            .push("the RDB loads into a throwaway redis-server".into());
        let (found, found_expiring) =
            redis::keyspace_counts(&server.target()).map_err(|e| e.to_string())?;
        let facts = &self.manifest.facts;
        let expected = Keys {
            keys: &facts.tables,
            expiring: &facts.expiring_keys,
        };
        let found = Keys {
            keys: &found,
            expiring: &found_expiring,
        };
        compare_keys(&expected, &found, report);
        Ok(())
    }

    fn sqlite(&self, report: &mut VerifyReport) -> Result<(), String> {
        let file = self
            .manifest
            .files
            .first()
            .ok_or("the backup holds no database file")?;
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-verify-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let path = dir.path().join(file);
        self.spool(file, &path)?;
        let (found, integrity) =
            lifeboat_sources::sqlite::facts(&path).map_err(|e| e.to_string())?;
        if integrity == "ok" {
            report.checks.push("PRAGMA integrity_check: ok".into());
        } else {
            report
                .problems
                .push(format!("PRAGMA integrity_check: {integrity}"));
        }
        compare_tables(&self.manifest.facts.tables, &found, report);
        Ok(())
    }

    /// Reads every payload file back and checks its sha256, then the totals (for a
    /// bucket: its objects, without the metadata document).
    fn stream(&self, report: &mut VerifyReport) -> Result<(), String> {
        let (mut total, mut count) = (0, 0);
        let files = &self.manifest.files;
        let bucket = self.manifest.kind == "bucket";
        for file in files {
            if bucket && lifeboat_sources::bucket::is_metadata(files, file) {
                continue;
            }
            count += 1;
            let mut sink = HashingSink::default();
            self.reader
                .dump(self.id, self.root, file, &mut sink)
                .map_err(|e| e.to_string())?;
            let sha = hex::encode(sink.hasher.finalize());
            match self.manifest.facts.sha256.iter().find(|(n, _)| n == file) {
                Some((_, want)) if *want == sha => {
                    report.checks.push(format!("{file}: sha256 {sha} matches"))
                }
                Some((_, want)) => report
                    .problems
                    .push(format!("{file}: sha256 expected {want}, found {sha}")),
                None => report.problems.push(format!("{file}: no sha256 recorded")),
            }
            total += sink.bytes;
        }
        expect(report, "files", self.manifest.facts.file_count, count);
        expect(report, "bytes", self.manifest.facts.total_bytes, total);
        Ok(())
    }
}

#[derive(Default)]
struct HashingSink {
    hasher: Sha256,
    bytes: u64,
}

impl Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn expect(report: &mut VerifyReport, what: &str, expected: u64, found: u64) {
    if expected == found {
        report.checks.push(format!("{what}: {found} as recorded"));
    } else {
        report
            .problems
            .push(format!("{what}: expected {expected}, found {found}"));
    }
}

/// Runs each `verify_sql` statement on the restored database with `check` (which says
/// whether it returned true); each must.
fn run_verify_sql(
    verify_sql: &[String],
    report: &mut VerifyReport,
    check: impl Fn(&str) -> Result<bool, lifeboat_sources::SourceError>,
) {
    for sql in verify_sql {
        match check(sql) {
            Ok(true) => report
                .checks
                .push(format!("verify_sql `{sql}` returned true")),
            Ok(false) => report
                .problems
                .push(format!("verify_sql `{sql}` did not return true")),
            Err(e) => report
                .problems
                .push(format!("verify_sql `{sql}` failed: {e}")),
        }
    }
}

/// Regular files and their total size under `dir` (symlinks not followed).
fn count_files(dir: &Path) -> std::io::Result<(u64, u64)> {
    let (mut count, mut bytes) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.path().symlink_metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                count += 1;
                bytes += meta.len();
            }
        }
    }
    Ok((count, bytes))
}

/// Keys per logical database, and how many of them have an expiry.
struct Keys<'a> {
    keys: &'a [TableCount],
    expiring: &'a [TableCount],
}

impl Keys<'_> {
    fn count(list: &[TableCount], db: &str) -> u64 {
        list.iter().find(|t| t.table == db).map_or(0, |t| t.rows)
    }

    /// (keys, keys with an expiry) of `db`.
    fn of(&self, db: &str) -> (u64, u64) {
        (Self::count(self.keys, db), Self::count(self.expiring, db))
    }
}

/// Compares recorded and loaded key counts per logical database. Keys with an expiry
/// may be gone (a server drops them when it loads an RDB after their time): a
/// shortfall of such keys is explained; any other difference is a problem.
fn compare_keys(expected: &Keys<'_>, found: &Keys<'_>, report: &mut VerifyReport) {
    let mut dbs: Vec<&str> = expected
        .keys
        .iter()
        .chain(found.keys)
        .map(|t| t.table.as_str())
        .collect();
    dbs.sort_unstable();
    dbs.dedup();
    for db in dbs {
        let ((want, want_exp), (got, got_exp)) = (expected.of(db), found.of(db));
        // Keys without an expiry must all be there; of the others, none may be new.
        let persistent_match = want.checked_sub(want_exp) == got.checked_sub(got_exp);
        if want == got {
            report.checks.push(format!("{db}: {got} keys as recorded"));
        } else if got < want && got_exp <= want_exp && persistent_match {
            report.checks.push(format!(
                "{db}: {got} of {want} keys; the {} missing had an expiry and have expired",
                want - got
            ));
        } else {
            let with = |n: u64| match n {
                0 => String::new(),
                n => format!(" ({n} with an expiry)"),
            };
            report.problems.push(format!(
                "{db}: expected {want} keys{}, found {got}{}",
                with(want_exp),
                with(got_exp)
            ));
        }
    }
}

/// Compares recorded and restored row counts table by table.
pub fn compare_tables(expected: &[TableCount], found: &[TableCount], report: &mut VerifyReport) {
    if found.is_empty() {
        report
            .problems
            .push("the restored database holds no tables".into());
    }
    for want in expected {
        match found.iter().find(|f| f.table == want.table) {
            Some(got) if got.rows == want.rows => {}
            Some(got) => report.problems.push(format!(
                "table {}: expected {} rows, found {}",
                want.table, want.rows, got.rows
            )),
            None => report.problems.push(format!(
                "table {}: missing after restore (expected {} rows)",
                want.table, want.rows
            )),
        }
    }
    for got in found
        .iter()
        .filter(|f| !expected.iter().any(|e| e.table == f.table))
    {
        report.problems.push(format!(
            "table {}: not in the manifest ({} rows)",
            got.table, got.rows
        ));
    }
    let matching = expected
        .iter()
        .filter(|e| found.iter().any(|f| f.table == e.table && f.rows == e.rows))
        .count();
    report.checks.push(format!(
        "{matching} of {} tables have the recorded row counts",
        expected.len()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, rows: u64) -> TableCount {
        TableCount {
            table: name.into(),
            rows,
        }
    }

    fn empty() -> VerifyReport {
        VerifyReport {
            app: "a".into(),
            source: "s".into(),
            kind: "postgres".into(),
            snapshot: "x".into(),
            ok: false,
            verified_at: String::new(),
            duration_ms: 0,
            checks: vec![],
            problems: vec![],
        }
    }

    #[test]
    fn table_comparison_names_every_difference() {
        let mut r = empty();
        compare_tables(
            &[t("public.a", 3), t("public.b", 5), t("public.c", 1)],
            &[t("public.a", 3), t("public.b", 4), t("public.d", 9)],
            &mut r,
        );
        assert_eq!(
            r.problems,
            vec![
                "table public.b: expected 5 rows, found 4",
                "table public.c: missing after restore (expected 1 rows)",
                "table public.d: not in the manifest (9 rows)",
            ]
        );
        assert_eq!(r.checks, vec!["1 of 3 tables have the recorded row counts"]);
    }

    #[test]
    fn expired_keys_explain_a_shortfall_and_nothing_else() {
        let keys = |k: &[TableCount], e: &[TableCount], report: &mut VerifyReport| {
            let want = [t("db0", 5), t("db1", 2)];
            let want_exp = [t("db0", 2)];
            let expected = Keys {
                keys: &want,
                expiring: &want_exp,
            };
            compare_keys(
                &expected,
                &Keys {
                    keys: k,
                    expiring: e,
                },
                report,
            );
        };
        let mut r = empty();
        keys(&[t("db0", 3), t("db1", 2)], &[], &mut r);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(
            r.checks[0],
            "db0: 3 of 5 keys; the 2 missing had an expiry and have expired"
        );
        // A key without an expiry is gone: not explained.
        let mut r = empty();
        keys(&[t("db0", 4), t("db1", 2)], &[t("db0", 2)], &mut r);
        assert_eq!(
            r.problems,
            vec!["db0: expected 5 keys (2 with an expiry), found 4 (2 with an expiry)"]
        );
        let mut r = empty();
        keys(&[t("db0", 5), t("db1", 1)], &[t("db0", 2)], &mut r);
        assert_eq!(r.problems, vec!["db1: expected 2 keys, found 1"]);
        let mut r = empty();
        keys(&[t("db0", 6), t("db1", 2)], &[t("db0", 3)], &mut r);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    }

    #[test]
    fn an_empty_restore_fails() {
        let mut r = empty();
        compare_tables(&[], &[], &mut r);
        assert_eq!(r.problems, vec!["the restored database holds no tables"]);
    }
}
