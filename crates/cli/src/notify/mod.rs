//! Telling the `[[notify]]` destinations about runs, for the commands and the daemon
//! alike: each run becomes a summary per app (secrets masked), sent to the webhooks
//! whose `on` lists its event, and to the Healthchecks monitors of the app (`/start`
//! when a backup begins, success or `/fail` when it ends). Sending happens in the
//! background and is bounded (`deliver`): a notification never fails a run, and a
//! command's exit waits for them at most `DELIVERY_BOUND`.

mod deliver;
pub mod summary;

pub use deliver::{delivered_total, undelivered_total, DELIVERY_BOUND};
use deliver::{Message, Pending, Queue};
use lifeboat_core::notify::{self, NotifySpec, Ping, RunSummary};
use lifeboat_core::Config;
use lifeboat_engine::{BackupReport, VerifyRun};
use std::sync::Arc;
use std::time::Instant;

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// The destinations of one configuration with their senders. Shared by reference
/// between threads (the daemon's jobs).
pub struct Notifier {
    destinations: Vec<(NotifySpec, Queue)>,
    host: String,
    secrets: Vec<String>,
    pending: Arc<Pending>,
}

/// A backup run as its notifications know it: started by `backup_started`, ended by
/// `backup_finished` or `backup_failed`.
pub struct BackupRun {
    run_id: String,
    apps: Vec<String>,
    started: Instant,
}

impl Notifier {
    /// A sender thread per destination; none when there are none.
    pub fn new(config: &Config) -> Notifier {
        let pending = Arc::new(Pending::default());
        let destinations = config
            .notify
            .iter()
            .map(|spec| (spec.clone(), Queue::spawn(pending.clone())))
            .collect();
        Notifier {
            destinations,
            host: hostname(),
            secrets: summary::secrets_of(config),
            pending,
        }
    }

    /// A backup run of `apps` begins: the Healthchecks `/start` pings.
    pub fn backup_started(&self, run_id: &str, apps: &[&str]) -> BackupRun {
        for app in apps {
            let body = notify::start_body(app, Some(run_id));
            self.ping(app, Ping::Start, body);
        }
        BackupRun {
            run_id: run_id.to_string(),
            apps: apps.iter().map(|a| (*a).to_string()).collect(),
            started: Instant::now(),
        }
    }

    /// The run produced its report (retention included, when it ran).
    pub fn backup_finished(&self, run: &BackupRun, report: &BackupReport) {
        let took = run.started.elapsed();
        for summary in summary::of_backup(report, &run.apps, &self.host, took) {
            self.announce(summary);
        }
    }

    /// The run stopped with `error` before it had a report: each of its apps failed.
    pub fn backup_failed(&self, run: &BackupRun, error: &str) {
        let took = run.started.elapsed();
        for app in &run.apps {
            let summary = summary::of_failed_backup(app, &run.run_id, error, &self.host, took);
            self.announce(summary);
        }
    }

    /// Copies to `[[copy_to]]` ended: each one that failed is a `copy_failure` of each
    /// of `apps` (the backups themselves were told about by `backup_finished`).
    pub fn copies_failed(
        &self,
        apps: &[String],
        run_id: Option<&str>,
        outcomes: &[crate::commands::copy::CopyOutcome],
    ) {
        let errors: Vec<String> = outcomes.iter().filter_map(|o| o.error.clone()).collect();
        if errors.is_empty() {
            return;
        }
        for app in apps {
            self.announce(summary::of_copy_failure(app, run_id, &errors, &self.host));
        }
    }

    /// The verification of `app`'s sources ended; `run` holds only `app`'s results.
    pub fn verify_finished(&self, app: &str, run: &VerifyRun) {
        self.announce(summary::of_verify(app, run, &self.host));
    }

    /// The verification of `app` stopped with `error` (the repository, a usage error).
    pub fn verify_failed(&self, app: &str, error: &str) {
        let run = VerifyRun {
            errors: vec![error.to_string()],
            ..VerifyRun::default()
        };
        self.verify_finished(app, &run);
    }

    /// Waits until every notification is sent or given up, or `deadline`: how many
    /// were still on their way then (logged; they are lost if the process exits).
    pub fn flush(&self, deadline: Instant) -> usize {
        let left = self.pending.wait(deadline);
        if left > 0 {
            tracing::warn!(pending = left, "notifications still being sent at exit");
        }
        let (delivered, undelivered) = (self.delivered_total(), self.undelivered_total());
        tracing::debug!(delivered, undelivered, "notifications");
        left
    }

    /// `flush` with the bound every message has: the most a command waits at exit.
    pub fn flush_before_exit(&self) -> usize {
        self.flush(Instant::now() + DELIVERY_BOUND + std::time::Duration::from_millis(500))
    }

    /// Notifications delivered by this process (all configurations it loaded).
    pub fn delivered_total(&self) -> u64 {
        deliver::delivered_total()
    }

    /// Notifications given up on by this process: refused, or out of tries or time.
    pub fn undelivered_total(&self) -> u64 {
        deliver::undelivered_total()
    }

    /// Sends `summary` to the webhooks that want its event and, for a backup, to the
    /// app's monitors.
    fn announce(&self, mut summary: RunSummary) {
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        summary.redact(&secrets);
        let what = format!("{} of {}", summary.trigger.name(), summary.app);
        for (spec, queue) in &self.destinations {
            let NotifySpec::Webhook(hook) = spec else {
                continue;
            };
            if !hook.on.contains(&summary.trigger) {
                continue;
            }
            let body = notify::webhook_body(hook.format, &summary, hook.environment.as_deref());
            queue.send(message(&hook.url, body.to_string(), JSON, what.clone()));
        }
        // Monitors watch backups only: a verification passing must not hide that
        // backups stopped.
        if summary.trigger.work() == "backup" {
            let (ping, body) = notify::end_ping(&summary);
            self.ping(&summary.app, ping, body);
        }
    }

    fn ping(&self, app: &str, ping: Ping, body: String) {
        for (spec, queue) in &self.destinations {
            let NotifySpec::Healthchecks(check) = spec else {
                continue;
            };
            if check.watches(app) {
                let url = lifeboat_core::Secret::new(notify::ping_url(check.url.expose(), ping));
                let what = format!("{ping:?} ping of {app}").to_lowercase();
                queue.send(message(&url, body.clone(), TEXT, what));
            }
        }
    }
}

fn message(
    url: &lifeboat_core::Secret<String>,
    body: String,
    content_type: &'static str,
    what: String,
) -> Message {
    Message {
        url: url.clone(),
        body,
        content_type,
        what,
        deadline: Instant::now() + DELIVERY_BOUND,
    }
}

/// This host's name, for the messages.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
