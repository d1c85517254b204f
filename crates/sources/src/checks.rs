//! The checks a verification makes, shared by the kinds: row counts table by table,
//! keys per database, files and bytes of a tree, payload files by their sha256, and
//! the source's `verify_sql`.

use crate::SourceError;
use lifeboat_core::ports::{SnapshotReader, SnapshotRef};
use lifeboat_core::{Error, Manifest, TableCount, VerifyReport};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// Reads every payload file back and checks its sha256, then the totals (for a
/// bucket: its objects, without the metadata document).
pub fn verify_streams(
    reader: &dyn SnapshotReader,
    snap: SnapshotRef<'_>,
    manifest: &Manifest,
    report: &mut VerifyReport,
) -> Result<(), Error> {
    let (mut total, mut count) = (0, 0);
    let files = &manifest.files;
    let bucket = manifest.kind == "bucket";
    for file in files {
        if bucket && crate::bucket::is_metadata(files, file) {
            continue;
        }
        count += 1;
        let mut sink = HashingSink::default();
        reader.dump(snap, file, &mut sink)?;
        let sha = hex::encode(sink.hasher.finalize());
        match manifest.facts.sha256.iter().find(|(n, _)| n == file) {
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
    report.expect("files", manifest.facts.file_count, count);
    report.expect("bytes", manifest.facts.total_bytes, total);
    Ok(())
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

/// Runs each `verify_sql` statement on the restored database with `check` (which says
/// whether it returned true); each must.
pub fn run_verify_sql(
    verify_sql: &[String],
    report: &mut VerifyReport,
    check: impl Fn(&str) -> Result<bool, SourceError>,
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
pub fn count_files(dir: &Path) -> std::io::Result<(u64, u64)> {
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
pub struct Keys<'a> {
    pub keys: &'a [TableCount],
    pub expiring: &'a [TableCount],
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
pub fn compare_keys(expected: &Keys<'_>, found: &Keys<'_>, report: &mut VerifyReport) {
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
