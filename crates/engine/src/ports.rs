//! The engine's view of the world: the ports a use case works over, built once per
//! command by the composition root (the cli's `wire.rs`) or a test.

use lifeboat_core::ports::{
    Clock, Events, Hooks, MemoryJournal, MemoryRunLocks, NoEvents, RestoreJournal, RunLocks,
    SourceFactory, SystemClock,
};
use lifeboat_core::{CancelToken, Redactor};
use std::sync::Arc;

/// The adapters and controls every use case shares.
#[derive(Clone)]
pub struct Engine {
    pub sources: Arc<dyn SourceFactory>,
    pub hooks: Arc<dyn Hooks>,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn Events>,
    /// Set by SIGINT/SIGTERM: every use case stops at its next step.
    pub cancel: CancelToken,
    /// The days, weeks and months of retention.
    pub timezone: jiff::tz::TimeZone,
    /// Masks the configuration's secrets in what tools printed, before it is reported.
    pub redactor: Arc<Redactor>,
    /// Records each restore while it runs, so a crash's half-restored target is named.
    pub journal: Arc<dyn RestoreJournal>,
    /// One backup run of an app at a time.
    pub run_locks: Arc<dyn RunLocks>,
}

impl Engine {
    /// An engine over `sources` and `hooks` with the system clock, no events and a
    /// token nobody cancels.
    pub fn new(sources: Arc<dyn SourceFactory>, hooks: Arc<dyn Hooks>) -> Self {
        Self {
            sources,
            hooks,
            clock: Arc::new(SystemClock),
            events: Arc::new(NoEvents),
            cancel: CancelToken::new(),
            timezone: jiff::tz::TimeZone::UTC,
            redactor: Arc::new(Redactor::default()),
            journal: Arc::new(MemoryJournal::default()),
            run_locks: Arc::new(MemoryRunLocks::default()),
        }
    }

    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = Arc::new(redactor);
        self
    }

    pub fn with_journal(mut self, journal: Arc<dyn RestoreJournal>) -> Self {
        self.journal = journal;
        self
    }

    pub fn with_run_locks(mut self, run_locks: Arc<dyn RunLocks>) -> Self {
        self.run_locks = run_locks;
        self
    }

    pub fn with_timezone(mut self, timezone: jiff::tz::TimeZone) -> Self {
        self.timezone = timezone;
        self
    }

    pub fn with_events(mut self, events: Arc<dyn Events>) -> Self {
        self.events = events;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// A fresh run id and the time it starts: the start time plus a few bits that
    /// differ between processes.
    pub fn new_run(&self) -> (String, jiff::Zoned) {
        let now = self.clock.now();
        let nanos = now.timestamp().subsec_nanosecond().unsigned_abs();
        let entropy = (nanos ^ std::process::id().rotate_left(7)) as u16;
        let utc = now.timestamp().to_zoned(jiff::tz::TimeZone::UTC);
        let stamp = utc.strftime("%Y%m%dT%H%M%SZ").to_string();
        (lifeboat_core::layout::run_id(&stamp, entropy), now)
    }
}
