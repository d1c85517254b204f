//! App hooks: shell commands run in order around backups and restores, told what
//! happens through `LIFEBOAT_*` variables, never given the configuration's secrets
//! (variables holding one are removed from their environment), each with a timeout,
//! their output logged and returned.

use crate::process::run_shell;
use crate::SourceError;
use lifeboat_core::ports::{HookCall, HookRun};
use lifeboat_core::Secret;
use std::time::Instant;

/// The hooks port over the shell.
#[derive(Debug, Default, Clone)]
pub struct ShellHooks {
    /// The configuration's secret values: a variable holding one is not passed on.
    secrets: Vec<Secret<String>>,
}

impl ShellHooks {
    pub fn hiding(secrets: Vec<Secret<String>>) -> Self {
        Self { secrets }
    }

    /// The variables of this process that hold a secret.
    fn hidden(&self) -> Vec<String> {
        std::env::vars()
            .filter(|(_, value)| {
                !value.is_empty() && self.secrets.iter().any(|s| s.expose() == value)
            })
            .map(|(key, _)| key)
            .collect()
    }
}

fn env_of(call: &HookCall<'_>) -> Vec<(&'static str, String)> {
    vec![
        ("LIFEBOAT_APP", call.app.to_string()),
        ("LIFEBOAT_RUN_ID", call.run_id.to_string()),
        ("LIFEBOAT_EVENT", call.stage.to_string()),
        ("LIFEBOAT_STATUS", call.status.to_string()),
        ("LIFEBOAT_SOURCES", call.sources.join(",")),
    ]
}

/// Runs `call`'s commands in order; stops at the first failure.
pub fn run_hooks(call: &HookCall<'_>, hide: &[String]) -> Result<Vec<HookRun>, SourceError> {
    let env = env_of(call);
    let mut ran = Vec::new();
    for command in call.commands {
        let stage = call.stage;
        tracing::info!(stage, hook = %command, "running hook");
        let started = Instant::now();
        let output = run_shell(command, &env, hide, call.timeout)
            .map_err(|e| SourceError::Invalid(format!("{stage} hook {e}")))?;
        let output = output.trim_end().to_string();
        if !output.is_empty() {
            tracing::info!(stage, hook = %command, output = %output, "hook output");
        }
        ran.push(HookRun {
            stage: stage.to_string(),
            command: command.clone(),
            output,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
    }
    Ok(ran)
}

impl lifeboat_core::ports::Hooks for ShellHooks {
    fn run(&self, call: &HookCall<'_>) -> Result<Vec<HookRun>, lifeboat_core::Error> {
        if call.commands.is_empty() {
            return Ok(Vec::new());
        }
        Ok(run_hooks(call, &self.hidden())?)
    }
}
