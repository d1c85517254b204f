//! What the engine reports while it works, for progress bars now and for the daemon's
//! state, metrics and notifications later: one event type, one sink trait.

use serde::Serialize;

/// One thing that happened in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        run_id: String,
        sources: usize,
    },
    SourceStarted {
        app: String,
        source: String,
        kind: String,
    },
    /// Bytes of payload read so far for this source (cumulative).
    BytesRead {
        app: String,
        source: String,
        bytes: u64,
    },
    SourceDone {
        app: String,
        source: String,
        ok: bool,
        snapshot: Option<String>,
        bytes: u64,
        error: Option<String>,
    },
    RunDone {
        run_id: String,
        ok: bool,
        cancelled: bool,
    },
}

/// Where events go. Emitting must be cheap and must never fail the work.
pub trait Events: Send + Sync {
    fn emit(&self, event: &Event);

    /// Whether `BytesRead` is wanted: it is sent after every read of a payload, so a
    /// sink that drops it spares the store that work.
    fn wants_progress(&self) -> bool {
        true
    }
}

/// A sink that drops everything (piped output, `--quiet`, `--json`).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl Events for NoEvents {
    fn emit(&self, _event: &Event) {}

    fn wants_progress(&self) -> bool {
        false
    }
}

/// Keeps every event, in order (tests, and a daemon's state in the making).
#[derive(Debug, Default)]
pub struct RecordedEvents(std::sync::Mutex<Vec<Event>>);

impl RecordedEvents {
    pub fn taken(&self) -> Vec<Event> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl Events for RecordedEvents {
    fn emit(&self, event: &Event) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event.clone());
    }
}
