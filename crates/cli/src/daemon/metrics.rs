//! `GET /metrics`: the daemon's state in the Prometheus text exposition format, per
//! source (labels `app`, `source`, `kind`) and per repository. Names follow the
//! Prometheus conventions: base units (`_seconds`, `_bytes`), counters end in `_total`.

use super::state::{SourceView, StatusView};
use lifeboat_engine::status::Next;
use std::fmt::Write;

/// One metric family: its name, type, help and how a source gives its value.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&SourceView) -> Option<f64>,
}

fn seconds(t: jiff::Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

fn flag(ok: bool) -> f64 {
    if ok {
        1.0
    } else {
        0.0
    }
}

const SOURCE_FAMILIES: &[Family] = &[
    Family {
        name: "lifeboat_backup_last_success_timestamp_seconds",
        kind: "gauge",
        help: "Time of the newest successful backup in the repository.",
        value: |s| s.status.last_backup.as_ref().map(|b| seconds(b.time)),
    },
    Family {
        name: "lifeboat_backup_last_attempt_timestamp_seconds",
        kind: "gauge",
        help: "Start of the last backup attempt seen by this daemon.",
        value: |s| s.attempts.last_attempt.map(seconds),
    },
    Family {
        name: "lifeboat_backup_last_attempt_success",
        kind: "gauge",
        help: "1 if the last backup attempt seen by this daemon succeeded, 0 if it failed.",
        value: |s| s.attempts.last_ok.map(flag),
    },
    Family {
        name: "lifeboat_backup_last_duration_seconds",
        kind: "gauge",
        help: "How long the last backup attempt took.",
        value: |s| s.attempts.last_attempt.map(|_| s.attempts.last_duration_ms as f64 / 1000.0),
    },
    Family {
        name: "lifeboat_backup_last_size_bytes",
        kind: "gauge",
        help: "Payload size of the newest backup.",
        value: |s| s.status.last_backup.as_ref().map(|b| b.size as f64),
    },
    Family {
        name: "lifeboat_backup_last_added_bytes",
        kind: "gauge",
        help: "Bytes the newest backup added to the repository (after deduplication and compression).",
        value: |s| s.status.last_backup.as_ref().map(|b| b.added as f64),
    },
    Family {
        name: "lifeboat_backups_in_repository",
        kind: "gauge",
        help: "Backups of the source kept in the repository.",
        value: |s| Some(s.status.backups as f64),
    },
    Family {
        name: "lifeboat_backups_total",
        kind: "counter",
        help: "Successful backups run by this daemon since it started.",
        value: |s| Some(s.attempts.backups_total as f64),
    },
    Family {
        name: "lifeboat_backup_failures_total",
        kind: "counter",
        help: "Failed backups run by this daemon since it started.",
        value: |s| Some(s.attempts.failures_total as f64),
    },
    Family {
        name: "lifeboat_backup_overdue",
        kind: "gauge",
        help: "1 if the newest backup is older than the schedule allows (or missing).",
        value: |s| Some(flag(s.status.overdue)),
    },
    Family {
        name: "lifeboat_verify_last_timestamp_seconds",
        kind: "gauge",
        help: "Time of the last verification recorded in the repository.",
        value: |s| s.status.last_verification.as_ref().map(|v| seconds(v.time)),
    },
    Family {
        name: "lifeboat_verify_last_success",
        kind: "gauge",
        help: "1 if the last verification passed, 0 if it failed.",
        value: |s| s.status.last_verification.as_ref().map(|v| flag(v.ok)),
    },
    Family {
        name: "lifeboat_verify_last_restore_duration_seconds",
        kind: "gauge",
        help: "Restore and check time of the last verification run by this daemon: the restore time to expect.",
        value: |s| s.verified.as_ref().map(|v| v.duration_ms as f64 / 1000.0),
    },
    Family {
        name: "lifeboat_backup_next_timestamp_seconds",
        kind: "gauge",
        help: "When the next scheduled backup is due.",
        value: |s| match &s.status.next_backup {
            Next::At { time, .. } => Some(seconds(*time)),
            _ => None,
        },
    },
];

/// Label values escaped as the exposition format wants.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(s: &SourceView) -> String {
    format!(
        "app=\"{}\",source=\"{}\",kind=\"{}\"",
        escape(&s.status.app),
        escape(&s.status.source),
        escape(&s.status.kind)
    )
}

/// Process-wide counters beside the state.
pub struct Counters {
    pub lock_waits: u64,
    pub notifications_delivered: u64,
    pub notifications_undelivered: u64,
}

/// The whole exposition.
pub fn render(view: &StatusView, counters: &Counters) -> String {
    let mut out = String::new();
    for family in SOURCE_FAMILIES {
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
        for source in &view.sources {
            if let Some(value) = (family.value)(source) {
                let _ = writeln!(out, "{}{{{}}} {value}", family.name, labels(source));
            }
        }
    }
    let repo = &view.repository;
    let label = format!("repository=\"{}\"", escape(&repo.url));
    let mut gauge = |name: &str, kind: &str, help: &str, value: Option<f64>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        if let Some(value) = value {
            let _ = writeln!(out, "{name}{{{label}}} {value}");
        }
    };
    gauge(
        "lifeboat_repository_size_bytes",
        "gauge",
        "Bytes of data (pack files) in the repository.",
        Some(repo.size_bytes as f64),
    );
    gauge(
        "lifeboat_repository_snapshots",
        "gauge",
        "Snapshots in the repository (backups and verification records).",
        Some(repo.snapshots as f64),
    );
    gauge(
        "lifeboat_repository_last_prune_timestamp_seconds",
        "gauge",
        "When this daemon last applied retention and pruned.",
        repo.last_prune.map(seconds),
    );
    gauge(
        "lifeboat_repository_lock_waits_total",
        "counter",
        "Times this daemon waited for another process's repository lock.",
        Some(counters.lock_waits as f64),
    );
    gauge(
        "lifeboat_notifications_delivered_total",
        "counter",
        "Notifications delivered by this daemon.",
        Some(counters.notifications_delivered as f64),
    );
    gauge(
        "lifeboat_notifications_undelivered_total",
        "counter",
        "Notifications that could not be delivered after their retries.",
        Some(counters.notifications_undelivered as f64),
    );
    gauge(
        "lifeboat_jobs_running",
        "gauge",
        "Jobs (backup, verify, prune) running now.",
        Some(view.running.len() as f64),
    );
    out
}
