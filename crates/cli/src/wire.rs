//! The composition root: the only place that knows both the adapters and the use
//! cases. Each command builds its engine here once (real source adapters, shell hooks,
//! the system clock, the terminal's events) and opens the repository it needs.

use crate::Ctx;
use lifeboat_core::ports::{Events, NoEvents};
use lifeboat_core::Config;
use lifeboat_engine::Engine;
use std::sync::Arc;

/// The engine of a command: events go to the terminal's progress bars (nowhere when
/// piped, quiet or `--json`), cancellation comes from the signal handler.
pub fn engine(ctx: &Ctx, config: &Config) -> Engine {
    engine_with(ctx, config, crate::progress::sink(ctx.quiet, ctx.json))
}

/// An engine whose events are dropped (restore, verify, prune: no progress bars).
pub fn quiet_engine(ctx: &Ctx, config: &Config) -> Engine {
    engine_with(ctx, config, Arc::new(NoEvents))
}

pub fn engine_with(ctx: &Ctx, config: &Config, events: Arc<dyn Events>) -> Engine {
    lifeboat_sources::process::keep_from_children(crate::notify::summary::secrets_of(config));
    Engine::new(
        Arc::new(lifeboat_sources::Adapters),
        Arc::new(lifeboat_sources::ShellHooks::hiding(
            crate::notify::summary::secrets_of(config)
                .into_iter()
                .map(lifeboat_core::Secret::new)
                .collect(),
        )),
    )
    .with_events(events)
    .with_journal(journal())
    .with_run_locks(run_locks(config))
    .with_cancel(ctx.cancel.clone())
    .with_timezone(config.time_zone())
    .with_redactor(lifeboat_core::Redactor::new(
        crate::notify::summary::secrets_of(config),
    ))
}

/// The user's restore journal on disk; in memory only when there is no home.
fn journal() -> Arc<dyn lifeboat_core::ports::RestoreJournal> {
    match crate::journal::FileJournal::of_user() {
        Some(journal) => Arc::new(journal),
        None => Arc::new(lifeboat_core::ports::MemoryJournal::default()),
    }
}

/// One backup run of an app at a time on this host; in memory only without a home.
fn run_locks(config: &Config) -> Arc<dyn lifeboat_core::ports::RunLocks> {
    let wait = std::time::Duration::from_secs(config.repository.lock_wait_secs);
    match crate::run_lock::FileRunLocks::of_user(wait) {
        Some(locks) => Arc::new(locks),
        None => Arc::new(lifeboat_core::ports::MemoryRunLocks::default()),
    }
}
