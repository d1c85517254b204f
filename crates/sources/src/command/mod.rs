//! The `command` kind: a shell command's stdout is the backup (e.g. `kubectl get
//! secrets -o json`); a restore feeds the stream to another command's stdin.

pub mod adapter;

use crate::dump::{Dump, DumpFacts};
use crate::process::{Feeder, Pipes, Running};
use crate::SourceError;
use std::process::Command;

fn shell(command: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command);
    cmd
}

/// Starts `backup_command`; its output is stored as `filename`.
pub fn start_backup(backup_command: &str, filename: &str) -> Result<Dump, SourceError> {
    let mut running = Running::spawn("backup_command", &mut shell(backup_command), Pipes::Stdout)?;
    let stdout = running
        .take_stdout()
        .ok_or_else(|| SourceError::Invalid("backup_command has no stdout".into()))?;
    Ok(Dump {
        name: filename.to_string(),
        stream: Box::new(stdout),
        hash: true,
        running: true,
        finish: Box::new(move || running.finish().map(|_| DumpFacts::default())),
    })
}

/// A restore in progress: write the stream into `input()`, then `finish()`.
pub type CommandRestore = Feeder;

pub fn start_restore(restore_command: &str) -> Result<CommandRestore, SourceError> {
    let running = Running::spawn("restore_command", &mut shell(restore_command), Pipes::Stdin)?;
    Ok(Feeder::new(running, (), String::new()))
}
