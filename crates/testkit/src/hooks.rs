//! Hooks that record every stage they were asked to run and fail the stages told to.

use lifeboat_core::ports::Hooks;
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

    /// `stage app` for every stage run, in order (also the failing ones).
    pub fn ran(&self) -> Vec<String> {
        lock(&self.ran).clone()
    }
}

fn lock(m: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Hooks for RecordingHooks {
    fn run(&self, stage: &str, app: &str, commands: &[String]) -> Result<(), Error> {
        if commands.is_empty() {
            return Ok(());
        }
        lock(&self.ran).push(format!("{stage} {app}"));
        if lock(&self.failing).iter().any(|s| s == stage) {
            return Err(Error::msg(
                ErrorKind::Source,
                format!("{stage} hook `{}` exited with status 1", commands[0]),
            ));
        }
        Ok(())
    }
}
