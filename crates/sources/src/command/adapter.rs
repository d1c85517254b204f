//! The `command` kind as a source port: a command's stdout stored as one file, fed to
//! the restore command's stdin, verified by its sha256.

use crate::payload::{self, feed};
use lifeboat_core::ports::{Prepared, Purpose, RestoreTarget, SnapshotReader, SnapshotRef, Source};
use lifeboat_core::{
    CancelToken, CommandSettings, Error, Facts, Manifest, RestoreOptions, SourceKind, VerifyReport,
};

pub struct CommandSource {
    pub settings: CommandSettings,
}

impl Source for CommandSource {
    fn backup(&self, _purpose: Purpose, _cancel: &CancelToken) -> Result<Prepared, Error> {
        let cmd = &self.settings;
        let dump = super::start_backup(&cmd.backup_command, &cmd.filename)?;
        let (payload, complete) = payload::streams(vec![dump])?;
        Ok(Prepared {
            origin: "backup_command".to_string(),
            facts: Facts::default(),
            payload,
            complete,
        })
    }

    fn restore_target(&self, to: Option<&str>) -> Result<Box<dyn RestoreTarget>, Error> {
        let command = to
            .map(str::to_string)
            .or_else(|| self.settings.restore_command.clone())
            .ok_or_else(|| {
                Error::failed("no restore_command configured; give one with --to 'COMMAND'")
            })?;
        Ok(Box::new(CommandTarget {
            command,
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
        crate::checks::verify_streams(reader, snap, manifest, report)
    }
}

/// A shell command fed the stream; what it writes to is beyond lifeboat's sight.
struct CommandTarget {
    command: String,
    settings: CommandSettings,
}

impl RestoreTarget for CommandTarget {
    fn describe(&self) -> String {
        format!("`{}`", self.command)
    }

    /// Nothing to inspect: the command decides what it overwrites.
    fn holds_data(&self) -> Result<bool, Error> {
        Ok(false)
    }

    fn plan(&self, snapshot: &str, opts: &RestoreOptions) -> Vec<String> {
        let mut steps = vec![format!(
            "feed snapshot {snapshot} to {} on stdin",
            self.describe()
        )];
        if opts.delete {
            steps.push("--clean: lifeboat cannot empty what a command restores into; restore_command decides what is replaced".into());
        }
        steps
    }

    fn safety_kind(&self) -> SourceKind {
        SourceKind::Command(self.settings.clone())
    }

    fn restore(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        _opts: &RestoreOptions,
        _cancel: &CancelToken,
    ) -> Result<(), Error> {
        let manifest = reader.manifest(snap.id)?;
        let mut restore = super::start_restore(&self.command)?;
        let input = restore.input()?;
        feed(reader, snap, &manifest.files, input, || restore.finish())
    }
}
