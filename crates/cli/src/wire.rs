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
    .with_cancel(ctx.cancel.clone())
    .with_timezone(config.time_zone())
    .with_redactor(lifeboat_core::Redactor::new(
        crate::notify::summary::secrets_of(config),
    ))
}
