//! The `files` kind as a source port: a directory tree stored as it is (without what
//! the excludes match), restored with rsync-like deletions, verified by files and bytes.

use crate::checks::count_files;
use crate::payload;
use lifeboat_core::ports::{
    Payload, Prepared, Purpose, RestoreTarget, SnapshotReader, SnapshotRef, Source,
    TreeRestoreOptions,
};
use lifeboat_core::{
    CancelToken, Context, Error, Facts, FilesSettings, Manifest, RestoreOptions, SourceKind,
    VerifyReport,
};
use std::path::PathBuf;

pub struct FilesSource {
    pub settings: FilesSettings,
}

impl Source for FilesSource {
    fn backup(&self, purpose: Purpose, _cancel: &CancelToken) -> Result<Prepared, Error> {
        let files = &self.settings;
        super::check_readable(&files.path)?;
        // A safety copy keeps everything, excluded paths too: restore --delete may remove them.
        let exclude = match purpose {
            Purpose::PreRestore => Vec::new(),
            Purpose::Backup => files.exclude.clone(),
        };
        Ok(Prepared {
            origin: files.path.display().to_string(),
            facts: Facts::default(),
            payload: Payload::Tree {
                path: files.path.clone(),
                exclude,
            },
            complete: Box::new(Ok),
        })
    }

    fn restore_target(&self, to: Option<&str>) -> Result<Box<dyn RestoreTarget>, Error> {
        Ok(Box::new(FilesTarget {
            dir: to.map_or_else(|| self.settings.path.clone(), PathBuf::from),
            settings: self.settings.clone(),
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
        let dir = payload::temp_dir("verify")?;
        reader.restore_tree(snap, dir.path(), &TreeRestoreOptions::default())?;
        let (count, bytes) = count_files(dir.path()).context("counting the restored files")?;
        report.expect("files", manifest.facts.file_count, count);
        report.expect("bytes", manifest.facts.total_bytes, bytes);
        Ok(())
    }
}

struct FilesTarget {
    dir: PathBuf,
    settings: FilesSettings,
}

impl FilesTarget {
    /// How the restore treats the target's extra entries: the source's excludes
    /// protect paths from `--delete` unless `--delete-excluded`.
    fn tree_options(&self, opts: &RestoreOptions) -> TreeRestoreOptions {
        TreeRestoreOptions {
            delete: opts.delete || opts.delete_excluded,
            delete_excluded: opts.delete_excluded,
            exclude: self.settings.exclude.clone(),
        }
    }
}

impl RestoreTarget for FilesTarget {
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    fn holds_data(&self) -> Result<bool, Error> {
        Ok(super::holds_data(&self.dir)?)
    }

    fn plan(&self, snapshot: &str, opts: &RestoreOptions) -> Vec<String> {
        let delete = match (opts.delete, opts.delete_excluded) {
            (true, false) => ", deleting files not in the backup (excluded paths are kept)",
            (true, true) => ", deleting files not in the backup, excluded paths too",
            (false, _) => "",
        };
        vec![format!(
            "restore snapshot {snapshot} into {}{delete}",
            self.describe()
        )]
    }

    fn plans_removals(&self) -> bool {
        true
    }

    fn plan_removals(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        opts: &RestoreOptions,
    ) -> Result<Vec<String>, Error> {
        reader.plan_tree(snap, &self.dir, &self.tree_options(opts))
    }

    fn safety_kind(&self) -> SourceKind {
        SourceKind::Files(FilesSettings {
            path: self.dir.clone(),
            ..self.settings.clone()
        })
    }

    fn restore(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        opts: &RestoreOptions,
        _cancel: &CancelToken,
    ) -> Result<(), Error> {
        reader.restore_tree(snap, &self.dir, &self.tree_options(opts))
    }
}
