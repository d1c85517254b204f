//! The `sqlite` kind as a source port: an online backup through SQLite, restored
//! beside the target and renamed over it, verified by its integrity check and rows.

use crate::checks::compare_tables;
use crate::payload::{self, first_file};
use lifeboat_core::ports::{Prepared, Purpose, RestoreTarget, SnapshotReader, SnapshotRef, Source};
use lifeboat_core::{
    CancelToken, Error, Facts, Manifest, RestoreOptions, SourceKind, SqliteSettings, VerifyReport,
};
use std::path::PathBuf;

pub struct SqliteSource {
    pub settings: SqliteSettings,
}

impl Source for SqliteSource {
    fn backup(&self, _purpose: Purpose, _cancel: &CancelToken) -> Result<Prepared, Error> {
        let path = &self.settings.path;
        let (payload, complete) = payload::streams(vec![super::start_backup(path)?])?;
        Ok(Prepared {
            origin: path.display().to_string(),
            facts: Facts::default(),
            payload,
            complete,
        })
    }

    fn restore_target(&self, to: Option<&str>) -> Result<Box<dyn RestoreTarget>, Error> {
        Ok(Box::new(SqliteTarget {
            path: to.map_or_else(|| self.settings.path.clone(), PathBuf::from),
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
        let file = first_file(manifest, "database file")?;
        let dir = payload::temp_dir("verify")?;
        let path = dir.path().join(file);
        payload::spool(reader, snap, file, &path)?;
        let (found, integrity) = super::facts(&path)?;
        if integrity == "ok" {
            report.checks.push("PRAGMA integrity_check: ok".into());
        } else {
            report
                .problems
                .push(format!("PRAGMA integrity_check: {integrity}"));
        }
        compare_tables(&manifest.facts.tables, &found, report);
        Ok(())
    }
}

struct SqliteTarget {
    path: PathBuf,
}

impl RestoreTarget for SqliteTarget {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn holds_data(&self) -> Result<bool, Error> {
        Ok(super::holds_data(&self.path))
    }

    fn plan(&self, snapshot: &str, _opts: &RestoreOptions) -> Vec<String> {
        // The file is replaced whole: a restore is always clean.
        vec![format!(
            "write snapshot {snapshot} beside {}, check integrity, rename over it (the whole file is replaced)",
            self.describe()
        )]
    }

    fn safety_kind(&self) -> SourceKind {
        SourceKind::Sqlite(SqliteSettings {
            path: self.path.clone(),
        })
    }

    fn restore(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        _opts: &RestoreOptions,
        _cancel: &CancelToken,
    ) -> Result<(), Error> {
        let manifest = reader.manifest(snap.id)?;
        let file = first_file(&manifest, "database file")?;
        super::restore_with(&self.path, |out| reader.dump(snap, file, out))?;
        Ok(())
    }
}
