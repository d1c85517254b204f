//! The `postgres` kind as a source port: back up one database (or a cluster's
//! databases and globals), restore into a database, verify in a throwaway server.

use super::restore_target::PgRestoreTarget;
use super::verify as pgv;
use super::{cluster, parse_major, PgTarget};
use crate::checks::{compare_tables, run_verify_sql};
use crate::payload;
use crate::scratch::postgres::ScratchPostgres;
use lifeboat_core::ports::{Prepared, Purpose, RestoreTarget, SnapshotReader, SnapshotRef, Source};
use lifeboat_core::{
    CancelToken, Context, Error, Facts, Manifest, PostgresSettings, TableCount, VerifyReport,
};

/// Seconds a postgres restore waits for each lock when the source sets no
/// `lock_timeout`: long enough for a short transaction, short of looking hung.
pub const DEFAULT_LOCK_TIMEOUT: u32 = 60;

/// Parallel restore jobs when the source sets none: the machine's cores, at most 4.
pub fn default_jobs() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1).min(4))
}

pub struct PostgresSource {
    pub settings: PostgresSettings,
    pub verify_sql: Vec<String>,
}

impl Source for PostgresSource {
    fn backup(&self, _purpose: Purpose, _cancel: &CancelToken) -> Result<Prepared, Error> {
        let pg = &self.settings;
        let target = PgTarget::parse(&pg.url, pg.password.clone())?;
        let dumps = if pg.globals || pg.all_databases {
            cluster::start_cluster(&target, pg.globals, pg.all_databases)?
        } else {
            vec![super::start_backup(&target)?]
        };
        let (payload, complete) = payload::streams(dumps)?;
        Ok(Prepared {
            origin: target.url(),
            facts: Facts::default(),
            payload,
            complete,
        })
    }

    fn restore_target(&self, to: Option<&str>) -> Result<Box<dyn RestoreTarget>, Error> {
        let pg = &self.settings;
        let target = PgTarget::parse(to.unwrap_or(&pg.url), pg.password.clone())?;
        Ok(Box::new(PgRestoreTarget {
            target,
            settings: pg.clone(),
        }))
    }

    fn verify(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        manifest: &Manifest,
        report: &mut VerifyReport,
        _cancel: &CancelToken,
    ) -> Result<(), Error> {
        let jobs = self.settings.jobs.unwrap_or_else(default_jobs);
        let major = manifest
            .tool_versions
            .iter()
            .find(|v| v.starts_with("PostgreSQL"))
            .and_then(|v| parse_major(v))
            .unwrap_or(0);
        let server = ScratchPostgres::start(major)?;
        let (globals, dumps): (Vec<&String>, Vec<&String>) = manifest
            .files
            .iter()
            .partition(|f| *f == cluster::GLOBALS_FILE);
        if dumps.is_empty() {
            return Err(Error::source("the backup holds no database dump"));
        }
        for file in globals {
            let spool = server.dir().join(file);
            payload::spool(reader, snap, file, &spool)?;
            pgv::run_sql_file(&server.target("postgres"), &spool).context("restoring globals")?;
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
            payload::spool(reader, snap, file, &spool)?;
            if !pgv::database_exists(&target)? {
                pgv::create_database(&target, &spool)?;
            }
            pgv::restore_file(&target, &spool, jobs, major).with_context(|| {
                format!("pg_restore of {file} into a throwaway PostgreSQL {major} failed")
            })?;
            std::fs::remove_file(&spool).context("removing the spooled dump")?;
            report.checks.push(format!(
                "{file}: pg_restore --jobs {jobs} into a throwaway PostgreSQL {major} succeeded"
            ));
            let prefix = if several {
                format!("{db}:")
            } else {
                String::new()
            };
            let counts = pgv::table_counts(&target)?;
            found.extend(counts.into_iter().map(|t| TableCount {
                table: format!("{prefix}{}", t.table),
                rows: t.rows,
            }));
            first.get_or_insert(target);
        }
        compare_tables(&manifest.facts.tables, &found, report);
        if let Some(target) = first {
            run_verify_sql(&self.verify_sql, report, |sql| pgv::check_sql(&target, sql));
        }
        Ok(())
    }
}
