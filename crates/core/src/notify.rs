//! Notifications as data: the `[[notify]]` model, the events that trigger them, what
//! one app's run reports to them, and the exact bodies sent (each webhook format, the
//! Healthchecks.io pings). No IO: delivery lives in the binary.

mod format;
#[cfg(test)]
mod tests;

pub use format::webhook_body;

use crate::secret::Secret;
use serde::Serialize;

/// The events a webhook can be told about (`on = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Failure,
    Success,
    VerifyFailure,
    VerifySuccess,
    /// A `copy_to` copy failed.
    CopyFailure,
}

impl Trigger {
    pub const ALL: [Trigger; 5] = [
        Trigger::Failure,
        Trigger::Success,
        Trigger::VerifyFailure,
        Trigger::VerifySuccess,
        Trigger::CopyFailure,
    ];

    /// `on` when not given: only bad news, so a quiet channel means all is well.
    pub const DEFAULT_ON: [Trigger; 3] = [
        Trigger::Failure,
        Trigger::VerifyFailure,
        Trigger::CopyFailure,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Trigger::Failure => "failure",
            Trigger::Success => "success",
            Trigger::VerifyFailure => "verify_failure",
            Trigger::VerifySuccess => "verify_success",
            Trigger::CopyFailure => "copy_failure",
        }
    }

    pub fn parse(text: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.name() == text)
    }

    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Trigger::Failure | Trigger::VerifyFailure | Trigger::CopyFailure
        )
    }

    /// The work the event is about, for messages.
    pub fn work(self) -> &'static str {
        match self {
            Trigger::Failure | Trigger::Success => "backup",
            Trigger::VerifyFailure | Trigger::VerifySuccess => "verification",
            Trigger::CopyFailure => "copy",
        }
    }
}

/// The body shape of a webhook (`format = ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// lifeboat's own document, for scripts and generic receivers.
    Json,
    Slack,
    Rocketchat,
    Mattermost,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Json,
        Format::Slack,
        Format::Rocketchat,
        Format::Mattermost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
            Format::Rocketchat => "rocketchat",
            Format::Mattermost => "mattermost",
        }
    }

    pub fn parse(text: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == text)
    }
}

/// One `[[notify]]` entry.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum NotifySpec {
    Webhook(WebhookSpec),
    Healthchecks(HealthchecksSpec),
}

impl NotifySpec {
    /// Where it posts: a secret, since chat webhook URLs carry their token.
    pub fn url(&self) -> &Secret<String> {
        match self {
            NotifySpec::Webhook(w) => &w.url,
            NotifySpec::Healthchecks(h) => &h.url,
        }
    }
}

/// `kind = "webhook"`: a message per app run whose event is in `on`.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookSpec {
    pub url: Secret<String>,
    pub format: Format,
    pub on: Vec<Trigger>,
    /// A friendly name of the installation, shown in messages.
    pub environment: Option<String>,
}

/// `kind = "healthchecks"`: a dead-man's switch pinged at the start and end of every
/// backup run of `app` (of every app when none), so a backup that stops running at
/// all raises the monitor's alarm.
#[derive(Debug, Clone, Serialize)]
pub struct HealthchecksSpec {
    pub url: Secret<String>,
    pub app: Option<String>,
}

impl HealthchecksSpec {
    pub fn watches(&self, app: &str) -> bool {
        self.app.as_deref().is_none_or(|a| a == app)
    }
}

/// What one app's run reports to notifications.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub trigger: Trigger,
    pub app: String,
    pub run_id: Option<String>,
    pub host: String,
    pub duration_ms: u64,
    pub sources: Vec<SourceOutcome>,
    /// Failures not tied to one source: hooks, the repository, retention.
    pub errors: Vec<String>,
}

/// One source of a [`RunSummary`].
#[derive(Debug, Clone, Serialize)]
pub struct SourceOutcome {
    pub name: String,
    pub kind: String,
    pub ok: bool,
    pub snapshot: Option<String>,
    pub size: u64,
    pub added: u64,
    pub duration_ms: u64,
    pub error: Option<String>,
}

/// Characters of one error kept in a message; a chat line holds no more usefully.
pub const ERROR_LIMIT: usize = 1500;

