//! The daemon's log: one line per event on stderr, as text or JSON (`--log-format`),
//! through `tracing`, so that library warnings come out in the same format. The
//! engine's events become lines here.

use lifeboat_core::{Event, Events};

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Engine events as log lines (no progress: the daemon has no terminal).
pub struct LogEvents;

impl Events for LogEvents {
    fn emit(&self, event: &Event) {
        match event {
            Event::RunStarted { run_id, sources } => {
                tracing::info!(run = %run_id, sources, "backup run started")
            }
            Event::SourceStarted { app, source, kind } => {
                tracing::info!(app = %app, source = %source, kind = %kind, "backup started")
            }
            // The engine logs each stored backup itself.
            Event::SourceDone { ok: true, .. } => {}
            Event::SourceDone {
                app, source, error, ..
            } => tracing::error!(
                app = %app, source = %source,
                error = %error.as_deref().unwrap_or("unknown error"), "backup FAILED"
            ),
            Event::RunDone {
                run_id,
                ok,
                cancelled,
            } => tracing::info!(run = %run_id, ok, cancelled, "backup run done"),
            Event::BytesRead { .. } => {}
        }
    }

    fn wants_progress(&self) -> bool {
        false
    }
}
