//! `status`: per source its last backup, its last verification, when its next backup,
//! verification and prune come, and whether it is overdue, from one listing of the
//! repository and the configuration's plan. Pure: time is an argument.

use crate::schedule::{NextRun, Plan, Work};
use jiff::{SignedDuration, Timestamp};
use lifeboat_core::layout::tag_value;
use lifeboat_core::ports::SnapshotInfo;
use lifeboat_core::{AppSpec, Config, SourceSpec};
use serde::Serialize;

/// The last backup of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastBackup {
    pub time: Timestamp,
    pub snapshot: String,
    pub run_id: String,
    pub size: u64,
    pub added: u64,
}

/// The last verification of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastVerification {
    pub time: Timestamp,
    /// The backup it verified.
    pub snapshot: String,
    pub ok: bool,
}

/// When something runs next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "when", rename_all = "snake_case")]
pub enum Next {
    At {
        time: Timestamp,
        schedule: String,
    },
    AfterEachBackup,
    /// No schedule (for prune: no retention, every backup is kept).
    Never,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    pub app: String,
    pub source: String,
    pub kind: String,
    /// Backups kept in the repository (safety backups not counted).
    pub backups: usize,
    pub last_backup: Option<LastBackup>,
    pub last_verification: Option<LastVerification>,
    pub next_backup: Next,
    pub next_verify: Next,
    pub next_prune: Next,
    /// Scheduled, but the last backup is older than its schedule allows (or missing).
    pub overdue: bool,
}

/// The status of every source of `config`.
pub fn status(
    config: &Config,
    backups: &[SnapshotInfo],
    records: &[SnapshotInfo],
    plan: &Plan,
    now: Timestamp,
) -> Vec<SourceStatus> {
    let runs = plan.next_runs();
    let mut out = Vec::new();
    for app in &config.apps {
        for source in &app.sources {
            let mine = |s: &&SnapshotInfo| s.app == app.name && s.source == source.name;
            let own: Vec<&SnapshotInfo> = backups
                .iter()
                .filter(mine)
                .filter(|s| !s.pre_restore)
                .collect();
            let last_backup = own.iter().max_by_key(|s| s.timestamp).map(|s| LastBackup {
                time: s.timestamp,
                snapshot: s.id.clone(),
                run_id: s.run_id.clone(),
                size: s.size,
                added: s.added,
            });
            let next_backup = next(&runs, app, Some(source), Work::Backup);
            out.push(SourceStatus {
                app: app.name.clone(),
                source: source.name.clone(),
                kind: source.kind.name().to_string(),
                backups: own.len(),
                overdue: overdue(config, app, source, last_backup.as_ref(), now),
                last_verification: last_verification(records.iter().filter(mine)),
                next_backup,
                next_verify: next(&runs, app, None, Work::Verify),
                next_prune: match next(&runs, app, None, Work::Prune) {
                    _ if source.retention.is_none() => Next::Never,
                    Next::Never if plan.retains_after_backup(&app.name) => Next::AfterEachBackup,
                    other => other,
                },
                last_backup,
            });
        }
    }
    out
}

/// The plan's next run of `work` for this app (and source, for a backup).
fn next(runs: &[NextRun], app: &AppSpec, source: Option<&SourceSpec>, work: Work) -> Next {
    let own_schedule = source.and_then(|s| s.schedule.as_ref().map(|_| s.name.as_str()));
    runs.iter()
        .find(|r| {
            r.key.app == app.name && r.key.work == work && r.key.source.as_deref() == own_schedule
        })
        .and_then(|r| {
            Some(Next::At {
                time: r.next?,
                schedule: r.schedule.clone(),
            })
        })
        .unwrap_or(Next::Never)
}

fn last_verification<'a>(
    records: impl Iterator<Item = &'a SnapshotInfo>,
) -> Option<LastVerification> {
    records
        .max_by_key(|r| r.timestamp)
        .map(|r| LastVerification {
            time: r.timestamp,
            snapshot: tag_value(&r.tags, "verifies")
                .unwrap_or_default()
                .to_string(),
            ok: tag_value(&r.tags, "result") == Some("pass"),
        })
}

