//! What a run tells notifications, per app: a backup report or a verification run
//! turned into [`RunSummary`]s, and the secrets of the configuration to keep out of
//! them.

use lifeboat_core::notify::{RunSummary, SourceOutcome, Trigger};
use lifeboat_core::Config;
use lifeboat_engine::{BackupReport, SourceReport, VerifyReport, VerifyRun};
use std::time::Duration;

/// One summary per app of the run: `apps` (the ones it was for, in order), then any
/// other app the report speaks of.
pub fn of_backup(
    report: &BackupReport,
    apps: &[String],
    host: &str,
    took: Duration,
) -> Vec<RunSummary> {
    let mut names: Vec<&str> = apps.iter().map(String::as_str).collect();
    for s in &report.sources {
        if !names.contains(&s.app.as_str()) {
            names.push(&s.app);
        }
    }
    // A hook's failure is `APP: …`; anything else (retention) concerns the whole run.
    let general: Vec<String> = report
        .errors
        .iter()
        .filter(|e| !names.iter().any(|app| is_of_app(e, app)))
        .cloned()
        .collect();
    names
        .iter()
        .map(|app| {
            let mut summary = app_backup(report, app, &general);
            summary.host = host.to_string();
            summary.duration_ms = millis(took);
            summary
        })
        .collect()
}

fn is_of_app(error: &str, app: &str) -> bool {
    error
        .strip_prefix(app)
        .is_some_and(|rest| rest.starts_with(": "))
}

/// `app`'s part of the report, with the failures of the whole run (`general`).
fn app_backup(report: &BackupReport, app: &str, general: &[String]) -> RunSummary {
    let sources: Vec<SourceOutcome> = report
        .sources
        .iter()
        .filter(|s| s.app == app)
        .map(backed_up)
        .collect();
    let mut errors: Vec<String> = report
        .errors
        .iter()
        .filter(|e| is_of_app(e, app))
        .cloned()
        .collect();
    errors.extend_from_slice(general);
    if report.cancelled {
        errors.push("the run was interrupted: nothing partial was saved".into());
    }
    let ok = errors.is_empty() && sources.iter().all(|s| s.ok);
    RunSummary {
        trigger: if ok {
            Trigger::Success
        } else {
            Trigger::Failure
        },
        app: app.to_string(),
        run_id: Some(report.run_id.clone()),
        host: String::new(),
        duration_ms: 0,
        sources,
        errors,
    }
}

/// A run that ended in an error before it had a report (the repository failed).
pub fn of_failed_backup(
    app: &str,
    run_id: &str,
    error: &str,
    host: &str,
    took: Duration,
) -> RunSummary {
    RunSummary {
        trigger: Trigger::Failure,
        app: app.to_string(),
        run_id: Some(run_id.to_string()),
        host: host.to_string(),
        duration_ms: millis(took),
        sources: Vec::new(),
        errors: vec![error.to_string()],
    }
}

/// Copies of `app`'s backups to `[[copy_to]]` failed with `errors`.
pub fn of_copy_failure(
    app: &str,
    run_id: Option<&str>,
    errors: &[String],
    host: &str,
) -> RunSummary {
    RunSummary {
        trigger: Trigger::CopyFailure,
        app: app.to_string(),
        run_id: run_id.map(str::to_string),
        host: host.to_string(),
        duration_ms: 0,
        sources: Vec::new(),
        errors: errors.to_vec(),
    }
}

fn backed_up(s: &SourceReport) -> SourceOutcome {
    SourceOutcome {
        name: s.source.clone(),
        kind: s.kind.clone(),
        ok: s.ok,
        snapshot: s.snapshot.clone(),
        size: s.size,
        added: s.added,
        duration_ms: s.duration_ms,
        error: s.error.clone(),
    }
}

/// The verification of `app`'s sources in `run` (whose errors are all `app`'s).
pub fn of_verify(app: &str, run: &VerifyRun, host: &str) -> RunSummary {
    let sources: Vec<SourceOutcome> = run
        .reports
        .iter()
        .filter(|r| r.app == app)
        .map(verified)
        .collect();
    let ok = run.errors.is_empty() && sources.iter().all(|s| s.ok);
    RunSummary {
        trigger: if ok {
            Trigger::VerifySuccess
        } else {
            Trigger::VerifyFailure
        },
        app: app.to_string(),
        run_id: (!run.run_id.is_empty()).then(|| run.run_id.clone()),
        host: host.to_string(),
        duration_ms: sources.iter().map(|s| s.duration_ms).sum(),
        sources,
        errors: run.errors.clone(),
    }
}

fn verified(r: &VerifyReport) -> SourceOutcome {
    let error = match (r.ok, r.problems.is_empty()) {
        (true, _) => None,
        (false, true) => Some("nothing could be checked".to_string()),
        (false, false) => Some(r.problems.join("; ")),
    };
    SourceOutcome {
        name: r.source.clone(),
        kind: r.kind.clone(),
        ok: r.ok,
        snapshot: Some(r.snapshot.clone()),
        size: 0,
        added: 0,
        duration_ms: r.duration_ms,
        error,
    }
}

/// Every secret value the configuration holds, and the daemon's token.
pub fn secrets_of(config: &Config) -> Vec<String> {
    let mut secrets = config.secret_values();
    if let Some(token) = config
        .daemon
        .token_env
        .as_ref()
        .and_then(|v| std::env::var(v).ok())
        .filter(|t| !t.is_empty())
    {
        secrets.push(token);
    }
    secrets
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
