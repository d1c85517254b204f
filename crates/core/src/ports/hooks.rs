//! The hooks port: an app's shell commands around a backup or a restore, told what
//! happens through their environment, each with a timeout, their output kept.

use crate::error::Result;
use serde::Serialize;
use std::time::Duration;

/// Default of `hook_timeout`: how long one hook command may run.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(300);

/// One stage of an app's hooks and what its commands are told (`LIFEBOAT_*`).
#[derive(Debug, Clone)]
pub struct HookCall<'a> {
    /// `before_backup`, `after_backup`, … (`LIFEBOAT_EVENT`).
    pub stage: &'a str,
    pub app: &'a str,
    pub run_id: &'a str,
    /// For the stages after the work: `ok`, `failed` or `cancelled`; empty before it.
    pub status: &'a str,
    /// The sources the run covers (`LIFEBOAT_SOURCES`, comma-separated).
    pub sources: Vec<String>,
    pub commands: &'a [String],
    pub timeout: Duration,
}

/// One hook command that ran to success, with its output (stdout and stderr, the tail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookRun {
    pub stage: String,
    pub command: String,
    pub output: String,
    pub duration_ms: u64,
}

/// Runs a stage's commands in order; the first failure stops the stage and is the
/// error (with its output's tail). On success, what each command printed.
pub trait Hooks: Send + Sync {
    fn run(&self, call: &HookCall<'_>) -> Result<Vec<HookRun>>;
}