/// Older than one period of its schedule plus some slack for the run itself (up to
/// an hour): a nightly backup that failed shows red the same morning.
fn overdue(
    config: &Config,
    app: &AppSpec,
    source: &SourceSpec,
    last: Option<&LastBackup>,
    now: Timestamp,
) -> bool {
    let Some(schedule) = source.schedule.as_ref().or(app.schedules.backup.as_ref()) else {
        return false;
    };
    let Some(period) = schedule.period(now, &config.time_zone()) else {
        return false;
    };
    let slack = period.min(SignedDuration::from_hours(1));
    last.is_none_or(|l| now.duration_since(l.time) > period + slack)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::newest_backups;
    use lifeboat_core::{DaemonSpec, Retention, RetentionPolicy, Schedule, Secret};

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn info(source: &str, time: &str, tags: &[&str]) -> SnapshotInfo {
        SnapshotInfo {
            id: format!("{source}-{time}"),
            time: time.into(),
            timestamp: at(time),
            hostname: "h".into(),
            app: "shop".into(),
            source: source.into(),
            kind: "command".into(),
            run_id: format!("run-{time}"),
            pre_restore: false,
            size: 10,
            added: 5,
            verified: None,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn config() -> Config {
        let mut app = lifeboat_testkit::app_spec("shop", &["db", "files"]);
        app.schedules.backup = Schedule::cron("0 1 * * *").ok();
        app.schedules.verify = Schedule::cron("0 6 * * 0").ok();
        app.sources[0].retention = Some(Retention::from(RetentionPolicy::Daily { keep: 7 }));
        Config {
            repository: lifeboat_core::RepositorySpec {
                url: "/unused".into(),
                password: Secret::new("x".into()),
                options: Vec::new(),
                lock_wait_secs: 1,
            },
            apps: vec![app],
            timezone: "UTC".into(),
            daemon: DaemonSpec::default(),
            notify: Vec::new(),
            copy_to: Vec::new(),
        }
    }

    #[test]
    fn last_backup_verification_next_runs_and_overdue_per_source() {
        let now = at("2026-03-04T09:00:00Z"); // a Wednesday
        let backups = vec![
            info("db", "2026-03-03T01:00:00Z", &[]),
            info("db", "2026-03-04T01:00:00Z", &[]),
            info("files", "2026-03-02T01:00:00Z", &[]),
        ];
        let records = vec![info(
            "db",
            "2026-03-04T02:00:00Z",
            &["verifies=db-2026-03-04T01:00:00Z", "result=pass"],
        )];
        let config = config();
        let newest = newest_backups(&backups);
        let plan = Plan::new(&config, now, false, &|k| {
            crate::schedule::last_backup(&config, &newest, k)
        });
        let all = status(&config, &backups, &records, &plan, now);
        let db = &all[0];
        assert_eq!(db.backups, 2);
        assert_eq!(
            db.last_backup.as_ref().map(|b| b.time),
            Some(at("2026-03-04T01:00:00Z"))
        );
        assert_eq!(
            db.last_verification,
            Some(LastVerification {
                time: at("2026-03-04T02:00:00Z"),
                snapshot: "db-2026-03-04T01:00:00Z".into(),
                ok: true
            })
        );
        assert_eq!(
            db.next_backup,
            Next::At {
                time: at("2026-03-05T01:00:00Z"),
                schedule: "0 1 * * *".into()
            }
        );
        assert_eq!(
            db.next_verify,
            Next::At {
                time: at("2026-03-08T06:00:00Z"),
                schedule: "0 6 * * 0".into()
            }
        );
        assert_eq!(db.next_prune, Next::AfterEachBackup);
        assert!(!db.overdue);
        let files = &all[1];
        assert!(files.overdue, "two nights without a backup");
        assert_eq!(files.last_verification, None);
    }

    #[test]
    fn unscheduled_source_is_never_overdue_and_has_no_next_run() {
        let mut config = config();
        config.apps[0].schedules = Default::default();
        let now = at("2026-03-04T09:00:00Z");
        let plan = Plan::new(&config, now, false, &|_| None);
        let all = status(&config, &[], &[], &plan, now);
        assert!(all
            .iter()
            .all(|s| !s.overdue && s.next_backup == Next::Never));
        assert_eq!(all[1].next_prune, Next::Never, "no retention, no prune");
    }
}