/// Bytes of a Healthchecks ping body kept: a self-hosted instance's default limit
/// (`PING_BODY_LIMIT`) is 10 000.
pub const PING_BODY_LIMIT: usize = 9000;

impl RunSummary {
    pub fn ok(&self) -> bool {
        !self.trigger.is_failure()
    }

    pub fn size(&self) -> u64 {
        self.sources.iter().map(|s| s.size).sum()
    }

    pub fn added(&self) -> u64 {
        self.sources.iter().map(|s| s.added).sum()
    }

    /// Every failure, each its own message trimmed: a source's naming it.
    pub fn failures(&self) -> Vec<String> {
        let spec_of = |s: &SourceOutcome| format!("{}/{}", self.app, s.name);
        let sources = self.sources.iter().filter_map(|s| {
            let error = clip(s.error.as_deref()?, ERROR_LIMIT);
            let spec = spec_of(s);
            Some(if error.starts_with(&spec) {
                error
            } else {
                format!("{spec}: {error}")
            })
        });
        let others = self.errors.iter().map(|e| clip(e, ERROR_LIMIT));
        sources.chain(others).collect()
    }

    /// The failures as one text, or none when there are none.
    pub fn error_text(&self) -> Option<String> {
        let failures = self.failures();
        (!failures.is_empty()).then(|| failures.join("\n"))
    }

    /// Replaces each secret in the texts with `****`: a failing command may print one
    /// it was handed (its stderr is the error), and a notification leaves the host.
    /// Secrets shorter than 4 characters are left alone: masking them would garble
    /// every word that contains them while hiding nothing worth the name.
    pub fn redact(&mut self, secrets: &[&str]) {
        let secrets: Vec<&str> = secrets.iter().copied().filter(|s| s.len() >= 4).collect();
        let scrub = |text: &mut String| {
            for secret in &secrets {
                if text.contains(secret) {
                    *text = text.replace(secret, "****");
                }
            }
        };
        self.errors.iter_mut().for_each(scrub);
        self.sources
            .iter_mut()
            .filter_map(|s| s.error.as_mut())
            .for_each(scrub);
    }
}

/// `text` trimmed, at most `limit` characters: its start (what failed) and its end (a
/// tool's last words) around ` … `.
pub fn clip(text: &str, limit: usize) -> String {
    let text = text.trim();
    let count = text.chars().count();
    if count <= limit {
        return text.to_string();
    }
    let head = limit / 4;
    let tail = limit.saturating_sub(head + 3);
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(count - tail).collect();
    format!("{} … {}", start.trim_end(), end.trim_start())
}

/// A Healthchecks.io ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    /// `URL/start`: a run began (the monitor measures it and alarms if it never ends).
    Start,
    /// `URL`: the run succeeded.
    Success,
    /// `URL/fail`: the run failed; the body says why.
    Fail,
}

/// The URL of `ping` for the check at `base` (a query such as `?create=1` stays last).
pub fn ping_url(base: &str, ping: Ping) -> String {
    let suffix = match ping {
        Ping::Start => "/start",
        Ping::Success => "",
        Ping::Fail => "/fail",
    };
    let (path, query) = match base.find('?') {
        Some(at) => base.split_at(at),
        None => (base, ""),
    };
    format!("{}{suffix}{query}", path.trim_end_matches('/'))
}

/// The body of the `/start` ping.
pub fn start_body(app: &str, run_id: Option<&str>) -> String {
    format!("lifeboat: backup of {app} started{}", run_suffix(run_id))
}

/// The ping that ends a run, and its body: a line on success, the end of the error
/// text on failure (the monitor shows it in its event log).
pub fn end_ping(summary: &RunSummary) -> (Ping, String) {
    let run = run_suffix(summary.run_id.as_deref());
    if summary.ok() {
        let line = format::plain_headline(summary, None);
        return (Ping::Success, format!("lifeboat: {line}{run}"));
    }
    let text = summary.error_text().unwrap_or_else(|| "failed".into());
    let body = format!("lifeboat: backup of {} FAILED{run}\n{text}", summary.app);
    (Ping::Fail, tail_bytes(&body, PING_BODY_LIMIT))
}

fn run_suffix(run_id: Option<&str>) -> String {
    run_id.map(|r| format!(" (run {r})")).unwrap_or_default()
}

/// The last `limit` bytes of `text`, cut at a character boundary.
fn tail_bytes(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}
