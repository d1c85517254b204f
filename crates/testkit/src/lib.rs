//! Fakes of lifeboat's ports, so that the engine's rules are tested in milliseconds
//! without servers: sources that misbehave on cue, an in-memory repository that can
//! fail, a clock at a chosen time, hooks that record and fail on cue. Tests only.

pub mod clock;
pub mod hooks;
pub mod repository;
pub mod source;

pub use clock::FakeClock;
pub use hooks::RecordingHooks;
pub use repository::{MemRepository, StoredPayload};
pub use source::{Behaviour, FakeSources};

use lifeboat_core::{AppSpec, CommandSettings, SourceKind, SourceSpec};

/// A source spec the fakes serve by name (its kind is only a label: `command`).
pub fn source_spec(name: &str) -> SourceSpec {
    SourceSpec {
        name: name.to_string(),
        restore_after: Vec::new(),
        verify_sql: Vec::new(),
        kind: SourceKind::Command(CommandSettings {
            backup_command: format!("fake {name}"),
            restore_command: None,
            filename: format!("{name}.out"),
        }),
        retention: None,
        schedule: None,
    }
}

/// An app with these sources and hooks (`echo before` style commands, only recorded).
pub fn app_spec(name: &str, sources: &[&str]) -> AppSpec {
    AppSpec {
        name: name.to_string(),
        before_backup: vec![format!("before {name}")],
        after_backup: vec![format!("after {name}")],
        before_restore: Vec::new(),
        after_restore: Vec::new(),
        hook_timeout_secs: 300,
        // One at a time: the rules tests assert an order; parallel runs set it.
        max_parallel: 1,
        schedules: Default::default(),
        sources: sources.iter().map(|s| source_spec(s)).collect(),
        stored_config: None,
    }
}
