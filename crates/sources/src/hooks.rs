//! App hooks: shell commands run in order around backups and restores.

use crate::process::run_shell;
use crate::SourceError;
use std::time::Duration;

/// How long one hook may run before it is killed.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs `hooks` in order; stops at the first failure.
pub fn run_hooks(stage: &str, hooks: &[String]) -> Result<(), SourceError> {
    for hook in hooks {
        tracing::info!(stage, hook, "running hook");
        run_shell(hook, HOOK_TIMEOUT)
            .map_err(|e| SourceError::Invalid(format!("{stage} hook {e}")))?;
    }
    Ok(())
}

/// The hooks port over the shell.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShellHooks;

impl lifeboat_core::ports::Hooks for ShellHooks {
    fn run(
        &self,
        stage: &str,
        _app: &str,
        commands: &[String],
    ) -> Result<(), lifeboat_core::Error> {
        Ok(run_hooks(stage, commands)?)
    }
}
