//! The hooks port: an app's shell commands around a backup or a restore.

use crate::error::Result;

/// Runs an app's hook commands for one stage (`before_backup`, …), in order; the
/// first failure stops the stage.
pub trait Hooks: Send + Sync {
    fn run(&self, stage: &str, app: &str, commands: &[String]) -> Result<()>;
}
