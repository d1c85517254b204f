//! Hooks that record every stage they were asked to run and fail the stages told to.

use lifeboat_core::ports::{HookCall, HookRun, Hooks};
use lifeboat_core::{Error, ErrorKind};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct RecordingHooks {
    ran: Mutex<Vec<String>>,
    failing: Mutex<Vec<String>>,
}

impl RecordingHooks {
    /// Hooks of `stage` (`before_backup`, …) fail from now on.
    pub fn fail(&self, stage: &str) {
        lock(&self.failing).push(stage.into());
    }

    /// `stage app` for every stage run, in order (also the failing ones); with the
    /// status for stages after the work (`after_backup shop ok`).
    pub fn ran(&self) -> Vec<String> {
        lock(&self.ran).clone()
    }
}

fn lock(m: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Hooks for RecordingHooks {
    fn run(&self, call: &HookCall<'_>) -> Result<Vec<HookRun>, Error> {
        let (stage, app) = (call.stage, call.app);
        let Some(first) = call.commands.first() else {
            return Ok(Vec::new());
        };
        let line = match call.status {
            "" => format!("{stage} {app}"),
            status => format!("{stage} {app} {status}"),
        };
        lock(&self.ran).push(line);
        if lock(&self.failing).iter().any(|s| s == stage) {
            return Err(Error::msg(
                ErrorKind::Source,
                format!("{stage} hook `{first}` exited with status 1"),
            ));
        }
        Ok(call
            .commands
            .iter()
            .map(|c| HookRun {
                stage: stage.to_string(),
                command: c.clone(),
                output: String::new(),
                duration_ms: 0,
            })
            .collect())
    }
}
