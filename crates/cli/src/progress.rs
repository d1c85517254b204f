//! Progress on a terminal: one line per source being backed up (bytes read, rate,
//! time), fed by the engine's events. Nothing at all when stdout is not a terminal,
//! with `--quiet` or with `--json`, so piped output stays exactly the report.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use lifeboat_core::{Event, Events, NoEvents};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The event sink for a command: bars on a terminal, else nothing.
pub fn sink(quiet: bool, json: bool) -> Arc<dyn Events> {
    if quiet || json || !std::io::stdout().is_terminal() {
        return Arc::new(NoEvents);
    }
    Arc::new(Bars::default())
}

#[derive(Default)]
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix}  {bytes} ({bytes_per_sec})  {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Bars {
    fn start(&self, key: String, label: String) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(style());
        bar.set_prefix(label);
        bar.enable_steady_tick(Duration::from_millis(100));
        self.bars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, bar);
    }

    fn with(&self, key: &str, f: impl FnOnce(&ProgressBar)) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            f(bar);
        }
    }

    fn finish(&self, key: &str) {
        let bar = self
            .bars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    }
}

impl Events for Bars {
    fn emit(&self, event: &Event) {
        match event {
            Event::SourceStarted { app, source, kind } => {
                self.start(
                    format!("{app}/{source}"),
                    format!("{app}/{source} ({kind})"),
                );
            }
            Event::BytesRead { app, source, bytes } => {
                self.with(&format!("{app}/{source}"), |bar| bar.set_position(*bytes));
            }
            Event::SourceDone { app, source, .. } => self.finish(&format!("{app}/{source}")),
            Event::RunStarted { .. } | Event::RunDone { .. } => {}
        }
    }
}
