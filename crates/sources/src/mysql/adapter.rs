//! The `mysql` kind as a source port: back up, pick the restore target (one database
//! or the server), verify in a throwaway MariaDB.

use super::restore_target::{mysql_target, MysqlRestoreTarget};
use super::{Databases, MysqlTarget};
use crate::checks::{compare_tables, run_verify_sql};
use crate::payload::{self, feed};
use crate::scratch::mariadb::ScratchMariaDb;
use lifeboat_core::ports::{Prepared, Purpose, RestoreTarget, SnapshotReader, SnapshotRef, Source};
use lifeboat_core::{
    CancelToken, Context, Error, Facts, Manifest, MysqlDatabases, MysqlSettings, TableCount,
    VerifyReport,
};

pub struct MysqlSource {
    pub settings: MysqlSettings,
    pub verify_sql: Vec<String>,
}

/// The adapter's name for the databases a `mysql` source dumps.
fn databases(d: &MysqlDatabases) -> Databases {
    match d {
        MysqlDatabases::Url => Databases::FromUrl,
        MysqlDatabases::List(names) => Databases::List(names.clone()),
        MysqlDatabases::All => Databases::All,
    }
}

impl Source for MysqlSource {
    fn backup(&self, _purpose: Purpose, _cancel: &CancelToken) -> Result<Prepared, Error> {
        let my = &self.settings;
        let target = MysqlTarget::parse(&my.url, my.password.clone())?;
        let databases = databases(&my.databases);
        let facts = Facts {
            mysql_databases: super::database_defaults(&target, &databases)?,
            ..Facts::default()
        };
        let (payload, complete) =
            payload::streams(vec![super::start_backup(&target, &databases)?])?;
        Ok(Prepared {
            origin: target.url(),
            facts,
            payload,
            complete,
        })
    }

    fn restore_target(&self, to: Option<&str>) -> Result<Box<dyn RestoreTarget>, Error> {
        let my = &self.settings;
        let target = MysqlTarget::parse(to.unwrap_or(&my.url), my.password.clone())?;
        let target = mysql_target(target, &my.databases, to.is_some())?;
        Ok(Box::new(MysqlRestoreTarget {
            target,
            settings: my.clone(),
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
        let server = ScratchMariaDb::start()?;
        // A one-database dump names no database: restore it under its original name, so
        // that its tables are counted under the names the manifest recorded.
        let origin_db = MysqlTarget::parse(&manifest.origin, None)
            .ok()
            .and_then(|t| t.dbname);
        let multi = manifest
            .files
            .first()
            .is_some_and(|f| f == "databases.sql" || f == "all-databases.sql");
        let target = match (&origin_db, multi) {
            (Some(db), false) => server.target(db),
            _ => server.root(),
        };
        let state = super::prepare_target(&target)?;
        let plan = super::LoadPlan {
            create_like: origin_db.as_ref().and_then(|db| {
                let recorded = &manifest.facts.mysql_databases;
                recorded.iter().find(|d| d.name == *db).cloned()
            }),
            dump_creates: false,
        };
        let mut restore = super::start_restore(&target, state, &plan)?;
        let input = restore.input()?;
        feed(reader, snap, &manifest.files, input, || restore.finish())
            .context("restoring into a throwaway MariaDB failed")?;
        report
            .checks
            .push("restored into a throwaway MariaDB".into());
        let mut databases: Vec<String> = (manifest.facts.tables.iter())
            .filter_map(|t| t.table.split_once('.').map(|(d, _)| d.to_string()))
            .collect();
        databases.dedup();
        let found = super::table_counts(&target, &databases)?;
        // Older manifests recorded the tables the server fills itself, too.
        let expected: Vec<TableCount> = (manifest.facts.tables.iter())
            .filter(|t| !super::is_server_maintained(&t.table))
            .cloned()
            .collect();
        compare_tables(&expected, &found, report);
        run_verify_sql(&self.verify_sql, report, |sql| {
            let rows = super::query(&target, sql)?;
            Ok(rows
                .first()
                .and_then(|r| r.first())
                .is_some_and(|v| v == "1"))
        });
        Ok(())
    }
}
